"""The table store's persisted offset never passes a changelog record the store lacks
(defect 8 in docs/reliability.md): a real RocksDB store of a real (unstarted) Faust app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP

from agents.worker import table_store
from agents.worker.index_rebuild import MappingStates
from agents.worker.tables import create_tables

TOPIC = "cx-test-customers-changelog"
TP0 = TP(TOPIC, 0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    table_store.register()
    app = faust.App("cx-test", store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    table = app.Table("customers", partitions=1, key_type=bytes, value_type=bytes)
    yield table.data


def acked(store: Any, *offsets: int) -> int | None:
    """Acknowledge our own changelog writes at these offsets; the persisted offset after."""
    for offset in offsets:
        store.set_persisted_offset(TP0, offset)
    persisted: int | None = store.persisted_offset(TP0)
    return persisted


def changelog_event(offset: int, key: bytes, value: bytes | None) -> Any:
    message = SimpleNamespace(tp=TP0, offset=offset, partition=0, key=key, value=value)
    return SimpleNamespace(message=message)


def test_the_worker_gets_the_contiguous_rocksdb_store() -> None:
    assert table_store.store_url("rocksdb://") == "cxrocksdb://"
    assert table_store.store_url("rocksdb:///var/tables") == "cxrocksdb:///var/tables"
    assert table_store.store_url("memory://") == "memory://"


def test_own_writes_advance_it_and_late_acknowledgements_are_waited_for(store: Any) -> None:
    assert acked(store, 0, 1, 2) == 2
    assert acked(store, 4) == 2  # 3 not acknowledged yet
    assert acked(store, 3) == 4


def test_another_writers_record_stops_it_so_a_restore_reads_it(store: Any) -> None:
    """Two owners around a rebalance: we wrote 0-4, the new owner wrote 5, our delayed writes
    landed at 6-8. Faust would persist 8 and, given the partition back, never read 5."""
    assert acked(store, 0, 1, 2, 3, 4, 6, 7, 8) == 4
    # the restore when the partition comes back starts after 4: it applies 5 to 8
    events = [changelog_event(o, f"c{o}".encode(), b"state") for o in (5, 6, 7, 8)]
    store.apply_changelog_batch(events, to_key=lambda k: k, to_value=lambda v: v)
    assert store.persisted_offset(TP0) == 8
    assert store[b"c5"] == b"state"
    assert acked(store, 9) == 9  # and our next write continues from there


def test_a_restore_through_compacted_gaps_persists_its_last_record(store: Any) -> None:
    events = [changelog_event(o, b"c1", b"v") for o in (3, 10, 42)]  # the rest compacted away
    store.apply_changelog_batch(events, to_key=lambda k: k, to_value=lambda v: v)
    assert store.persisted_offset(TP0) == 42
    assert acked(store, 43) == 43


def test_the_offset_kept_in_memory_follows_a_reset_of_the_store(store: Any) -> None:
    """The last persisted offset is kept in memory (no RocksDB read per write); a store Faust
    wipes (or a partition it assigns again) starts from what RocksDB holds."""
    assert acked(store, 0, 1, 2) == 2
    store.reset_state()  # Faust removes the local files: RocksDB holds no offset any more
    assert acked(store, 0) == 0


def test_the_worker_s_tables_bound_rocksdb_memory_per_partition(tmp_path: Path) -> None:
    """Faust's defaults (a 2 GiB block cache and three 64 MiB memtables per partition) kept a
    restored million customers in the worker's RSS; ``--table-cache-mb`` sets the cache."""
    table_store.register()
    app = faust.App("cx-mem", store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    customers, integrity = create_tables(app, partitions=2, block_cache_mb=24)
    for table in (customers, integrity):
        options = table.data.rocksdb_options
        assert options.block_cache_size == 24 * 2**20
        assert options.write_buffer_size * options.max_write_buffer_number <= 32 * 2**20


def test_the_rebuild_pages_list_each_stored_customer_once_as_faust_lists_them(
    tmp_path: Path,
) -> None:
    """The deadline index's rebuild lists a partition's keys a page at a time (a million in one
    pass held the event loop 12 s): the pages hold what Faust's own listing holds, no
    offset key, and read each value."""
    table_store.register()
    app = faust.App("cx-pages", store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    table = app.Table("customers", partitions=2, key_type=bytes, value_type=bytes)
    store = table.data
    for partition, count in ((0, 7), (1, 5)):
        for i in range(count):
            store._db_for_partition(partition).put(f"c{partition}-{i}".encode(), b"v%d" % i)
        store.set_persisted_offset(TP(table.changelog_topic_name, partition), count)
    actives = {TP(table.changelog_topic_name, p) for p in (0, 1)}
    app.assignor.assigned_actives = lambda: actives  # an unstarted app has no assignment

    pages = list(table_store.stored_states(table).key_pages({0, 1}, size=3))
    assert [len(page.keys) for page in pages] == [3, 3, 1, 3, 2]
    listed = [key for page in pages for key in page.keys]
    assert sorted(listed) == sorted(table.keys())
    assert pages[2].read(b"c0-6") == b"v6"
    [one_page] = table_store.stored_states(table).key_pages({1}, size=10)
    assert one_page.keys == [f"c1-{i}".encode() for i in range(5)]


def test_a_rebalance_between_pages_can_reopen_the_partition(tmp_path: Path) -> None:
    """No RocksDB handle is held between pages: Faust drops a revoked partition's handle and
    opens a new one on assignment, and a held iterator would keep the old one's file lock.
    A key written between pages is listed; a partition dropped between pages ends."""
    table_store.register()
    app = faust.App("cx-lock", store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    table = app.Table("customers", partitions=1, key_type=bytes, value_type=bytes)
    store = table.data
    for i in range(4):
        store._db_for_partition(0).put(b"c%d" % i, b"v")
    pages = table_store.stored_states(table).key_pages({0}, size=2)
    assert next(pages).keys == [b"c0", b"c1"]

    store.revoke_partitions(table, {TP(table.changelog_topic_name, 0)})  # drops the handle
    reopened = store._db_for_partition(0)  # raises "lock hold by current process" if held
    reopened.put(b"c2a", b"v")
    assert next(pages).keys == [b"c2", b"c2a"]

    store.revoke_partitions(table, {TP(table.changelog_topic_name, 0)})
    assert list(pages) == [], "a partition dropped meanwhile ends its pages"


def test_a_memory_store_table_is_read_as_a_mapping(tmp_path: Path) -> None:
    app = faust.App("cx-mem-pages", store="memory://", datadir=str(tmp_path))
    table = app.Table("customers", partitions=1, key_type=bytes, value_type=bytes)
    assert isinstance(table_store.stored_states(table), MappingStates)
