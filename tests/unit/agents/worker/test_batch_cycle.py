"""The customer agent's batch cycle with fakes for the broker and the table.

The order that loses nothing (outputs acknowledged before any state is stored), the deadlines
a batch leaves behind, the ticks they turn into and their way back into the fold, and the
deadline index rebuilt from the table after a restart.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agents.worker.batch_cycle import BatchCycle
from agents.worker.batch_fold import TICK_VALUE, BatchFold
from agents.worker.fold_ports import FULL_WEIGHT
from agents.worker.health import HealthBoard
from agents.worker.index_rebuild import MappingStates
from agents.worker.outputs import OutputRejected
from streams.deadline_index import DeadlineIndex
from streams.envelope import decode_envelope
from streams.model import load_config
from tests.unit.agents.worker.test_batch_fold import DAY, T0, TOPICS, Rec, purchase, rec

CONFIG = load_config()
LATENESS = 300.0


class Broker:
    """Outputs as the cycle produces them; ``flush`` notes what the table held at that moment."""

    def __init__(self, table: dict[str, bytes]) -> None:
        self.table = table
        self.sent: list[dict[str, Any]] = []
        self.table_at_flush: list[set[str]] = []
        self.refuse_ticks = 0  # how many of the timer's next flushes the broker refuses

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Any = None, **kw: Any
    ) -> None:
        self.sent.append({"topic": topic, "key": key, "value": value, "headers": headers, **kw})

    async def flush(self, owner: object = None) -> None:
        self.table_at_flush.append(set(self.table))
        if owner is not None and self.refuse_ticks:
            self.refuse_ticks -= 1
            raise OutputRejected("ticks: Broker: Topic authorization failed", False)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["topic"] == topic]


class Clock:
    now = T0 + 400 * DAY


def cycle(table: dict[str, bytes]) -> tuple[BatchCycle, Broker]:
    broker = Broker(table)
    fold = BatchFold(TOPICS, CONFIG, clock=lambda: Clock.now)
    deadlines = DeadlineIndex(lambda: Clock.now, None, LATENESS)
    made = BatchCycle(
        broker,  # type: ignore[arg-type]
        table,
        TOPICS,
        fold,
        deadlines,
        FULL_WEIGHT,
        health=HealthBoard(),
        retry_pause=0.0,
    )
    return made, broker


def history(customer: str, first_offset: int) -> list[Rec]:
    """A customer buying every two weeks for half a year, then falling silent."""
    return [rec(purchase(first_offset + i, T0 + i * 14 * DAY, customer), first_offset + i)
            for i in range(12)]  # fmt: skip


def test_outputs_are_acknowledged_before_any_state_is_stored() -> None:
    table: dict[str, bytes] = {}
    agent, broker = cycle(table)
    asyncio.run(agent.handle_safely(history("c1", 0) + history("c2", 100)))
    assert broker.table_at_flush[0] == set(), "no state was stored before the flush"
    assert set(table) == {"c1", "c2"}
    assert len(broker.on(TOPICS.health)) == 2, "one snapshot per customer and batch"
    assert decode_envelope(table["c1"]).offsets[0] == 11


def test_a_silent_customer_gets_a_tick_that_the_fold_takes_back() -> None:
    table: dict[str, bytes] = {}
    agent, broker = cycle(table)
    asyncio.run(agent.handle_safely(history("c1", 0)))
    assert agent.deadlines.pending() == 1, "the batch left the customer's next deadline"
    assert asyncio.run(agent.send_ticks()) == 0, "not due while stream time has not passed it"

    # Much later another customer's event moves this partition's stream time past it.
    later = T0 + 400 * DAY
    asyncio.run(agent.handle_safely([rec(purchase(500, later, "other"), 500)]))
    assert asyncio.run(agent.send_ticks()) >= 1
    [tick] = [m for m in broker.on(TOPICS.ticks) if m["key"] == b"c1"]
    assert tick["partition"] == 0 and tick["timestamp"] == later - LATENESS
    before = decode_envelope(table["c1"]).state

    back = Rec(TOPICS.ticks, 0, 0, tick["key"], tick["value"], tick["timestamp"])
    asyncio.run(agent.handle_safely([back]))
    after = decode_envelope(table["c1"]).state
    assert TICK_VALUE.unpack(tick["value"])[0] == later - LATENESS
    assert before.as_of < after.as_of <= later - LATENESS, "ticked at its deadlines, up to it"
    assert any(m["key"] == b"c1" for m in broker.on(TOPICS.alerts)), "silence raised an alert"


def test_refused_ticks_are_due_again_at_the_next_tick() -> None:
    table: dict[str, bytes] = {}
    agent, broker = cycle(table)
    asyncio.run(agent.handle_safely(history("c1", 0)))
    asyncio.run(agent.handle_safely([rec(purchase(500, T0 + 400 * DAY, "other"), 500)]))
    broker.refuse_ticks = 1
    assert asyncio.run(agent.send_ticks()) == 0, "refused: nothing was ticked"
    assert asyncio.run(agent.send_ticks()) >= 1
    assert [m["key"] for m in broker.on(TOPICS.ticks)].count(b"c1") == 2, "sent again"


def test_a_restarted_worker_rebuilds_its_deadlines_from_the_table() -> None:
    table: dict[str, bytes] = {}
    first, _ = cycle(table)
    asyncio.run(first.handle_safely(history("c1", 0) + history("c2", 100)))
    restarted, _ = cycle(table)
    assert restarted.deadlines.pending() == 0
    assert asyncio.run(restarted.rebuild(MappingStates(table), {0})) == 2
    assert restarted.deadlines.pending() == 2
    assert restarted.deadlines.stream_time(0) == T0 + 11 * 14 * DAY
    assert asyncio.run(restarted.rebuild(MappingStates(table), {1})) == 0, (
        "partition 0 is no longer ours"
    )
    assert restarted.deadlines.pending() == 0
