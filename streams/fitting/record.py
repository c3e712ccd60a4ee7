"""Versioned parameter records: what a fit publishes and what a worker or a backtest uses.

A record is a plain JSON-able dict on the wire (``to_dict``/``from_dict``); its version is a
hash of its content, so the same fit gives the same version and an alert can name the
parameters it was judged with.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from streams.btyd import BgNbdParams, GammaGammaParams
from streams.fitting.gamma_gamma import fit_gamma_gamma
from streams.fitting.nbd import Array, CustomerStats, fit_nbd

RECORD_SCHEMA = 1
ModelChoice = Literal["auto", "bgnbd", "mbgnbd"]


@dataclass(frozen=True)
class ParamRecord:
    """One fitted parameter set for a segment ("all" = the whole population)."""

    segment: str
    model: str  # "bgnbd" or "mbgnbd"
    n: int
    fitted_at: str  # ISO-8601 UTC, supplied by the caller; not part of the version
    time_unit_days: float
    params: dict[str, float]  # r, alpha, a, b (alpha in time units), dormant (kappa, optional)
    log_likelihood: float
    spend: dict[str, float] | None = None  # Gamma-Gamma p, q, gamma
    default_gap_days: float | None = None  # population median gap between purchase occasions
    # Churn alerting learned with the fit (streams.fitting.alerting): alert_at, horizon_days,
    # value_bands_minor (medium, high, critical cuts of the value at risk).
    alerting: dict[str, Any] | None = None
    # How much each trouble signal raises the loss hazard (streams.fitting.trouble): multiplier
    # and excess per learned code, learned from outcomes; None when not learned.
    trouble: dict[str, Any] | None = None
    version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", self._digest())

    def _digest(self) -> str:
        # When it was fitted is not what it judges with: the same data gives the same version.
        body = {k: v for k, v in self.to_dict().items() if k not in ("version", "fitted_at")}
        blob = json.dumps(body, sort_keys=True).encode()
        return f"{self.model}-{hashlib.sha1(blob).hexdigest()[:12]}"

    @property
    def nbd(self) -> BgNbdParams:
        p = self.params
        return BgNbdParams(
            p["r"], p["alpha"], p["a"], p["b"], self.model == "mbgnbd", p.get("dormant", 0.0)
        )

    @property
    def gamma_gamma(self) -> GammaGammaParams | None:
        s = self.spend
        return None if s is None else GammaGammaParams(s["p"], s["q"], s["gamma"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": RECORD_SCHEMA,
            "version": self.version,
            "segment": self.segment,
            "model": self.model,
            "n": self.n,
            "fitted_at": self.fitted_at,
            "time_unit_days": self.time_unit_days,
            "params": dict(self.params),
            "log_likelihood": self.log_likelihood,
            "spend": None if self.spend is None else dict(self.spend),
            "default_gap_days": self.default_gap_days,
            "alerting": None if self.alerting is None else dict(self.alerting),
            **({} if self.trouble is None else {"trouble": dict(self.trouble)}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ParamRecord:
        if d.get("schema") != RECORD_SCHEMA:
            raise ValueError(f"parameter record: unsupported schema {d.get('schema')!r}")
        return cls(
            segment=str(d["segment"]),
            model=str(d["model"]),
            n=int(d["n"]),
            fitted_at=str(d["fitted_at"]),
            time_unit_days=float(d["time_unit_days"]),
            params={k: float(v) for k, v in d["params"].items()},
            log_likelihood=float(d["log_likelihood"]),
            spend=None if d.get("spend") is None else {k: float(v) for k, v in d["spend"].items()},
            default_gap_days=None
            if d.get("default_gap_days") is None
            else float(d["default_gap_days"]),
            alerting=None if d.get("alerting") is None else dict(d["alerting"]),
            trouble=None if d.get("trouble") is None else dict(d["trouble"]),
            version=str(d["version"]),
        )


def with_dormancy(rec: ParamRecord, kappa: float) -> ParamRecord:
    """The same fit with a learned dormancy factor (a new version)."""
    return dataclasses.replace(rec, params={**rec.params, "dormant": kappa}, version="")


def _median_gap_days(stats: CustomerStats, time_unit_days: float) -> float | None:
    repeat = stats.x > 0
    if not np.any(repeat):
        return None
    return float(np.median(stats.t_x[repeat] / stats.x[repeat]) * time_unit_days)


def fit_population(
    stats: CustomerStats,
    fitted_at: str,
    *,
    segment: str = "all",
    time_unit_days: float = 7.0,
    model: ModelChoice = "auto",
    orders: Array | None = None,
    mean_value: Array | None = None,
) -> ParamRecord:
    """Fit one segment; ``auto`` keeps BG/NBD or MBG/NBD, whichever explains the data better
    (same number of parameters, so the higher likelihood wins)."""
    choices: list[bool] = {"auto": [False, True], "bgnbd": [False], "mbgnbd": [True]}[model]
    fits = [fit_nbd(stats, modified) for modified in choices]
    params, ll = max(fits, key=lambda f: f[1])
    spend = None
    if orders is not None and mean_value is not None and np.sum(mean_value > 0) >= 2:
        g, _ = fit_gamma_gamma(orders, mean_value)
        spend = {"p": g.p, "q": g.q, "gamma": g.gamma}
    return ParamRecord(
        segment=segment,
        model="mbgnbd" if params.modified else "bgnbd",
        n=len(stats),
        fitted_at=fitted_at,
        time_unit_days=time_unit_days,
        params={"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b},
        log_likelihood=ll,
        spend=spend,
        default_gap_days=_median_gap_days(stats, time_unit_days),
    )


def fit_segments(
    stats: CustomerStats,
    segments: Sequence[str],
    fitted_at: str,
    *,
    min_customers: int = 500,
    time_unit_days: float = 7.0,
    model: ModelChoice = "auto",
    orders: Array | None = None,
    mean_value: Array | None = None,
) -> dict[str, ParamRecord]:
    """The population record under "all" plus one per segment with ≥ ``min_customers``
    customers (smaller segments use "all": too few customers give unstable parameters; a
    segment holding everyone is "all" itself)."""
    labels = np.asarray(segments)
    out = {
        "all": fit_population(
            stats,
            fitted_at,
            time_unit_days=time_unit_days,
            model=model,
            orders=orders,
            mean_value=mean_value,
        )
    }
    for name in sorted(set(labels.tolist())):
        mask = labels == name
        if int(mask.sum()) < min_customers or name == "all" or bool(mask.all()):
            continue
        sub = CustomerStats(stats.x[mask], stats.t_x[mask], stats.T[mask])
        out[name] = fit_population(
            sub,
            fitted_at,
            segment=name,
            time_unit_days=time_unit_days,
            model=model,
            orders=None if orders is None else orders[mask],
            mean_value=None if mean_value is None else mean_value[mask],
        )
    return out
