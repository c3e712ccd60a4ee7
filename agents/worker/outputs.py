"""What the customer agent publishes goes through librdkafka, not through Faust's producer.

A worker publishes about one health snapshot per input event. confluent-kafka's ``produce``
costs a few microseconds per message where aiokafka's ``send`` costs tens, so outputs
(alerts, snapshots, dead letters, timer ticks) use a confluent-kafka producer; Faust keeps its
own producer for table changelogs. ``flush`` waits until the broker acknowledged every message
produced so far and re-sends any that failed for a passing reason (a broker restart), so a
batch's outputs are durable before the batch's states are written and its offsets committed.
An error that re-sending cannot fix (a message the broker refuses) raises
:class:`OutputRejected` instead of looping forever: the customer agent then retries the batch and
isolates the record that causes it (see agents/worker/batch_cycle.py).

The batch cycle and the deadline timer share one producer and may flush at the same time. Each
names itself as the ``owner`` of what it produces and flushes: a refusal is raised only to the
flush of the message's owner, whichever flush heard of it, and flushes take turns, so one
caller can neither be blamed for another's refused message nor return while its own are unsent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import KafkaError, Producer

from agents.settings import KafkaSettings
from streams.contracts import record_timestamp
from streams.errors import CxStreamError

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]] | list[tuple[str, bytes | None]] | None


class OutputRejected(CxStreamError):
    """The broker refused an output for good (not a passing outage).

    ``caused_by_record`` is true only for refusals a message's own content causes (its size, a
    corrupt record); anything else (authorization, a fatal producer state) is the deployment's
    fault, and the agent retries instead of dead-lettering good records.
    """

    def __init__(self, message: str, caused_by_record: bool) -> None:
        super().__init__(message)
        self.caused_by_record = caused_by_record


@dataclass(frozen=True, slots=True)
class _Pending:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int
    timestamp: int
    owner: Hashable


#: Errors that clear by themselves although librdkafka does not flag them retriable.
_PASSING = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    }
)


def passing(err: KafkaError) -> bool:
    """A delivery failure that re-sending fixes (the broker comes back), not a refusal."""
    return bool(err.retriable()) or err.code() in _PASSING


#: Refusals caused by the message itself.
_RECORD_FAULTS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
    }
)


class Client(Protocol):
    """The part of confluent-kafka's ``Producer`` used here."""

    def produce(self, topic: str, value: bytes | None, key: bytes | None, **kw: Any) -> None: ...

    def flush(self, timeout: float) -> int: ...

    def poll(self, timeout: float) -> int: ...


class OutputProducer:
    def __init__(
        self, kafka: KafkaSettings, *, max_backoff: float = 10.0, client: Client | None = None
    ) -> None:
        # cxstream's producer configuration (agents.settings), lingering less: outputs wait
        # for their acknowledgement before the batch's states are written.
        self._producer: Client = client or Producer(kafka.producer(**{"linger.ms": 2}))
        self._failed: list[_Pending] = []
        # owner -> (what, caused by the record) of its refused messages
        self._rejected: dict[Hashable, list[tuple[str, bool]]] = {}
        self._max_backoff = max_backoff
        self._turn = asyncio.Lock()

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = None,
        *,
        partition: int | None = None,
        timestamp: float | None = None,
        owner: Hashable = None,
    ) -> None:
        self._produce(
            _Pending(
                topic,
                key,
                value,
                headers,
                -1 if partition is None else partition,
                0 if timestamp is None else record_timestamp(timestamp),
                owner,
            )
        )

    def _produce(self, msg: _Pending) -> None:
        def on_delivery(err: KafkaError | None, _: Any) -> None:
            if err is None:
                return
            if passing(err):
                log.warning("output to %s failed (%s); will re-send", msg.topic, err)
                self._failed.append(msg)
            else:
                refusal = (f"{msg.topic}: {err.str()}", err.code() in _RECORD_FAULTS)
                self._rejected.setdefault(msg.owner, []).append(refusal)

        while True:
            try:
                self._producer.produce(
                    msg.topic,
                    msg.value,
                    msg.key,
                    partition=msg.partition,
                    headers=msg.headers,
                    timestamp=msg.timestamp,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # local queue full: let librdkafka drain some
                self._producer.poll(0.05)

    async def flush(self, owner: Hashable = None) -> None:
        """Return once every message produced so far is acknowledged by the broker; raise
        :class:`OutputRejected` if the broker refused any of ``owner``'s for good."""
        async with self._turn:
            delay = 0.1
            while True:
                remaining = await asyncio.to_thread(self._producer.flush, 30.0)
                if remaining == 0 and not self._failed:
                    break
                failed, self._failed = self._failed, []
                for msg in failed:  # every owner's: they are owed delivery all the same
                    self._produce(msg)
                await asyncio.sleep(delay)
                delay = min(self._max_backoff, delay * 2)
        rejected = self._rejected.pop(owner, None)
        if rejected:
            raise OutputRejected(
                f"the broker refused {len(rejected)} output(s): {rejected[0][0]}",
                caused_by_record=all(by_record for _, by_record in rejected),
            )

    def poll(self) -> None:
        """Serve delivery callbacks without waiting (cheap; call once per batch)."""
        self._producer.poll(0)
