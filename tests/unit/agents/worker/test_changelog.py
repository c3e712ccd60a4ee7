"""The changelog writer (agents/worker/changelog.py): a state reaches the table's RocksDB store
at once and its changelog as the record Faust would send; acknowledged offsets move the restore
point by the contiguity rule; a failed record never leaves an older state last on the
changelog; a refusal is raised, naming the topic; and every flush of the worker's Faust producer
(before each commit) flushes the writer too, with or without the Faust overrides.

A scripted client stands in for librdkafka here; the writer runs against the real broker in
tests/integration/test_changelog_writer.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from confluent_kafka import KafkaError
from faust.types import TP

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker import table_store
from agents.worker.api_security import ApiGuard
from agents.worker.changelog import (
    ChangelogRefused,
    ChangelogWriter,
    FlushingProducer,
    flush_with_faust,
)
from agents.worker.faust_internals import event_context
from agents.worker.tables import FaustStates, create_tables
from streams.envelope import encode_envelope, new_envelope
from tests.unit.agents.worker.test_batch_fold import TOPICS, Rec
from tests.unit.agents.worker.test_tables import _state

CHANGELOG = "cx-test-customers-changelog"


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class Client:
    """librdkafka as the writer sees it: each produced record is reported on the next poll or
    flush, delivered at the partition's next offset unless ``fail`` says otherwise."""

    def __init__(self) -> None:
        self.log: dict[int, list[tuple[bytes, bytes]]] = {}  # what the changelog holds
        self.queued: list[tuple[bytes, bytes, int, Any]] = []
        self.fail: list[KafkaError | None] = []  # outcomes of the next reports, in order

    def produce(self, topic: str, value: bytes, key: bytes, **kw: Any) -> None:
        assert topic == CHANGELOG
        self.queued.append((key, value, kw["partition"], kw["on_delivery"]))

    def poll(self, timeout: float) -> int:
        queued, self.queued = self.queued, []
        for key, value, partition, report in queued:
            err = self.fail.pop(0) if self.fail else None
            if err is not None:
                report(err, None)
                continue
            records = self.log.setdefault(partition, [])
            records.append((key, value))
            report(None, Message(partition, len(records) - 1))
        return len(queued)

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0

    def last(self, partition: int, key: bytes) -> bytes | None:
        """The value a compacted changelog keeps for ``key``: its last record's."""
        values = [v for k, v in self.log.get(partition, []) if k == key]
        return values[-1] if values else None


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
    sent_by_faust: list[tuple[Any, ...]] = []

    def faust_send(**kw: Any) -> Any:
        sent_by_faust.append((kw["key"], kw["value"], kw["partition"]))
        raise RuntimeError("captured")

    table.changelog_topic.send_soon = faust_send
    envelope = new_envelope(2, _state())
    raw = encode_envelope(envelope)
    with event_context(record(partition=2)), pytest.raises(RuntimeError, match="captured"):
        table["c1"] = raw  # what Faust's own write would send
    client = Client()
    states = FaustStates(table, writer=ChangelogWriter(table, client))  # type: ignore[arg-type]
    states.put("c1", envelope, raw, record(partition=2))
    assert table.changelog_topic.get_topic_name() == CHANGELOG
    assert [(k, v, p) for k, v, p, _ in client.queued] == [(b"c1", raw, 2)]
    assert sent_by_faust == [("c1", raw, 2)], "Faust sends the same key (raw codec), value and "
    "partition"
    assert table.data[b"c1"] == raw
    assert table.data._key_index[b"c1"] == 2, "in partition 2's RocksDB, as Faust would put it"


def test_acknowledged_offsets_move_the_restore_point_only_over_a_contiguous_run(
    table: Any,
) -> None:
    client = Client()
    writer = ChangelogWriter(table, client)  # type: ignore[arg-type]
    changelog = TP(CHANGELOG, 1)
    for n in range(3):
        writer.put(f"c{n}", b"s", record(partition=1, offset=n))
    writer.poll()
    assert table.data.persisted_offset(changelog) == 2
    table.data.mark_written(changelog, [4])  # 3 not acknowledged yet: the point waits
    assert table.data.persisted_offset(changelog) == 2
    writer.put("c3", b"s", record(partition=1, offset=3))
    asyncio.run(writer.flush())
    assert table.data.persisted_offset(changelog) == 4


def test_a_record_that_failed_is_re_sent_only_as_its_customers_newest_state(table: Any) -> None:
    """The first of two states fails for a passing reason after the second was produced:
    re-sending it as it was would leave the older state last on the compacted changelog, and a
    restore would lose what the newer one folded in (and was committed on)."""
    client = Client()
    writer = ChangelogWriter(table, client, max_backoff=0.0)  # type: ignore[arg-type]
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    writer.put("c1", b"old", record(partition=0, offset=0))
    writer.put("c1", b"new", record(partition=0, offset=1))
    writer.put("c2", b"only", record(partition=0, offset=2))
    client.fail = [timed_out, None, timed_out]  # c1's old one and c2's fail
    asyncio.run(writer.flush())
    assert client.last(0, b"c1") == b"new"
    assert [v for k, v in client.log[0] if k == b"c1"] == [b"new"], "the old state not re-sent"
    assert client.last(0, b"c2") == b"only", "c2's one state re-sent: nothing newer was on its way"
    assert table.data[b"c1"] == b"new"


def test_when_every_record_of_a_customer_fails_the_newest_is_what_lands(table: Any) -> None:
    client = Client()
    writer = ChangelogWriter(table, client, max_backoff=0.0)  # type: ignore[arg-type]
    down = KafkaError(KafkaError._TRANSPORT)
    writer.put("c1", b"v1", record(partition=3))
    writer.put("c1", b"v2", record(partition=3, offset=1))
    client.fail = [down, down]
    asyncio.run(writer.flush())
    assert client.log[3] == [(b"c1", b"v2")]


def test_a_refused_record_fails_the_flush_naming_the_topic_and_the_fix(table: Any) -> None:
    """A flush that returned would let Faust commit past a state the changelog lacks."""
    client = Client()
    writer = ChangelogWriter(table, client)  # type: ignore[arg-type]
    writer.put("c1", b"v", record(partition=0))
    client.fail = [KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)]
    with pytest.raises(ChangelogRefused, match=f"{CHANGELOG}.*write access"):
        asyncio.run(writer.flush())


@pytest.mark.parametrize("fast_path", [True, False])
def test_every_flush_of_the_workers_faust_producer_flushes_the_writer(
    tmp_path: Path, fast_path: bool
) -> None:
    """Faust flushes its producer right before it commits offsets (Consumer._commit_offsets,
    pinned in faust_pins.RELIES_ON), on a revocation, before a recovery and at stop."""

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
