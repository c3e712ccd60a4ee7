"""Folding each batch while the one before is stored (a real fold process) publishes, stores and
acknowledges exactly what the one-batch-at-a-time cycle does, also when a batch fails midway or
the partitions are revoked while batches are in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from agents.worker import metrics
from agents.worker.batch_cycle import BatchCycle
from agents.worker.batch_fold import BatchFold
from agents.worker.fold_ahead import FoldAhead
from agents.worker.fold_ports import FULL_WEIGHT
from agents.worker.fold_process import FoldProcess
from agents.worker.fold_wire import WireRecord as Rec
from agents.worker.health import HealthBoard
from streams.deadline_index import DeadlineIndex
from streams.model import load_config
from tests.unit.agents.worker.test_fold_process import TOPICS, batches


class Broker:
    """Outputs in the order produced; ``fail_flushes`` makes the next flushes raise."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []
        self.fail_flushes = 0

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None, **kw: Any
    ) -> None:
        self.sent.append((topic, key, value))

    async def flush(self, owner: object = None) -> None:
        await asyncio.sleep(0.01)  # the broker's round trip: the next batch folds meanwhile
        if self.fail_flushes:
            self.fail_flushes -= 1
            raise ConnectionError("broker unreachable")


def make_cycle(
    now: float, process: FoldProcess | None
) -> tuple[BatchCycle, Broker, dict[str, bytes]]:
    table: dict[str, bytes] = {}
    broker = Broker()
    fold = BatchFold(TOPICS, load_config(), clock=lambda: now, retry_delays=())
    cycle = BatchCycle(
        broker,  # type: ignore[arg-type]
        table,
        TOPICS,
        fold,
        DeadlineIndex(lambda: now, None, 300.0),
        FULL_WEIGHT,
        health=HealthBoard(),
        retry_pause=0.0,
    )
    if process is not None:
        process.fold = fold
        cycle.fold_process = process
    return cycle, broker, table


def one_at_a_time(cut: list[list[Rec]], now: float) -> tuple[list[dict[str, bytes]], Broker]:
    """The reference: each batch handled and stored before the next starts, in process."""
    cycle, broker, table = make_cycle(now, None)
    tables = []

    async def go() -> None:
        for batch in cut:
            await cycle.handle_safely(batch)
            tables.append(dict(table))

    asyncio.run(go())
    return tables, broker


def folded_ahead(
    cut: list[list[Rec]],
    now: float,
    process: FoldProcess,
    meanwhile: dict[int, Any] | None = None,
) -> tuple[list[tuple[int, dict[str, bytes]]], Broker]:
    """Every batch submitted as the agent does; what the table held at each acknowledgement.
    ``meanwhile[i](cycle, ahead)`` runs right after batch i is submitted."""
    cycle, broker, table = make_cycle(now, process)
    ahead = FoldAhead(cycle, process)
    acked: list[tuple[int, dict[str, bytes]]] = []
    read = ahead.states.get_raw

    def get_raw(customer_id: str, record: Any) -> bytes | None:
        PENDING_READS[0] += customer_id in ahead.states.pending
        return read(customer_id, record)

    ahead.states.get_raw = get_raw  # type: ignore[method-assign]
    job = process._job

    def counted_job(batch: Any, states: Any, after: Any) -> Any:
        made = job(batch, states, after)
        FROM_CHILD[0] += len(made.from_after)
        return made

    process._job = counted_job  # type: ignore[method-assign]

    def acknowledge(i: int) -> Any:
        async def ack() -> None:
            acked.append((i, dict(table)))

        return ack

    async def go() -> None:
        for i, batch in enumerate(cut):
            await ahead.submit(batch, acknowledge(i))
            if meanwhile and i in meanwhile:
                meanwhile[i](broker, ahead)
        await ahead.drain(grace=60.0)

    try:
        asyncio.run(go())
    finally:
        del process._job
    return acked, broker


