"""Config sections: frozen, validated dataclasses (the ranges live in each field's metadata).

Derived values (decay rates per second, grace in seconds) are computed once in
``__post_init__`` so the model's hot paths read plain attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DAY = 86400.0
HOUR = 3600.0
ICP_ATTRIBUTES = ("segment", "plan", "industry", "company_size", "region", "acquisition_channel")


def _rng(lo: float | None = None, hi: float | None = None, *, gt: bool = False) -> Any:
    """Field metadata: allowed range (``gt`` makes the lower bound exclusive)."""
    return field(metadata={"lo": lo, "hi": hi, "gt": gt})


def _text() -> Any:
    """Field metadata: a short text setting (a name or version), not a number."""
    return field(metadata={"text": True})


# A learned trouble effect: (code, knots, multiplier weights, excess weights), one per knot.
Effect = tuple[str, tuple[float, ...], tuple[float, ...], tuple[float, ...]]
# A segment's purchase model: (segment, version, r, alpha in weeks, a, b, modified, dormant).
Segment = tuple[str, str, float, float, float, float, int, float]


def _learned(default: Any) -> Any:
    """Field metadata: a value a fitted record sets (``config_with_record``), never from TOML."""
    return field(default=default, metadata={"learned": True})


def _rate(half_life: float) -> float:
    return math.log(2.0) / half_life


@dataclass(frozen=True, slots=True)
class OrderingConfig:
    grace_hours: float = _rng(0.0)
    max_remembered_ids: int = _rng(1, 10_000)
    grace_s: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "grace_s", self.grace_hours * HOUR)


@dataclass(frozen=True, slots=True)
class EngagementConfig:
    short_half_life_days: float = _rng(0.0, gt=True)
    long_half_life_days: float = _rng(0.0, gt=True)
    purchase_weight: float = _rng(0.0)
    ticket_weight: float = _rng(0.0)
    feedback_weight: float = _rng(0.0)
    min_long_run_activity: float = _rng(0.0)
    drop_start_ratio: float = _rng(0.0, 1.0)
    drop_full_ratio: float = _rng(0.0, 1.0)
    lam_short: float = field(init=False)  # per second
    lam_long: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lam_short", _rate(self.short_half_life_days * DAY))
        object.__setattr__(self, "lam_long", _rate(self.long_half_life_days * DAY))


@dataclass(frozen=True, slots=True)
class RhythmConfig:
    default_gap_days: float = _rng(0.0, gt=True)
    prior_weight: float = _rng(0.0)
    gap_quantile: float = _rng(0.5, 1.0)
    recent_purchase_days: int = _rng(2, 1000)
    overdue_start: float = _rng(0.0)
    overdue_full: float = _rng(0.0, gt=True)


@dataclass(frozen=True, slots=True)
class PAliveConfig:
    r: float = _rng(0.0, gt=True)
    alpha: float = _rng(0.0, gt=True)
    a: float = _rng(0.0, gt=True)
    b: float = _rng(0.0, gt=True)
    one_time_half_life_days: float = _rng(0.0, gt=True)
    risk_start: float = _rng(0.0, 1.0)
    risk_full: float = _rng(0.0, 1.0)


@dataclass(frozen=True, slots=True)
class LossConfig:
    """Loss probability (streams.btyd) over the p_alive section's r, alpha, a, b (weeks)."""

    horizon_days: float = _rng(0.0, gt=True)
    modified: int = _rng(0, 1)  # 0 = BG/NBD, 1 = MBG/NBD (one-time buyers may be gone)
    dormant: float = _rng(0.0, 1.0)  # kappa: a dropped-out customer's remaining rate share
    # Which parameters these are: a fitted record's version, or "packaged-defaults" (cold start).
    params_version: str = _text()
    # Churn alert: opens at p_loss >= alert_at (learned by the fit), resolves below
    # alert_at - close_margin (hysteresis).
    alert_at: float = _rng(0.0, 1.0, gt=True)
    close_margin: float = _rng(0.0, 1.0)
    # Trouble signals raise the loss hazard: p = 1 - (1 - p_purchases)^h,
    # h = min(hazard_max, 1 + hazard_scale * sum of their risk contributions).
    hazard_scale: float = _rng(0.0)
    hazard_max: float = _rng(1.0)
    # Priority = value at risk (p_loss x expected value, minor units) banded at these cuts
    # (learned by the fit as quantiles over the customers it would alert).
    value_medium_from: float = _rng(0.0)
    value_high_from: float = _rng(0.0)
    value_critical_from: float = _rng(0.0)
    # Alert cut as a budget (streams.model.budget): at most this many new churn alerts per
    # team per event-time day, the most at risk; 0 = every alert at p_loss >= alert_at.
    alert_budget_per_day: int = _rng(0, 100_000)
    # How long after a day ends its budget waits for alerts opened by events that arrive late
    # (alerts of silence are never late: see streams.model.budget); later ones are refused.
    alert_budget_grace_hours: float = _rng(0.0, 24.0 * 7)
    # Learned trouble effects (streams.fitting.trouble): per signal (code, knots, multiplier
    # weights, excess-hazard weights); empty = the hazard_scale formula (cold start).
    trouble: tuple[Effect, ...] = _learned(())
    # Per-segment purchase models (cxstream fit, segments with enough customers): (segment,
    # version, r, alpha in weeks, a, b, modified 0/1, dormant); empty = the population's only.
    segments: tuple[Segment, ...] = _learned(())


