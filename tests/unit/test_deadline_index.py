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


def test_a_partitions_mark_waits_for_pending_deadlines_and_unfolded_ticks() -> None:
    ticks, _ = index(lateness=10.0)
    ticks.schedule([("a", 0, 120.0), ("b", 0, 400.0)])
    ticks.observe({0: 100.0})
    assert ticks.mark(0) == 90.0  # the watermark: nothing pending is due before it
    ticks.observe({0: 200.0})
    assert ticks.mark(0) == 120.0  # a's deadline passed but its alert is not opened yet
    assert ticks.due() == [("a", 0, 190.0)]
    assert ticks.mark(0) == 120.0  # its tick is on its way, not folded
    ticks.settle([("b", 0)])
    assert ticks.mark(0) == 120.0  # another customer's fold does not release it
    ticks.settle([("a", 0)])
    assert ticks.mark(0) == 190.0
    ticks.schedule([("b", 0, 150.0)])  # b's deadline moved earlier (stale 400 stays in the heap)
    assert ticks.mark(0) == 150.0


def test_a_tick_that_is_never_folded_stops_holding_the_mark_back_after_a_while() -> None:
    ticks, wall = index(lateness=0.0)
    ticks.schedule([("gone", 0, 50.0)])
    ticks.observe({0: 100.0})
    assert ticks.due() == [("gone", 0, 100.0)]  # e.g. a customer whose state was erased
    assert ticks.mark(0) == 50.0
    wall[0] += 301.0
    assert ticks.mark(0) == 100.0


def test_a_rescheduled_tick_is_pending_again_not_in_flight() -> None:
    ticks, _ = index(lateness=0.0)
    ticks.schedule([("a", 0, 50.0)])
    ticks.observe({0: 100.0})
    due = ticks.due()
    ticks.schedule([(cid, p, 50.0) for cid, p, _ in due])  # the broker refused the ticks
    assert ticks.mark(0) == 50.0
    ticks.schedule([("a", 0, 500.0)])  # folded: the next deadline is later
    assert ticks.mark(0) == 100.0


def test_a_partition_without_any_event_follows_the_wall_clock_once_idle_if_configured() -> None:
    live, wall = index(lateness=0.0, idle_after=30.0)
    assert live.mark(3) <= 0.0  # just assigned, nothing seen: no claim yet
    wall[0] += 31.0
    assert live.mark(3) == wall[0], "an empty partition must not hold the alert budget forever"
    replay, wall = index(lateness=0.0, idle_after=None)
    wall[0] += 31.0
    assert replay.mark(3) == 0.0
