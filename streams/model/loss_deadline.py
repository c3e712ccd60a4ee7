"""When could the adjusted loss probability open or update a churn alert? (for next_deadline)

Without events the purchase-only loss grows with the silence and falling engagement raises the
hazard, while the other trouble signals can only decay: an *upper bound* of the adjusted loss
(silence and engagement projected, other trouble held) never decreases with time, so its
crossing of the alert cut (or of the update step of an open alert) is found by doubling and
bisection, at most ``TOLERANCE`` late, and skipped when the bound is still below the cut at the
earliest other deadline. Same rules as the churn-risk crossings in :mod:`streams.model.deadline`.
"""

from __future__ import annotations

import math

from streams.btyd.nbd import LossCurve
from streams.config import ModelConfig
from streams.model.alerts import CHURN
from streams.model.loss import (
    TROUBLE,
    adjust_learned,
    adjusted,
    loss_stats,
    params_for,
    trouble_effect,
)
from streams.model.measures import Measures
from streams.model.state import DAY_S, HOUR_S, WEEK_S, CustomerState

INCREASING = ("overdue", "p_alive_low", "engagement_drop")
Held = float | tuple[float, float]  # cold-start sum, or learned (sum w c, sum v c)
HORIZON = 3 * 365 * DAY_S  # search no further: beyond this, a tick at the horizon re-plans
TOLERANCE = HOUR_S


def loss_deadline(state: CustomerState, m: Measures, best: float, cfg: ModelConfig) -> float:
    """``best`` or an earlier crossing of a churn-alert loss threshold."""
    for theta in _loss_thresholds(state, m, cfg):
        trouble, curve = _held_trouble(m, cfg), loss_curve(state, cfg)
        at_best = math.inf
        if best < math.inf:
            at_best = upper_loss(state, m, best, trouble, cfg, curve)
        if not at_best < theta:
            best = min(best, loss_crossing(state, m, trouble, theta, cfg, curve))
    return best


def _held_trouble(m: Measures, cfg: ModelConfig) -> Held:
    """The trouble contributions that cannot grow without events (held): their sum (cold
    start), or their learned ``(sum w_i c_i, sum v_i c_i)``."""
    held = [(code, c) for code, c, _ in m.components if code in TROUBLE and code not in INCREASING]
    if not cfg.loss.trouble:
        return sum([c for _, c in held])
    effects = [trouble_effect(code, c, cfg) for code, c in held]
    return sum([e[0] for e in effects]), sum([e[1] for e in effects])


def loss_curve(state: CustomerState, cfg: ModelConfig) -> LossCurve:
    """The purchase-only loss probability of this history as a function of the age T."""
    p = state.purchases
    x, t_x, _ = loss_stats(p, p.last_at)
    return LossCurve(params_for(state, cfg)[0], x, t_x, cfg.loss.horizon_days * DAY_S / WEEK_S)


def upper_loss(
    state: CustomerState, m: Measures, t: float, held: Held, cfg: ModelConfig, curve: LossCurve
) -> float:
    """Upper bound of the adjusted loss probability at ``t``: the purchase-only loss grows with
    silence, falling engagement is projected, the other trouble held (``held``); never
    decreases with ``t``. ``curve`` is :func:`loss_curve` of the state (the same numbers as
    :func:`streams.model.loss.purchase_loss`, its constants computed once)."""
    p = state.purchases
    base = curve.at(max(t - p.first_at, p.last_at - p.first_at) / WEEK_S)
    drop = 0.0
    if m.eng_ratio is not None:
        ec = cfg.engagement
        ratio = m.eng_ratio * math.exp(-(ec.lam_short - ec.lam_long) * (t - m.now))
        v = (ratio - ec.drop_start_ratio) / (ec.drop_full_ratio - ec.drop_start_ratio)
        drop = cfg.risk.weight_engagement_drop * (0.0 if v <= 0.0 else 1.0 if v >= 1.0 else v)
    if not isinstance(held, tuple):  # cold start
        lc = cfg.loss
        return adjusted(base, min(lc.hazard_max, 1.0 + lc.hazard_scale * (held + drop)))
    dm, de = trouble_effect("engagement_drop", drop, cfg)
    return adjust_learned(base, held[0] + dm, held[1] + de, cfg)[0]


def loss_crossing(
    state: CustomerState,
    m: Measures,
    held: Held,
    theta: float,
    cfg: ModelConfig,
    curve: LossCurve,
) -> float:
    """Earliest time (within tolerance) the loss upper bound reaches ``theta``; inf if not
    within the horizon."""
    t0 = m.now
    lo, step = t0, DAY_S
    while upper_loss(state, m, t0 + step, held, cfg, curve) < theta:
        lo = t0 + step
        step *= 2.0
        if step > HORIZON:
            return math.inf
    hi = t0 + step
    while hi - lo > TOLERANCE:
        mid = 0.5 * (lo + hi)
        if upper_loss(state, m, mid, held, cfg, curve) >= theta:
            hi = mid
        else:
            lo = mid
    return hi


def _loss_thresholds(state: CustomerState, m: Measures, cfg: ModelConfig) -> list[float]:
    """Loss probabilities whose crossing would open or update the churn alert."""
    if m.p_loss is None:
        return []
    churn = {a.type: a for a in state.alerts}.get(CHURN)
    if churn is None:
        theta = cfg.loss.alert_at
    else:
        theta = (churn.score + cfg.alerts.update_min_delta) / 100.0
    return [theta] if m.p_loss < theta <= 1.0 else []
