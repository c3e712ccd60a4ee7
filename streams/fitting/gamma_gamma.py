"""Gamma-Gamma spend model maximum likelihood over (orders, mean order value)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import gammaln

from streams.btyd import GammaGammaParams

Array = npt.NDArray[np.float64]


def gamma_gamma_log_likelihoods(g: GammaGammaParams, orders: Array, mean_value: Array) -> Array:
    """Per-customer log-likelihoods (same formula as the pure-Python one)."""
    px = g.p * orders
    out: Array = (
        gammaln(px + g.q)
        - gammaln(px)
        - gammaln(g.q)
        + g.q * np.log(g.gamma)
        + (px - 1.0) * np.log(mean_value)
        + px * np.log(orders)
        - (px + g.q) * np.log(g.gamma + mean_value * orders)
    )
    return out


def fit_gamma_gamma(orders: Array, mean_value: Array) -> tuple[GammaGammaParams, float]:
    """Maximum-likelihood (p, q, gamma) over customers with at least one positive-valued order."""
    keep = (orders > 0) & (mean_value > 0)
    n, m = orders[keep].astype(np.float64), mean_value[keep].astype(np.float64)
    if len(n) < 2:
        raise ValueError("need at least two customers with positive order values")

    def nll(theta: Array) -> float:
        p, q, gamma = np.exp(np.clip(theta, -12.0, 12.0))
        value = -float(np.mean(gamma_gamma_log_likelihoods(GammaGammaParams(p, q, gamma), n, m)))
        return value if np.isfinite(value) else 1e10

    start = np.log([2.0, 3.0, max(float(np.median(m)), 1e-6)])
    res = minimize(nll, start, method="L-BFGS-B")
    p, q, gamma = (float(v) for v in np.exp(res.x))
    return GammaGammaParams(p, q, gamma), -float(res.fun) * len(n)
