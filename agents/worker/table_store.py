"""Faust's RocksDB table store, trusting its persisted offset only as far as it has every record.

Faust keeps, in each partition's RocksDB, the offset of the last changelog record it holds, and
a worker that gets the partition back replays the changelog only from there. It advances that
offset on every acknowledgement of its *own* changelog writes. When two workers write one
changelog partition around a rebalance (the old owner's delayed writes land after a broker
outage while the new owner already writes), the old owner's offset jumps past the new owner's
records it never saw: given the partition again, it skipped them for good. The chaos soak lost a
customer that way (docs/reliability.md, defect 8).

Here an acknowledged write advances the persisted offset only when it is the next offset after
the last one this store holds (acknowledgements out of order wait for the ones before). A gap,
someone else's record, stops it there, so the next restore reads from before the gap. Records
applied by a restore advance it as Faust does: a restore reads every record that still exists
(compaction leaves legitimate gaps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from faust.stores import STORES
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP

from agents.worker.index_rebuild import KeyPage, MappingStates, StoredStates

SCHEME = "cxrocksdb"
#: Acknowledged offsets held back behind a gap, per partition, before they are dropped (the
#: persisted offset then simply stays behind: a longer restore, never a skipped record).
MAX_PENDING = 100_000

_MIB = 1024 * 1024


def rocksdb_options(block_cache_mb: int) -> dict[str, int]:
    """RocksDB memory per table partition (Faust's ``Table(options=...)``).

    Faust's defaults, a 2 GiB block cache and up to three 64 MiB memtables per partition, let a
    worker keep every value it restored or read in RocksDB's own caches: 1.9 GB of RSS after
    restoring a million customers (docs/benchmarks.md). The decoded-state LRU
    (``tables.FaustStates``) already holds the busy customers, and the OS page cache the
    table's files, outside the worker's RSS, so a small block cache and memtables lose little.
    """
    return {
        "block_cache_size": block_cache_mb * _MIB,
        "write_buffer_size": 16 * _MIB,
        "max_write_buffer_number": 2,
    }


class ContiguousRocksStore(faust_rocksdb.Store):  # type: ignore[misc]
    """Faust's RocksDB store whose persisted offset never passes a record it lacks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._restoring = False
        self._pending: dict[TP, set[int]] = {}
        # the persisted offsets this store wrote since its partitions were last (re)assigned:
        # every acknowledged write needs the last one, which is otherwise a RocksDB read
        self._persisted: dict[TP, int | None] = {}

    def apply_changelog_batch(
        self,
        batch: Iterable[Any],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        self._restoring = True
        try:
            super().apply_changelog_batch(batch, to_key, to_value)
        finally:
            self._restoring = False

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        if self._restoring:  # every record up to ``offset`` that still exists was applied
            self._pending.pop(tp, None)
            self._persist(tp, offset)
            return
        self.mark_written(tp, (offset,))

    def mark_written(self, tp: TP, offsets: Iterable[int]) -> None:
        """This worker's own changelog records at ``offsets`` are acknowledged (in any order):
        the persisted offset advances over the contiguous run, with one RocksDB write."""
        if tp not in self._persisted:
            self._persisted[tp] = self.persisted_offset(tp)
        last = self._persisted[tp]
        expected = 0 if last is None else last + 1
        pending = self._pending.setdefault(tp, set())
        pending.update(offset for offset in offsets if offset >= expected)
        advanced = None
        while expected in pending:
            pending.discard(expected)
            advanced = expected
            expected += 1
        if advanced is not None:
            self._persist(tp, advanced)
        if len(pending) > MAX_PENDING:
            pending.clear()

    def _persist(self, tp: TP, offset: int) -> None:
        super().set_persisted_offset(tp, offset)
        self._persisted[tp] = offset

    def revoke_partitions(self, table: Any, tps: set[TP]) -> None:
        self._persisted.clear()
        super().revoke_partitions(table, tps)

    async def assign_partitions(self, table: Any, tps: set[TP], generation_id: int = 0) -> None:
        self._persisted.clear()
        await super().assign_partitions(table, tps, generation_id)

    def reset_state(self) -> None:
        self._persisted.clear()
        super().reset_state()

    def key_pages(self, partitions: set[int], size: int) -> Iterator[KeyPage]:
        """The stored customers of ``partitions``, ``size`` keys at a time, for the deadline
        index's rebuild (``index_rebuild.StoredStates``).

        Each page opens its own RocksDB iterator, reads on from the previous page's last key and
        drops it. The rebuild yields to the event loop between pages, and a rebalance there drops
        a partition's handle and opens a new one: an iterator held across would keep the old
        handle and its file lock. A partition dropped meanwhile ends its pages.
        """
        for partition in sorted(partitions):
            after: bytes | None = None
            while True:
                db = self._dbs.get(partition)
                if db is None:
                    break
                keys, after = _key_page(db, after, size, self.offset_key)
                del db
                if keys:
                    yield KeyPage(keys, partial(self._stored_value, partition))
                if after is None:
                    break

    def _stored_value(self, partition: int, key: bytes) -> bytes | None:
        db = self._dbs.get(partition)
        value: bytes | None = None if db is None else db.get(key)
        return value


def _key_page(
    db: Any, after: bytes | None, size: int, skip: bytes
) -> tuple[list[bytes], bytes | None]:
    """Up to ``size`` keys of ``db`` after ``after`` (all from the first when None), without
    ``skip``; and the key to go on after, None at the end."""
    it = db.iter()
    if after is None:
        it.seek_to_first()
    else:
        it.seek(after)
        if it.valid() and it.key() == after:
            it.next()
    keys: list[bytes] = []
    last: bytes | None = None
    while it.valid() and len(keys) < size:
        last = it.key()
        if last != skip:
            keys.append(last)
        it.next()
    return keys, last if it.valid() else None


def stored_states(table: Any) -> StoredStates:
    """How the deadline index's rebuild reads ``table``: by RocksDB pages, or as a mapping."""
    store = table.data
    return store if isinstance(store, ContiguousRocksStore) else MappingStates(table)


def register() -> None:
    """Make ``cxrocksdb://`` name :class:`ContiguousRocksStore` (idempotent)."""
    STORES.data[SCHEME] = f"{__name__}:ContiguousRocksStore"


def store_url(url: str) -> str:
    """The worker's store URL: ``rocksdb://...`` becomes this store; others are unchanged."""
    scheme, sep, rest = url.partition("://")
    return f"{SCHEME}{sep}{rest}" if scheme == "rocksdb" and sep else url
