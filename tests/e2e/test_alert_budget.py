"""The alert budget in a running worker: each CX team gets its K best churn openings per day."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from agents.sinks.side_consumer import message_headers
from streams.alert_notify import wants_notification
from streams.contracts import decode_alert
from streams.domain import Alert, AlertAction, AlertType
from streams.model.budget import admit_all
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import Worker, metric, produce
from tests.e2e.test_outputs import Recorder, eventually, webhook  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
K = 1


def read_alerts(bootstrap: str, topic: str, quiet: float = 4.0) -> list[tuple[Alert, bool]]:
    """(alert, wanted by the team) of every message on ``topic``, once it is quiet."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"b-{time.time_ns()}"}
        | {"auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    out: list[tuple[Alert, bool]] = []
    last_new = started = time.monotonic()
    try:
        while time.monotonic() - last_new < quiet and time.monotonic() - started < 120:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                last_new = time.monotonic()
                headers = message_headers(msg)
                alert = decode_alert(msg.value(), headers)
                assert isinstance(alert, Alert), alert
                out.append((alert, wants_notification(headers) is not False))
    finally:
        consumer.close()
    return out


def test_each_team_gets_its_best_churn_opening_per_day_and_only_those_are_posted(
    kafka_bootstrap: str,
    redis_url: str,
    topics: Topics,
    make_worker: Callable[..., Worker],
    webhook: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    config = tmp_path / "budget.toml"
    config.write_text(f"[loss]\nalert_budget_per_day = {K}\nalert_budget_grace_hours = 0\n")
    events = simulate(customers=200, days=240, seed=11).events
    worker = make_worker(redis_url=redis_url, webhook_url=webhook)  # Redis: delivery idempotency
    worker.extra_args = ["--config", str(config)]
    worker.start()
    produce(kafka_bootstrap, topics, events)

    alerts = read_alerts(kafka_bootstrap, topics.alerts)
    openings = [
        a
        for a, wanted in alerts
        if wanted and a.type is AlertType.CHURN_RISK and a.action is AlertAction.OPENED
    ]
    eventually(
        lambda: len(read_alerts(kafka_bootstrap, topics.alerts_admitted, quiet=1.0)) > 1,
        "the budget admitted nothing",
        limit=90,
    )
    admitted = [a for a, _ in read_alerts(kafka_bootstrap, topics.alerts_admitted)]
    per_day = Counter((a.cx_team, int(a.opened_at // 86400)) for a in admitted)
    assert max(per_day.values()) == K, per_day

    # Exactly what the pure budget admits from the model's openings, for every day decided so
    # far (the days the partitions' stream times have passed), whatever order they came in.
    decided = max(day for _, day in per_day)
    expected = admit_all(openings, K, (decided + 1) * 86400.0)
    assert sorted(a.alert_id for a in admitted) == sorted(c.alert_id for c in expected)
    assert len(expected) < len([o for o in openings if o.opened_at < (decided + 1) * 86400]), (
        "the budget must have held some openings back, or this test shows nothing"
    )
    assert metric(worker, "cxstream_alert_budget_total", 'outcome="late"') == 0
    assert metric(worker, "cxstream_alert_budget_total", 'outcome="admitted"') == len(admitted)

    # The team's chat gets the admitted churn openings (and referrals), never the others.
    eventually(
        lambda: {k for k, _ in Recorder.received} >= {f"{a.alert_id}:opened" for a in admitted},
        "the admitted openings were not all posted",
    )
    churn_ids = {o.alert_id for o in openings}
    posted_churn = {k.split(":")[0] for k, _ in Recorder.received} & churn_ids
    assert posted_churn == {a.alert_id for a in admitted}