@dataclass(frozen=True, slots=True)
class SuccessConfig:
    half_life_days: float = _rng(0.0, gt=True)
    max_tickets: int = _rng(1, 1000)
    closed_ticket_retention_days: float = _rng(0.0)
    repeat_window_days: float = _rng(0.0)
    target_resolution_hours: float = _rng(0.0, gt=True)
    penalty_open: float = _rng(0.0, 100.0)
    penalty_open_urgent: float = _rng(0.0, 100.0)
    penalty_sla_breach: float = _rng(0.0, 100.0)
    penalty_escalation: float = _rng(0.0, 100.0)
    penalty_reopen: float = _rng(0.0, 100.0)
    penalty_repeat: float = _rng(0.0, 100.0)
    penalty_slow_resolution: float = _rng(0.0, 100.0)
    lam: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lam", _rate(self.half_life_days * DAY))


@dataclass(frozen=True, slots=True)
class LoyaltyConfig:
    feedback_half_life_days: float = _rng(0.0, gt=True)
    min_evidence: float = _rng(0.0)
    horizon_days: float = _rng(0.0, gt=True)
    promoter_min: int = _rng(0, 10)
    passive_min: int = _rng(0, 10)
    csat_good_min: int = _rng(1, 5)
    negative_csat_max: int = _rng(1, 5)
    negative_ces_min: int = _rng(1, 7)
    negative_review_max: int = _rng(1, 5)
    lam: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lam", _rate(self.feedback_half_life_days * DAY))


@dataclass(frozen=True, slots=True)
class IcpAttribute:
    """One ICP attribute: how much it matters and how well each value fits (0-1)."""

    importance: float
    default: float
    values: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class FitConfig:
    unknown_score: float
    icp: Mapping[str, IcpAttribute]


@dataclass(frozen=True, slots=True)
class RiskConfig:
    weight_overdue: float = _rng(0.0, 1.0)
    weight_p_alive: float = _rng(0.0, 1.0)
    weight_engagement_drop: float = _rng(0.0, 1.0)
    weight_public_detractor: float = _rng(0.0, 1.0)
    weight_detractor: float = _rng(0.0, 1.0)
    weight_poor_feedback: float = _rng(0.0, 1.0)
    weight_ticket_trouble: float = _rng(0.0, 1.0)
    ticket_trouble_start: float = _rng(0.0, 100.0)
    ticket_trouble_full: float = _rng(0.0, 100.0)
    weight_refunds: float = _rng(0.0, 1.0)
    weight_cancelled: float = _rng(0.0, 1.0)
    detractor_window_days: float = _rng(0.0)
    public_detractor_window_days: float = _rng(0.0)
    refund_half_life_days: float = _rng(0.0, gt=True)
    refunds_full: float = _rng(0.0, gt=True)
    poor_feedback_below: float = _rng(0.0, 100.0, gt=True)
    min_reason_contribution: float = _rng(0.0, 1.0)
    refund_lam: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "refund_lam", _rate(self.refund_half_life_days * DAY))


