"""``cxstream_consumer_lag_messages`` as Kafka's own tools report it, read from the broker.

Lag is each owned input partition's end offset minus the offset the worker's group committed
(the log start when nothing is committed yet). It is read with an admin client on its own timer,
because the consumer's view hid exactly the backlog the lag alerts exist for: Faust's read offset
moves when a record enters the stream buffer (thousands ahead of processing), the high watermark
is refreshed only by fetches (which stop while the agent is stuck), a timer blocked on a flush
stopped updating it, and the table changelogs the consumer also reads were reported as input lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import faust
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from agents import metrics
from agents.settings import KafkaSettings

if TYPE_CHECKING:  # avoids an import cycle with agents.app
    from agents.app import WorkerOptions

log = logging.getLogger(__name__)

#: Seconds between two lag readings (two small admin requests each).
LAG_INTERVAL = 2.0

Partition = tuple[str, int]


class ConsumerLag:
    """Reads a group's lag on given partitions and publishes it as the lag gauge."""

    def __init__(self, kafka: KafkaSettings, group: str, timeout: float = 5.0) -> None:
        self.group = group
        self.timeout = timeout
        self._admin = AdminClient(kafka.confluent())
        self._reported: set[Partition] = set()

    def measure(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Lag per partition (blocking: run it in a thread)."""
        tps = [TopicPartition(topic, partition) for topic, partition in partitions]
        if not tps:
            return {}
        request = [ConsumerGroupTopicPartitions(self.group, tps)]
        done = self._admin.list_consumer_group_offsets(request, request_timeout=self.timeout)
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in done[self.group].result().topic_partitions or ()
        }
        ends = self._offsets(tps, OffsetSpec.latest())
        unset = [tp for tp in tps if committed.get((tp.topic, tp.partition), -1) < 0]
        starts = self._offsets(unset, OffsetSpec.earliest()) if unset else {}
        lag = {}
        for key, end in ends.items():
            position = committed.get(key, -1)
            lag[key] = max(0, end - (position if position >= 0 else starts.get(key, 0)))
        return lag

    def _offsets(self, tps: list[TopicPartition], spec: OffsetSpec) -> dict[Partition, int]:
        done = self._admin.list_offsets({tp: spec for tp in tps}, request_timeout=self.timeout)
        return {(tp.topic, tp.partition): f.result().offset for tp, f in done.items()}

    def update(self, partitions: Iterable[Partition]) -> None:
        """Set the gauge for ``partitions``; drop series of partitions this worker gave up (the
        worker that owns them now reports them)."""
        lag = self.measure(partitions)
        for topic, partition in self._reported - lag.keys():
            metrics.CONSUMER_LAG.remove(topic, str(partition))
        for (topic, partition), value in lag.items():
            metrics.CONSUMER_LAG.labels(topic, str(partition)).set(value)
        self._reported = set(lag)


def register_consumer_lag(app: faust.App, options: WorkerOptions) -> None:
    """Update the lag gauge every :data:`LAG_INTERVAL` seconds for the owned input partitions."""
    inputs = set(options.settings.topics.inputs)
    probe = ConsumerLag(options.settings.kafka, app.conf.id)

    async def consumer_lag() -> None:
        if app.rebalancing:
            return
        owned = [(tp.topic, tp.partition) for tp in _assigned(app) if tp.topic in inputs]
        try:
            await asyncio.to_thread(probe.update, owned)
        except KafkaException as exc:  # the broker is away: keep the last reading
            log.warning("consumer lag not read: %s", exc)

    app.timer(LAG_INTERVAL, name="consumer-lag")(consumer_lag)  # Faust's decorator is untyped


def _assigned(app: faust.App) -> Any:
    return app.assignor.assigned_actives()
