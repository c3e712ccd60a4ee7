"""The worker's parameter holder: cold-start warning and metric, latest record, pinning."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from agents.worker import metrics
from agents.worker.model_params import ModelParameters, decode_record
from streams.btyd import BgNbdParams
from streams.fitting import fit_population
from streams.fitting.synthetic import simulate_stats
from streams.model import ModelConfig, config_with_record, load_config, snapshot
from tests.unit.model.conftest import DAY, T0, run, weekly_buyer


def record(seed: int) -> dict[str, object]:
    stats = simulate_stats(BgNbdParams(0.6, 8.0, 0.8, 1.3), 1500, 40.0, seed=seed)
    return fit_population(stats, "2026-01-01T00:00:00+00:00").to_dict()


def default_gauge() -> float:
    return metrics.REGISTRY.get_sample_value("cxstream_model_parameters_default") or 0.0


def test_cold_start_warns_and_sets_the_metric_until_a_record_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[ModelConfig] = []
    params = ModelParameters(load_config())
    params.listeners.append(seen.append)
    assert params.is_default and default_gauge() == 1
    with caplog.at_level(logging.WARNING):
        params.caught_up()
    assert "packaged cold-start defaults in use" in caplog.text
    first, second = record(1), record(2)
    assert params.offer(first) and params.version == first["version"] and default_gauge() == 0
    assert params.config.loss.params_version == first["version"] and seen == [params.config]
    assert not params.offer(first)  # the same record again changes nothing
    other_fit = {**second, "segment": "2024Q1", "fitted_at": "2026-02-01T00:00:00+00:00"}
    assert not params.offer(other_fit)  # a segment of another fit is not used
    assert params.offer(second) and params.version == second["version"]  # the latest wins
    assert params.config.loss.segments == ()


def test_a_segment_record_of_the_same_fit_judges_that_segments_customers() -> None:
    params = ModelParameters(load_config())
    population, cohort = record(5), record(6)
    cohort = {**cohort, "segment": "2023Q4", "fitted_at": population["fitted_at"]}
    assert params.offer(population) and params.offer(cohort)
    assert params.version == population["version"]  # the population record stays in use
    cfg = params.config
    in_q4, _ = run(weekly_buyer(3), cfg)  # T0 is 2023-11-14
    in_q1, _ = run(weekly_buyer(3, start=T0 + 60 * DAY), cfg)
    now = T0 + 120 * DAY
    assert snapshot(in_q4, now, cfg).params_version == cohort["version"]
    assert snapshot(in_q1, now, cfg).params_version == population["version"]
    alone = config_with_record(load_config(), population)
    assert snapshot(in_q1, now, cfg).p_loss == snapshot(in_q1, now, alone).p_loss
    assert snapshot(in_q4, now, cfg).p_loss != snapshot(in_q4, now, alone).p_loss


def test_a_pinned_version_ignores_others_and_holds_processing_until_it_arrives() -> None:
    first, second = record(3), record(4)

    async def scenario() -> list[str]:
        params = ModelParameters(load_config(), pinned=str(first["version"]), startup_wait=0.01)
        params.caught_up()
        waiting = asyncio.ensure_future(params.ready())
        await asyncio.sleep(0.05)
        steps = ["waiting" if not waiting.done() else "ran"]
        assert not params.offer(second)
        assert params.offer(first)
        await asyncio.wait_for(waiting, 1)
        steps.append(params.version)
        return steps

    assert asyncio.run(scenario()) == ["waiting", first["version"]]


def test_unpinned_ready_waits_at_most_the_startup_wait() -> None:
    async def scenario() -> bool:
        params = ModelParameters(load_config(), startup_wait=0.05)
        await asyncio.wait_for(params.ready(), 1)
        return params.is_default

    assert asyncio.run(scenario())


def test_only_parameter_records_are_decoded() -> None:
    rec = record(5)
    assert decode_record(json.dumps(rec).encode()) == rec
    assert decode_record(b"not json") is None
    assert decode_record(b'{"a": 1}') is None and decode_record(None) is None
