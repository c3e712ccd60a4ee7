"""The running pipeline publishes exactly what the pure model decides, in the same order."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from agents.settings import KafkaSettings
from streams.compiled_model import ENV, OFF, build_problem
from streams.contracts import record_timestamp
from streams.domain import AlertType, Event
from streams.model import load_config
from streams.topics import Topics
from tests.e2e.harness import (
    Worker,
    alert_actions,
    api_state,
    jsonable_state,
    metric,
    produce,
    read_outputs,
    reference_run,
)

pytestmark = pytest.mark.e2e

MALFORMED = [
    (b"c0000001", b"\x00not avro", [("content-type", b"application/x-unknown")]),
    (b"c0000002", b'{"event_id": "x"}', [("content-type", b"application/json")]),
]


def produce_malformed(bootstrap: str, topics: Topics, at: float) -> dict[bytes, tuple[bytes, str]]:
    """Bad records stamped like their neighbours (record timestamp = event time ``at``)."""
    producer = Producer(KafkaSettings(bootstrap).producer())
    for key, value, headers in MALFORMED:
        producer.produce(
            topics.purchases, value, key, headers=headers, timestamp=record_timestamp(at)
        )
    assert producer.flush(10) == 0
    return {key: (value, topics.purchases) for key, value, _ in MALFORMED}


def dead_letters(bootstrap: str, topics: Topics) -> dict[bytes, tuple[bytes, str]]:
    """Dead letters by key: original value and the source topic named in their headers."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-{time.time_ns()}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.dead_letter])
    found: dict[bytes, tuple[bytes, str]] = {}
    deadline = time.monotonic() + 30
    while len(found) < len(MALFORMED) and time.monotonic() < deadline:
        for msg in consumer.consume(10, 0.5):
            if msg.error():
                continue
            headers = dict(msg.headers() or [])
            assert headers["dlq.reason"] and headers["dlq.detail"]
            found[msg.key()] = (msg.value(), headers["dlq.source.topic"].decode())
    consumer.close()
    return found


def test_live_alerts_equal_the_pure_model_and_the_api_explains_them(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
    redis_url: str,
) -> None:
    half = len(scenario) // 2
    produce(kafka_bootstrap, topics, scenario[:half])
    # bad input mid-stream changes nothing
    bad = produce_malformed(kafka_bootstrap, topics, scenario[half - 1].occurred_at)
    produce(kafka_bootstrap, topics, scenario[half:])
    worker = make_worker(redis_url=redis_url).start()  # see test_faults on why after
    published = read_outputs(kafka_bootstrap, topics)
    assert dead_letters(kafka_bootstrap, topics) == bad
    # The worker runs the compiled build whenever setup made a current one (the reference
    # below is this process's Python source), and says which on /metrics.
    compiled = not build_problem() and os.environ.get(ENV, "").strip().lower() not in OFF
    assert metric(worker, "cxstream_model_compiled") == (1.0 if compiled else 0.0)

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
