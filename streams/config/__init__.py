"""Model configuration: the packaged ``defaults.toml`` loaded into frozen, validated dataclasses.

A custom file is merged over the defaults, so it only names what it changes. Every problem
raises :class:`streams.errors.ConfigError` naming the dotted key and the reason, because a
wrong threshold silently changes who gets an alert.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from streams.errors import ConfigError

__all__ = [
    "ICP_ATTRIBUTES",
    "AlertsConfig",
    "ChurnAlertConfig",
    "EngagementConfig",
    "FitConfig",
    "HealthConfig",
    "IcpAttribute",
    "IntegrityConfig",
    "LoyaltyConfig",
    "ModelConfig",
    "OrderingConfig",
    "PAliveConfig",
    "ReferralConfig",
    "RhythmConfig",
    "RiskConfig",
    "StageConfig",
    "SuccessConfig",
    "config_from_mapping",
    "load_config",
]

DAY = 86400.0
HOUR = 3600.0
ICP_ATTRIBUTES = ("segment", "plan", "industry", "company_size", "region", "acquisition_channel")


def _rng(lo: float | None = None, hi: float | None = None, *, gt: bool = False) -> Any:
    """Field metadata: allowed range (``gt`` makes the lower bound exclusive)."""
    return field(metadata={"lo": lo, "hi": hi, "gt": gt})


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


_T = TypeVar("_T")


def _number(value: Any, key: str, kind: str, meta: Mapping[str, Any]) -> float | int:
    """One numeric setting, type- and range-checked."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if kind == "int" and not isinstance(value, int):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be finite, got {value!r}")
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None and (value <= lo if meta.get("gt") else value < lo):
        raise ConfigError(f"{key}: must be {'>' if meta.get('gt') else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{key}: must be <= {hi}, got {value!r}")
    return int(value) if kind == "int" else float(value)


