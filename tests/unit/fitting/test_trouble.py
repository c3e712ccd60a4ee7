"""Trouble signals' effect on the loss hazard is learned from who left: a signal that drives
customers away gets a large effect, one that does not gets none, and the model applies what
was learned only when the signal is present."""

from __future__ import annotations

import numpy as np
import pytest

from streams.fitting.trouble import adjusted_loss, fit_trouble, hinges, knots_of
from streams.model import config_with_record, load_config
from streams.model.loss import adjust

CODES = ("ticket_trouble", "poor_feedback", "refunds")


def _world(seed: int, n: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchase-only loss p; ticket trouble drives a customer away with probability
    1 - exp(-4 c); poor feedback is noise; refunds never occur."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.6, n)
    c = np.zeros((n, 3))
    has = rng.random(n) < 0.3
    c[has, 0] = rng.uniform(0.05, 0.65, has.sum())
    noisy = rng.random(n) < 0.3
    c[noisy, 1] = rng.uniform(0.05, 0.3, noisy.sum())
    true = 1 - (1 - p) * np.exp(-4.0 * c[:, 0])
    return p, c, rng.random(n) < true


def test_a_signal_that_drives_customers_away_is_learned_and_noise_is_not() -> None:
    p, c, lost = _world(1)
    fit = fit_trouble(p, c, lost, CODES)
    assert set(fit["multiplier"]) == {"ticket_trouble", "poor_feedback"}  # refunds: never seen
    assert fit["present"]["refunds"] == 0
    assert fit["log_likelihood"] > fit["base_log_likelihood"] + 100
    knots = [knots_of(c[:, j]) for j in (0, 1)]
    for code, j in (("ticket_trouble", 0), ("poor_feedback", 1)):
        assert fit["knots"][code] == knots[j] and knots[j][0] == 0.0
    w = np.concatenate([fit["multiplier"][k] for k in ("ticket_trouble", "poor_feedback")])
    v = np.concatenate([fit["excess"][k] for k in ("ticket_trouble", "poor_feedback")])
    # on fresh customers the learned effect predicts the truth's loss rate for trouble
    p2, c2, lost2 = _world(2)
    q = adjusted_loss(p2, hinges(c2[:, :2], knots), w, v, hazard_max=50.0)
    strong = c2[:, 0] > 0.4
    assert abs(q[strong].mean() - lost2[strong].mean()) < 0.05
    quiet = (c2[:, 0] == 0) & (c2[:, 1] > 0)  # noise only: barely moved
    assert abs(q[quiet].mean() - p2[quiet].mean()) < 0.03


def test_the_model_applies_learned_effects_only_when_a_signal_is_present() -> None:
    cfg = load_config()
    p, c, lost = _world(3)
    trouble = fit_trouble(p, c, lost, CODES)
    record = {
        "schema": 1,
        "version": "t-1",
        "segment": "all",
        "model": "bgnbd",
        "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "trouble": trouble,
    }
    learned = config_with_record(cfg, record)
    codes = {code: (len(k), w, v) for code, k, w, v in learned.loss.trouble}
    assert codes["refunds"][1] == (cfg.loss.hazard_scale,)  # not learned: packaged multiplier
    assert adjust(0.1, (), learned) == (0.1, 1.0)  # nothing present: the purchase-only number
    lows = [adjust(0.1, (("ticket_trouble", x, 50.0),), learned)[0] for x in (0.1, 0.3, 0.6)]
    assert 0.1 <= lows[0] <= lows[1] <= lows[2] < 1.0  # monotone in the signal, bounded
    assert lows[2] > 0.8  # ticket trouble that drives customers away lifts a small p over a cut
    assert adjust(0.3, (("overdue", 0.5, 3.0),), learned) == (0.3, 1.0)  # silence: not trouble


def test_nothing_is_learned_without_any_signal() -> None:
    p = np.full(100, 0.3)
    fit = fit_trouble(p, np.zeros((100, 3)), np.zeros(100, dtype=bool), CODES)
    assert fit["multiplier"] == {} and fit["present"] == dict.fromkeys(CODES, 0)
    with pytest.raises(ValueError):
        fit_trouble(p, np.zeros((99, 3)), np.zeros(100, dtype=bool), CODES)
