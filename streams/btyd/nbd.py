"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).

While alive a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); BG/NBD lets
them drop out after each repeat purchase with probability p ~ Beta(a, b), MBG/NBD also at the first
purchase, so a one-time buyer can already be gone (BG/NBD would call every one-time buyer alive).
Dropout happens only at purchases, so an alive customer makes no purchase within H exactly when
the Poisson process is silent:
P(no purchase in H) = 1 - P(alive) + P(alive)·((alpha+T)/(alpha+T+H))^(r+x),
with lambda | alive ~ Gamma(r+x, alpha+T). Everything is computed in log space with ``math.lgamma``.

Real customers who look gone sometimes come back, which both models rule out, so they overstate
the loss of long-silent frequent buyers. ``dormant`` (kappa, 0 = the published models) lets a
customer who dropped out still buy at kappa times their rate from now on:
P(no purchase in H | dropped) = ((alpha+T)/(alpha+T+kappa·H))^(r+x). P(alive) keeps the
published form, so the loss probability stays monotone: higher with a longer silence, lower with
a later last purchase. kappa is learned from the data (:mod:`streams.fitting.dormancy`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class BgNbdParams:
    """Population parameters; ``modified`` selects MBG/NBD (dropout also at the first purchase)."""

    r: float
    alpha: float
    a: float
    b: float
    modified: bool = False
    dormant: float = 0.0  # kappa: a dropped-out customer's rate as a share of their old one


def _log_dead_odds(p: BgNbdParams, x: float, t_x: float, T: float) -> float:
    """log of P(dropped out at the last purchase)/P(alive) given the history; -inf if impossible."""
    if p.modified:
        base = math.log(p.a) - math.log(p.b + x)
    elif x > 0:
        base = math.log(p.a) - math.log(p.b + x - 1.0)
    else:
        return -math.inf
    return base + (p.r + x) * (math.log(p.alpha + T) - math.log(p.alpha + t_x))


def p_alive(p: BgNbdParams, x: float, t_x: float, T: float) -> float:
    """P(the customer is still alive at age T | x repeat purchases, the last at t_x)."""
    odds = _log_dead_odds(p, x, t_x, T)
    if odds == -math.inf:
        return 1.0
    if odds > 0:  # stable logistic
        e = math.exp(-odds)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(odds))


def p_no_purchase(p: BgNbdParams, x: float, t_x: float, T: float, horizon: float) -> float:
    """Loss probability: P(no purchase within ``horizon`` after T | history)."""
    return LossCurve(p, x, t_x, horizon).at(T)


class LossCurve:
    """:func:`p_no_purchase` of one history as a function of the age T, its constants computed
    once (a deadline search evaluates it many times)."""

    __slots__ = ("_dead", "_dormant_h", "_horizon", "_log_shape", "_shape")

    def __init__(self, p: BgNbdParams, x: float, t_x: float, horizon: float) -> None:
        self._shape = p.r + x
        self._horizon = horizon
        self._dormant_h = p.dormant * horizon
        if p.modified:
            base = math.log(p.a) - math.log(p.b + x)
        elif x > 0:
            base = math.log(p.a) - math.log(p.b + x - 1.0)
        else:
            base = -math.inf  # BG/NBD: no dropout before the first repeat purchase
        # log dead odds at T: base + shape·(log(alpha+T) - log(alpha+t_x))
        self._dead = base - self._shape * math.log(p.alpha + t_x)
        self._log_shape = p.alpha  # alpha, kept for T -> alpha + T

    def at(self, T: float) -> float:
        shape, scale = self._shape, self._log_shape + T
        log_scale = math.log(scale)
        if self._dead == -math.inf:
            alive = 1.0
        else:
            odds = self._dead + shape * log_scale
            if odds > 0:  # stable logistic
                e = math.exp(-odds)
                alive = e / (1.0 + e)
            else:
                alive = 1.0 / (1.0 + math.exp(odds))
        silent = math.exp(shape * (log_scale - math.log(scale + self._horizon)))
        dead_silent = 1.0
        if self._dormant_h > 0.0:
            dead_silent = math.exp(shape * (log_scale - math.log(scale + self._dormant_h)))
        return min(1.0, max(0.0, (1.0 - alive) * dead_silent + alive * silent))


