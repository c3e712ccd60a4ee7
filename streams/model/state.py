"""Per-customer state: small frozen records with fixed-size or capped contents.

Everything here is bounded whatever the history length: decayed sums instead of event lists,
a capped set of recent purchase days, a capped ticket map, a capped id memory. Decayed sums
keep the time they are expressed at (``at``) and are brought forward lazily on event time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from streams.domain import Channel
from streams.model.loop_state import Loop
from streams.model.positional import positional

CHANNELS: tuple[Channel, ...] = tuple(Channel)
CHANNEL_INDEX: dict[str, int] = {c.value: i for i, c in enumerate(CHANNELS)}
NO_CHANNELS: tuple[float, ...] = (0.0,) * len(CHANNELS)

DAY_S = 86400.0
HOUR_S = 3600.0
WEEK_S = 7 * DAY_S
T = TypeVar("T")
STAGES = ("new", "onboarding", "active", "at_risk", "dormant", "churned", "won_back")


class Memo:
    """Private per-object cache slots for derived values, invisible to the dataclass machinery.

    Records are immutable values, so anything derived from one (with a given config) can be
    cached on the object itself: it dies with the object and cannot go stale. The slots are
    not dataclass fields, so equality, repr, ``dataclasses.replace`` (which starts empty) and
    the codec never see them. Use them through :func:`memoized` and :func:`remember`.
    """

    __slots__ = ("_memo_a", "_memo_b")
    _memo_a: Any
    _memo_b: Any


def memoized(record: Memo, slot: str, key: object, compute: Callable[[], T]) -> T:
    """``compute()``, cached in ``slot`` of ``record`` for ``key`` (a config, by identity)."""
    cached = getattr(record, slot, None)
    if cached is not None and cached[0] is key:
        return cast(T, cached[1])
    return remember(record, slot, key, compute())


def remember(record: Memo, slot: str, key: object, value: T) -> T:
    """Cache ``value`` in ``slot`` of ``record`` for ``key``; returns ``value``."""
    object.__setattr__(record, slot, (key, value))  # frozen records: bypass __setattr__
    return value


def decay_to(value: float, at: float, to: float, lam: float) -> float:
    """Value of a decayed sum expressed at ``at`` when read at ``to`` (never grows)."""
    if to <= at or value == 0.0:
        return value
    return value * math.exp(-lam * (to - at))


@dataclass(frozen=True, slots=True)
class Engagement:
    """Decayed activity, all expressed at ``at`` (the latest activity time)."""

    at: float
    short: float  # short half-life activity
    long: float  # long half-life activity
    channels: tuple[float, ...]  # short half-life activity per Channel (order of CHANNELS)
    last_seen_at: float


@dataclass(frozen=True, slots=True)
class Purchases(Memo):
    """Recency, frequency and monetary facts; ``days`` are the newest distinct purchase days."""

    first_at: float
    last_at: float
    days: tuple[int, ...]  # distinct purchase days (epoch day numbers), ascending, capped
    occasions: int  # distinct purchase days ever
    orders: int  # orders placed + renewals
    gross_minor: int
    refunds: int
    refund_minor: int
    refund_decayed: float  # expressed at refund_at
    refund_at: float
    currency: str
    cancelled_at: float  # latest cancellation, or -inf
    renewed_at: float  # latest order or renewal after which a cancellation is void, or -inf


NO_PURCHASES = Purchases(
    first_at=math.inf,
    last_at=-math.inf,
    days=(),
    occasions=0,
    orders=0,
    gross_minor=0,
    refunds=0,
    refund_minor=0,
    refund_decayed=0.0,
    refund_at=-math.inf,
    currency="",
    cancelled_at=-math.inf,
    renewed_at=-math.inf,
)


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One recent ticket, merged commutatively from its events (min/max/latest-by-time)."""

    ticket_id: str
    opened_at: float  # earliest event time seen for the ticket
    category: str  # category on the earliest event
    priority: str  # highest priority seen
    sla_due_at: float  # earliest SLA due seen, or inf
    status_at: float  # time of the latest open/close-changing action
    status_rank: int  # rank of that action (ties broken by rank); odd = open
    resolved_at: float  # latest resolve/close time, or -inf
    escalations: int
    escalated_at: float  # latest escalation, or -inf
    reopens: int

    @property
    def is_open(self) -> bool:
        return self.status_rank % 2 == 1


