"""The model's loss outlook: from the state it already keeps, by the backtested formulas, with
parameters a fit publishes."""

from __future__ import annotations

import json

import pytest

from streams.btyd import BgNbdParams, p_no_purchase
from streams.config import config_from_mapping
from streams.errors import ConfigError
from streams.fitting import fit_population
from streams.fitting.synthetic import simulate_stats
from streams.model import ModelConfig, config_with_record, loss_outlook, new_state, snapshot
from streams.model.loss import params_of
from tests.unit.model.conftest import DAY, T0, run, weekly_buyer


def test_no_outlook_before_a_purchase(cfg: ModelConfig) -> None:
    assert loss_outlook(new_state("c", T0), T0, cfg) is None
    snap = snapshot(new_state("c", T0), T0, cfg)
    assert (snap.p_loss, snap.p_alive, snap.expected_value_minor) == (None, None, None)
    assert snap.params_version == "packaged-defaults"


def test_the_snapshot_shows_the_outlook_and_its_parameter_version(cfg: ModelConfig) -> None:
    state, _ = run(weekly_buyer(8), cfg)
    last = T0 + 7 * 7 * DAY
    soon, late = snapshot(state, last + 7 * DAY, cfg), snapshot(state, last + 120 * DAY, cfg)
    outlook = loss_outlook(state, last + 120 * DAY, cfg)
    from streams.model.risk import assess

    judged = assess(state, last + 120 * DAY, cfg).p_loss  # as the churn alert judges it
    assert outlook is not None and judged is not None
    assert late.p_loss == pytest.approx(judged, abs=1e-6) and judged >= outlook.p_loss
    assert soon.p_loss is not None and late.p_loss is not None and soon.p_loss < late.p_loss
    assert soon.p_alive is not None and late.p_alive is not None and late.p_alive < soon.p_alive
    assert late.expected_value_minor == outlook.expected_value_minor > 0
    true = BgNbdParams(0.6, 8.0, 0.8, 1.3, modified=True)
    rec = fit_population(simulate_stats(true, 3000, 40.0, seed=4), "2026-01-01T00:00:00Z")
    fitted = config_with_record(cfg, rec.to_dict())
    assert snapshot(state, last + 120 * DAY, fitted).params_version == rec.version


def test_silence_raises_the_loss_probability_and_lowers_value(cfg: ModelConfig) -> None:
    state, _ = run(weekly_buyer(8), cfg)
    last = T0 + 7 * 7 * DAY
    soon = loss_outlook(state, last + 7 * DAY, cfg)
    late = loss_outlook(state, last + 120 * DAY, cfg)
    assert soon is not None and late is not None
    assert soon.p_loss < 0.2 < 0.5 < late.p_loss
    assert late.p_alive < soon.p_alive
    assert late.expected_value_minor < soon.expected_value_minor
    # the same number the backtest scores, from the state's x, t_x, T in weeks
    same = p_no_purchase(params_of(cfg), 7.0, 7.0, 7.0 + 120 / 7, cfg.loss.horizon_days / 7)
    assert late.p_loss == pytest.approx(same, rel=1e-12)


def test_one_time_buyer_has_a_loss_probability_too(cfg: ModelConfig) -> None:
    state, _ = run(weekly_buyer(1), cfg)
    early, later = loss_outlook(state, T0 + DAY, cfg), loss_outlook(state, T0 + 200 * DAY, cfg)
    assert early is not None and later is not None
    assert 0.0 < early.p_loss < later.p_loss < 1.0


def test_a_fitted_record_replaces_the_cold_start_parameters(cfg: ModelConfig) -> None:
    true = BgNbdParams(0.6, 8.0, 0.8, 1.3, modified=True)
    rec = fit_population(simulate_stats(true, 5000, 40.0, seed=2), "2026-01-01T00:00:00Z")
    fitted = config_with_record(cfg, json.loads(json.dumps(rec.to_dict())))
    assert params_of(fitted) == rec.nbd
    state, _ = run(weekly_buyer(3), cfg)
    now = T0 + 200 * DAY
    a, b = loss_outlook(state, now, cfg), loss_outlook(state, now, fitted)
    assert a is not None and b is not None and a.p_loss != b.p_loss
    # a record fitted in days is converted to the model's weeks
    in_days = {
        **rec.to_dict(),
        "time_unit_days": 1.0,
        "params": {**rec.params, "alpha": rec.params["alpha"] * 7},
    }
    assert config_with_record(cfg, in_days).p_alive.alpha == pytest.approx(rec.params["alpha"])