def _section(cls: type[_T], raw: Any, prefix: str, **nested: Any) -> _T:
    """Build a numeric section dataclass from its TOML table, rejecting unknown/missing keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix}: expected a table, got {raw!r}")
    known = {f.name: f for f in fields(cls) if f.init}  # type: ignore[arg-type]
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown setting")
    values: dict[str, Any] = dict(nested)
    for name, f in known.items():
        if name in nested:
            continue
        if name not in raw:
            raise ConfigError(f"{prefix}.{name}: missing setting")
        values[name] = _number(raw[name], f"{prefix}.{name}", str(f.type), f.metadata)
    return cls(**values)


def _icp(raw: Any) -> Mapping[str, IcpAttribute]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"fit.icp: expected a table, got {raw!r}")
    out: dict[str, IcpAttribute] = {}
    for attr, spec in raw.items():
        key = f"fit.icp.{attr}"
        if attr not in ICP_ATTRIBUTES:
            raise ConfigError(f"{key}: unknown attribute (use one of {', '.join(ICP_ATTRIBUTES)})")
        if not isinstance(spec, Mapping) or set(spec) - {"importance", "default", "values"}:
            raise ConfigError(f"{key}: expected a table of importance, default, values")
        unit = {"lo": 0.0, "hi": 1.0}
        importance = _number(spec.get("importance", 1.0), f"{key}.importance", "float", {"lo": 0})
        default = _number(spec.get("default", 0.0), f"{key}.default", "float", unit)
        vals = spec.get("values", {})
        if not isinstance(vals, Mapping):
            raise ConfigError(f"{key}.values: expected a table of value = score")
        scores = {
            str(v).lower(): float(_number(s, f"{key}.values.{v}", "float", unit))
            for v, s in vals.items()
        }
        out[attr] = IcpAttribute(float(importance), float(default), MappingProxyType(scores))
    return MappingProxyType(out)


def _check_pairs(cfg: ModelConfig) -> None:
    """Cross-key rules a single range cannot express."""
    pairs = [
        (
            "engagement.short_half_life_days",
            cfg.engagement.short_half_life_days,
            "engagement.long_half_life_days",
            cfg.engagement.long_half_life_days,
        ),
        (
            "engagement.drop_full_ratio",
            cfg.engagement.drop_full_ratio,
            "engagement.drop_start_ratio",
            cfg.engagement.drop_start_ratio,
        ),
        (
            "rhythm.overdue_start",
            cfg.rhythm.overdue_start,
            "rhythm.overdue_full",
            cfg.rhythm.overdue_full,
        ),
        ("p_alive.risk_full", cfg.p_alive.risk_full, "p_alive.risk_start", cfg.p_alive.risk_start),
        (
            "loyalty.passive_min",
            cfg.loyalty.passive_min,
            "loyalty.promoter_min",
            cfg.loyalty.promoter_min,
        ),
        ("health.red_below", cfg.health.red_below, "health.green_from", cfg.health.green_from),
        (
            "stage.churned_p_alive",
            cfg.stage.churned_p_alive,
            "stage.dormant_p_alive",
            cfg.stage.dormant_p_alive,
        ),
        (
            "stage.dormant_overdue",
            cfg.stage.dormant_overdue,
            "stage.churned_overdue",
            cfg.stage.churned_overdue,
        ),
        (
            "alerts.churn_risk.close_below",
            cfg.alerts.churn_risk.close_below,
            "alerts.churn_risk.open_at",
            cfg.alerts.churn_risk.open_at,
        ),
        (
            "alerts.churn_risk.medium_from",
            cfg.alerts.churn_risk.medium_from,
            "alerts.churn_risk.high_from",
            cfg.alerts.churn_risk.high_from,
        ),
        (
            "alerts.referral.close_below",
            cfg.alerts.referral.close_below,
            "alerts.referral.open_at",
            cfg.alerts.referral.open_at,
        ),
    ]
    for low_key, low, high_key, high in pairs:
        if not low < high:
            raise ConfigError(f"{low_key}: must be below {high_key} ({high}), got {low}")
    if cfg.ordering.grace_hours > cfg.success.closed_ticket_retention_days * 24:
        raise ConfigError(
            "ordering.grace_hours: must not exceed success.closed_ticket_retention_days, "
            f"got {cfg.ordering.grace_hours}"
        )
    h = cfg.health
    total = (
        h.weight_engagement
        + h.weight_recency
        + h.weight_retention
        + h.weight_success
        + h.weight_loyalty
        + h.weight_fit
    )
    if total <= 0:
        raise ConfigError("health.weight_*: at least one health weight must be positive")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` onto ``base`` (tables merge; other values replace)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) and key != "icp":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _defaults() -> dict[str, Any]:
    text = resources.files("streams.config").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def config_from_mapping(data: Mapping[str, Any]) -> ModelConfig:
    """Build a config from a parsed-TOML-like mapping merged over the packaged defaults.

    Tests and tools use this to change a few keys without writing a file.
    """
    raw = _merge(_defaults(), data)
    sections = set(ModelConfig.__dataclass_fields__)
    for key in raw:
        if key not in sections:
            raise ConfigError(f"{key}: unknown section")
    fit_raw = raw["fit"]
    if not isinstance(fit_raw, Mapping) or set(fit_raw) - {"unknown_score", "icp"}:
        raise ConfigError("fit: expected unknown_score and icp only")
    unknown = _number(
        fit_raw.get("unknown_score"), "fit.unknown_score", "float", {"lo": 0.0, "hi": 100.0}
    )
    al = raw["alerts"]
    if not isinstance(al, Mapping):
        raise ConfigError("alerts: expected a table")
    cfg = ModelConfig(
        ordering=_section(OrderingConfig, raw["ordering"], "ordering"),
        engagement=_section(EngagementConfig, raw["engagement"], "engagement"),
        rhythm=_section(RhythmConfig, raw["rhythm"], "rhythm"),
        p_alive=_section(PAliveConfig, raw["p_alive"], "p_alive"),
        success=_section(SuccessConfig, raw["success"], "success"),
        loyalty=_section(LoyaltyConfig, raw["loyalty"], "loyalty"),
        fit=FitConfig(float(unknown), _icp(fit_raw.get("icp", {}))),
        risk=_section(RiskConfig, raw["risk"], "risk"),
        health=_section(HealthConfig, raw["health"], "health"),
        stage=_section(StageConfig, raw["stage"], "stage"),
        alerts=_section(
            AlertsConfig,
            al,
            "alerts",
            churn_risk=_section(ChurnAlertConfig, al.get("churn_risk"), "alerts.churn_risk"),
            referral=_section(ReferralConfig, al.get("referral"), "alerts.referral"),
        ),
        integrity=_section(IntegrityConfig, raw["integrity"], "integrity"),
    )
    _check_pairs(cfg)
    return cfg


def load_config(path: Path | None = None) -> ModelConfig:
    """Load the model config: packaged defaults, with ``path`` (a TOML file) merged over them."""
    if path is None:
        return config_from_mapping({})
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from exc
    return config_from_mapping(data)
