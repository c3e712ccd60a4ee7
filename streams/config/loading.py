"""Loading and validating the model config: packaged defaults, overrides merged over them.

Every problem raises :class:`streams.errors.ConfigError` naming the dotted key and the reason.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from streams.config.sections import (
    ICP_ATTRIBUTES,
    AlertsConfig,
    ChurnAlertConfig,
    EngagementConfig,
    FitConfig,
    HealthConfig,
    IcpAttribute,
    IntegrityConfig,
    LoopConfig,
    LossConfig,
    LoyaltyConfig,
    ModelConfig,
    OrderingConfig,
    PAliveConfig,
    ReferralConfig,
    RhythmConfig,
    RiskConfig,
    StageConfig,
    SuccessConfig,
)
from streams.errors import ConfigError

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


def _text(value: Any, key: str) -> str:
    """One short text setting (a name or version, printable, 1-128 characters)."""
    if not isinstance(value, str) or not 0 < len(value) <= 128 or not value.isprintable():
        raise ConfigError(f"{key}: expected a printable text of 1-128 characters, got {value!r}")
    return value


def _section(cls: type[_T], raw: Any, prefix: str, **nested: Any) -> _T:
    """Build a numeric section dataclass from its TOML table, rejecting unknown/missing keys."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix}: expected a table, got {raw!r}")
    known = {  # learned fields come from a fitted record, never from TOML
        f.name: f
        for f in fields(cls)  # type: ignore[arg-type]
        if f.init and not f.metadata.get("learned")
    }
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown setting")
    values: dict[str, Any] = dict(nested)
    for name, f in known.items():
        if name in nested:
            continue
        if name not in raw:
            raise ConfigError(f"{prefix}.{name}: missing setting")
        if f.metadata.get("text"):
            values[name] = _text(raw[name], f"{prefix}.{name}")
        else:
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


# (lower key, higher key): the first must be strictly below the second.
_ORDERED_PAIRS = (
    ("engagement.short_half_life_days", "engagement.long_half_life_days"),
    ("engagement.drop_full_ratio", "engagement.drop_start_ratio"),
    ("rhythm.overdue_start", "rhythm.overdue_full"),
    ("risk.ticket_trouble_full", "risk.ticket_trouble_start"),
    ("p_alive.risk_full", "p_alive.risk_start"),
    ("loyalty.passive_min", "loyalty.promoter_min"),
    ("health.red_below", "health.green_from"),
    ("stage.churned_p_alive", "stage.dormant_p_alive"),
    ("stage.dormant_overdue", "stage.churned_overdue"),
    ("alerts.churn_risk.close_below", "alerts.churn_risk.open_at"),
    ("alerts.churn_risk.medium_from", "alerts.churn_risk.high_from"),
    ("alerts.referral.close_below", "alerts.referral.open_at"),
    ("loss.value_medium_from", "loss.value_high_from"),
    ("loss.value_high_from", "loss.value_critical_from"),
)


def _get(cfg: ModelConfig, dotted: str) -> Any:
    value: Any = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _check_pairs(cfg: ModelConfig) -> None:
    """Cross-key rules a single range cannot express."""
    for low_key, high_key in _ORDERED_PAIRS:
        low, high = _get(cfg, low_key), _get(cfg, high_key)
        if not low < high:
            raise ConfigError(f"{low_key}: must be below {high_key} ({high}), got {low}")
    if cfg.ordering.grace_hours > cfg.success.closed_ticket_retention_days * 24:
        raise ConfigError(
            "ordering.grace_hours: must not exceed success.closed_ticket_retention_days, "
            f"got {cfg.ordering.grace_hours}"
        )
    sc = cfg.success
    if sc.repeat_window_days + cfg.ordering.grace_hours / 24 > sc.closed_ticket_retention_days:
        raise ConfigError(
            f"success.repeat_window_days: plus ordering.grace_hours "
            f"({cfg.ordering.grace_hours:g} h) it must not exceed "
            f"success.closed_ticket_retention_days ({sc.closed_ticket_retention_days:g} d), got "
            f"{sc.repeat_window_days:g} d: a repeat is only seen while the earlier ticket is "
            "held; raise the retention or shorten the window"
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
    if not cfg.loss.close_margin < cfg.loss.alert_at:
        raise ConfigError(
            f"loss.close_margin: must be below loss.alert_at ({cfg.loss.alert_at}), "
            f"got {cfg.loss.close_margin}"
        )


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
        loss=_section(LossConfig, raw["loss"], "loss"),
        loop=_section(LoopConfig, raw["loop"], "loop"),
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
