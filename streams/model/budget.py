"""The churn-alert cut as a budget: at most K new alerts per CX team per day, the K most at risk.

An operator who can call 20 customers a day wants the 20 most likely to be lost, not every
customer above a probability. A worker sees a team's customers across partitions and in no
fixed order, so admitting alerts as they arrive would make the result depend on that order.
Instead every churn alert the model opens (p_loss at or above ``loss.alert_at``, the floor) is a
*candidate* of its team and event-time day; once stream time has passed the end of that day plus
the budget's grace, the day is closed and its K best candidates are admitted, ranked by p_loss,
then value at risk, then alert id. In the pipeline, stream time is the lowest of the input
partitions' *marks* (each partition's watermark, held back by its customers' pending
deadlines, so an alert a timer tick has yet to open is never late): :func:`mark` and
:func:`close_marked`. The admitted set is a function of the day's candidates alone:
replaying the same events admits the same alerts in any order (event time, no clocks). A
candidate arriving for a closed day is refused as late. Memory is bounded: at most K candidates
are kept per open (team, day).

Pure functions over an immutable :class:`BudgetBook`; ``loss.alert_budget_per_day`` (0 = the
probability cut alone) sets K and ``loss.alert_budget_grace_hours`` the grace.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from streams.domain import Alert, AlertAction, AlertType

DAY_S = 86400.0
NO_TEAM = ""  # customers without a team share one budget


@dataclass(frozen=True, slots=True)
class Candidate:
    """A newly opened churn alert competing for its team's daily budget."""

    alert_id: str
    customer_id: str
    team: str
    p_loss: float
    value_at_risk_minor: int
    opened_at: float  # event time
    payload: bytes = field(default=b"", compare=False)  # the alert message, opaque here

    @property
    def day(self) -> int:
        return day_of(self.opened_at)

    def rank(self) -> tuple[float, int, str]:
        """Sort key, best first: most likely lost, then most value at risk, then id."""
        return (-self.p_loss, -self.value_at_risk_minor, self.alert_id)


def day_of(t: float) -> int:
    """The UTC day (days since the epoch) of an event time."""
    return int(t // DAY_S)


def candidate(alert: Alert, payload: bytes = b"") -> Candidate | None:
    """The candidate of an *opened* churn alert; None for anything else."""
    if alert.type is not AlertType.CHURN_RISK or alert.action is not AlertAction.OPENED:
        return None
    return Candidate(
        alert.alert_id,
        alert.customer_id,
        alert.cx_team or NO_TEAM,
        float(alert.p_loss or 0.0),
        int(alert.value_at_risk_minor or 0),
        alert.opened_at,
        payload,
    )


@dataclass(frozen=True, slots=True)
class BudgetBook:
    """Open days' best candidates per (team, day), and the first day not yet closed."""

    buckets: Mapping[tuple[str, int], tuple[Candidate, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    open_from: int = -(2**62)  # days before this are closed
    marks: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))


def late(book: BudgetBook, cand: Candidate) -> bool:
    """``cand``'s day is already decided: :func:`offer` refuses it."""
    return cand.day < book.open_from


def offer(book: BudgetBook, cand: Candidate, k: int) -> tuple[BudgetBook, bool]:
    """Book ``cand`` for its team and day, keeping the ``k`` best; (book, False) when its day
    is already closed (late) or it is already booked."""
    if k < 1:
        raise ValueError(f"alert budget: k must be >= 1, got {k}")
    if late(book, cand):
        return book, False
    key = (cand.team, cand.day)
    held = book.buckets.get(key, ())
    if any(c.alert_id == cand.alert_id for c in held):
        return book, False
    kept = tuple(sorted((*held, cand), key=Candidate.rank)[:k])
    buckets = dict(book.buckets)
    buckets[key] = kept
    return BudgetBook(MappingProxyType(buckets), book.open_from, book.marks), True


def close(book: BudgetBook, now: float, grace_s: float) -> tuple[BudgetBook, list[Candidate]]:
    """Close every day that ended at least ``grace_s`` before ``now`` (event time): its
    booked candidates are admitted, in (day, team, rank) order."""
    first_open = day_of(now - grace_s)  # a day d is closed when (d + 1) * DAY_S + grace <= now
    if first_open <= book.open_from:
        return book, []
    done = sorted(key for key in book.buckets if key[1] < first_open)
    admitted = [c for key in sorted(done, key=lambda x: (x[1], x[0])) for c in book.buckets[key]]
    rest = {key: v for key, v in book.buckets.items() if key[1] >= first_open}
    return BudgetBook(MappingProxyType(rest), first_open, book.marks), admitted


def mark(book: BudgetBook, partition: int, watermark: float) -> BudgetBook:
    """Record that input ``partition`` will open no candidate before ``watermark`` (event time).

    Marks only move forward: a partition's new owner starts from an older watermark.
    """
    if watermark <= book.marks.get(partition, -math.inf):
        return book
    marks = dict(book.marks)
    marks[partition] = watermark
    return BudgetBook(book.buckets, book.open_from, MappingProxyType(marks))


def stream_time(book: BudgetBook, partitions: int) -> float | None:
    """The lowest mark of input partitions ``0..partitions-1``; None until each has one."""
    marks = [book.marks.get(p) for p in range(partitions)]
    return None if any(m is None for m in marks) else min(m for m in marks if m is not None)


def close_marked(
    book: BudgetBook, partitions: int, grace_s: float
) -> tuple[BudgetBook, list[Candidate]]:
    """:func:`close` at the stream time the partitions' marks agree on (nothing before)."""
    now = stream_time(book, partitions)
    return (book, []) if now is None else close(book, now, grace_s)


def admit_all(alerts: Iterable[Alert], k: int, end: float, grace_s: float = 0.0) -> list[Candidate]:
    """Replay helper: the candidates admitted from ``alerts`` (any order) by ``end``."""
    book = BudgetBook()
    for alert in alerts:
        cand = candidate(alert)
        if cand is not None:
            book, _ = offer(book, cand, k)
    return close(book, end, grace_s)[1]
