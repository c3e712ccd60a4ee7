"""The running pipeline publishes exactly what the pure model decides, in the same order."""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from collections.abc import Callable

import pytest

from streams.domain import Alert, AlertType, Event
from streams.model import load_config
from streams.topics import Topics
from tests.e2e.harness import Worker, produce, read_outputs, reference_run

pytestmark = pytest.mark.e2e


def per_customer(alerts: list[Alert]) -> dict[str, list[tuple[str, str, int]]]:
    """Alert actions per customer in order; times in ms, as the alert schema carries them."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for a in alerts:
        out[a.customer_id].append((a.alert_id, a.action.value, round(a.occurred_at * 1000)))
    return dict(out)


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
    expected_alerts = per_customer([a for alerts in expected.values() for a in alerts])
    assert expected_alerts, "the scenario should raise alerts at all"
    assert {a.type for alerts in expected.values() for a in alerts} == set(AlertType)
    assert per_customer(published.alerts) == expected_alerts

    # Every customer got a health snapshot, and the HTTP API explains one with contributions.
    assert set(published.snapshots) == {e.customer_id for e in scenario}
    customer_id = next(iter(expected_alerts))
    with urllib.request.urlopen(f"{worker.url}/customers/{customer_id}", timeout=10) as resp:
        body = json.loads(resp.read())
    assert body["customer_id"] == customer_id
    assert body["health"]["contributions"], body
    assert 0 <= body["health"]["health"] <= 100