def test_loss_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"loss\.dormant"):
        config_from_mapping({"loss": {"dormant": 2.0}})
    with pytest.raises(ConfigError, match=r"loss\.horizon_days"):
        config_from_mapping({"loss": {"horizon_days": 0.0}})
    with pytest.raises(ConfigError, match=r"loss\.params_version"):
        config_from_mapping({"loss": {"params_version": ""}})
    assert config_from_mapping({"loss": {"params_version": "v7"}}).loss.params_version == "v7"


def test_trouble_raises_the_loss_probability_boundedly_and_only_when_present(
    cfg: ModelConfig,
) -> None:
    from streams.domain import TicketAction
    from streams.model.risk import assess
    from tests.unit.model.conftest import HOUR, ticket

    state, _ = run(weekly_buyer(6), cfg)
    t = T0 + 40 * DAY
    calm = assess(state, t, cfg)
    assert calm.hazard == 1.0 and calm.p_loss == calm.p_loss_purchases  # the backtested number
    trouble = [
        ticket(t - 3 * HOUR, 1, "T1", TicketAction.OPENED, sla=t - 2 * HOUR),
        ticket(t - 2 * HOUR, 2, "T1", TicketAction.ESCALATED),
        ticket(t - HOUR, 3, "T1", TicketAction.REOPENED),
    ]
    troubled, _ = run(trouble, cfg, state)
    m = assess(troubled, t, cfg)
    assert m.p_loss_purchases == pytest.approx(calm.p_loss_purchases)
    assert 1.0 < m.hazard <= cfg.loss.hazard_max
    assert m.p_loss is not None and calm.p_loss is not None and m.p_loss > calm.p_loss
    base = calm.p_loss
    assert m.p_loss == pytest.approx(1 - (1 - base) ** m.hazard)
    assert m.p_loss <= 1 - (1 - base) ** cfg.loss.hazard_max


def test_a_record_with_alerting_sets_the_cut_bands_and_horizon(cfg: ModelConfig) -> None:
    true = BgNbdParams(0.6, 8.0, 0.8, 1.3, modified=True)
    rec = fit_population(simulate_stats(true, 2000, 40.0, seed=3), "2026-01-01T00:00:00Z")
    d = rec.to_dict() | {
        "alerting": {
            "alert_at": 0.66,
            "horizon_days": 120.0,
            "value_bands_minor": [500.0, 2000.0, 9000.0],
        }
    }
    fitted = config_with_record(cfg, d)
    lc = fitted.loss
    assert (lc.alert_at, lc.horizon_days) == (0.66, 120.0)
    assert (lc.value_medium_from, lc.value_high_from, lc.value_critical_from) == (500, 2000, 9000)
    assert 0 <= lc.close_margin < lc.alert_at


def test_a_record_sets_the_population_gap_that_silence_is_measured_against(
    cfg: ModelConfig,
) -> None:
    """A one-time buyer is overdue against the fitted population's median gap, not a default."""
    from streams.model.risk import assess

    true = BgNbdParams(0.6, 8.0, 0.8, 1.3, modified=True)
    rec = fit_population(simulate_stats(true, 2000, 40.0, seed=3), "2026-01-01T00:00:00Z")
    assert rec.default_gap_days is not None and rec.default_gap_days < cfg.rhythm.default_gap_days
    fitted = config_with_record(cfg, rec.to_dict())
    assert fitted.rhythm.default_gap_days == pytest.approx(rec.default_gap_days)
    state, _ = run(weekly_buyer(1), cfg)
    now = T0 + 60 * DAY
    before, after = assess(state, now, cfg), assess(state, now, fitted)
    assert before.gap_days == cfg.rhythm.default_gap_days
    assert after.gap_days == pytest.approx(rec.default_gap_days)
    assert after.overdue is not None and before.overdue is not None
    assert after.overdue > before.overdue
    no_gap = config_with_record(cfg, rec.to_dict() | {"default_gap_days": None})
    assert no_gap.rhythm == cfg.rhythm, "an older record without one keeps the configured gap"
