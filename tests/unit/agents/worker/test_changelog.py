"""The changelog writer (agents/worker/changelog.py): a state reaches the table's RocksDB store
at once and its changelog as the record Faust would send; acknowledged offsets move the restore
point by the contiguity rule; and every flush of the worker's Faust producer (before each
commit) flushes the writer too, with or without the Faust overrides."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker import table_store
from agents.worker.api_security import ApiGuard
from agents.worker.changelog import ChangelogWriter, FlushingProducer, flush_with_faust
from agents.worker.tables import FaustStates, create_tables
from streams.envelope import encode_envelope, new_envelope
from tests.unit.agents.worker.test_batch_fold import TOPICS, Rec
from tests.unit.agents.worker.test_tables import _state


class Producer:
    """What the writer hands librdkafka, and the acknowledgements it would report back."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self.written: deque[tuple[int, int]] = deque()
        self.flushes = 0

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, *, partition: int | None = None
    ) -> None:
        self.sent.append((topic, key, value, partition))

    def poll(self) -> None:
        pass

    async def flush(self) -> None:
        self.flushes += 1


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    table_store.register()
    app = faust.App("cx-test", store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    customers, _ = create_tables(app, 4, 8)
    yield customers


def record(partition: int, offset: int = 0) -> Rec:
    return Rec(TOPICS.purchases, partition, offset, b"c1", b"v")


def test_a_state_reaches_the_store_of_its_partition_and_the_changelog_faust_would_write(
    table: Any,
) -> None:
    producer = Producer()
    writer = ChangelogWriter(table, producer)  # type: ignore[arg-type]
    states = FaustStates(table, writer=writer)
    envelope = new_envelope(2, _state())
    states.put("c1", envelope, encode_envelope(envelope), record(partition=2))
    assert producer.sent == [
        ("cx-test-customers-changelog", b"c1", encode_envelope(envelope), 2)
    ], "Faust's changelog topic, the raw key and value, the record's partition"
    assert table.data[b"c1"] == encode_envelope(envelope)
    assert table.data._key_index[b"c1"] == 2, "in partition 2's RocksDB, as Faust would put it"


def test_acknowledged_offsets_move_the_restore_point_only_over_a_contiguous_run(
    table: Any,
) -> None:
    producer = Producer()
    writer = ChangelogWriter(table, producer)  # type: ignore[arg-type]
    changelog = TP("cx-test-customers-changelog", 1)
    producer.written.extend([(1, 0), (1, 2), (1, 1), (1, 4)])  # 3 not acknowledged yet
    writer.poll()
    assert table.data.persisted_offset(changelog) == 2
    assert not producer.written, "every acknowledgement was taken"
    producer.written.append((1, 3))
    asyncio.run(writer.flush())
    assert table.data.persisted_offset(changelog) == 4
    assert producer.flushes == 1


@pytest.mark.parametrize("fast_path", [True, False])
def test_every_flush_of_the_workers_faust_producer_flushes_the_writer(
    tmp_path: Path, fast_path: bool
) -> None:
    """Faust flushes its producer right before it commits offsets (Consumer._commit_offsets,
    pinned in faust_overrides.RELIES_ON), on a revocation, before a recovery and at stop."""

    async def main() -> list[str]:
        options = WorkerOptions(
            data_dir=tmp_path, api_access=ApiAccess(insecure=True), faust_fast_path=fast_path
        )
        app = faust_app(options, ApiGuard(ApiAccess()), 4)
        calls: list[str] = []

        async def hook() -> None:
            calls.append("changelog flushed")

        flush_with_faust(app, hook)
        assert isinstance(app.producer, FlushingProducer)
        await app.producer.flush()
        return calls

    assert asyncio.run(main()) == ["changelog flushed"]


def test_an_app_whose_producer_would_not_flush_the_writer_is_refused(tmp_path: Path) -> None:
    app = faust.App("cx-plain", datadir=str(tmp_path))

    async def hook() -> None:
        pass

    with pytest.raises(TypeError, match="FlushingProducer"):
        flush_with_faust(app, hook)
