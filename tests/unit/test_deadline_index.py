"""The deadline index finds due customers without scanning, and never ticks past a watermark."""

from __future__ import annotations

from streams.deadline_index import DeadlineIndex


def index(
    lateness: float = 10.0, idle_after: float | None = None
) -> tuple[DeadlineIndex, list[float]]:
    wall = [1_000.0]
    return DeadlineIndex(lambda: wall[0], idle_after, lateness), wall


def test_due_customers_tick_up_to_the_watermark_of_their_own_partition() -> None:
    ticks, _ = index(lateness=10.0)
    ticks.schedule([("a", 0, 100.0), ("b", 0, 300.0), ("c", 1, 100.0)])
    ticks.observe({0: 150.0, 1: 105.0})  # partition 1's watermark is 95: not yet due
    assert ticks.due() == [("a", 0, 140.0)]
    assert ticks.due() == []  # popped once
    ticks.observe({1: 200.0})
    assert ticks.due() == [("c", 1, 190.0)]


def test_a_moved_deadline_replaces_the_old_one() -> None:
    ticks, _ = index(lateness=0.0)
    ticks.schedule([("a", 0, 100.0)])
    ticks.schedule([("a", 0, 500.0)])  # new evidence pushed the deadline out
    ticks.observe({0: 200.0})
    assert ticks.due() == []
    ticks.observe({0: 600.0})
    assert ticks.due() == [("a", 0, 600.0)]
    assert ticks.pending() == 0


def test_idle_partitions_follow_the_wall_clock_only_when_configured() -> None:
    live, wall = index(lateness=0.0, idle_after=30.0)
    live.observe({0: 100.0})
    live.schedule([("a", 0, 500.0)])
    wall[0] += 31.0  # half a minute without events on partition 0
    assert live.due() == [("a", 0, 1_031.0)]

    replay, wall = index(lateness=0.0, idle_after=None)
    replay.observe({0: 100.0})
    replay.schedule([("a", 0, 500.0)])
    wall[0] += 10_000.0
    assert replay.due() == []


def test_forgetting_revoked_partitions_drops_their_deadlines() -> None:
    ticks, _ = index()
    ticks.schedule([("a", 0, 1.0), ("b", 1, 1.0)])
    ticks.forget_partitions({1})
    assert ticks.pending() == 1
