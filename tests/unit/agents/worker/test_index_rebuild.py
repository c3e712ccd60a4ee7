"""The deadline index is rebuilt a slice at a time while batches go on, and ends as an instant
rebuild of the final table would: deadlines and the stage/band gauges."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from agents.worker import index_rebuild
from agents.worker.batch_cycle import BatchCycle
from agents.worker.index_rebuild import MappingStates
from agents.worker.metrics import REGISTRY
from streams.envelope import decode_envelope
from tests.unit.agents.worker.test_batch_cycle import cycle, history
from tests.unit.agents.worker.test_batch_fold import DAY, T0, purchase, rec

CUSTOMERS = 40


def stored(customers: int) -> dict[str, bytes]:
    table: dict[str, bytes] = {}
    first, _ = cycle(table)
    records = [r for i in range(customers) for r in history(f"c{i}", 100 * i)]
    asyncio.run(first.handle_safely(records))
    return table


def comeback_batch() -> list:  # type: ignore[type-arg]
    """A customer the rebuild has read, one it has not, and a new one: all buy again."""
    late = T0 + 300 * DAY
    return [
        rec(purchase(90, late, "c0"), 90),
        rec(purchase(99 + 100 * (CUSTOMERS - 1), late, f"c{CUSTOMERS - 1}"), 9_000),
        rec(purchase(9_001, late, "new"), 9_001),
    ]


def gauges() -> tuple[Counter[str], Counter[str]]:
    stages: Counter[str] = Counter()
    bands: Counter[str] = Counter()
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "cxstream_customers" and sample.value:
                stages[sample.labels["stage"]] = int(sample.value)
            if sample.name == "cxstream_customers_by_health_band" and sample.value:
                bands[sample.labels["band"]] = int(sample.value)
    return stages, bands


def labels_of(table: dict[str, bytes]) -> tuple[Counter[str], Counter[str]]:
    envelopes = [decode_envelope(raw) for raw in table.values()]
    return Counter(e.stage for e in envelopes), Counter(e.band for e in envelopes)


def test_batches_folded_during_the_rebuild_leave_the_index_and_gauges_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_rebuild, "SLICE_S", 0.0)  # yield after every customer
    table = stored(CUSTOMERS)
    before = decode_envelope(table["c0"])
    restarted, _ = cycle(table)

    async def scenario() -> int | None:
        rebuilding = asyncio.create_task(restarted.rebuild(MappingStates(table), {0}))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not rebuilding.done(), "the batch runs in the middle of the rebuild"
        await restarted.handle_safely(comeback_batch())
        return await rebuilding

    assert asyncio.run(scenario()) is not None
    assert gauges() == labels_of(table)
    after = decode_envelope(table["c0"])
    assert (before.stage, before.band) != (after.stage, after.band), "c0 moved after its read"

    instant: BatchCycle = cycle(table)[0]
    assert asyncio.run(instant.rebuild(MappingStates(table), {0})) is not None
    for customer in table:
        assert restarted.deadlines.deadline(0, customer) == instant.deadlines.deadline(
            0, customer
        ), customer


def test_a_rebalance_cuts_the_rebuild_short_and_leaves_the_gauges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(index_rebuild, "SLICE_S", 0.0)
    table = stored(3)
    restarted, _ = cycle(table)
    assert asyncio.run(restarted.rebuild(MappingStates(table), {0})) == 3
    counted = gauges()
    yields = iter([True, False])
    assert asyncio.run(restarted.rebuild(MappingStates(table), {0}, lambda: next(yields))) is None
    assert gauges() == counted


def test_an_undecodable_state_is_reported_and_the_others_are_indexed() -> None:
    table = stored(3)
    table["c1"] = b"\x09garbage"
    restarted, _ = cycle(table)
    assert asyncio.run(restarted.rebuild(MappingStates(table), {0})) == 2
    [problem] = restarted.health.problems()
    assert problem.name == "deadline_index" and "1 stored customer state" in problem.detail
    assert "c1" not in problem.detail, "customer ids stay out of /healthz"
    table["c1"] = table["c0"]
    assert asyncio.run(restarted.rebuild(MappingStates(table), {0})) == 3
    assert restarted.health.problems() == []
