"""Derived measures: everything a score, a stage or an alert reads, computed at one time.

Measures are never stored; they are recomputed from the bounded state at the evaluation time,
so decays are always applied lazily against event time.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from streams.config import ModelConfig, RhythmConfig
from streams.model.fit import fit_score
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
    memoized,
)
from streams.model.tickets import is_repeat, settled_at

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
    # Filled by the first evaluation that needs them, so a snapshot of a just-evaluated state
    # reuses them (see streams.model.core.judge): composite health, and the stage the
    # evidence supports at ``now`` (lifecycle.next_stage).
    health: float | None = None
    stage: str | None = None
    # Loss probability within loss.horizon_days (streams.model.loss, filled by assess): from the
    # purchases alone, and as the churn alert judges it (raised by trouble signals, bounded).
    p_loss_purchases: float | None = None
    p_loss: float | None = None
    hazard: float = 1.0


def typical_gap_days(p: Purchases, cfg: ModelConfig) -> tuple[float, float, bool]:
    """(rhythm gap, typical gap, own) in days from the recent distinct purchase days.

    *Typical gap*: the median gap; *rhythm gap*: the ``gap_quantile`` quantile of the gaps (a
    long gap that is still usual for this customer), overdue is measured against it. Both are
    shrunk in log space towards the population default with ``prior_weight`` pseudo-gaps, so
    two purchases a week apart do not yet make a weekly customer. One-time buyers get the
    population default for both (own = False).
    """
    rc = cfg.rhythm  # derived from p.days alone: cached on the immutable record
    return memoized(p, "_memo_a", rc, lambda: _typical_gap(p.days, rc))


def _typical_gap(days: tuple[int, ...], rc: RhythmConfig) -> tuple[float, float, bool]:
    """Log-space shrinkage ``exp((n·ln g + k·ln default)/(n+k)) = g^w · default^(1-w)``,
    ``w = n/(n+k)``, of the median and of the ``gap_quantile`` quantile (linear interpolation).
    """
    if len(days) < 2:
        return rc.default_gap_days, rc.default_gap_days, False
    gaps = sorted([b - a for a, b in itertools.pairwise(days)])
    n = len(gaps)
    w = n / (n + rc.prior_weight)
    prior = rc.default_gap_days ** (1.0 - w)
    mid = n // 2
    median = gaps[mid] if n % 2 else (gaps[mid - 1] + gaps[mid]) / 2.0
    q = rc.gap_quantile
    if q == 0.5:
        wide: float = median
    else:
        pos = q * (n - 1)
        lo = int(pos)
        wide = gaps[lo] + (pos - lo) * (gaps[lo + 1] - gaps[lo]) if lo + 1 < n else gaps[-1]
    typical = median**w * prior
    return (typical if wide == median else wide**w * prior), typical, True


def p_alive(p: Purchases, now: float, cfg: ModelConfig) -> float:
    """BG/NBD P(alive) in weeks; one-time buyers decay with the configured half-life."""
    return _p_alive(p.occasions, p.first_at, p.last_at, now, cfg)


def _p_alive(occasions: int, first: float, last: float, now: float, cfg: ModelConfig) -> float:
    pc = cfg.p_alive
    x = occasions - 1
    if x <= 0:
        return math.pow(0.5, max(0.0, now - first) / (pc.one_time_half_life_days * DAY_S))
    t_x = (last - first) / WEEK_S
    big_t = max(now - first, last - first) / WEEK_S
    ratio = math.pow((pc.alpha + big_t) / (pc.alpha + t_x), pc.r + x)
    return 1.0 / (1.0 + pc.a / (pc.b + x - 1) * ratio)


def returned_at(p: Purchases, cfg: ModelConfig) -> float:
    """Start of the newest purchase day that ended a lost spell, or -inf (for ``won_back``).

    A purchase day ends a lost spell when, just before it, the purchase history up to then
    put the customer in a lost stage by the stage rules: the silence since the previous
    purchase day (whole days) against the rhythm gap of the days before it (dormant or
    churned overdue and minimum silence), or P(alive) of that history below the dormant or
    churned level; or when it is the first purchase day on or after a cancellation.
    Derived from the purchase days alone, so it does not depend on arrival order or on
    whether a tick happened to see the lost stage. Cached on the immutable record per config.
    """
    return memoized(p, "_memo_b", cfg, lambda: _returned_at(p, cfg))


def _returned_at(p: Purchases, cfg: ModelConfig) -> float:
    days, sc, rc = p.days, cfg.stage, cfg.rhythm
    if p.cancelled_at > -math.inf and p.renewed_at > p.cancelled_at:
        cancel_day = int(p.cancelled_at // DAY_S)
        back = next((d for d in days if d >= cancel_day), cancel_day)
        at = back * DAY_S
    else:
        at = -math.inf
    # Returns older than won_back_days before the newest purchase can no longer matter.
    oldest = max(at, p.last_at - sc.won_back_days * DAY_S)
    min_silence = min(sc.dormant_min_days, sc.churned_min_days)
    p_lost = max(sc.dormant_p_alive, sc.churned_p_alive)
    skipped = p.occasions - len(days)  # older purchase days no longer kept
    for i in range(len(days) - 1, 0, -1):
        day_start = days[i] * DAY_S
        if day_start <= oldest:
            break
        before = max(p.first_at, days[i - 1] * DAY_S)  # last purchase before day i (day start)
        alive = _p_alive(skipped + i, p.first_at, before, day_start, cfg)
        if alive < p_lost:
            return day_start
        silent = float(days[i] - days[i - 1])
        if silent >= min_silence:  # the overdue rules need this much silence anyway
            od = silent / _typical_gap(days[:i], rc)[0]
            if (od >= sc.dormant_overdue and silent >= sc.dormant_min_days) or (
                od >= sc.churned_overdue and silent >= sc.churned_min_days
            ):
                return day_start
    return at


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
        ref = settled_at(r)
        d = math.exp(-lam * (now - ref)) if now > ref else 1.0
        esc, reo = esc + r.escalations * d, reo + r.reopens * d
        last_esc = max(last_esc, r.escalated_at)
        if is_repeat(r, tickets, window):  # decayed from its opening, as in history
            rep += decay_to(1.0, r.opened_at, now, lam)
        if r.is_open:
            n_open += 1
            urgent += r.priority in _URGENT
            breached_open += r.sla_due_at <= now  # due now and still open: breached
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
        neg if neg is not None and now < neg[0] + rc.detractor_window_days * DAY_S else None
    )
    m.public_negative = (
        pub if pub is not None and now < pub[0] + rc.public_detractor_window_days * DAY_S else None
    )


def measure(state: CustomerState, now: float, cfg: ModelConfig) -> Measures:
    """All derived measures of ``state`` at ``now``; :func:`streams.model.risk.assess` adds risk."""
    p = state.purchases
    gap, typical, own = typical_gap_days(p, cfg)
    days = overdue = alive = None
    aov = at_stake = ltv = 0.0
    if p.orders > 0:
        days = max(0.0, now - p.last_at) / DAY_S
        overdue = days / gap
        alive = _p_alive(p.occasions, p.first_at, p.last_at, now, cfg)
        aov = max(0, p.gross_minor - p.refund_minor) / p.orders
        at_stake = aov * cfg.loyalty.horizon_days / typical
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
