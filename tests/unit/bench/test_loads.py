"""The bench's progress probe: rare scrapes, and the end time read between two of them."""

from __future__ import annotations

import pytest

from bench import loads
from bench.loads import SCRAPE_EVERY, crossing, next_scrape


def test_scrapes_are_rare_while_far_from_the_end() -> None:
    assert next_scrape(remaining=80_000, rate=3_000) == SCRAPE_EVERY
    assert next_scrape(remaining=80_000, rate=0.0) == SCRAPE_EVERY  # rate not known yet


def test_scrapes_come_closer_as_the_end_nears() -> None:
    assert next_scrape(remaining=600, rate=3_000) == pytest.approx(0.05)
    assert next_scrape(remaining=1, rate=3_000) == 0.02  # never a busy loop


def test_the_end_is_interpolated_between_the_scrapes_around_it() -> None:
    # 1,000 records at t=10 s, 3,000 at t=11 s: 2,000 were reached half-way.
    assert crossing((10.0, 1_000.0), (11.0, 3_000.0), 2_000) == pytest.approx(10.5)
    assert crossing((10.0, 1_000.0), (11.0, 3_000.0), 3_000) == pytest.approx(11.0)


def test_a_count_that_did_not_move_gives_the_later_scrape() -> None:
    assert crossing((10.0, 3_000.0), (11.0, 3_000.0), 3_000) == 11.0


def test_reached_returns_the_interpolated_moment_the_count_crossed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = iter([10.0, 11.0, 12.0])  # perf_counter at each scrape
    counts = iter([0.0, 1_000.0, 3_000.0])
    monkeypatch.setattr(loads.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(loads.time, "sleep", lambda _: None)
    ended = loads.reached(lambda: next(counts), 2_000, deadline=float("inf"), stalled=str)
    assert ended == pytest.approx(11.5)


def test_reached_says_where_it_stalled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loads.time, "sleep", lambda _: None)
    with pytest.raises(AssertionError, match="stalled at 7"):
        loads.reached(lambda: 7.0, 10, deadline=0.0, stalled=lambda n: f"stalled at {n:g}")
