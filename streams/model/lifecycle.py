"""Life-cycle stage machine: new -> onboarding -> active -> at_risk -> dormant -> churned,
and won_back when a dormant or churned customer returns.

The stage is re-derived from the measures at every update (so time alone, through ``tick``,
moves customers on). ``won_back`` too is derived from the evidence (the purchase days show a
return after a lost spell), never from the previously evaluated stage.
"""

from __future__ import annotations

import math

from streams.config import ModelConfig
from streams.model.measures import Measures, returned_at
from streams.model.state import DAY_S, CustomerState


def raw_stage(state: CustomerState, m: Measures, cfg: ModelConfig) -> str:
    """The stage the evidence supports now, ignoring history."""
    p, sc = state.purchases, cfg.stage
    start = p.first_at if p.orders > 0 else state.profile.signup_at
    if start is None or math.isinf(start):
        return "churned" if m.cancelled else "new"
    od, days, pa = m.overdue, m.days_since_purchase, m.p_alive
    if m.cancelled:
        return "churned"
    if od is not None and days is not None and pa is not None:
        if (od >= sc.churned_overdue and days >= sc.churned_min_days) or pa < sc.churned_p_alive:
            return "churned"
        if (od >= sc.dormant_overdue and days >= sc.dormant_min_days) or pa < sc.dormant_p_alive:
            return "dormant"
    if m.risk >= sc.at_risk_score or (od is not None and od >= sc.at_risk_overdue):
        return "at_risk"
    if m.now < start + sc.onboarding_days * DAY_S and p.occasions <= 1:
        return "onboarding"
    return "active"


def next_stage(state: CustomerState, m: Measures, cfg: ModelConfig) -> str:
    """Apply the won_back rule on top of :func:`raw_stage`.

    won_back: the evidence says active/onboarding and the customer's newest return from a
    lost spell (:func:`returned_at`) lies within ``won_back_days``. Derived from purchase
    days, not from the previously evaluated stage, so it does not depend on arrival order.
    """
    raw = raw_stage(state, m, cfg)
    if raw in ("active", "onboarding") and state.purchases.orders > 0:
        back = returned_at(state.purchases, cfg)
        if back <= m.now < back + cfg.stage.won_back_days * DAY_S:
            return "won_back"
    return raw


def moved(
    state: CustomerState, stage: str, now: float, cfg: ModelConfig
) -> tuple[str, float, tuple[tuple[str, float], ...]]:
    """(stage, since, bounded history) when the evidence supports ``stage`` at ``now``."""
    if stage == state.stage:
        return state.stage, state.stage_since, state.stage_history
    history = (*state.stage_history, (stage, now))[-cfg.stage.history_size :]
    return stage, now, history
