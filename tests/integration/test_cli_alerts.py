"""``cxstream alerts`` on the real broker: follows the alert topic and filters what it prints."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from agents.cli.main import main
from streams.contracts import encode_alert
from streams.domain import AlertType, Priority
from streams.topics import Topics
from tests.unit.contracts import samples

pytestmark = pytest.mark.integration

ALERTS = [
    samples.alert(alert_id="low-churn", customer_id="c1", priority=Priority.LOW),
    samples.alert(alert_id="crit-churn", customer_id="c2", priority=Priority.CRITICAL),
    samples.alert(
        alert_id="high-referral",
        customer_id="c3",
        priority=Priority.HIGH,
        type=AlertType.REFERRAL_OPPORTUNITY,
    ),
    samples.alert(alert_id="high-churn", customer_id="c4", priority=Priority.HIGH),
]


@pytest.fixture
def published(topics: Topics, make_producer: Callable[..., Producer]) -> Topics:
    producer = make_producer()
    # Garbage first, on c4's partition: a reader that has shown all four alerts has read it.
    producer.produce(
        topics.alerts,
        value=b"not an alert",
        key=b"c4",
        headers=[("content-type", b"application/json")],
    )
    for alert in ALERTS:
        key, value, headers = encode_alert(alert)
        producer.produce(topics.alerts, value=value, key=key, headers=headers)
    assert producer.flush(10) == 0
    return topics


def argv(topics: Topics, bootstrap: str, *extra: str) -> list[str]:
    return [
        "alerts",
        "--from-beginning",
        "--timeout",
        "60",
        *extra,
        "--bootstrap-servers",
        bootstrap,
        "--topic-prefix",
        topics.prefix,
    ]


def test_filters_by_type_and_priority(
    published: Topics, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argv(
        published,
        kafka_bootstrap,
        "--type",
        "churn_risk",
        "--min-priority",
        "high",
        "--json",
        "--max",
        "2",
    )
    assert main(args) == 0
    captured = capsys.readouterr()
    shown = [json.loads(line) for line in captured.out.splitlines()]
    assert sorted(a["alert_id"] for a in shown) == ["crit-churn", "high-churn"]
    assert all(a["type"] == "churn_risk" for a in shown)


def test_prints_every_alert_for_people_and_skips_garbage(
    published: Topics, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv(published, kafka_bootstrap, "--max", "4")) == 0
    captured = capsys.readouterr()
    for alert in ALERTS:
        assert alert.customer_id in captured.out
    assert ALERTS[0].reasons[0].message in captured.out
    assert "undecodable" in captured.err


def test_referral_filter_and_timeout_stop(
    published: Topics, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argv(published, kafka_bootstrap, "--type", "referral_opportunity", "--json")
    args[args.index("--timeout") + 1] = "8"  # no --max: only the timeout ends it
    assert main(args) == 0
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["alert_id"] for a in shown] == ["high-referral"]