@dataclass(frozen=True, slots=True)
class TicketHistory:
    """Decayed aggregates of tickets evicted from the recent-ticket map (expressed at ``at``)."""

    at: float
    escalations: float
    reopens: float
    breaches: float
    repeats: float
    resolution_hours: float  # decayed sum of resolution durations
    resolved: float  # decayed count of resolved tickets
    escalated_at: float  # latest escalation ever seen, or -inf


NO_TICKET_HISTORY = TicketHistory(-math.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -math.inf)


@dataclass(frozen=True, slots=True)
class FeedbackAgg:
    """Decayed feedback sums (expressed at ``at``) and the latest notable responses."""

    at: float
    nps_sum: float
    nps_w: float
    csat_good: float  # weighted count of satisfied CSAT / review-star responses
    csat_w: float
    ces_sum: float
    ces_w: float
    nps_last: int  # -1 when none
    nps_last_at: float
    negative: tuple[float, str, int, bool] | None  # latest (at, kind, score, public) negative
    public_negative: tuple[float, str, int, float] | None  # latest public (at, kind, score, w)


NO_FEEDBACK = FeedbackAgg(-math.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1, -math.inf, None, None)


@dataclass(frozen=True, slots=True)
class Profile(Memo):
    """Latest CustomerProfile (last wins by occurred_at, then event id)."""

    at: float
    event_id: str
    attrs: tuple[str | None, ...]  # ICP attributes, lower-cased, order of ICP_ATTRIBUTES
    cx_team: str | None
    signup_at: float | None


NO_PROFILE = Profile(-math.inf, "", (None,) * 6, None, None)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """What the model remembers about an open alert, to dedupe, update and resolve it."""

    type: str
    alert_id: str
    opened_at: float
    score: float  # last emitted score
    priority: str
    codes: tuple[str, ...]  # last emitted reason codes


@dataclass(frozen=True, slots=True)
class CustomerState(Memo):
    """Everything the model keeps for one customer; a value: the model never mutates it."""

    customer_id: str
    created_at: float
    watermark: float  # newest accepted event time (profiles excluded)
    as_of: float  # latest time the model evaluated (event or tick)
    seen_at: tuple[float, ...]  # event times of remembered ids, ascending
    seen_ids: tuple[int, ...]  # 48-bit hashes of source|event_id, aligned with seen_at
    id_floor: float  # events at or before this time can no longer be checked: dropped
    engagement: Engagement
    purchases: Purchases
    tickets: tuple[TicketRecord, ...]
    ticket_history: TicketHistory
    feedback: FeedbackAgg
    profile: Profile
    stage: str
    stage_since: float
    stage_history: tuple[tuple[str, float], ...]  # (stage entered, at), newest last, capped
    alerts: tuple[OpenAlert, ...]
    churn_resolved_at: float  # last churn alert resolution, or -inf
    referral_opened_at: float  # last referral opportunity opened, or -inf
    health: float  # health after the latest update
    prev_health: float  # health after the update before it
    risk: float  # churn risk after the latest update
    loop: Loop  # alert actions and outcomes (streams.model.loop_state); NO_LOOP when none


# Positional constructors for the hot paths (fold, evaluate, codec): see positional.py.
build_engagement = positional(Engagement)
build_purchases = positional(Purchases)
build_ticket = positional(TicketRecord)
build_history = positional(TicketHistory)
build_feedback = positional(FeedbackAgg)
build_profile = positional(Profile)
build_alert = positional(OpenAlert)
build_state = positional(CustomerState)