def log_likelihood(p: BgNbdParams, x: float, t_x: float, T: float) -> float:
    """One customer's log-likelihood of (x, t_x, T) under the published model (``dormant`` is
    learned separately, from whether customers came back)."""
    r, alpha, a, b = p.r, p.alpha, p.a, p.b
    a1 = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    shift = 1.0 if p.modified else 0.0
    a2 = (
        math.lgamma(a + b)
        + math.lgamma(b + x + shift)
        - math.lgamma(b)
        - math.lgamma(a + b + x + shift)
    )
    a3 = -(r + x) * math.log(alpha + T)
    if p.modified or x > 0:
        a4 = math.log(a) - math.log(b + x - 1.0 + shift) - (r + x) * math.log(alpha + t_x)
        top = max(a3, a4)
        return a1 + a2 + top + math.log(math.exp(a3 - top) + math.exp(a4 - top))
    return a1 + a2 + a3


def hyp2f1(a: float, b: float, c: float, z: float, tol: float = 1e-12) -> float:
    """Gauss hypergeometric 2F1(a, b; c; z) for 0 ≤ z < 1 by its power series."""
    if not 0.0 <= z < 1.0:
        raise ValueError(f"hyp2f1: z={z} outside [0, 1)")
    term = total = 1.0
    n = 0
    while n < 100_000:
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
        total += term
        n += 1
        if abs(term) <= tol * abs(total):
            break
    return total


_NEAR_ONE = 1e-4


def expected_purchases(p: BgNbdParams, x: float, t_x: float, T: float, horizon: float) -> float:
    """E[number of purchases in (T, T+horizon] | history] (FHL 2005 eq. 10; Batislam 2007)."""
    if abs(p.a - 1.0) < _NEAR_ONE / 2:
        # a = 1 is a removable singularity: (a-1) divides a difference that cancels there, so
        # a tiny nudge amplifies rounding (a 1e-6 nudge turned 2e-9 purchases into 0 when the
        # horizon grew). Average two points a little way off instead: the formula is smooth
        # in a, so the bias is O(_NEAR_ONE^2) and the rounding error ~1e-12 of the value.
        lo = replace(p, a=1.0 - _NEAR_ONE)
        hi = replace(p, a=1.0 + _NEAR_ONE)
        return 0.5 * (
            expected_purchases(lo, x, t_x, T, horizon) + expected_purchases(hi, x, t_x, T, horizon)
        )
    r, alpha, a, b = p.r, p.alpha, p.a, p.b
    shift = 1.0 if p.modified else 0.0
    z = horizon / (alpha + T + horizon)
    # Euler's transformation 2F1(p, q; c; z) = (1-z)^(c-p-q) 2F1(c-p, c-q; c; z): the same
    # value, but its series needs far fewer terms here (5-30x for repeat buyers).
    hp, hq, hc = r + x, b + x + shift, a + b + x - 1.0 + shift
    hyp = math.exp((hc - hp - hq) * math.log1p(-z)) * hyp2f1(hc - hp, hc - hq, hc, z)
    ratio = math.exp((r + x) * (math.log(alpha + T) - math.log(alpha + T + horizon)))
    first = (a + b + x - 1.0 + shift) / (a - 1.0)
    alive = p_alive(p, x, t_x, T)
    dormant = 0.0
    if p.dormant > 0.0:  # a dropped-out customer buys at kappa·lambda (no second dropout)
        dormant = (1.0 - alive) * p.dormant * horizon * (r + x) / (alpha + T)
    return max(0.0, first * (1.0 - ratio * hyp) * alive + dormant)


def expected_value(
    p: BgNbdParams, x: float, t_x: float, T: float, horizon: float, spend_per_order: float
) -> float:
    """Expected future value over ``horizon``: expected purchases x expected spend per order."""
    return expected_purchases(p, x, t_x, T, horizon) * spend_per_order
