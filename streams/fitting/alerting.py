"""Churn alerting learned with a fit: the loss-probability cut and the value-at-risk bands.

* ``alert_at``: the lowest cut at which the precision the fitted model expects from its own
  predictions (each customer lost with its predicted probability: the mean P(loss) of those
  at or above the cut) reaches the operator's ``target_precision``; when no cut reaches it, the
  cut that maximises the expected balanced accuracy (the backtest's rule). Both need no
  outcomes, so they can be learned from the current statistics.
* ``value_bands_minor``: the 50/80/95% quantiles of value at risk (P(loss) x expected value
  within the horizon) over the customers the cut would alert: the medium, high and critical
  cuts of the priority. Mean order values are in minor units.

Scored on a deterministic sample of at most ``SAMPLE`` customers (quantiles and the cut are
stable long before that; it keeps a 1M-customer fit within its time budget).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streams.btyd import expected_purchases, p_no_purchase
from streams.evaluation.scoring import expected_ba_threshold
from streams.fitting.nbd import Array, CustomerStats
from streams.fitting.record import ParamRecord

SAMPLE = 50_000
TARGET_PRECISION = 0.9


def expected_precision_threshold(p_loss: Array, target: float) -> float:
    """Lowest cut whose expected precision (mean P(loss) at or above it) reaches ``target``;
    the expected-balanced-accuracy cut when none does."""
    p = np.sort(np.asarray(p_loss, dtype=np.float64))[::-1]
    if len(p) == 0:
        return 0.5
    precision = np.cumsum(p) / np.arange(1, len(p) + 1)  # flag the top k+1
    ok = np.flatnonzero(precision >= target)
    ba = expected_ba_threshold(p)
    return max(ba, float(p[ok[-1]])) if len(ok) else ba


VALUE_QUANTILES = (0.5, 0.8, 0.95)


def learn_alerting(
    rec: ParamRecord,
    stats: CustomerStats,
    horizon_days: float,
    mean_value_minor: Array | None = None,
    target_precision: float = TARGET_PRECISION,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"alert_at", "horizon_days", "value_bands_minor"}`` for ``rec`` on these customers
    (statistics in the record's time unit); bands are None without order values."""
    n = len(stats)
    idx = np.arange(n)
    if n > SAMPLE:
        idx = np.sort(np.random.default_rng(seed).choice(n, SAMPLE, replace=False))
    params, h = rec.nbd, horizon_days / rec.time_unit_days
    rows = [(float(stats.x[i]), float(stats.t_x[i]), float(stats.T[i])) for i in idx]
    p = np.array([p_no_purchase(params, x, t, big_t, h) for x, t, big_t in rows])
    cut = expected_precision_threshold(p, target_precision)
    bands = None
    if mean_value_minor is not None:
        flagged = np.flatnonzero(p >= cut)
        if len(flagged) >= 20:
            values = np.asarray(mean_value_minor, dtype=np.float64)[idx]
            var = np.array(
                [p[j] * expected_purchases(params, *rows[j], h) * values[j] for j in flagged]
            )
            bands = [round(float(q), 2) for q in np.quantile(var, VALUE_QUANTILES)]
    return {"alert_at": round(cut, 6), "horizon_days": horizon_days, "value_bands_minor": bands}
