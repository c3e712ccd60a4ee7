"""``cxstream_consumer_lag_messages`` as Kafka's own tools report it, read from the broker.

Lag is each owned input partition's end offset minus the offset the worker's group committed
(the log start when nothing is committed yet). It is read from the broker on its own timer,
because the consumer's view hid exactly the backlog the lag alerts exist for: Faust's read offset
moves when a record enters the stream buffer (thousands ahead of processing), the high watermark
is refreshed only by fetches (which stop while the agent is stuck), a timer blocked on a flush
stopped updating it, and the table changelogs the consumer also reads were reported as input lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import faust
from confluent_kafka import Consumer, KafkaException, TopicPartition

from agents.settings import KafkaSettings, WorkerOptions
from agents.worker import metrics
from agents.worker.faust_internals import (
    assigned_partitions,
    rebalance_diagnosis,
    recovery_remaining,
)
from agents.worker.health import HealthBoard
from agents.worker.stall_watch import STALL_AFTER, RebalanceClock, Stalled, StallWatch

log = logging.getLogger(__name__)

#: Seconds between two lag readings (two small admin requests each).
LAG_INTERVAL = 2.0
#: The ``/healthz`` problem of a stalled input partition.
STALL_PROBLEM = "input_stalled"
#: The ``/healthz`` problem of a rebalance (or its table recovery) that does not finish.
REBALANCE_PROBLEM = "rebalance_stuck"

Partition = tuple[str, int]


class ConsumerLag:
    """Reads a group's lag on given partitions and publishes it as the lag gauge.

    A consumer that never subscribes (so never joins the group) asks for the group's committed
    offsets and the partitions' watermarks: the admin API's offset calls aborted the process
    inside librdkafka during a broker outage (an enq_once refcount assertion).
    """

    def __init__(self, kafka: KafkaSettings, group: str, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._consumer = Consumer(
            kafka.confluent(**{"group.id": group, "enable.auto.commit": False})
        )
        self._reported: set[Partition] = set()

    def measure(self, partitions: Iterable[Partition]) -> dict[Partition, tuple[int, int]]:
        """(Committed offset, lag) per partition (blocking: run it in a thread); the committed
        offset is the log start while the group has committed nothing."""
        tps = [TopicPartition(topic, partition) for topic, partition in partitions]
        if not tps:
            return {}
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in self._consumer.committed(tps, timeout=self.timeout)
        }
        readings = {}
        for tp in tps:
            key = (tp.topic, tp.partition)
            start, end = self._consumer.get_watermark_offsets(tp, self.timeout, cached=False)
            position = committed.get(key, -1)
            position = position if position >= 0 else start
            readings[key] = (position, max(0, end - position))
        return readings

    def update(self, partitions: Iterable[Partition]) -> dict[Partition, tuple[int, int]]:
        """Set the gauge for ``partitions``; drop series of partitions this worker gave up (the
        worker that owns them now reports them). Returns the readings."""
        readings = self.measure(partitions)
        for topic, partition in self._reported - readings.keys():
            metrics.CONSUMER_LAG.remove(topic, str(partition))
        for (topic, partition), (_, lag) in readings.items():
            metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
        self._reported = set(readings)
        return readings


def register_consumer_lag(app: faust.App, options: WorkerOptions, health: HealthBoard) -> None:
    """Update the lag gauge every :data:`LAG_INTERVAL` seconds for the owned input partitions,
    and report a stalled one (:mod:`agents.worker.stall_watch`) on ``/healthz`` and the
    ``cxstream_input_partitions_stalled`` gauge."""
    inputs = options.settings.topics.customer_inputs  # alert actions lag like any input
    probe = ConsumerLag(options.settings.kafka, app.conf.id)
    watch = StallWatch()
    rebalance = RebalanceClock()
    failing = False

    async def consumer_lag() -> None:
        nonlocal failing
        lasting = rebalance.observe(bool(app.rebalancing), recovery_remaining(app))
        report_rebalance(lasting, lambda: rebalance_diagnosis(app), health)
        if app.rebalancing:
            return
        owned = [(topic, p) for topic in inputs for p in sorted(assigned_partitions(app, topic))]
        try:
            readings = await asyncio.to_thread(probe.update, owned)
        except KafkaException as exc:  # the broker is away: keep the last reading, say it once
            if not failing:
                log.warning("consumer lag not read (kept the last reading): %s", exc)
            failing = True
            watch.forget()
            return
        if failing:
            log.info("consumer lag read again")
        failing = False
        report_stalls(watch.observe(readings), health)

    app.timer(LAG_INTERVAL, name="consumer-lag")(consumer_lag)  # Faust's decorator is untyped


def report_stalls(stalled: list[Stalled], health: HealthBoard) -> None:
    """Say which owned input partitions stalled, or clear the problem once none is."""
    metrics.INPUT_PARTITIONS_STALLED.set(len(stalled))
    if not stalled:
        health.clear(STALL_PROBLEM)
        return
    detail = "; ".join(s.describe() for s in stalled[:5])
    if STALL_PROBLEM not in {p.name for p in health.problems()}:
        log.error("input partitions stalled: %s", detail)
    health.raise_problem(STALL_PROBLEM, f"{detail}; see docs/runbooks/input-partition-stalled.md")


def report_rebalance(lasting: float, diagnosis: Callable[[], str], health: HealthBoard) -> None:
    """Publish how long the rebalance under way has gone without progress; past
    :data:`STALL_AFTER`, say so on ``/healthz`` and log where Faust's rebalance and recovery
    stand (once per stall)."""
    metrics.REBALANCE_SECONDS.set(lasting)
    if lasting < STALL_AFTER:
        health.clear(REBALANCE_PROBLEM)
        return
    if REBALANCE_PROBLEM not in {p.name for p in health.problems()}:
        log.error("the group rebalance made no progress for %.0f s: %s", lasting, diagnosis())
    health.raise_problem(
        REBALANCE_PROBLEM,
        f"the consumer-group rebalance (or the table recovery after it) has made no progress "
        f"for {lasting:.0f} s: no input is processed; see docs/runbooks/rebalance-stuck.md",
    )
