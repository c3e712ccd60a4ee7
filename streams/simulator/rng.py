"""The simulator's random source: :class:`random.Random` plus the few helpers journeys use.

One generator drives a whole population. The order in which customers draw from it is fixed
by the event-time merge, itself fixed by the seed, so a seed always yields the same events;
a single Mersenne Twister is 15x faster than a pure-Python per-customer generator and keeps
no per-customer state (2.5 KB each would not do for 100k live customers).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

T = TypeVar("T")


class Rng(random.Random):
    """:class:`random.Random` with shorthand for chances, weighted picks and skewed sizes."""

    def chance(self, probability: float) -> bool:
        return self.random() < probability

    def weighted(self, items: Sequence[T], cumulative: Sequence[float]) -> T:
        """Pick from ``items`` with precomputed cumulative weights (see :func:`cumulative`)."""
        index = bisect_right(cumulative, self.random() * cumulative[-1])
        return items[min(index, len(items) - 1)]

    def lognormal(self, median: float, sigma: float) -> float:
        """Lognormal by its median (more readable than the log-space mean)."""
        return median * math.exp(sigma * self.gauss())

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.random())

    def gamma(self, shape: float, scale: float) -> float:
        return self.gammavariate(shape, scale)


def cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative weights for :meth:`Rng.weighted`."""
    return tuple(accumulate(weights))
