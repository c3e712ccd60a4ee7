"""The customer's loss outlook: P(alive), P(no purchase within the horizon) and expected value.

Computed from what the state already keeps (purchase occasions, first and last purchase,
spend) by the same per-customer formulas the backtest scores (:mod:`streams.btyd`): one
implementation. Parameters come from the config, which :func:`config_with_record` fills from a
fitted parameter record (``cxstream fit``); until then the packaged defaults bridge a cold start.
Not yet used by churn alerts or snapshots (see docs/model.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.btyd import BgNbdParams, expected_purchases, p_alive, p_no_purchase
from streams.config import ModelConfig
from streams.model.state import CustomerState

WEEK_S = 7 * 86400.0
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class LossOutlook:
    p_alive: float
    p_loss: float  # P(no purchase within cfg.loss.horizon_days)
    expected_purchases: float  # within the horizon
    expected_value_minor: int  # expected purchases x average order value (minor units)


def params_of(cfg: ModelConfig) -> BgNbdParams:
    pa, lc = cfg.p_alive, cfg.loss
    return BgNbdParams(pa.r, pa.alpha, pa.a, pa.b, lc.modified == 1, lc.dormant)


def loss_outlook(state: CustomerState, now: float, cfg: ModelConfig) -> LossOutlook | None:
    """The outlook at ``now`` (event time); None before the first purchase."""
    p = state.purchases
    if p.occasions <= 0:
        return None
    x = float(p.occasions - 1)
    t_x = max(0.0, p.last_at - p.first_at) / WEEK_S
    big_t = max(now - p.first_at, p.last_at - p.first_at) / WEEK_S
    horizon = cfg.loss.horizon_days * DAY_S / WEEK_S
    params = params_of(cfg)
    expected = expected_purchases(params, x, t_x, big_t, horizon)
    aov = max(0, p.gross_minor - p.refund_minor) / max(1, p.orders)
    return LossOutlook(
        p_alive(params, x, t_x, big_t),
        p_no_purchase(params, x, t_x, big_t, horizon),
        expected,
        round(expected * aov),
    )


def config_with_record(cfg: ModelConfig, record: Mapping[str, Any]) -> ModelConfig:
    """``cfg`` with the purchase-model parameters of a fitted record (its ``to_dict`` form).

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
    loss = dataclasses.replace(
        cfg.loss,
        modified=1 if record.get("model") == "mbgnbd" else 0,
        dormant=float(params.get("dormant", 0.0)),
        params_version=str(record["version"]),
    )
    return dataclasses.replace(cfg, p_alive=p_alive_cfg, loss=loss)
