"""The churn alerting a fit learns: a loss-probability cut and value-at-risk bands."""

from __future__ import annotations

import numpy as np

from streams.btyd import BgNbdParams, p_no_purchase
from streams.fitting import fit_population
from streams.fitting.alerting import expected_precision_threshold, learn_alerting
from streams.fitting.synthetic import simulate_stats
from streams.model import config_with_record, load_config


def test_the_cut_reaches_the_expected_precision_it_is_asked_for() -> None:
    p = np.array([0.99, 0.95, 0.9, 0.85, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05])
    cut = expected_precision_threshold(p, 0.9)
    flagged = p[p >= cut]
    assert flagged.mean() >= 0.9 and cut == 0.85
    assert expected_precision_threshold(p, 0.7) < cut  # a laxer target alerts more


def test_learned_alerting_from_simulated_customers_goes_into_the_config() -> None:
    true = BgNbdParams(0.6, 8.0, 0.8, 1.3, modified=True)
    stats = simulate_stats(true, 4000, 40.0, seed=5)
    rec = fit_population(stats, "2026-01-01T00:00:00Z")
    values = np.random.default_rng(1).gamma(2.0, 2500.0, len(stats))
    alerting = learn_alerting(rec, stats, 270.0, values)
    assert 0.0 < alerting["alert_at"] < 1.0 and alerting["horizon_days"] == 270.0
    medium, high, critical = alerting["value_bands_minor"]
    assert 0 < medium < high < critical
    cfg = config_with_record(load_config(), rec.to_dict() | {"alerting": alerting})
    assert cfg.loss.alert_at == alerting["alert_at"]
    assert cfg.loss.value_high_from == high
    # the cut is a loss probability of these customers' own predictions
    h = 270.0 / rec.time_unit_days
    p = [
        p_no_purchase(rec.nbd, x, t, T, h)
        for x, t, T in zip(stats.x, stats.t_x, stats.T, strict=True)
    ]
    flagged = np.array(p)[np.array(p) >= alerting["alert_at"]]
    assert len(flagged) > 0 and flagged.mean() >= 0.85
