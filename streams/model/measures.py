"""Derived measures: everything a score, a stage or an alert reads, computed at one time.

Measures are never stored; they are recomputed from the bounded state at the evaluation time,
so decays are always applied lazily against event time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streams.config import ICP_ATTRIBUTES, FitConfig, ModelConfig, RhythmConfig
from streams.model.fold import is_repeat
from streams.model.state import (
    DAY_S,
    HOUR_S,
    NO_FEEDBACK,
    WEEK_S,
    CustomerState,
    FeedbackAgg,
    Purchases,
    TicketHistory,
    TicketRecord,
    decay_to,
)

_URGENT = frozenset({"high", "urgent"})


def clamp01(x: float) -> float:
    return 0.0 if x <= 0.0 else 1.0 if x >= 1.0 else x


@dataclass(slots=True)
class Success:
    """Ticket-derived facts at one time."""

    open: int
    urgent_open: int
    breached_open: int
    breaches: float
    escalations: float
    reopens: float
    repeats: float
    resolution_hours: float | None
    last_escalation_at: float
    score: float


@dataclass(slots=True)
class Measures:
    """Derived values at ``now``; None means the evidence for a measure is missing."""

    now: float
    days_since_purchase: float | None
    gap_days: float
    gap_own: bool  # the customer's own rhythm (else the population fallback)
    overdue: float | None
    p_alive: float | None
    eng_ratio: float | None  # short-run / long-run activity rate
    success: Success | None
    nps_mean: float | None
    nps_evidence: float
    nps_last: int | None
    nps_category: str | None
    csat_share: float | None
    ces_mean: float | None
    loyalty: float | None  # 0-100 from feedback
    fit: float | None
    aov: float
    value_at_stake: float
    ltv: float
    refunds_recent: float
    cancelled: bool
    negative: tuple[float, str, int, bool] | None  # within the detractor window
    public_negative: tuple[float, str, int, float] | None  # within the public window
    risk: float = 0.0
    components: tuple[tuple[str, float, float], ...] = ()  # (code, contribution 0-1, value)


def typical_gap_days(p: Purchases, cfg: ModelConfig) -> tuple[float, bool]:
    """Median gap between recent distinct purchase days, shrunk towards the population default.

    Shrinkage is in log space with ``prior_weight`` pseudo-gaps, so two purchases a week apart
    do not yet make a weekly customer. One-time buyers get the population default.
    """
    rc = cfg.rhythm
    try:
        cached_rc, gap = p._memo_a  # derived from p.days alone: cached on the immutable record
        if cached_rc is rc:
            return gap  # type: ignore[no-any-return]
    except AttributeError:
        pass
    gap = _typical_gap(p.days, rc)
    object.__setattr__(p, "_memo_a", (rc, gap))
    return gap


def _typical_gap(days: tuple[int, ...], rc: RhythmConfig) -> tuple[float, bool]:
    if len(days) < 2:
        return rc.default_gap_days, False
    gaps = sorted(days[i + 1] - days[i] for i in range(len(days) - 1))
    n, mid = len(gaps), len(gaps) // 2
    median = gaps[mid] if n % 2 else (gaps[mid - 1] + gaps[mid]) / 2.0
    k = rc.prior_weight
    log_gap = (n * math.log(median) + k * math.log(rc.default_gap_days)) / (n + k)
    return math.exp(log_gap), True


def p_alive(p: Purchases, now: float, cfg: ModelConfig) -> float:
    """BG/NBD P(alive) in weeks; one-time buyers decay with the configured half-life."""
    pc = cfg.p_alive
    x = p.occasions - 1
    if x <= 0:
        return math.pow(0.5, max(0.0, now - p.first_at) / (pc.one_time_half_life_days * DAY_S))
    t_x = (p.last_at - p.first_at) / WEEK_S
    big_t = max(now - p.first_at, p.last_at - p.first_at) / WEEK_S
    ratio = math.pow((pc.alpha + big_t) / (pc.alpha + t_x), pc.r + x)
    return 1.0 / (1.0 + pc.a / (pc.b + x - 1) * ratio)


def success_at(
    tickets: tuple[TicketRecord, ...], h: TicketHistory, now: float, cfg: ModelConfig
) -> Success | None:
    """Ticket facts now: live map plus decayed evicted history (same decay reference)."""
    if not tickets and h.at == -math.inf:
        return None
    sc, lam = cfg.success, cfg.success.lam
    k = decay_to(1.0, h.at, now, lam)
    esc, reo, br, rep = h.escalations * k, h.reopens * k, h.breaches * k, h.repeats * k
    res_h, res_n = h.resolution_hours * k, h.resolved * k
    n_open = urgent = breached_open = 0
    last_esc = h.escalated_at
    window = sc.repeat_window_days * DAY_S
    for r in tickets:
        ref = r.resolved_at if r.resolved_at > -math.inf else r.status_at
        d = math.exp(-lam * (now - ref)) if now > ref else 1.0
        esc, reo = esc + r.escalations * d, reo + r.reopens * d
        last_esc = max(last_esc, r.escalated_at)
        if is_repeat(r, tickets, window):
            rep += d
        if r.is_open:
            n_open += 1
            urgent += r.priority in _URGENT
            breached_open += r.sla_due_at < now
        elif r.resolved_at > -math.inf:
            br += d * (r.resolved_at > r.sla_due_at)
            res_h, res_n = res_h + d * (r.resolved_at - r.opened_at) / HOUR_S, res_n + d
    mean_res = res_h / res_n if res_n > 1e-9 else None
    slow = (
        clamp01((mean_res - sc.target_resolution_hours) / sc.target_resolution_hours)
        if (mean_res is not None)
        else 0.0
    )
    penalty = (
        sc.penalty_open * (n_open - urgent)
        + sc.penalty_open_urgent * urgent
        + sc.penalty_sla_breach * (br + breached_open)
        + sc.penalty_escalation * esc
        + sc.penalty_reopen * reo
        + sc.penalty_repeat * rep
        + sc.penalty_slow_resolution * slow
    )
    return Success(
        n_open,
        urgent,
        breached_open,
        br + breached_open,
        esc,
        reo,
        rep,
        mean_res,
        last_esc,
        max(0.0, 100.0 - penalty),
    )


def fit_score(state: CustomerState, cfg: ModelConfig) -> float | None:
    """ICP match 0-100 over the attributes both the profile and the ICP know; None if none."""
    profile, fc = state.profile, cfg.fit
    try:
        cached_fc, score = profile._memo_a  # cached on the immutable profile record
        if cached_fc is fc:
            return score  # type: ignore[no-any-return]
    except AttributeError:
        pass
    score = _fit(profile.attrs, fc)
    object.__setattr__(profile, "_memo_a", (fc, score))
    return score


def _fit(attrs: tuple[str | None, ...], fc: FitConfig) -> float | None:
    num = den = 0.0
    icp = fc.icp
    for name, value in zip(ICP_ATTRIBUTES, attrs, strict=True):
        spec = icp.get(name)
        if spec is None or value is None or spec.importance <= 0:
            continue
        num += spec.importance * spec.values.get(value, spec.default)
        den += spec.importance
    return min(100.0, round(100.0 * num / den, 4)) if den > 0 else None


def _feedback(m: Measures, f: FeedbackAgg, now: float, cfg: ModelConfig) -> None:
    lc = cfg.loyalty
    k = decay_to(1.0, f.at, now, lc.lam)
    parts: list[float] = []
    if f.nps_w > 0 and f.nps_w * k >= lc.min_evidence:
        m.nps_mean = f.nps_sum / f.nps_w
        parts.append(m.nps_mean * 10.0)
    m.nps_evidence = f.nps_w * k
    if f.csat_w > 0 and f.csat_w * k >= lc.min_evidence:
        m.csat_share = f.csat_good / f.csat_w
        parts.append(m.csat_share * 100.0)
    if f.ces_w > 0 and f.ces_w * k >= lc.min_evidence:
        m.ces_mean = f.ces_sum / f.ces_w
        parts.append((7.0 - m.ces_mean) / 6.0 * 100.0)
    m.loyalty = sum(parts) / len(parts) if parts else None
    if f.nps_last >= 0:
        m.nps_last = f.nps_last
        m.nps_category = (
            "promoter"
            if f.nps_last >= lc.promoter_min
            else "passive"
            if f.nps_last >= lc.passive_min
            else "detractor"
        )
    rc = cfg.risk
    neg, pub = f.negative, f.public_negative
    m.negative = (
        neg if neg is not None and now - neg[0] <= rc.detractor_window_days * DAY_S else None
    )
    m.public_negative = (
        pub if pub is not None and now - pub[0] <= rc.public_detractor_window_days * DAY_S else None
    )


def measure(state: CustomerState, now: float, cfg: ModelConfig) -> Measures:
    """All derived measures of ``state`` at ``now``; :func:`streams.model.risk.assess` adds risk."""
    p = state.purchases
    gap, own = typical_gap_days(p, cfg)
    days = overdue = alive = None
    aov = at_stake = ltv = 0.0
    if p.orders > 0:
        days = max(0.0, now - p.last_at) / DAY_S
        overdue = days / gap
        alive = p_alive(p, now, cfg)
        aov = max(0, p.gross_minor - p.refund_minor) / p.orders
        at_stake = aov * cfg.loyalty.horizon_days / gap
        ltv = at_stake * alive
    e, ec = state.engagement, cfg.engagement
    long_now = decay_to(e.long, e.at, now, ec.lam_long)
    ratio = None
    if long_now >= ec.min_long_run_activity:
        short_now = decay_to(e.short, e.at, now, ec.lam_short)
        ratio = (short_now * ec.lam_short) / (long_now * ec.lam_long)
    m = Measures(
        *(now, days, gap, own, overdue, alive, ratio),
        success_at(state.tickets, state.ticket_history, now, cfg),
        *(None, 0.0, None, None, None, None, None),  # feedback: filled by _feedback
        fit_score(state, cfg),
        *(aov, at_stake, ltv),
        decay_to(p.refund_decayed, p.refund_at, now, cfg.risk.refund_lam),
        p.cancelled_at > p.renewed_at,
        None,
        None,
    )
    f = state.feedback
    if f is not NO_FEEDBACK:
        _feedback(m, f, now, cfg)
    return m
