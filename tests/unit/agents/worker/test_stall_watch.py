"""A stalled input partition (records waiting, the committed offset standing still) is named on
/healthz and counted in a gauge; a partition that moves, or has nothing waiting, is not."""

from __future__ import annotations

import logging

import faust
import pytest

from agents.worker import metrics
from agents.worker.consumer_lag import (
    REBALANCE_PROBLEM,
    STALL_PROBLEM,
    report_rebalance,
    report_stalls,
)
from agents.worker.faust_internals import rebalance_diagnosis, recovery_remaining
from agents.worker.health import HealthBoard
from agents.worker.stall_watch import RebalanceClock, StallWatch

P1 = ("cx.purchases", 1)
P3 = ("cx.purchases", 3)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_whose_commit_stands_still_with_records_waiting_is_stalled() -> None:
    """Full soak 47: purchases[1] and [3] stood at 70 and 59 records waiting for ten minutes
    after a rebalance while the worker answered /healthz ok."""
    clock = Clock()
    watch = StallWatch(after=180.0, clock=clock)
    assert watch.observe({P1: (28_233, 70), P3: (29_400, 10)}) == []
    clock.now = 100.0
    assert watch.observe({P1: (28_233, 70), P3: (29_450, 130)}) == []  # P3 moves
    clock.now = 181.0
    stalled = watch.observe({P1: (28_233, 70), P3: (29_500, 80)})
    assert [s.partition for s in stalled] == [P1]
    assert stalled[0].describe() == "cx.purchases[1]: 70 records waiting, no commit for 181 s"


def test_nothing_waiting_is_never_a_stall_however_long_the_commit_stands() -> None:
    clock = Clock()
    watch = StallWatch(after=180.0, clock=clock)
    for step in range(10):
        clock.now = 60.0 * step
        assert watch.observe({P1: (500, 0)}) == []
    clock.now += 60.0  # records arrive: the clock starts now, not when the commit last moved
    assert watch.observe({P1: (500, 3)}) == []


def test_an_unreadable_lag_starts_the_watch_over() -> None:
    """A broker outage: nothing is known of the time in between, and the merge holds records
    in order meanwhile, so the commit standing still then is no stall."""
    clock = Clock()
    watch = StallWatch(after=180.0, clock=clock)
    watch.observe({P1: (100, 5)})
    clock.now = 170.0
    watch.forget()
    clock.now = 200.0
    assert watch.observe({P1: (100, 5)}) == []
    clock.now = 381.0
    assert [s.partition for s in watch.observe({P1: (100, 5)})] == [P1]


def test_stalls_are_reported_on_healthz_and_cleared_when_none_is_left() -> None:
    health = HealthBoard()
    clock = Clock()
    watch = StallWatch(after=180.0, clock=clock)
    watch.observe({P1: (7, 2)})
    clock.now = 200.0
    report_stalls(watch.observe({P1: (7, 2)}), health)
    assert not health.healthy
    (problem,) = health.problems()
    assert problem.name == STALL_PROBLEM and "cx.purchases[1]: 2 records waiting" in problem.detail
    assert metrics.INPUT_PARTITIONS_STALLED._value.get() == 1
    clock.now = 210.0
    report_stalls(watch.observe({P1: (9, 0)}), health)
    assert health.healthy and metrics.INPUT_PARTITIONS_STALLED._value.get() == 0


def test_a_rebalance_is_timed_from_its_start_and_forgotten_once_it_ends() -> None:
    clock = Clock()
    rebalance = RebalanceClock(clock=clock)
    assert rebalance.observe(False) == 0.0
    clock.now = 10.0
    assert rebalance.observe(True) == 0.0  # starts now
    clock.now = 70.0
    assert rebalance.observe(True) == 60.0
    assert rebalance.observe(False) == 0.0
    clock.now = 100.0
    assert rebalance.observe(True) == 0.0  # the next rebalance starts over


def test_a_recovery_that_restores_records_is_progress_not_a_stall() -> None:
    """A million customers take minutes to restore: a worker restoring them is not stuck."""
    clock = Clock()
    rebalance = RebalanceClock(clock=clock)
    assert rebalance.observe(True, 900_000) == 0.0
    clock.now = 150.0
    assert rebalance.observe(True, 400_000) == 0.0  # restored half a million meanwhile
    clock.now = 400.0
    assert rebalance.observe(True, 400_000) == 250.0  # nothing restored since


def test_a_rebalance_that_does_not_finish_fails_healthz_and_says_where_faust_stands(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The lag probe does not read lag while the group rebalances, so a rebalance (or the
    table recovery after it) that never ends stopped every partition without a word."""
    health = HealthBoard()
    asked: list[int] = []

    def diagnosis() -> str:
        asked.append(1)
        return "in recovery True, changelog records to restore 0"

    report_rebalance(30.0, diagnosis, health)
    assert health.healthy and metrics.REBALANCE_SECONDS._value.get() == 30.0
    with caplog.at_level(logging.ERROR, logger="agents.worker.consumer_lag"):
        report_rebalance(181.0, diagnosis, health)
        report_rebalance(183.0, diagnosis, health)
    (problem,) = health.problems()
    assert problem.name == REBALANCE_PROBLEM and "no progress for 183 s" in problem.detail
    assert metrics.REBALANCE_SECONDS._value.get() == 183.0
    assert len(asked) == 1  # logged once per rebalance, with Faust's state
    assert "changelog records to restore 0" in caplog.text
    report_rebalance(0.0, diagnosis, health)
    assert health.healthy and metrics.REBALANCE_SECONDS._value.get() == 0.0


def test_the_rebalance_diagnosis_reads_a_faust_app_and_never_raises() -> None:
    app = faust.App("diagnosis-test", broker="kafka://127.0.0.1:1")  # never started
    text = rebalance_diagnosis(app)
    assert "rebalancing False" in text and "changelog records to restore 0" in text
    assert recovery_remaining(app) == 0 and recovery_remaining(object()) is None
    assert "assigned partitions unknown (ConsumerNotStarted)" in text
    assert "rebalancing unknown (AttributeError)" in rebalance_diagnosis(object())