#: States a fold read from a batch before it that was not stored yet (the speculation): from
#: this process's pending states, or, while that batch was still in the child, from the child.
PENDING_READS = [0]
FROM_CHILD = [0]


@pytest.fixture(scope="module")
def process() -> Iterator[FoldProcess]:
    made = FoldProcess(BatchFold(TOPICS, load_config()))
    made.start()
    yield made
    made.stop()


@pytest.fixture(scope="module")
def year() -> tuple[list[list[Rec]], float, list[dict[str, bytes]], Broker]:
    cut, now = batches()
    tables, broker = one_at_a_time(cut, now)
    return cut, now, tables, broker


def distinct(sent: list[Any]) -> list[Any]:
    """Outputs in first-sent order: a batch handled again sends its outputs again, same ids."""
    return list(dict.fromkeys(sent))


def test_batches_folded_ahead_are_published_stored_and_acknowledged_as_one_at_a_time(
    process: FoldProcess, year: Any
) -> None:
    cut, now, tables, reference = year
    before = metrics.FOLD_AHEAD_REDONE._value.get()
    PENDING_READS[0] = FROM_CHILD[0] = 0
    acked, broker = folded_ahead(cut, now, process)
    assert PENDING_READS[0] + FROM_CHILD[0] > 50, "folded while the batch before was stored"
    assert FROM_CHILD[0] > 25, "batches sent to the child while the one before was folding"
    assert [i for i, _ in acked] == list(range(len(cut))), "acknowledged once each, in order"
    for i, table in acked:
        assert table == tables[i], f"batch {i} acknowledged before its states were stored"
    assert broker.sent == reference.sent
    assert metrics.FOLD_AHEAD_REDONE._value.get() == before, "no batch was handled again"


def test_a_failed_flush_redoes_the_batches_folded_ahead_of_it_and_loses_nothing(
    process: FoldProcess, year: Any
) -> None:
    cut, now, tables, reference = year
    before = metrics.FOLD_AHEAD_REDONE._value.get()
    fail = {4: lambda broker, ahead: setattr(broker, "fail_flushes", 1)}
    acked, broker = folded_ahead(cut, now, process, fail)
    assert [i for i, _ in acked] == list(range(len(cut)))
    for i, table in acked:
        assert table == tables[i], f"batch {i}: stored states differ or came late"
    assert distinct(broker.sent) == distinct(reference.sent)
    assert len(broker.sent) > len(reference.sent), "the failed batch's outputs were sent again"
    assert metrics.FOLD_AHEAD_REDONE._value.get() > before, "batches folded ahead were redone"


def test_revoked_partitions_send_batches_in_flight_back_to_the_table(
    process: FoldProcess, year: Any
) -> None:
    cut, now, tables, reference = year
    before = metrics.FOLD_AHEAD_REDONE._value.get()
    revoke = {5: lambda broker, ahead: ahead.forget(), 9: lambda broker, ahead: ahead.forget()}
    acked, broker = folded_ahead(cut, now, process, revoke)
    for i, table in acked:
        assert table == tables[i], f"batch {i}: stored states differ"
    assert broker.sent == reference.sent
    assert metrics.FOLD_AHEAD_REDONE._value.get() > before


def test_a_batch_that_cannot_be_acknowledged_is_logged_and_the_next_ones_go_on(
    process: FoldProcess, year: Any, caplog: pytest.LogCaptureFixture
) -> None:
    cut, now, tables, _ = year
    cycle, _, table = make_cycle(now, process)
    ahead = FoldAhead(cycle, process)
    acked: list[int] = []

    def acknowledge(i: int) -> Any:
        async def ack() -> None:
            if i == 2:
                raise RuntimeError("the stream is gone")
            acked.append(i)

        return ack

    async def go() -> None:
        for i, batch in enumerate(cut[:5]):
            await ahead.submit(batch, acknowledge(i))
        await ahead.drain(grace=60.0)

    asyncio.run(go())
    assert acked == [0, 1, 3, 4]
    assert table == tables[4], "every batch was stored"
    assert "a batch could not be finished" in caplog.text
