"""Learn the dormancy factor kappa (see :mod:`streams.btyd.nbd`) from whether customers came back.

The purchase model is fitted on the log up to an inner cutoff inside the calibration period;
kappa is then the value whose loss probabilities best explain (Bernoulli likelihood) who bought
again between the inner cutoff and the real one. Only calibration data are used, and kappa is a
rate, so it carries over to another horizon.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from streams.btyd import BgNbdParams
from streams.fitting.nbd import Array, CustomerStats

MAX_DORMANT = 1.0  # a dropped-out customer never buys faster than they did while alive


def loss_probabilities(p: BgNbdParams, stats: CustomerStats, horizon: float) -> Array:
    """Vectorised :func:`streams.btyd.p_no_purchase` (same formula, same units)."""
    x, t_x, T = stats.x, stats.t_x, stats.T
    r, alpha = p.r, p.alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        if p.modified:
            base = np.log(p.a) - np.log(p.b + x)
        else:
            base = np.where(x > 0, np.log(p.a) - np.log(np.maximum(p.b + x - 1.0, 1e-300)), -np.inf)
    odds = base + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    alive = 1.0 / (1.0 + np.exp(np.minimum(odds, 700.0)))
    silent = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + horizon)))
    dead_silent = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + p.dormant * horizon)))
    out: Array = np.clip((1.0 - alive) * dead_silent + alive * silent, 0.0, 1.0)
    return out


def fit_dormancy(p: BgNbdParams, stats: CustomerStats, lost: np.ndarray, horizon: float) -> float:
    """The kappa in [0, 1] that maximises the likelihood of the observed losses."""
    y = lost.astype(bool)

    def nll(kappa: float) -> float:
        q = loss_probabilities(
            BgNbdParams(p.r, p.alpha, p.a, p.b, p.modified, kappa), stats, horizon
        )
        q = np.clip(q, 1e-12, 1.0 - 1e-12)
        return -float(np.mean(np.where(y, np.log(q), np.log1p(-q))))

    res = minimize_scalar(nll, bounds=(0.0, MAX_DORMANT), method="bounded")
    kappa = float(res.x)
    return kappa if nll(kappa) < nll(0.0) else 0.0
