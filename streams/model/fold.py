"""Folding one event into the state's parts.

Every fold is commutative over the events of a grace window: decayed sums are kept relative to
the newest time seen (an older event is added pre-decayed), times merge by min/max, "latest"
values are chosen by event time with a deterministic tie-break, and sets are capped by keeping
the newest members. Applying the same events in any order gives the same parts (up to float
rounding).
"""

from __future__ import annotations

import bisect
import contextlib
import math

from streams.config import ICP_ATTRIBUTES, ModelConfig
from streams.domain import (
    CustomerProfile,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
)
from streams.model.state import (
    CHANNEL_INDEX,
    DAY_S,
    Engagement,
    FeedbackAgg,
    Profile,
    Purchases,
    build_engagement,
    build_feedback,
    build_purchases,
    decay_to,
)


def add_decayed(value: float, at: float, t: float, w: float, lam: float) -> tuple[float, float]:
    """Add weight ``w`` at time ``t`` to a decayed sum expressed at ``at``; order-independent."""
    if t >= at:
        return decay_to(value, at, t, lam) + w, t
    return value + w * math.exp(-lam * (at - t)), at


def touch(e: Engagement, t: float, w: float, channel: str, cfg: ModelConfig) -> Engagement:
    """Record activity of weight ``w`` at ``t`` on ``channel``."""
    ec = cfg.engagement
    idx = CHANNEL_INDEX.get(channel, len(CHANNEL_INDEX) - 1)  # a Channel member is its value
    if t >= e.at:
        ds, dl = decay_to(1.0, e.at, t, ec.lam_short), decay_to(1.0, e.at, t, ec.lam_long)
        chans = [c * ds for c in e.channels] if ds != 1.0 else list(e.channels)
        chans[idx] += w
        return build_engagement(t, e.short * ds + w, e.long * dl + w, tuple(chans), t)
    ws, wl = w * math.exp(-ec.lam_short * (e.at - t)), w * math.exp(-ec.lam_long * (e.at - t))
    chans = list(e.channels)
    chans[idx] += ws
    return build_engagement(e.at, e.short + ws, e.long + wl, tuple(chans), e.last_seen_at)


def fold_purchase(p: Purchases, ev: Purchase, cfg: ModelConfig) -> Purchases:
    """Fold a purchase-stream event into recency/frequency/monetary facts."""
    t, kind = ev.occurred_at, ev.kind
    first, last, days, occasions, orders = p.first_at, p.last_at, p.days, p.occasions, p.orders
    gross, currency, cancelled, renewed = p.gross_minor, p.currency, p.cancelled_at, p.renewed_at
    refunds, refund_minor, refund_decayed, refund_at = (
        p.refunds,
        p.refund_minor,
        p.refund_decayed,
        p.refund_at,
    )
    if kind is PurchaseKind.REFUND:
        refund_decayed, refund_at = add_decayed(
            refund_decayed, refund_at, t, 1.0, cfg.risk.refund_lam
        )
        refunds, refund_minor = refunds + 1, refund_minor + abs(ev.amount_minor)
    elif kind is PurchaseKind.SUBSCRIPTION_CANCELLED:
        cancelled = max(cancelled, t)
    else:
        cap = cfg.rhythm.recent_purchase_days
        days, occasions = _add_day(days, occasions, int(t // DAY_S), cap)
        first, last, orders, renewed = min(first, t), max(last, t), orders + 1, max(renewed, t)
        gross, currency = gross + max(0, ev.amount_minor), currency or ev.currency
    new = build_purchases(
        first, last, days, occasions, orders, gross, refunds, refund_minor, refund_decayed,
        refund_at, currency, cancelled, renewed,
    )  # fmt: skip
    if days is p.days:
        with contextlib.suppress(AttributeError):  # same purchase days: same typical gap
            object.__setattr__(new, "_memo_a", p._memo_a)
    return new


def _add_day(
    days: tuple[int, ...], occasions: int, day: int, cap: int
) -> tuple[tuple[int, ...], int]:
    """Insert a distinct purchase day, keeping the newest ``cap`` days."""
    i = bisect.bisect_left(days, day)
    if i < len(days) and days[i] == day:
        return days, occasions
    new = (*days[:i], day, *days[i:])
    return (new[-cap:] if len(new) > cap else new), occasions + 1


def fold_feedback(f: FeedbackAgg, ev: Feedback, weight: float, cfg: ModelConfig) -> FeedbackAgg:
    """Fold one response; ``weight`` (< 1 when coached) scales its say in the decayed means."""
    lc, t, s = cfg.loyalty, ev.occurred_at, ev.score
    at = max(f.at, t)
    k = decay_to(1.0, f.at, at, lc.lam)  # brings existing sums to `at`
    w = weight * math.exp(-lc.lam * (at - t))  # this response, expressed at `at`
    nps_sum, nps_w, good, csat_w = f.nps_sum * k, f.nps_w * k, f.csat_good * k, f.csat_w * k
    ces_sum, ces_w = f.ces_sum * k, f.ces_w * k
    nps_last, nps_last_at = f.nps_last, f.nps_last_at
    kind = ev.kind
    if s is not None and kind is FeedbackKind.NPS:
        nps_sum, nps_w = nps_sum + w * s, nps_w + w
        if (t, -s) > (nps_last_at, -nps_last):
            nps_last, nps_last_at = s, t
    elif s is not None and kind in (FeedbackKind.CSAT, FeedbackKind.REVIEW):
        good, csat_w = good + w * (s >= lc.csat_good_min), csat_w + w
    elif s is not None and kind is FeedbackKind.CES:
        ces_sum, ces_w = ces_sum + w * s, ces_w + w
    negative, public_negative = f.negative, f.public_negative
    if s is not None and _is_negative(kind, s, cfg):
        # Latest wins; ties (same time) by lower score, then public / higher weight, then kind:
        # a total order, so the kept response does not depend on arrival order.
        key = (t, -s, ev.is_public, kind.value)
        if negative is None or key > (negative[0], -negative[2], negative[3], negative[1]):
            negative = (t, kind.value, s, ev.is_public)
        pub = public_negative
        if ev.is_public and (
            pub is None or (t, -s, weight, kind.value) > (pub[0], -pub[2], pub[3], pub[1])
        ):
            public_negative = (t, kind.value, s, weight)
    return build_feedback(
        at,
        nps_sum,
        nps_w,
        good,
        csat_w,
        ces_sum,
        ces_w,
        nps_last,
        nps_last_at,
        negative,
        public_negative,
    )


def _is_negative(kind: FeedbackKind, score: int, cfg: ModelConfig) -> bool:
    lc = cfg.loyalty
    if kind is FeedbackKind.NPS:
        return score < lc.passive_min
    if kind is FeedbackKind.CSAT:
        return score <= lc.negative_csat_max
    if kind is FeedbackKind.CES:
        return score >= lc.negative_ces_min
    return score <= lc.negative_review_max


def fold_profile(p: Profile, ev: CustomerProfile) -> Profile:
    """Last profile wins, by occurred_at then event id, so arrival order does not matter."""
    if (ev.occurred_at, ev.event_id) <= (p.at, p.event_id):
        return p
    attrs = tuple(
        (v.lower() if isinstance(v := getattr(ev, a), str) else None) for a in ICP_ATTRIBUTES
    )
    return Profile(ev.occurred_at, ev.event_id, attrs, ev.cx_team, ev.signup_at)