@dataclass(frozen=True, slots=True)
class HealthConfig:
    weight_engagement: float = _rng(0.0)
    weight_recency: float = _rng(0.0)
    weight_retention: float = _rng(0.0)
    weight_success: float = _rng(0.0)
    weight_loyalty: float = _rng(0.0)
    weight_fit: float = _rng(0.0)
    red_below: float = _rng(0.0, 100.0)
    green_from: float = _rng(0.0, 100.0)


@dataclass(frozen=True, slots=True)
class StageConfig:
    onboarding_days: float = _rng(0.0)
    won_back_days: float = _rng(0.0)
    at_risk_score: float = _rng(0.0, 100.0)
    at_risk_overdue: float = _rng(0.0, gt=True)
    dormant_overdue: float = _rng(0.0, gt=True)
    dormant_min_days: float = _rng(0.0)
    dormant_p_alive: float = _rng(0.0, 1.0)
    churned_overdue: float = _rng(0.0, gt=True)
    churned_min_days: float = _rng(0.0)
    churned_p_alive: float = _rng(0.0, 1.0)
    history_size: int = _rng(1, 100)


@dataclass(frozen=True, slots=True)
class ChurnAlertConfig:
    open_at: float = _rng(0.0, 100.0)
    close_below: float = _rng(0.0, 100.0)
    reopen_cooldown_days: float = _rng(0.0)
    medium_from: float = _rng(0.0, 100.0)
    high_from: float = _rng(0.0, 100.0)
    high_value_minor: int = _rng(0)
    good_fit: float = _rng(0.0, 100.0)


@dataclass(frozen=True, slots=True)
class ReferralConfig:
    open_at: float = _rng(0.0, 100.0)
    close_below: float = _rng(0.0, 100.0)
    cooldown_days: float = _rng(0.0)
    expire_days: float = _rng(0.0, gt=True)
    min_fit: float = _rng(0.0, 100.0)
    min_nps_mean: float = _rng(0.0, 10.0)
    min_nps_evidence: float = _rng(0.0)
    max_risk: float = _rng(0.0, 100.0)
    min_engagement: float = _rng(0.0, 100.0)
    max_overdue: float = _rng(0.0, gt=True)
    recent_escalation_days: float = _rng(0.0)


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    churn_risk: ChurnAlertConfig
    referral: ReferralConfig
    update_min_delta: float = _rng(0.0, 100.0)
    open_alert_recheck_hours: float = _rng(0.0, gt=True)
    follow_up_sla_hours: float = _rng(0.0, gt=True)


@dataclass(frozen=True, slots=True)
class IntegrityConfig:
    baseline_half_life_days: float = _rng(0.0, gt=True)
    burst_half_life_hours: float = _rng(0.0, gt=True)
    min_burst: float = _rng(0.0)
    min_burst_top_share: float = _rng(0.0, 1.0)
    min_excess: float = _rng(0.0, 1.0)
    default_baseline_top_share: float = _rng(0.0, 1.0)
    min_baseline_weight: float = _rng(0.0)
    coached_weight: float = _rng(0.0, 1.0)
    max_remembered_ids: int = _rng(1, 10_000)
    lam_baseline: float = field(init=False)
    lam_burst: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lam_baseline", _rate(self.baseline_half_life_days * DAY))
        object.__setattr__(self, "lam_burst", _rate(self.burst_half_life_hours * HOUR))


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Feedback loop (issue 16): alert actions, outcomes and the randomised holdout."""

    churn_window_days: float = _rng(0.0, gt=True)
    referral_window_days: float = _rng(0.0, gt=True)
    not_a_risk_cooldown_days: float = _rng(0.0)
    holdout_fraction: float = _rng(0.0, 1.0)
    max_actions_per_alert: int = _rng(1, 1000)
    max_alerts: int = _rng(1, 1000)


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Everything the customer-lifecycle model needs; build it with :func:`load_config`."""

    ordering: OrderingConfig
    engagement: EngagementConfig
    rhythm: RhythmConfig
    p_alive: PAliveConfig
    success: SuccessConfig
    loyalty: LoyaltyConfig
    fit: FitConfig
    risk: RiskConfig
    health: HealthConfig
    stage: StageConfig
    alerts: AlertsConfig
    integrity: IntegrityConfig
    loss: LossConfig
    loop: LoopConfig
