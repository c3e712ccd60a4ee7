"""Statistics drawn from the BG/NBD / MBG/NBD generative story (vectorised), for tests and
benchmarks of the fit: a fit must recover the parameters it was simulated with."""

from __future__ import annotations

import numpy as np

from streams.btyd import BgNbdParams
from streams.fitting.nbd import CustomerStats


def simulate_stats(
    params: BgNbdParams, n: int, T: float | np.ndarray, seed: int = 0
) -> CustomerStats:
    """(x, t_x, T) of ``n`` customers observed for ``T`` time units after their first purchase."""
    rng = np.random.default_rng(seed)
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    active = np.ones(n, dtype=bool)
    if params.modified:
        active &= rng.random(n) >= p
    now = np.zeros(n)
    while np.any(active):
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, len(idx)) / lam[idx]
        bought = now[idx] <= ages[idx]
        hit = idx[bought]
        x[hit] += 1.0
        t_x[hit] = now[hit]
        active[idx[~bought]] = False
        active[hit] = rng.random(len(hit)) >= p[hit]
    return CustomerStats(x, t_x, ages)
