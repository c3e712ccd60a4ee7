"""Maximum-likelihood fits recover the parameters their data were simulated from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.btyd import BgNbdParams, GammaGammaParams, log_likelihood
from streams.fitting import (
    CustomerStats,
    ParamRecord,
    fit_gamma_gamma,
    fit_population,
    fit_segments,
)
from streams.fitting.nbd import nbd_log_likelihoods
from streams.fitting.synthetic import simulate_stats

TRUE_BG = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
TRUE_MBG = BgNbdParams(r=0.525, alpha=6.183, a=0.891, b=1.614, modified=True)


def _ages(n: int, seed: int = 1) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(27, 39, n) * 7) / 7  # whole days, in weeks


@pytest.mark.parametrize("true", [TRUE_BG, TRUE_MBG])
def test_fit_recovers_simulated_parameters_and_picks_the_right_model(true: BgNbdParams) -> None:
    stats = simulate_stats(true, 40_000, _ages(40_000), seed=3)
    rec = fit_population(stats, "2026-01-01T00:00:00Z")
    assert rec.model == ("mbgnbd" if true.modified else "bgnbd")
    got = rec.nbd
    for name in ("r", "alpha", "a", "b"):
        assert getattr(got, name) == pytest.approx(getattr(true, name), rel=0.15), name


def test_vectorised_likelihood_equals_the_per_customer_formula() -> None:
    stats = simulate_stats(TRUE_MBG, 200, 30.0, seed=5)
    for p in (TRUE_BG, TRUE_MBG):
        vec = nbd_log_likelihoods(p, stats.x, stats.t_x, stats.T)
        one = [
            log_likelihood(p, x, t, T) for x, t, T in zip(stats.x, stats.t_x, stats.T, strict=True)
        ]
        assert vec == pytest.approx(one, rel=1e-9)


def test_gamma_gamma_fit_recovers_spend_parameters() -> None:
    rng = np.random.default_rng(7)
    true = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
    n = 20_000
    orders = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(true.q, 1.0 / true.gamma, n)
    mean_value = np.array(
        [rng.gamma(true.p, 1.0 / v, int(k)).mean() for v, k in zip(nu, orders, strict=True)]
    )
    got, _ = fit_gamma_gamma(orders, mean_value)
    assert got.p == pytest.approx(true.p, rel=0.15)
    assert got.population_mean == pytest.approx(true.population_mean, rel=0.1)


def test_segments_fit_only_where_large_enough_and_records_round_trip() -> None:
    big = simulate_stats(TRUE_BG, 3000, 35.0, seed=1)
    small = simulate_stats(TRUE_BG, 100, 35.0, seed=2)
    stats = CustomerStats(
        np.concatenate([big.x, small.x]),
        np.concatenate([big.t_x, small.t_x]),
        np.concatenate([big.T, small.T]),
    )
    labels = ["web"] * 3000 + ["store"] * 100
    recs = fit_segments(stats, labels, "2026-01-01T00:00:00Z", min_customers=500)
    assert set(recs) == {"all", "web"}
    rec = recs["web"]
    assert rec.n == 3000 and rec.default_gap_days is not None and rec.default_gap_days > 0
    wire = json.loads(json.dumps(rec.to_dict()))
    assert ParamRecord.from_dict(wire) == rec
    # the version names the content: same fit → same version, other parameters → other version
    assert fit_population(big, "2026-01-01T00:00:00Z", segment="web").version == rec.version
    assert recs["all"].version != rec.version
