"""The churn-alert budget: at most K new alerts per team and day, the K most at risk, whatever
the order the alerts arrive in (replay-safe), decided in event time."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain import Alert, AlertAction, AlertType, Priority
from streams.model.budget import (
    DAY_S,
    BudgetBook,
    Candidate,
    admit_all,
    candidate,
    close,
    close_marked,
    mark,
    offer,
)

T0 = 1_700_006_400.0  # midnight UTC
HOUR = 3600.0


def churn_alert(
    i: int, p_loss: float, team: str | None = "eu", at: float = T0 + HOUR, var: int = 100
) -> Alert:
    return Alert(
        alert_id=f"a{i:04d}",
        customer_id=f"c{i}",
        type=AlertType.CHURN_RISK,
        action=AlertAction.OPENED,
        priority=Priority.HIGH,
        score=100 * p_loss,
        reasons=(),
        playbook="",
        opened_at=at,
        occurred_at=at,
        cx_team=team,
        p_loss=p_loss,
        value_at_risk_minor=var,
    )


def test_a_team_gets_its_k_most_likely_lost_customers_of_the_day() -> None:
    alerts = [churn_alert(i, p) for i, p in enumerate([0.81, 0.95, 0.77, 0.9, 0.99])]
    admitted = admit_all(alerts, k=2, end=T0 + DAY_S)
    assert [c.customer_id for c in admitted] == ["c4", "c1"]


def test_teams_and_days_have_budgets_of_their_own() -> None:
    alerts = [
        churn_alert(1, 0.9, "eu"),
        churn_alert(2, 0.8, "eu"),
        churn_alert(3, 0.7, "us"),
        churn_alert(4, 0.6, None),
        churn_alert(5, 0.85, "eu", at=T0 + DAY_S + HOUR),
    ]
    admitted = admit_all(alerts, k=1, end=T0 + 2 * DAY_S)
    assert sorted(c.customer_id for c in admitted) == ["c1", "c3", "c4", "c5"]


def test_updates_resolutions_and_referrals_do_not_spend_the_budget() -> None:
    opened = churn_alert(1, 0.7)
    others = [
        dataclasses.replace(churn_alert(2, 0.99), action=AlertAction.UPDATED),
        dataclasses.replace(churn_alert(3, 0.99), type=AlertType.REFERRAL_OPPORTUNITY),
    ]
    assert [c.customer_id for c in admit_all([*others, opened], 1, T0 + DAY_S)] == ["c1"]


def test_a_day_is_decided_only_after_it_ends_plus_the_grace_and_late_ones_are_refused() -> None:
    book = BudgetBook()
    book, ok = offer(book, Candidate("a", "c1", "eu", 0.9, 0, T0 + HOUR), 1)
    assert ok
    book, admitted = close(book, T0 + DAY_S + 5 * HOUR, grace_s=6 * HOUR)
    assert admitted == []  # still within the grace: a late alert of that day may beat it
    book, ok = offer(book, Candidate("b", "c2", "eu", 0.95, 0, T0 + 2 * HOUR), 1)
    assert ok
    book, admitted = close(book, T0 + DAY_S + 6 * HOUR, grace_s=6 * HOUR)
    assert [c.alert_id for c in admitted] == ["b"]
    book, ok = offer(book, Candidate("c", "c3", "eu", 0.99, 0, T0 + 3 * HOUR), 1)
    assert not ok and not book.buckets  # that day is closed: refused as late


def test_ties_are_broken_by_value_at_risk_then_alert_id() -> None:
    alerts = [churn_alert(3, 0.9, var=10), churn_alert(2, 0.9, var=50), churn_alert(1, 0.9)]
    assert [c.alert_id for c in admit_all(alerts, 2, T0 + DAY_S)] == ["a0001", "a0002"]


def test_a_budget_below_one_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="alert budget: k must be >= 1"):
        offer(BudgetBook(), Candidate("a", "c", "eu", 0.9, 0, T0), 0)


alert_sets = st.lists(
    st.tuples(
        st.floats(0.5, 1.0),
        st.sampled_from(["eu", "us", None]),
        st.floats(0.0, 3 * DAY_S - 1),
        st.integers(0, 1000),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(alert_sets, st.integers(1, 5), st.randoms(use_true_random=False))
def test_admitted_set_is_the_top_k_per_team_and_day_in_any_order(
    rows: list[tuple[float, str | None, float, int]], k: int, rnd: object
) -> None:
    alerts = [churn_alert(i, p, team, T0 + at, var) for i, (p, team, at, var) in enumerate(rows)]
    shuffled = list(alerts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    first = admit_all(alerts, k, T0 + 3 * DAY_S)
    assert first == admit_all(shuffled, k, T0 + 3 * DAY_S)  # replay-safe
    by_bucket: dict[tuple[str, int], list[Candidate]] = {}
    for c in first:
        by_bucket.setdefault((c.team, c.day), []).append(c)
    for (team, day), got in by_bucket.items():
        assert len(got) <= k
        pool = [a for a in alerts if (a.cx_team or "") == team and int(a.opened_at // DAY_S) == day]
        best = sorted(pool, key=lambda a: (-(a.p_loss or 0.0), -a.value_at_risk_minor, a.alert_id))
        assert [c.alert_id for c in got] == [a.alert_id for a in best[:k]]
    assert len(first) == sum(min(k, n) for n in _counts(alerts).values())


def _counts(alerts: list[Alert]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for a in alerts:
        key = (a.cx_team or "", int(a.opened_at // DAY_S))
        out[key] = out.get(key, 0) + 1
    return out


def test_in_the_pipeline_a_day_is_decided_when_every_partitions_mark_has_passed_it() -> None:
    book = BudgetBook()
    book, _ = offer(book, Candidate("a", "c1", "eu", 0.9, 0, T0 + HOUR), 1)
    book, _ = offer(book, Candidate("b", "c2", "eu", 0.8, 0, T0 + 2 * HOUR), 1)
    book = mark(book, 0, T0 + 3 * DAY_S)
    book, admitted = close_marked(book, partitions=2, grace_s=HOUR)
    assert admitted == []  # partition 1 has said nothing yet: it may still open one
    book = mark(book, 1, T0 + DAY_S + 30 * 60)
    book, admitted = close_marked(book, partitions=2, grace_s=HOUR)
    assert admitted == []  # the lowest mark decides, and it is within the grace
    book = mark(book, 1, T0 + DAY_S)  # marks only move forward (a new owner starts behind)
    assert book.marks[1] == T0 + DAY_S + 30 * 60
    book = mark(book, 1, T0 + DAY_S + HOUR)
    book, admitted = close_marked(book, partitions=2, grace_s=HOUR)
    assert [c.alert_id for c in admitted] == ["a"]
    assert book.marks == {0: T0 + 3 * DAY_S, 1: T0 + DAY_S + HOUR}  # kept across closes


@settings(max_examples=60, deadline=None)
@given(alert_sets, st.integers(1, 3), st.randoms(use_true_random=False))
def test_marked_closing_admits_what_a_replay_admits_however_partitions_interleave(
    rows: list[tuple[float, str | None, float, int]], k: int, rnd: object
) -> None:
    """Each partition's candidates precede its marks, as the worker produces them; the
    partitions interleave at random, and days close as the lowest mark allows."""
    alerts = [churn_alert(i, p, team, T0 + at, var) for i, (p, team, at, var) in enumerate(rows)]
    by_partition: dict[int, list[object]] = {0: [], 1: []}
    for i, a in enumerate(sorted(alerts, key=lambda a: a.opened_at)):
        part = by_partition[i % 2]
        part.append(a)
        part.append((i % 2, a.opened_at))  # this partition opens nothing earlier from now on
    for part_no, part in by_partition.items():
        part.append((part_no, T0 + 4 * DAY_S))
    book, admitted = BudgetBook(), []
    while any(by_partition.values()):
        part = by_partition[rnd.choice([p for p, q in by_partition.items() if q])]  # type: ignore[attr-defined]
        item = part.pop(0)
        if isinstance(item, Alert):
            found = candidate(item)
            assert found is not None
            book, booked = offer(book, found, k)
            assert booked, "never late: each partition's marks follow its candidates"
        else:
            book = mark(book, *item)  # type: ignore[misc]
        book, decided = close_marked(book, 2, grace_s=0.0)
        admitted += decided
    assert sorted(admitted, key=Candidate.rank) == sorted(
        admit_all(alerts, k, T0 + 4 * DAY_S), key=Candidate.rank
    )
