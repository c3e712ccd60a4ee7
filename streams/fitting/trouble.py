"""Learn how much each trouble signal raises the loss hazard, from who actually left.

The purchase model (BG/NBD and relatives) sees only orders. Tickets, detractor feedback, falling
engagement, refunds or a cancellation are evidence it cannot see, and how much they matter
differs between businesses, so it is learned from outcomes rather than set by hand.

With ``B = -log(1 - p)`` for the purchase-only loss probability ``p`` and ``c_i`` the
contributions of the trouble signals present (streams.model.risk: weight x strength, 0-1),
the adjusted loss is ``p' = 1 - exp(-(B * m + e))`` with

* ``m = min(hazard_max, 1 + sum_i f(c_i; w_i))``: the signals *multiply* the loss hazard;
* ``e = sum_i f(c_i; v_i)``: and *add* a loss cause of their own (a complaint drives a customer
  away whatever their buying rhythm: a weekly buyer's small ``B`` times any bounded ``m`` stays
  small),

where ``f(c; w) = sum_k w_k max(0, c - knot_k)`` is increasing and convex in the contribution
(a routine ticket's small contribution may mean little while an escalated, late one means a
lot; the data decide). Each signal's knots are 0 and the ``KNOT_QUANTILES`` of its nonzero
contributions in the data. Every coefficient is >= 0 and bounded (``MAX_MULTIPLIER``,
``MAX_EXCESS``), so ``p' = p`` when no signal is present and ``p'`` never falls as a signal
grows. The coefficients maximise the Bernoulli likelihood of the observed losses (who placed
no order within the horizon after a calibration cutoff), with a weak Gaussian prior (sd
``PRIOR_SD``) that keeps a rarely seen signal near zero. A signal present for fewer than
``MIN_PRESENT`` customers is not learned;
the model then keeps its packaged multiplier for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

Array = npt.NDArray[np.float64]
KNOT_QUANTILES = (0.5, 0.8, 0.95)
MIN_PRESENT = 20
PRIOR_SD = 5.0
MAX_MULTIPLIER = 50.0
MAX_EXCESS = 10.0


def knots_of(c: Array) -> list[float]:
    """0 and the :data:`KNOT_QUANTILES` of the nonzero contributions (distinct, increasing)."""
    present = c[c > 0]
    qs: list[float] = list(np.quantile(present, KNOT_QUANTILES)) if len(present) else []
    out = [0.0]
    for q in qs:
        if float(q) > out[-1] + 1e-3:
            out.append(round(float(q), 6))
    return out


def hinges(contrib: Array, knots: Sequence[Sequence[float]]) -> Array:
    """Columns ``max(0, c_j - knot)`` for every signal j and its knots (signal-major order)."""
    c = np.asarray(contrib, dtype=np.float64)
    cols = [np.maximum(0.0, c[:, [j]] - np.asarray(k)) for j, k in enumerate(knots)]
    out: Array = np.concatenate(cols, axis=1) if cols else np.zeros((len(c), 0))
    return out


def adjusted_loss(p_base: Array, basis: Array, w: Array, v: Array, hazard_max: float) -> Array:
    """Vectorised adjusted loss over :func:`hinges` columns (the model's
    :func:`streams.model.loss.adjust_learned`)."""
    base = -np.log1p(-np.clip(p_base, 0.0, 1.0 - 1e-15))
    mult = np.minimum(hazard_max, 1.0 + basis @ w)
    out: Array = -np.expm1(-(base * mult + basis @ v))
    return out


def fit_trouble(
    p_base: Array,
    contrib: Array,
    lost: npt.NDArray[np.bool_],
    codes: Sequence[str],
    hazard_max: float = MAX_MULTIPLIER,
    min_present: int = MIN_PRESENT,
) -> dict[str, Any]:
    """Learned effects of the signals in ``codes`` (columns of ``contrib``, one row per
    customer and cutoff): ``{"knots": {code: [knot_k]}, "multiplier": {code: [w_k]}, "excess":
    {code: [v_k]},
    "present": {code: rows}, "rows", "log_likelihood", "base_log_likelihood"}``; only codes
    present in at least ``min_present`` rows are learned (the others only in ``present``)."""
    contrib = np.asarray(contrib, dtype=np.float64).reshape(len(p_base), len(codes))
    present = (contrib > 0).sum(axis=0)
    keep = np.array([j for j in range(len(codes)) if present[j] >= min_present], dtype=np.int64)
    out: dict[str, Any] = {
        "knots": {},
        "multiplier": {},
        "excess": {},
        "present": {code: int(present[j]) for j, code in enumerate(codes)},
        "rows": len(p_base),
    }
    rows = np.flatnonzero(contrib[:, keep].sum(axis=1) > 0)
    if len(keep) == 0 or len(rows) == 0:
        return out
    p = np.clip(np.asarray(p_base, dtype=np.float64)[rows], 1e-9, 1.0 - 1e-9)
    knots = [knots_of(contrib[:, j]) for j in keep]
    basis = hinges(contrib[np.ix_(rows, keep)], knots)
    y, k = np.asarray(lost, dtype=bool)[rows], basis.shape[1]

    def nll(theta: Array) -> float:
        q = adjusted_loss(p, basis, theta[:k], theta[k:], hazard_max)
        q = np.clip(q, 1e-12, 1 - 1e-12)
        ll = np.where(y, np.log(q), np.log1p(-q)).sum()
        return -float(ll) + float(theta @ theta) / (2.0 * PRIOR_SD**2)

    bounds = [(0.0, MAX_MULTIPLIER)] * k + [(0.0, MAX_EXCESS)] * k
    res = minimize(nll, np.full(2 * k, 0.1), method="L-BFGS-B", bounds=bounds)
    theta = np.asarray(res.x, dtype=np.float64)
    at = 0
    for i, j in enumerate(keep):
        per = len(knots[i])
        w, v = theta[at : at + per], theta[k + at : k + at + per]
        at += per
        out["knots"][codes[j]] = knots[i]
        out["multiplier"][codes[j]] = [round(float(x), 6) for x in w]
        out["excess"][codes[j]] = [round(float(x), 6) for x in v]
    out["log_likelihood"] = -float(res.fun)
    out["base_log_likelihood"] = float(np.where(y, np.log(p), np.log1p(-p)).sum())
    return out
