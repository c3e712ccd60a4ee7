"""Table recovery read with librdkafka ahead of Faust's own (issue 12: restore time).

Faust's recovery hands every changelog record through its consumer thread, the flow-control
queue, an event and its recovery bookkeeping: about 5,000 records/s on a slow day, 209 s to
restore a million customers (docs/benchmarks.md). Here, once Faust has settled which changelog
partitions this worker restores as active and from which persisted offsets, a librdkafka
consumer reads each of them up to the high watermark it finds, and the records go into the
table's RocksDB through Faust's own batch apply (``Store.apply_changelog_batch``: puts,
tombstones as deletes, the persisted offset as a restore advances it). Faust's recovery then
starts from there and reads, as before, whatever is left: records written since, and the rest
of a read that ran out of time.

It runs inside Faust's recovery step that builds the actives' high watermarks. Faust bounds that
step by ``broker_request_timeout`` (past it the recovery service stops), so the read stops
taking new records after :data:`BUDGET_SHARE` of it. A rebalance cancels the step (or stops the
read before its next write): what was applied stays, with its persisted offset, and the next
recovery goes on from there. A failure of the read is logged and leaves the rest to Faust: it
never stops a worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from faust.types import TP

from agents.settings import KafkaSettings
from agents.worker import metrics
from agents.worker.table_store import ContiguousRocksStore

log = logging.getLogger(__name__)

#: Share of Faust's bound on the step (``broker_request_timeout``) the read may take.
BUDGET_SHARE = 0.5
#: Records taken from librdkafka at a time (applied as one RocksDB write batch per partition).
CHUNK = 5_000
#: Longest wait of one librdkafka poll: it waits this long for a full chunk, also after the
#: last partition's end, so a small read takes about this.
_POLL_S = 0.05
T = TypeVar("T")


class _Change:
    """A changelog record shaped as ``apply_changelog_batch`` reads one (``event.message``)."""

    __slots__ = ("key", "message", "offset", "partition", "tp", "value")

    def __init__(self, tp: TP, offset: int, key: bytes, value: bytes | None) -> None:
        self.tp, self.offset, self.partition = tp, offset, tp.partition
        self.key, self.value = key, value
        self.message = self


@dataclass(slots=True)
class Restored:
    """What one read applied, for the log line."""

    partitions: int = 0
    records: int = 0
    finished: bool = True  # every partition reached the high watermark found at the start
    # (not: the time budget ran out, or a rebalance started)
    seconds: float = 0.0


class _Reader:
    """A librdkafka consumer owned by one thread: every call on it runs there, in order, so a
    read still running when the step is cancelled finishes before the close."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cx-restore")
        self._conf = conf
        self._consumer: Any = None
        self._tps: dict[tuple[str, int], TP] = {}
        self.ends: dict[TP, int] = {}

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        """Close on the reader's thread, after whatever runs there (``open`` included)."""
        self._pool.submit(self._close)
        self._pool.shutdown(wait=False)

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

    def open(self, starts: dict[TP, int]) -> dict[TP, int]:
        """Assign every partition with records from its start offset; their end offsets."""
        consumer = self._consumer = Consumer(self._conf)
        assign = []
        for tp, start in starts.items():
            _, high = consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=10.0
            )
            if high > start:
                self.ends[tp] = high
                self._tps[(tp.topic, tp.partition)] = tp
                assign.append(TopicPartition(tp.topic, tp.partition, start))
        if assign:
            consumer.assign(assign)
        return dict(self.ends)

    def read(self) -> tuple[list[_Change], set[TP]]:
        """The next records before their partition's end, and the partitions that reached it
        (paused: what comes after is Faust's)."""
        changes: list[_Change] = []
        reached: set[TP] = set()
        tps, ends = self._tps, self.ends
        for msg in self._consumer.consume(CHUNK, _POLL_S):
            error = msg.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise KafkaException(error)  # a client-wide error names no partition
            tp = tps[(msg.topic(), msg.partition())]
            if error is not None:
                reached.add(tp)
                continue
            offset = msg.offset()
            if offset < ends[tp]:
                changes.append(_Change(tp, offset, msg.key(), msg.value()))
            if offset >= ends[tp] - 1:
                reached.add(tp)
        if reached:
            self._consumer.pause([TopicPartition(tp.topic, tp.partition) for tp in reached])
        return changes, reached


