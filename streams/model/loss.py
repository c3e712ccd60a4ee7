"""The customer's loss outlook: P(alive), P(no purchase within the horizon) and expected value.

Computed from what the state already keeps (purchase occasions, first and last purchase,
spend) by the same per-customer formulas the backtest scores (:mod:`streams.btyd`): one
implementation. Parameters come from the config, which :func:`config_with_record` fills from a
fitted parameter record (``cxstream fit``); until then the packaged defaults bridge a cold start.

The churn alert judges the loss probability *adjusted* for trouble the purchases cannot show:
support tickets, detractor feedback, falling engagement, poor feedback, refunds and a
cancellation raise the loss hazard. With learned effects (``loss.trouble``, from ``cxstream
fit``, see :mod:`streams.fitting.trouble`): ``p = 1 - exp(-(B*m + e))``,
``B = -log(1 - p_purchases)``, ``m = min(hazard_max, 1 + sum w_i c_i)``, ``e = sum v_i c_i``.
Cold start (no fit yet):
``p = 1 - (1 - p_purchases)^h``, ``h = min(hazard_max, 1 + hazard_scale * sum c_i)``. Either way
the purchase-only (backtested) number when no signal is present, bounded, monotone in each.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.btyd import BgNbdParams, expected_purchases, p_alive, p_no_purchase
from streams.config import ICP_ATTRIBUTES, ModelConfig
from streams.model.state import CustomerState, Purchases

WEEK_S = 7 * 86400.0
DAY_S = 86400.0
# Signals that adjust the loss hazard; silence (overdue, P(alive)) is already in p_loss.
TROUBLE = frozenset(
    {
        "public_detractor",
        "detractor",
        "ticket_trouble",
        "engagement_drop",
        "poor_feedback",
        "refunds",
        "cancelled",
    }
)
_PARAMS: list[tuple[ModelConfig, BgNbdParams]] = []
_TROUBLE: list[tuple[ModelConfig, dict[str, Weights]]] = []
_SEGMENTS: list[tuple[ModelConfig, dict[str, tuple[BgNbdParams, str]]]] = []
CHANNEL = ICP_ATTRIBUTES.index("acquisition_channel")


@dataclass(frozen=True, slots=True)
class LossOutlook:
    p_alive: float
    p_loss: float  # P(no purchase within cfg.loss.horizon_days)
    expected_purchases: float  # within the horizon
    expected_value_minor: int  # expected purchases x average order value (minor units)


def params_of(cfg: ModelConfig) -> BgNbdParams:
    """The population's purchase model."""
    if _PARAMS and _PARAMS[0][0] is cfg:
        return _PARAMS[0][1]
    pa, lc = cfg.p_alive, cfg.loss
    params = BgNbdParams(pa.r, pa.alpha, pa.a, pa.b, lc.modified == 1, lc.dormant)
    _PARAMS[:] = [(cfg, params)]
    return params


def segment_of(state: CustomerState) -> tuple[str, str]:
    """The segment keys a fit may have a record for: ``channel:<acquisition channel>`` and
    the acquisition cohort (calendar quarter of the first purchase, e.g. ``2024Q3``)."""
    channel = state.profile.attrs[CHANNEL]
    first = dt.datetime.fromtimestamp(state.purchases.first_at, dt.UTC)
    return f"channel:{channel}", f"{first.year}Q{(first.month - 1) // 3 + 1}"


def params_for(state: CustomerState, cfg: ModelConfig) -> tuple[BgNbdParams, str]:
    """(purchase model, its version) for this customer: its acquisition channel's record, else
    its cohort's, else the population's (segments too small to fit have no record)."""
    if not cfg.loss.segments or state.purchases.occasions <= 0:
        return params_of(cfg), cfg.loss.params_version
    if not (_SEGMENTS and _SEGMENTS[0][0] is cfg):
        table = {
            name: (BgNbdParams(r, alpha, a, b, modified == 1, dormant), version)
            for name, version, r, alpha, a, b, modified, dormant in cfg.loss.segments
        }
        _SEGMENTS[:] = [(cfg, table)]
    table = _SEGMENTS[0][1]
    for key in segment_of(state):
        if key in table:
            return table[key]
    return params_of(cfg), cfg.loss.params_version


