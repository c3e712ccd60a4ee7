"""Uplift of acting on churn alerts, from the randomised holdout, with a 95% interval.

Control alerts are a random share of all churn alerts (hash of the alert id), never delivered;
delivered alerts that a CX agent contacted are compared with them. When the team acts on a
random share of what it receives (as the simulator's team does), the difference of retained
rates estimates the effect of contacting on the contacted alerts without bias; in production
the intention-to-treat difference (all delivered vs control) is the unbiased one, and both are
reported. Intervals: Wilson score per rate, Newcombe's hybrid score interval for the difference
(Newcombe 1998, method 10), quantiles from scipy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from scipy.stats import binomtest

from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.domain import AlertType


@dataclass(frozen=True, slots=True)
class Rate:
    retained: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.retained / self.n if self.n else math.nan


@dataclass(frozen=True, slots=True)
class Uplift:
    treated: Rate  # delivered and contacted / offered
    delivered: Rate  # every delivered alert (intention to treat)
    control: Rate
    effect: float  # treated - control
    low: float  # 95% interval of the effect
    high: float
    itt_effect: float  # delivered - control
    itt_low: float
    itt_high: float


def wilson(k: int, n: int, level: float = 0.95) -> Rate:
    """The retained rate k/n with its Wilson score interval."""
    if n == 0:
        return Rate(0, 0, math.nan, math.nan)
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return Rate(k, n, float(ci.low), float(ci.high))


def newcombe(a: Rate, b: Rate) -> tuple[float, float, float]:
    """(difference a - b, low, high): Newcombe's hybrid score interval from two Wilson ones."""
    if not a.n or not b.n:
        return math.nan, math.nan, math.nan
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    return d, low, high


def estimate_uplift(outcomes: Iterable[AlertOutcome], level: float = 0.95) -> Uplift:
    """Retained rates of contacted, delivered and control churn alerts, and their differences."""
    counts = {"treated": [0, 0], "delivered": [0, 0], "control": [0, 0]}
    for o in outcomes:
        if o.type is not AlertType.CHURN_RISK:
            continue
        kept = o.outcome is OutcomeKind.RETAINED
        arms = ["control"] if o.group is Group.CONTROL else ["delivered"]
        if o.group is Group.DELIVERED and o.intervened:
            arms.append("treated")
        for arm in arms:
            counts[arm][0] += kept
            counts[arm][1] += 1
    rates = {arm: wilson(k, n, level) for arm, (k, n) in counts.items()}
    effect, low, high = newcombe(rates["treated"], rates["control"])
    itt, itt_low, itt_high = newcombe(rates["delivered"], rates["control"])
    return Uplift(rates["treated"], rates["delivered"], rates["control"], effect, low, high,
                  itt, itt_low, itt_high)  # fmt: skip
