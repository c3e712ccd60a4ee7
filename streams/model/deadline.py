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

Speed: the upper bound never decreases with time (the config rules guarantee it), so when it
is still below a threshold at the earliest closed-form instant, the crossing cannot be the
next deadline and its search is skipped (one evaluation instead of ~30). The result is cached
on the (immutable) state per config.
"""

from __future__ import annotations

import hashlib
import math

from streams.config import ModelConfig
from streams.model.alerts import CHURN, REFERRAL
from streams.model.loss_deadline import HORIZON as _HORIZON
from streams.model.loss_deadline import INCREASING as _INCREASING
from streams.model.loss_deadline import TOLERANCE as _TOLERANCE
from streams.model.loss_deadline import loss_deadline
from streams.model.measures import Measures, p_alive, returned_at
from streams.model.risk import assess_cached
from streams.model.state import DAY_S, HOUR_S, WEEK_S, CustomerState, Purchases, remember

# Closed-form crossings of overdue and P(alive) are computed in floating point and may land a
# rounding error *before* the crossing, where tick would see nothing and the instant would be
# lost (deadlines must lie after as_of). They are returned this much later, so the tick at the
# deadline sees the new stage. (Window and cooldown ends are exact: the rules compare against
# the same expression ``start + length``.)
_AFTER = 1.0
# Part of the fingerprint of cached deadlines stored with a state: bump it whenever the rules
# above change, so deadlines cached by an older build are recomputed rather than trusted.
_RULES = "deadline-rules-4"
_FINGERPRINTS: dict[int, tuple[ModelConfig, str]] = {}


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


def _held(m: Measures) -> float:
    """Product of (1 - c) over the signals that cannot grow without events."""
    held = 1.0
    for code, c, _ in m.components:
        if code not in _INCREASING:
            held *= 1.0 - c
    return held


def upper_risk(state: CustomerState, m: Measures, t: float, held: float, cfg: ModelConfig) -> float:
    """Upper bound of risk at ``t``: increasing signals projected, the rest held (``held``).

    Never decreases with ``t`` (config rules: overdue_start < overdue_full, risk_full <
    risk_start, drop_full < drop_start, short half-life < long one, weights in 0-1).
    """
    keep, p, rc = held, state.purchases, cfg.risk
    if m.overdue is not None:
        rh = cfg.rhythm
        v = ((t - p.last_at) / DAY_S / m.gap_days - rh.overdue_start) / (
            rh.overdue_full - rh.overdue_start
        )
        keep *= 1.0 - rc.weight_overdue * (0.0 if v <= 0.0 else 1.0 if v >= 1.0 else v)
        pc = cfg.p_alive
        v = (p_alive(p, t, cfg) - pc.risk_start) / (pc.risk_full - pc.risk_start)
        keep *= 1.0 - rc.weight_p_alive * (0.0 if v <= 0.0 else 1.0 if v >= 1.0 else v)
    if m.eng_ratio is not None:
        ec = cfg.engagement
        ratio = m.eng_ratio * math.exp(-(ec.lam_short - ec.lam_long) * (t - m.now))
        v = (ratio - ec.drop_start_ratio) / (ec.drop_full_ratio - ec.drop_start_ratio)
        keep *= 1.0 - rc.weight_engagement_drop * (0.0 if v <= 0.0 else 1.0 if v >= 1.0 else v)
    return 100.0 * (1.0 - keep)


def crossing(
    state: CustomerState, m: Measures, held: float, theta: float, cfg: ModelConfig
) -> float:
    """Earliest time (within tolerance) the upper bound reaches ``theta`` after ``m.now``;
    inf if not within the horizon. Doubling steps bracket it, then bisection."""
    t0 = m.now
    lo, step = t0, DAY_S
    while upper_risk(state, m, t0 + step, held, cfg) < theta:
        lo = t0 + step
        step *= 2.0
        if step > _HORIZON:
            return math.inf
    hi = t0 + step
    while hi - lo > _TOLERANCE:
        mid = 0.5 * (lo + hi)
        if upper_risk(state, m, mid, held, cfg) >= theta:
            hi = mid
        else:
            lo = mid
    return hi


def risk_crossing(state: CustomerState, m: Measures, theta: float, cfg: ModelConfig) -> float:
    """Earliest time (within tolerance) the risk upper bound reaches ``theta``; inf if never."""
    if m.risk >= theta:
        return math.inf  # already there: something else (a cooldown) holds the change back
    return crossing(state, m, _held(m), theta, cfg)


def _stage_times(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    p, sc = state.purchases, cfg.stage
    out: list[float] = []
    if p.orders > 0:
        out.append(returned_at(p, cfg) + sc.won_back_days * DAY_S)  # won_back ends
    start = p.first_at if p.orders > 0 else state.profile.signup_at
    if start is not None and math.isfinite(start):
        out.append(start + sc.onboarding_days * DAY_S)
    if p.orders > 0:
        gap = m.gap_days * DAY_S
        out.append(p.last_at + gap * sc.at_risk_overdue + _AFTER)
        out.append(p.last_at + max(gap * sc.dormant_overdue, sc.dormant_min_days * DAY_S) + _AFTER)
        out.append(p.last_at + max(gap * sc.churned_overdue, sc.churned_min_days * DAY_S) + _AFTER)
        out.append(p_alive_reached(p, sc.dormant_p_alive, cfg) + _AFTER)
        out.append(p_alive_reached(p, sc.churned_p_alive, cfg) + _AFTER)
    return out


def _alert_times(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    ac, rc = cfg.alerts, cfg.alerts.referral
    open_ = {a.type: a for a in state.alerts}
    out: list[float] = []
    if open_ and any(code not in _INCREASING for code, _, _ in m.components):
        out.append(m.now + ac.open_alert_recheck_hours * HOUR_S)  # decays may resolve it
    if CHURN not in open_:
        out.append(state.churn_resolved_at + ac.churn_risk.reopen_cooldown_days * DAY_S)
    ref = open_.get(REFERRAL)
    if ref is not None:
        out.append(ref.opened_at + rc.expire_days * DAY_S)
    else:
        out.append(state.referral_opened_at + rc.cooldown_days * DAY_S)
    if m.success is not None:
        out.append(m.success.last_escalation_at + rc.recent_escalation_days * DAY_S)
    return out


def _thresholds(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    """Risk levels whose crossing would change the stage."""
    out = []
    if state.stage not in ("at_risk", "dormant", "churned"):
        out.append(cfg.stage.at_risk_score)
    return [theta for theta in out if m.risk < theta]


def _compute(state: CustomerState, config: ModelConfig) -> float | None:
    m = assess_cached(state, config)
    rk, as_of = config.risk, state.as_of
    times = _stage_times(state, m, config) + _alert_times(state, m, config)
    times.extend(r.sla_due_at for r in state.tickets if r.is_open)
    f = state.feedback
    if f.negative is not None:
        times.append(f.negative[0] + rk.detractor_window_days * DAY_S)
    if f.public_negative is not None:
        times.append(f.public_negative[0] + rk.public_detractor_window_days * DAY_S)
    best = min([t for t in times if as_of < t], default=math.inf)
    thetas = _thresholds(state, m, config)
    if thetas:
        held = _held(m)
        # The bound never decreases with time: if it is still below theta at `best`, theta
        # is crossed only after `best` and its search cannot change the answer.
        at_best = upper_risk(state, m, best, held, config) if best < math.inf else math.inf
        for theta in thetas:
            if not at_best < theta:
                best = min(best, crossing(state, m, held, theta, config))
    best = loss_deadline(state, m, best, config)  # churn alert: the adjusted loss crossings
    return best if best < math.inf else None


def next_deadline(state: CustomerState, config: ModelConfig) -> float | None:
    """Earliest event time after ``state.as_of`` at which ``tick`` could change the stage or
    the alerts; None when nothing time-driven is pending. Cached on the state per config;
    unlike other memos, a cache restored by the codec carries the config's fingerprint."""
    try:
        key, deadline = state._memo_b
        if key is config or (isinstance(key, str) and key == fingerprint(config)):
            return deadline  # type: ignore[no-any-return]
    except AttributeError:
        pass
    return remember(state, "_memo_b", config, _compute(state, config))


def fingerprint(config: ModelConfig) -> str:
    """Stable digest of ``config`` and the deadline rules (same in every process)."""
    hit = _FINGERPRINTS.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    digest = hashlib.blake2b(f"{_RULES}|{config!r}".encode(), digest_size=8).hexdigest()
    if len(_FINGERPRINTS) >= 32:  # configs are few and long-lived; tests make many
        _FINGERPRINTS.clear()
    _FINGERPRINTS[id(config)] = (config, digest)
    return digest


def export_deadline(state: CustomerState) -> tuple[str, float | None] | None:
    """The cached deadline with its config fingerprint, for the codec (None if not cached)."""
    try:
        key, deadline = state._memo_b
    except AttributeError:
        return None
    return (key if isinstance(key, str) else fingerprint(key)), deadline


def import_deadline(state: CustomerState, cached: object) -> None:
    """Restore a cached deadline read by the codec; anything malformed is ignored."""
    if (
        isinstance(cached, tuple)
        and len(cached) == 2
        and isinstance(cached[0], str)
        and (cached[1] is None or isinstance(cached[1], float))
    ):
        remember(state, "_memo_b", cached[0], cached[1])
