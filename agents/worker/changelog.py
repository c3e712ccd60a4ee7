"""Customer states go to the table's store at once and to its changelog through librdkafka.

A Faust table write sends its changelog record through Faust's producer buffer and aiokafka:
about 80 µs of the event loop per record, drained by one task. A catch-up batch writes a
thousand states, so the buffer fell behind, and once it held more than 100 records Faust held
every input delivery until it drained: the agent starved for 0.3-0.5 s every four seconds
(docs/benchmarks.md, "Changelog writes"). Here the state goes straight into the table's store
(RocksDB, in the record's partition, as Faust's own write would) and its changelog record,
byte for byte what Faust would send, to a librdkafka producer, a few µs per record.

Durability is Faust's: a write is in the store at once and on the changelog soon after, and
nothing commits input offsets past it before its changelog record is acknowledged. Faust
flushes its producer before every offset commit, before a revocation and a recovery and at
shutdown; the worker's Faust producer (:class:`FlushingProducer`) flushes this writer there
too. Acknowledged offsets advance the store's persisted offset (where a restore resumes) by
the same rule as Faust's (:meth:`agents.worker.table_store.ContiguousRocksStore.mark_written`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.worker.customer_fold import Record
from agents.worker.faust_internals import event_context
from agents.worker.outputs import OutputProducer


class ChangelogWriter:
    """Writes one Faust table's values: its store now, its changelog through ``producer``."""

    def __init__(self, table: Any, producer: OutputProducer) -> None:
        self.table = table
        self.producer = producer
        self.topic: str = table.changelog_topic.get_topic_name()

    def put(self, key: str, value: bytes, record: Record) -> None:
        """``table[key] = value`` for ``record``'s partition, without Faust's producer."""
        with event_context(record):  # the store picks the partition from the current event
            self.table.data[key] = value
        self.producer.produce(self.topic, key.encode(), value, partition=record.partition)

    def poll(self) -> None:
        """Serve acknowledgements without waiting (once per batch) and persist their offsets."""
        self.producer.poll()
        self._persist_written()

    async def flush(self) -> None:
        """Return once every changelog record written so far is acknowledged."""
        await self.producer.flush()
        self._persist_written()

    def _persist_written(self) -> None:
        written = self.producer.written
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


FlushHook = Callable[[], Awaitable[None]]


class FlushingProducer(faust_aiokafka.Producer):  # type: ignore[misc]
    """Faust's producer whose every flush also runs the app's ``cx_flush_hooks``.

    Faust flushes its producer before committing offsets (``Consumer._commit_offsets``), on a
    revocation, before a recovery and at shutdown: the changelog writer's records must be
    acknowledged at each of those points, exactly as Faust's own changelog records are.
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
