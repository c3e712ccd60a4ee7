"""The dormancy factor is learned from whether customers came back: none when nobody returns
after dropping out, more when more do, and it makes the loss probability better calibrated."""

from __future__ import annotations

import numpy as np

from streams.btyd import BgNbdParams
from streams.fitting import fit_population
from streams.fitting.dormancy import fit_dormancy, loss_probabilities
from streams.fitting.synthetic import simulate_with_holdout

HORIZON = 26.0  # weeks


def _learn(kappa: float, seed: int) -> tuple[float, float, float]:
    """(learned kappa, Brier score on a fresh holdout without it, with it)."""
    true = BgNbdParams(0.5, 6.0, 0.9, 1.6, modified=True, dormant=kappa)
    ages = np.random.default_rng(seed).uniform(20, 40, 30_000)
    stats, bought = simulate_with_holdout(true, 30_000, ages, HORIZON, seed=seed)
    rec = fit_population(stats, "t")
    learned = fit_dormancy(rec.nbd, stats, ~bought, HORIZON)
    fresh, fresh_bought = simulate_with_holdout(true, 30_000, ages, HORIZON, seed=seed + 1)
    lost = ~fresh_bought

    def brier(k: float) -> float:
        p = rec.nbd
        q = loss_probabilities(BgNbdParams(p.r, p.alpha, p.a, p.b, p.modified, k), fresh, HORIZON)
        return float(np.mean((q - lost) ** 2))

    return learned, brier(0.0), brier(learned)


def test_no_dormancy_learned_when_nobody_comes_back() -> None:
    learned, _, _ = _learn(0.0, seed=3)
    assert learned < 0.01


def test_more_returns_mean_more_dormancy_and_better_calibrated_loss() -> None:
    some, before, after = _learn(0.05, seed=5)
    more, _, _ = _learn(0.2, seed=7)
    assert 0.01 < some < more <= 1.0
    assert after < before
