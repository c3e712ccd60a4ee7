"""BTYD per-customer formulas: bounds, the monotonicity theory predicts, published CDNOW figures."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.btyd import (
    BgNbdParams,
    GammaGammaParams,
    expected_purchases,
    expected_spend,
    hyp2f1,
    log_likelihood,
    p_alive,
    p_no_purchase,
)

CDNOW = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie & Lee (2005)
CDNOW_M = BgNbdParams(r=0.525, alpha=6.183, a=0.891, b=1.614, modified=True)

positive = st.floats(min_value=0.05, max_value=20.0)
params = st.builds(
    BgNbdParams,
    positive,
    positive,
    positive,
    positive,
    st.booleans(),
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1.0)),
)
history = st.tuples(
    st.integers(min_value=0, max_value=60),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.01, max_value=200.0),
).map(lambda h: (float(h[0]), h[1] * h[2] if h[0] > 0 else 0.0, h[2]))


def test_cdnow_published_conditional_expectation_and_likelihood() -> None:
    # FHL 2005: customer with x=2, t_x=30.43, T=38.86 expects 1.226 purchases in 39 weeks.
    assert expected_purchases(CDNOW, 2, 30.43, 38.86, 39) == pytest.approx(1.226, abs=1e-3)
    # the paper's p_alive for that customer and the fitted log-likelihood of one record
    assert 0.72 < p_alive(CDNOW, 2, 30.43, 38.86) < 0.73
    assert math.isfinite(log_likelihood(CDNOW, 0, 0, 38.86))


@given(params, history, st.floats(min_value=0.1, max_value=100.0))
def test_probabilities_are_probabilities(
    p: BgNbdParams, h: tuple[float, float, float], H: float
) -> None:
    x, t_x, T = h
    assert 0.0 <= p_alive(p, x, t_x, T) <= 1.0
    assert 0.0 <= p_no_purchase(p, x, t_x, T, H) <= 1.0
    if x == 0:  # P(no repeat purchase by T) is a probability (for x > 0 it is a density in t_x)
        assert log_likelihood(p, x, t_x, T) <= 1e-12


@given(
    params,
    history,
    st.floats(min_value=0.1, max_value=50.0),
    st.floats(min_value=0.1, max_value=50.0),
)
def test_longer_silence_means_higher_loss(
    p: BgNbdParams, h: tuple[float, float, float], extra: float, H: float
) -> None:
    x, t_x, T = h
    # ageing with no purchase: P(alive) falls, loss probability rises
    assert p_alive(p, x, t_x, T + extra) <= p_alive(p, x, t_x, T) + 1e-12
    assert p_no_purchase(p, x, t_x, T + extra, H) >= p_no_purchase(p, x, t_x, T, H) - 1e-12


@given(params, history, st.floats(min_value=0.1, max_value=50.0))
def test_more_recent_last_purchase_means_lower_loss(
    p: BgNbdParams, h: tuple[float, float, float], H: float
) -> None:
    x, t_x, T = h
    if x == 0:
        return
    later = t_x + 0.5 * (T - t_x)
    assert p_no_purchase(p, x, later, T, H) <= p_no_purchase(p, x, t_x, T, H) + 1e-12


@given(
    params,
    history,
    st.floats(min_value=0.1, max_value=50.0),
    st.floats(min_value=0.1, max_value=50.0),
)
def test_loss_probability_grows_with_horizon_yet_expected_purchases_too(
    p: BgNbdParams, h: tuple[float, float, float], H: float, more: float
) -> None:
    x, t_x, T = h
    assert p_no_purchase(p, x, t_x, T, H + more) <= p_no_purchase(p, x, t_x, T, H) + 1e-12
    assert expected_purchases(p, x, t_x, T, H + more) >= expected_purchases(p, x, t_x, T, H) - 1e-9


def test_one_time_buyers_are_alive_under_bgnbd_but_not_under_mbgnbd() -> None:
    assert p_alive(CDNOW, 0, 0, 30) == 1.0
    assert p_alive(CDNOW_M, 0, 0, 30) < p_alive(CDNOW_M, 0, 0, 1) < 1.0
    # yet both see a one-time buyer as more likely lost the longer ago the purchase
    assert p_no_purchase(CDNOW, 0, 0, 60, 39) > p_no_purchase(CDNOW, 0, 0, 5, 39)


def test_hyp2f1_matches_closed_forms() -> None:
    # 2F1(1, 1; 2; z) = -ln(1-z)/z and 2F1(a, b; b; z) = (1-z)^-a
    assert hyp2f1(1, 1, 2, 0.5) == pytest.approx(-math.log(0.5) / 0.5, rel=1e-10)
    assert hyp2f1(1.5, 2.0, 2.0, 0.3) == pytest.approx(0.7**-1.5, rel=1e-10)
    with pytest.raises(ValueError):
        hyp2f1(1, 1, 2, 1.0)


def test_gamma_gamma_shrinks_towards_population_mean() -> None:
    g = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)  # FHL CDNOW spend fit
    assert expected_spend(g, 0, 0.0) == pytest.approx(g.population_mean)
    few, many = expected_spend(g, 1, 100.0), expected_spend(g, 50, 100.0)
    assert g.population_mean < few < many < 100.0


@given(params, history, st.floats(min_value=0.1, max_value=50.0))
def test_dormancy_only_lowers_the_loss_probability(
    p: BgNbdParams, h: tuple[float, float, float], H: float
) -> None:
    x, t_x, T = h
    published = BgNbdParams(p.r, p.alpha, p.a, p.b, p.modified)
    assert p_no_purchase(p, x, t_x, T, H) <= p_no_purchase(published, x, t_x, T, H) + 1e-12
    assert expected_purchases(p, x, t_x, T, H) >= expected_purchases(published, x, t_x, T, H) - 1e-9
