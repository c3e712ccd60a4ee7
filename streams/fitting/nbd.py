"""BG/NBD and MBG/NBD maximum likelihood over arrays of (x, t_x, T).

Identical statistics are collapsed first (weights = counts), so a million customers measured in
whole days cost a few thousand likelihood terms; parameters are optimised in log space
(L-BFGS-B) from a moment-based start, restarted elsewhere if it does not converge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import gammaln

from streams.btyd import BgNbdParams

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CustomerStats:
    """Per-customer sufficient statistics, one row per customer (time unit of the caller)."""

    x: Array
    t_x: Array
    T: Array

    def __post_init__(self) -> None:
        if not (len(self.x) == len(self.t_x) == len(self.T)):
            raise ValueError("x, t_x and T must have the same length")
        if len(self.x) and (np.any(self.t_x > self.T + 1e-9) or np.any(self.x < 0)):
            raise ValueError("need 0 <= x and t_x <= T")

    def __len__(self) -> int:
        return len(self.x)

    def collapsed(self) -> tuple[Array, Array, Array, Array]:
        """Unique (x, t_x, T) rows and their counts."""
        rows = np.stack([self.x, self.t_x, self.T], axis=1)
        uniq, counts = np.unique(rows, axis=0, return_counts=True)
        return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(np.float64)


def nbd_log_likelihoods(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihoods; the same formula as :func:`streams.btyd.log_likelihood`."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shift = 1.0 if params.modified else 0.0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + shift) - gammaln(b) - gammaln(a + b + x + shift)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.log(a) - np.log(b + x - 1.0 + shift) - (r + x) * np.log(alpha + t_x)
    if not params.modified:
        a4 = np.where(x > 0, a4, -np.inf)
    out: Array = a1 + a2 + np.logaddexp(a3, a4)
    return out


def fit_nbd(stats: CustomerStats, modified: bool = False) -> tuple[BgNbdParams, float]:
    """Maximum-likelihood (r, alpha, a, b) and the total log-likelihood."""
    if len(stats) == 0:
        raise ValueError("no customers to fit")
    x, t_x, T, w = stats.collapsed()
    total = float(w.sum())

    def nll(theta: Array) -> float:
        r, alpha, a, b = np.exp(np.clip(theta, -12.0, 12.0))
        ll = nbd_log_likelihoods(BgNbdParams(r, alpha, a, b, modified), x, t_x, T)
        value = -float(np.dot(w, ll)) / total
        return value if np.isfinite(value) else 1e10

    rate = max(float(np.dot(w, x) / max(np.dot(w, T), 1e-9)), 1e-6)
    starts = [
        np.log([1.0, 1.0 / rate, 1.0, 1.0]),
        np.log([0.5, 0.5 / rate, 0.5, 3.0]),
        np.log([2.0, 2.0 / rate, 2.0, 2.0]),
    ]
    best = minimize(nll, starts[0], method="L-BFGS-B")
    for start in starts[1:]:  # restarts only when the first run did not converge
        if best.success:
            break
        res = minimize(nll, start, method="L-BFGS-B")
        if res.fun < best.fun:
            best = res
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    return BgNbdParams(r, alpha, a, b, modified), -float(best.fun) * total