def _identity(value: Any) -> Any:
    return value


async def restore_ahead(recovery: Any, conf: dict[str, Any], budget_s: float) -> Restored:
    """Read the active changelog partitions Faust is about to recover into their RocksDB stores
    and advance ``recovery.active_offsets`` to what was applied."""
    started = time.monotonic()
    stores: dict[TP, Any] = {}
    for table, tps in recovery.actives_for_table.items():
        if isinstance(table.data, ContiguousRocksStore):
            stores.update((tp, table.data) for tp in tps)
    starts = {tp: _persisted(store, tp) + 1 for tp, store in stores.items()}
    done = Restored()
    if not starts:
        return done
    reader = _Reader(conf)
    try:
        left = set(await reader.run(reader.open, starts))
        done.partitions = len(left)
        pending = reader.run(reader.read) if left else None
        while pending is not None:
            changes, reached = await pending
            if recovery.signal_recovery_start.is_set():  # a rebalance: the next recovery reads
                break
            left -= reached
            more = left and time.monotonic() - started < budget_s
            pending = reader.run(reader.read) if more else None  # reads while this applies
            _apply(changes, stores, recovery.active_offsets)
            done.records += len(changes)
            metrics.TABLE_RESTORE_RECORDS.inc(len(changes))
        done.finished = not left
    finally:
        reader.close()
    done.seconds = time.monotonic() - started
    return done


def _persisted(store: Any, tp: TP) -> int:
    offset = store.persisted_offset(tp)
    return -1 if offset is None else int(offset)


def _apply(changes: list[_Change], stores: dict[TP, Any], offsets: dict[TP, Any]) -> None:
    by_store: dict[int, tuple[Any, list[_Change]]] = {}
    for change in changes:
        store = stores[change.tp]
        by_store.setdefault(id(store), (store, []))[1].append(change)
    for store, batch in by_store.values():
        store.apply_changelog_batch(batch, _identity, _identity)
        for tp in {change.tp for change in batch}:
            offsets[tp] = _persisted(store, tp)


def consumer_conf(kafka: KafkaSettings, app_id: str) -> dict[str, Any]:
    """librdkafka settings for the read: the worker's broker and credentials, assigned
    partitions, no commits and an end-of-partition event. The group id is never joined."""
    return kafka.confluent(
        **{
            "group.id": f"{app_id}-restore",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 100,
            "queued.max.messages.kbytes": 16_384,  # librdkafka's read-ahead (64 MB by default)
        }
    )


def install(app: Any, conf: dict[str, Any]) -> None:
    """Run :func:`restore_ahead` at the start of each of ``app``'s active recoveries, with the
    librdkafka settings ``conf`` (:func:`consumer_conf`), on this app's recovery service only
    (Faust's classes are untouched)."""
    recovery = app.tables.recovery
    build_highwaters = recovery._build_highwaters

    async def restore_then_build_highwaters(
        consumer: Any, tps: Any, destination: Any, title: str
    ) -> None:
        if title == "active" and tps:
            budget = BUDGET_SHARE * float(app.conf.broker_request_timeout)
            try:
                done = await restore_ahead(recovery, conf, budget)
            except Exception as exc:  # never stops a worker: Faust's recovery reads it all
                log.warning("changelog read with librdkafka failed, Faust recovers it: %r", exc)
            else:
                if done.partitions:
                    log.info(
                        "read %d changelog records of %d partition(s) with librdkafka in %.2f s%s",
                        done.records,
                        done.partitions,
                        done.seconds,
                        "" if done.finished else " (cut short: Faust's recovery reads the rest)",
                    )
        await build_highwaters(consumer, tps, destination, title)

    recovery._build_highwaters = restore_then_build_highwaters