def loss_stats(p: Purchases, now: float) -> tuple[float, float, float]:
    """(x, t_x, T) in weeks."""
    t_x = max(0.0, p.last_at - p.first_at) / WEEK_S
    return float(p.occasions - 1), t_x, max(now - p.first_at, p.last_at - p.first_at) / WEEK_S


def purchase_loss(
    p: Purchases, now: float, cfg: ModelConfig, params: BgNbdParams | None = None
) -> float | None:
    """P(no purchase within the horizon) from the purchases alone (the population's model
    unless ``params``); None before the first."""
    if p.occasions <= 0:
        return None
    x, t_x, big_t = loss_stats(p, now)
    params = params_of(cfg) if params is None else params
    return p_no_purchase(params, x, t_x, big_t, cfg.loss.horizon_days * DAY_S / WEEK_S)


def hazard(components: tuple[tuple[str, float, float], ...], cfg: ModelConfig) -> float:
    """The bounded cold-start hazard multiplier of the trouble signals present (1 when none)."""
    total = 0.0
    for code, c, _ in components:
        if code in TROUBLE:
            total += c
    return min(cfg.loss.hazard_max, 1.0 + cfg.loss.hazard_scale * total)


def adjusted(p_purchases: float, h: float) -> float:
    """``1 - (1 - p)^h``: the loss probability with the hazard multiplied by ``h``."""
    if h == 1.0 or p_purchases >= 1.0:
        return p_purchases
    return -math.expm1(h * math.log1p(-p_purchases))


Weights = tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]


def trouble_table(cfg: ModelConfig) -> dict[str, Weights]:
    """code -> learned (knots, multiplier weights, excess weights); empty before a fit."""
    if _TROUBLE and _TROUBLE[0][0] is cfg:
        return _TROUBLE[0][1]
    table = {code: (k, w, v) for code, k, w, v in cfg.loss.trouble}
    _TROUBLE[:] = [(cfg, table)]
    return table


def trouble_effect(code: str, c: float, cfg: ModelConfig) -> tuple[float, float]:
    """(multiplier term, excess hazard) of one learned signal with contribution ``c``:
    ``sum_k w_k max(0, c - knot_k)``, increasing in ``c``; (0, 0) for an unknown code."""
    weights = trouble_table(cfg).get(code)
    if weights is None:
        return 0.0, 0.0
    mult = excess = 0.0
    for knot, w, v in zip(*weights, strict=True):
        if c > knot:
            mult += w * (c - knot)
            excess += v * (c - knot)
    return mult, excess


def adjust_learned(
    p_purchases: float, mult_sum: float, excess: float, cfg: ModelConfig
) -> tuple[float, float]:
    """(adjusted loss, effective hazard multiplier) from the summed multiplier terms and
    excess hazards of the signals present."""
    if (mult_sum == 0.0 and excess == 0.0) or p_purchases >= 1.0:
        return p_purchases, 1.0
    base = -math.log1p(-p_purchases)
    total = base * min(cfg.loss.hazard_max, 1.0 + mult_sum) + excess
    return -math.expm1(-total), (total / base if base > 1e-12 else 1e3)


def adjust(
    p_purchases: float, components: tuple[tuple[str, float, float], ...], cfg: ModelConfig
) -> tuple[float, float]:
    """(loss probability as the churn alert judges it, the hazard multiplier applied)."""
    if not cfg.loss.trouble:
        h = hazard(components, cfg)
        return adjusted(p_purchases, h), h
    mult = excess = 0.0
    for code, c, _ in components:
        if code in TROUBLE:
            dm, de = trouble_effect(code, c, cfg)
            mult += dm
            excess += de
    return adjust_learned(p_purchases, mult, excess, cfg)


