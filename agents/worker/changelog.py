"""Customer states go to the table's store at once and to its changelog through librdkafka.

A Faust table write sends its changelog record through Faust's producer buffer and aiokafka:
tens of µs of the event loop per record, drained by one task, and while that buffer holds more
than 100 records Faust holds back every input delivery (docs/benchmarks.md, "Changelog
writes"). A catch-up batch writes about a thousand states. Here a state goes straight into the
table's store (RocksDB, in the record's partition, as Faust's own write does) and its changelog
record, the bytes Faust would send, to a librdkafka producer: a few µs per record, batched by
librdkafka's own threads.

Durability stays Faust's contract: a state is in the store at once and on the changelog before
any input offset past it is committed. Faust flushes its producer before every offset commit,
on a revocation, before a recovery and at shutdown; the worker's Faust producer
(:class:`FlushingProducer`) flushes this writer at each of those points too.

A changelog is compacted: the last record of a key is the state a restore gets. So a record
that fails for a passing reason (a broker restart) is never sent again as it was, behind a
newer state of the same customer: the *newest* state of that key is re-sent, and only when
no newer record of it is already on its way. Acknowledged offsets advance the store's
restore point by :meth:`agents.worker.table_store.ContiguousRocksStore.mark_written`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from confluent_kafka import KafkaError, Producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.settings import KafkaSettings
from agents.worker import metrics
from agents.worker.customer_fold import Record
from agents.worker.faust_internals import event_context
from agents.worker.outputs import Client, passing
from streams.errors import CxStreamError

log = logging.getLogger(__name__)

#: How long librdkafka collects changelog records into one request. Nothing waits for a
#: single record (only a commit, a revocation or a stop flushes), so batches can be large.
LINGER_MS = 20

Slot = tuple[int, bytes]  # (changelog partition, key)


class ChangelogRefused(CxStreamError):
    """The broker refused a changelog record for good (authorization, a record too large)."""


class ChangelogWriter:
    """Writes one Faust table's values: its store now, its changelog through ``client``."""

    def __init__(self, table: Any, client: Client, max_backoff: float = 10.0) -> None:
        self.table = table
        self.topic: str = table.changelog_topic.get_topic_name()
        self._client = client
        self._max_backoff = max_backoff
        self._seq = 0
        # per key, the newest record sent and not yet known delivered: (its number, its value)
        self._newest: dict[Slot, tuple[int, bytes]] = {}
        # filled by librdkafka's delivery reports (on whichever thread polls or flushes)
        self._written: deque[tuple[int, int]] = deque()
        self._failed: deque[tuple[Slot, int]] = deque()
        self._refused: deque[str] = deque()
        self._turn = asyncio.Lock()

    def put(self, key: str, value: bytes, record: Record) -> None:
        """``table[key] = value`` in ``record``'s partition, without Faust's producer."""
        with event_context(record):  # the store picks the partition from the current event
            self.table.data[key] = value
        self._send((record.partition, key.encode()), value)

    def _send(self, slot: Slot, value: bytes) -> None:
        self._seq = seq = self._seq + 1
        self._newest[slot] = (seq, value)
        written, failed, refused = self._written, self._failed, self._refused

        def on_delivery(err: KafkaError | None, message: Any) -> None:
            if err is None:
                written.append((message.partition(), message.offset()))
            elif passing(err):
                failed.append((slot, seq))
            else:
                refused.append(err.str())

        partition, key = slot
        while True:
            try:
                self._client.produce(
                    self.topic, value, key, partition=partition, on_delivery=on_delivery
                )
                return
            except BufferError:  # librdkafka's queue is full: let it drain some
                self._client.poll(0.05)

    def poll(self) -> None:
        """Serve delivery reports without waiting (once per batch): the restore point moves."""
        self._client.poll(0)
        self._persist_written()

    async def flush(self) -> None:
        """Return once every changelog record written so far is acknowledged (re-sending the
        newest state of any key whose record failed); raise :class:`ChangelogRefused` if the
        broker refused one for good."""
        async with self._turn:
            upto = self._seq
            delay = 0.1
            while True:
                remaining = await asyncio.to_thread(self._client.flush, 30.0)
                self._raise_refused()
                resent = self._resend_failed()
                if remaining == 0 and not resent:
                    break
                if resent:
                    await asyncio.sleep(delay)
                    delay = min(self._max_backoff, delay * 2)
            # everything numbered up to ``upto`` is acknowledged; later puts may still fly
            for slot in [s for s, (seq, _) in self._newest.items() if seq <= upto]:
                del self._newest[slot]
        self._persist_written()

    def _resend_failed(self) -> int:
        resent = 0
        while self._failed:
            slot, seq = self._failed.popleft()
            newest = self._newest.get(slot)
            if newest is None or newest[0] != seq:
                continue  # a newer state of this key is on its way, or was delivered
            log.warning("a changelog record of %s[%d] failed: re-sent", self.topic, slot[0])
            metrics.CHANGELOG_RESENT.inc()
            self._send(slot, newest[1])
            resent += 1
        return resent

    def _raise_refused(self) -> None:
        if self._refused:
            first, count = self._refused[0], len(self._refused)
            self._refused.clear()
            raise ChangelogRefused(
                f"the broker refused {count} record(s) of {self.topic}: {first}; check the "
                "worker's write access to the changelog topic and its max.message.bytes"
            )

    def _persist_written(self) -> None:
        written = self._written
        if not written:
            return
        by_partition: defaultdict[int, list[int]] = defaultdict(list)
        while written:
            partition, offset = written.popleft()
            by_partition[partition].append(offset)
        store = self.table.data
        mark = getattr(store, "mark_written", None)
        for partition, offsets in by_partition.items():
            tp = TP(self.topic, partition)
            if mark is not None:
                mark(tp, offsets)
            else:  # a store without the contiguity rule (memory://): Faust's behaviour
                store.set_persisted_offset(tp, max(offsets))


def librdkafka_writer(table: Any, kafka: KafkaSettings) -> ChangelogWriter:
    """The worker's writer of ``table``: a producer of its own, cxstream's producer settings
    (idempotent, so librdkafka's own retries never reorder a partition's records)."""
    return ChangelogWriter(table, Producer(kafka.producer(**{"linger.ms": LINGER_MS})))


FlushHook = Callable[[], Awaitable[None]]


class FlushingProducer(faust_aiokafka.Producer):  # type: ignore[misc]
    """Faust's producer whose every flush also runs the app's ``cx_flush_hooks``.

    Faust flushes its producer before committing offsets (``Consumer._commit_offsets``), on a
    revocation, before a recovery and at shutdown: the changelog writer's records must be
    acknowledged at each of those points, exactly as Faust's own changelog records are
    (pinned in ``faust_pins.RELIES_ON``).
    """

    async def flush(self) -> None:
        await super().flush()
        for hook in getattr(self.transport.app, "cx_flush_hooks", ()):
            await hook()


def flush_with_faust(app: Any, hook: FlushHook) -> None:
    """Run ``hook`` whenever Faust flushes ``app``'s producer (its transport must make a
    :class:`FlushingProducer`, as :class:`agents.worker.fetch_guard.GuardedTransport` does)."""
    made = getattr(app.transport, "Producer", None)
    if not (isinstance(made, type) and issubclass(made, FlushingProducer)):
        raise TypeError("the app's transport does not make a FlushingProducer")
    hooks: list[FlushHook] = app.__dict__.setdefault("cx_flush_hooks", [])
    hooks.append(hook)
