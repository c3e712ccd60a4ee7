"""When could ``tick`` next change anything? (for the pipeline's deadline index)

Without new events the state changes only through time: windows expire, SLAs fall due,
silence grows. Known instants (SLA due, window ends, cooldown ends, threshold crossings of
overdue and P(alive)) are computed in closed form. Churn-risk threshold crossings are found by
bisection on a cheap *upper bound* of future risk (time-increasing signals projected, all
other signals held at today's value, which can only fall without events), so the deadline is
at most ``_TOLERANCE`` late and never skips a crossing. Open alerts are rechecked at least every
``alerts.open_alert_recheck_hours`` while a decaying signal (refunds, tickets, feedback) is
part of their risk, so its decay can resolve them; risk made only of growing silence cannot fall
without an event, so such alerts need no recheck.
"""

from __future__ import annotations

import math

from streams.config import ModelConfig
from streams.model.alerts import CHURN, REFERRAL
from streams.model.measures import Measures, clamp01, p_alive
from streams.model.risk import assess
from streams.model.state import DAY_S, HOUR_S, WEEK_S, CustomerState, Purchases

_INCREASING = ("overdue", "p_alive_low", "engagement_drop")
_HORIZON = 3 * 365 * DAY_S  # search no further: beyond this, a tick at the horizon re-plans
_TOLERANCE = HOUR_S


def p_alive_reached(p: Purchases, target: float, cfg: ModelConfig) -> float:
    """Earliest time P(alive) falls to ``target`` without new purchases (inverse of BG/NBD)."""
    pc = cfg.p_alive
    if target <= 0.0:
        return math.inf
    if target >= 1.0:
        return p.last_at
    x = p.occasions - 1
    if x <= 0:
        return p.first_at + pc.one_time_half_life_days * DAY_S * math.log2(1.0 / target)
    c = pc.a / (pc.b + x - 1)
    t_x = (p.last_at - p.first_at) / WEEK_S
    ratio = math.pow((1.0 / target - 1.0) / c, 1.0 / (pc.r + x))
    big_t = ratio * (pc.alpha + t_x) - pc.alpha
    return p.first_at + max(big_t, t_x) * WEEK_S


def _upper_risk(
    state: CustomerState, m: Measures, t: float, held: float, cfg: ModelConfig
) -> float:
    """Upper bound of risk at ``t``: increasing signals projected, the rest held (``held``)."""
    keep, p, rc = held, state.purchases, cfg.risk
    if m.overdue is not None:
        od = (t - p.last_at) / DAY_S / m.gap_days
        keep *= 1.0 - rc.weight_overdue * _ramp(
            od, cfg.rhythm.overdue_start, cfg.rhythm.overdue_full
        )
        pa = p_alive(p, t, cfg)
        keep *= 1.0 - rc.weight_p_alive * _ramp(pa, cfg.p_alive.risk_start, cfg.p_alive.risk_full)
    if m.eng_ratio is not None:
        ec = cfg.engagement
        ratio = m.eng_ratio * math.exp(-(ec.lam_short - ec.lam_long) * (t - m.now))
        keep *= 1.0 - rc.weight_engagement_drop * _ramp(
            ratio, ec.drop_start_ratio, ec.drop_full_ratio
        )
    return 100.0 * (1.0 - keep)


def _ramp(x: float, start: float, full: float) -> float:
    return clamp01((x - start) / (full - start))


def risk_crossing(state: CustomerState, m: Measures, theta: float, cfg: ModelConfig) -> float:
    """Earliest time (within tolerance) the risk upper bound reaches ``theta``; inf if never."""
    if m.risk >= theta:
        return math.inf  # already there: something else (a cooldown) holds the change back
    held = 1.0
    for code, c, _ in m.components:
        if code not in _INCREASING:
            held *= 1.0 - c
    t0 = m.now
    lo, step = t0, DAY_S
    while _upper_risk(state, m, t0 + step, held, cfg) < theta:
        lo = t0 + step
        step *= 2.0
        if step > _HORIZON:
            return math.inf
    hi = t0 + step
    while hi - lo > _TOLERANCE:
        mid = 0.5 * (lo + hi)
        if _upper_risk(state, m, mid, held, cfg) >= theta:
            hi = mid
        else:
            lo = mid
    return hi


def _stage_times(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    p, sc = state.purchases, cfg.stage
    out: list[float] = []
    if state.stage == "won_back":
        out.append(state.stage_since + sc.won_back_days * DAY_S)
    start = p.first_at if p.orders > 0 else state.profile.signup_at
    if start is not None and math.isfinite(start):
        out.append(start + sc.onboarding_days * DAY_S)
    if p.orders > 0:
        gap = m.gap_days * DAY_S
        out.append(p.last_at + gap * sc.at_risk_overdue)
        out.append(p.last_at + max(gap * sc.dormant_overdue, sc.dormant_min_days * DAY_S))
        out.append(p.last_at + max(gap * sc.churned_overdue, sc.churned_min_days * DAY_S))
        out.append(p_alive_reached(p, sc.dormant_p_alive, cfg))
        out.append(p_alive_reached(p, sc.churned_p_alive, cfg))
    if state.stage not in ("at_risk", "dormant", "churned"):
        out.append(risk_crossing(state, m, sc.at_risk_score, cfg))
    return out


def _alert_times(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    ac, rc = cfg.alerts, cfg.alerts.referral
    open_ = {a.type: a for a in state.alerts}
    out: list[float] = []
    if open_ and any(code not in _INCREASING for code, _, _ in m.components):
        out.append(m.now + ac.open_alert_recheck_hours * HOUR_S)  # decays may resolve it
    churn = open_.get(CHURN)
    if churn is None:
        out.append(state.churn_resolved_at + ac.churn_risk.reopen_cooldown_days * DAY_S)
        out.append(risk_crossing(state, m, ac.churn_risk.open_at, cfg))
    else:
        out.append(risk_crossing(state, m, churn.score + ac.update_min_delta, cfg))
    ref = open_.get(REFERRAL)
    if ref is not None:
        out.append(ref.opened_at + rc.expire_days * DAY_S)
    else:
        out.append(state.referral_opened_at + rc.cooldown_days * DAY_S)
    if m.success is not None:
        out.append(m.success.last_escalation_at + rc.recent_escalation_days * DAY_S)
    return out


def next_deadline(state: CustomerState, config: ModelConfig) -> float | None:
    """Earliest event time after ``state.as_of`` at which ``tick`` could change the stage or
    the alerts; None when nothing time-driven is pending."""
    m = assess(state, state.as_of, config)
    rk = config.risk
    times = _stage_times(state, m, config) + _alert_times(state, m, config)
    times.extend(r.sla_due_at for r in state.tickets if r.is_open)
    f = state.feedback
    if f.negative is not None:
        times.append(f.negative[0] + rk.detractor_window_days * DAY_S)
    if f.public_negative is not None:
        times.append(f.public_negative[0] + rk.public_detractor_window_days * DAY_S)
    future = [t for t in times if state.as_of < t < math.inf]
    return min(future) if future else None
