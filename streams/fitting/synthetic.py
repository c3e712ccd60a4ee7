"""Statistics drawn from the BG/NBD / MBG/NBD generative story (vectorised), for tests and
benchmarks of the fit: a fit must recover the parameters it was simulated with. With
``params.dormant`` > 0, a customer who dropped out keeps buying at that share of their rate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.btyd import BgNbdParams
from streams.fitting.nbd import CustomerStats


def simulate_with_holdout(
    params: BgNbdParams, n: int, T: float | np.ndarray, horizon: float, seed: int = 0
) -> tuple[CustomerStats, npt.NDArray[np.bool_]]:
    """(x, t_x, T) up to each customer's age T, and whether they bought within ``horizon`` after."""
    rng = np.random.default_rng(seed)
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    x, t_x = np.zeros(n), np.zeros(n)
    bought_after = np.zeros(n, dtype=bool)
    rate = lam.copy()
    dead = np.zeros(n, dtype=bool)
    if params.modified:
        dead |= rng.random(n) < p
    rate[dead] *= params.dormant
    now = np.zeros(n)
    active = rate > 0
    while np.any(active):
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, len(idx)) / rate[idx]
        inside = now[idx] <= ages[idx]
        later = ~inside & (now[idx] <= ages[idx] + horizon)
        bought_after[idx[later]] = True
        active[idx[~inside]] = False  # nothing more to learn about them
        hit = idx[inside]
        x[hit] += 1.0
        t_x[hit] = now[hit]
        drop = hit[~dead[hit] & (rng.random(len(hit)) < p[hit])]
        dead[drop] = True
        rate[drop] *= params.dormant
        active[drop] = rate[drop] > 0
    return CustomerStats(x, t_x, ages), bought_after


def simulate_stats(
    params: BgNbdParams, n: int, T: float | np.ndarray, seed: int = 0
) -> CustomerStats:
    """(x, t_x, T) of ``n`` customers observed for ``T`` time units after their first purchase."""
    return simulate_with_holdout(params, n, T, 0.0, seed)[0]
