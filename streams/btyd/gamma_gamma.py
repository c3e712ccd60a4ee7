"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): spend per order.

Order values are Gamma(p, nu) per customer with nu ~ Gamma(q, gamma); the posterior mean of a
customer's spend per order shrinks their observed mean towards the population mean
gammap/(q-1), strongly for customers with few orders. Independent of the purchase process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Population parameters (p, q, gamma); q > 1 for a finite mean."""

    p: float
    q: float
    gamma: float

    @property
    def population_mean(self) -> float:
        return self.gamma * self.p / (self.q - 1.0) if self.q > 1.0 else math.inf


def expected_spend(g: GammaGammaParams, orders: int, mean_value: float) -> float:
    """E[spend per order | ``orders`` orders of mean ``mean_value``]; population mean if none."""
    if orders <= 0 or mean_value <= 0.0:
        return g.population_mean
    return (g.gamma + mean_value * orders) * g.p / (g.p * orders + g.q - 1.0)


def gamma_gamma_log_likelihood(g: GammaGammaParams, orders: int, mean_value: float) -> float:
    """One customer's log-likelihood of their mean order value over ``orders`` orders."""
    px = g.p * orders
    return (
        math.lgamma(px + g.q)
        - math.lgamma(px)
        - math.lgamma(g.q)
        + g.q * math.log(g.gamma)
        + (px - 1.0) * math.log(mean_value)
        + px * math.log(orders)
        - (px + g.q) * math.log(g.gamma + mean_value * orders)
    )