def loss_outlook(state: CustomerState, now: float, cfg: ModelConfig) -> LossOutlook | None:
    """The outlook at ``now`` (event time) from the purchases alone; None before the first."""
    p = state.purchases
    if p.occasions <= 0:
        return None
    x, t_x, big_t = loss_stats(p, now)
    horizon = cfg.loss.horizon_days * DAY_S / WEEK_S
    params = params_for(state, cfg)[0]
    expected = expected_purchases(params, x, t_x, big_t, horizon)
    aov = max(0, p.gross_minor - p.refund_minor) / max(1, p.orders)
    return LossOutlook(
        p_alive(params, x, t_x, big_t),
        p_no_purchase(params, x, t_x, big_t, horizon),
        expected,
        round(expected * aov),
    )


def _segment(record: Mapping[str, Any]) -> tuple[str, str, float, float, float, float, int, float]:
    params = record["params"]
    unit_in_weeks = float(record.get("time_unit_days", 7.0)) / 7.0
    return (
        str(record["segment"]),
        str(record["version"]),
        float(params["r"]),
        float(params["alpha"]) * unit_in_weeks,
        float(params["a"]),
        float(params["b"]),
        1 if record.get("model") == "mbgnbd" else 0,
        float(params.get("dormant", 0.0)),
    )


def config_with_record(
    cfg: ModelConfig,
    record: Mapping[str, Any],
    segments: Sequence[Mapping[str, Any]] = (),
) -> ModelConfig:
    """``cfg`` with the parameters of a fitted record (its ``to_dict`` form): the purchase
    model, its version, and, when the record has them, the population's median gap (the rhythm
    fallback), the alert cut, the value bands and the learned trouble effects; ``segments``:
    records of the same fit for single segments (acquisition channel ``channel:<value>`` or
    cohort ``YYYYQn``), judged by their own model.

    Records in another time unit are converted: alpha is a rate parameter in time units.
    """
    params = record["params"]
    unit_in_weeks = float(record.get("time_unit_days", 7.0)) / 7.0
    p_alive_cfg = dataclasses.replace(
        cfg.p_alive,
        r=float(params["r"]),
        alpha=float(params["alpha"]) * unit_in_weeks,
        a=float(params["a"]),
        b=float(params["b"]),
    )
    changes: dict[str, Any] = {
        "modified": 1 if record.get("model") == "mbgnbd" else 0,
        "dormant": float(params.get("dormant", 0.0)),
        "params_version": str(record["version"]),
    }
    alerting = record.get("alerting") or {}
    if "horizon_days" in alerting:  # the cut was learned for this horizon
        changes["horizon_days"] = float(alerting["horizon_days"])
    if "alert_at" in alerting:
        changes["alert_at"] = float(alerting["alert_at"])
        changes["close_margin"] = min(cfg.loss.close_margin, 0.5 * changes["alert_at"])
    bands = alerting.get("value_bands_minor")
    if bands is not None and len(bands) == 3:
        medium, high, critical = sorted(float(v) for v in bands)
        high, critical = max(high, medium + 1.0), max(critical, high + 2.0)
        changes.update(value_medium_from=medium, value_high_from=high, value_critical_from=critical)
    trouble = record.get("trouble") or {}
    if trouble.get("multiplier"):  # learned codes; the others keep the packaged multiplier
        knots, w, v = trouble["knots"], trouble["multiplier"], trouble.get("excess", {})
        changes["trouble"] = tuple(
            (code, *(tuple(float(x) for x in k[code]) for k in (knots, w, v)))
            if code in w
            else (code, (0.0,), (cfg.loss.hazard_scale,), (0.0,))
            for code in sorted(TROUBLE)
        )
    rhythm = cfg.rhythm
    gap = record.get("default_gap_days")
    if gap is not None and float(gap) > 0.0:  # the population's median gap, as fitted
        rhythm = dataclasses.replace(cfg.rhythm, default_gap_days=float(gap))
    changes["segments"] = tuple(sorted(_segment(r) for r in segments if r["segment"] != "all"))
    loss = dataclasses.replace(cfg.loss, **changes)
    return dataclasses.replace(cfg, p_alive=p_alive_cfg, loss=loss, rhythm=rhythm)
