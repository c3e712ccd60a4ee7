"""The running pipeline publishes exactly what the pure model decides, in the same order."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streams.domain import AlertType, Event
from streams.model import load_config
from streams.topics import Topics
from tests.e2e.harness import (
    Worker,
    alert_actions,
    api_state,
    jsonable_state,
    produce,
    read_outputs,
    reference_run,
)

pytestmark = pytest.mark.e2e


def test_live_alerts_equal_the_pure_model_and_the_api_explains_them(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
    redis_url: str,
) -> None:
    worker = make_worker(redis_url=redis_url).start()
    produce(kafka_bootstrap, topics, scenario)
    published = read_outputs(kafka_bootstrap, topics)

    expected = reference_run(scenario, load_config())
    expected_alerts = alert_actions(a for alerts in expected.alerts.values() for a in alerts)
    assert {a.type for alerts in expected.alerts.values() for a in alerts} == set(AlertType)
    assert alert_actions(published.alerts) == expected_alerts

    # Every customer got a health snapshot; the HTTP API shows the model's state and explains
    # health with its contributions.
    assert set(published.snapshots) == set(expected.states)
    customer_id = next(iter(expected_alerts))
    body = api_state(worker, customer_id)
    assert body["state"] == jsonable_state(expected.states[customer_id])
    health = body["health"]
    assert isinstance(health, dict) and health["contributions"]
    assert 0 <= health["health"] <= 100
