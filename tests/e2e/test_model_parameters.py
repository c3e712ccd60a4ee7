"""Parameters learned live: fit -> record on the compacted topic -> worker judges with it."""

from __future__ import annotations

import csv
import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from streams.domain import Event, Purchase, PurchaseKind
from streams.model import config_with_record, load_config
from streams.topics import Topics
from tests.e2e.harness import (
    CLI,
    Worker,
    alert_actions,
    metric,
    produce,
    read_outputs,
    reference_run,
)

pytestmark = pytest.mark.e2e


def write_orders(events: list[Event], path: Path) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["customer_id", "occurred_at", "amount"])
        for e in events:
            if isinstance(e, Purchase) and e.kind is PurchaseKind.ORDER_PLACED:
                when = datetime.fromtimestamp(e.occurred_at, UTC).isoformat()
                out.writerow([e.customer_id, when, f"{e.amount_minor / 100:.2f}"])


def records_on_topic(bootstrap: str, topic: str) -> dict[bytes, dict[str, object]]:
    """The latest record per key, read from the beginning to the end of the topic."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"p-{time.time_ns()}",
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    found: dict[bytes, dict[str, object]] = {}
    deadline, at_end = time.monotonic() + 20, False
    while not at_end and time.monotonic() < deadline:
        for msg in consumer.consume(10, 0.5):
            if msg.error() is not None:
                at_end = at_end or msg.error().code() == KafkaError._PARTITION_EOF
            else:
                assert dict(msg.headers() or [])["content-type"] == b"application/json"
                found[msg.key()] = json.loads(msg.value())
    consumer.close()
    return found


def test_a_published_fit_is_what_the_worker_judges_with(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    orders, out = tmp_path / "orders.csv", tmp_path / "params.json"
    write_orders(scenario, orders)
    connect = ["--bootstrap-servers", kafka_bootstrap, "--topic-prefix", topics.prefix]
    fit = subprocess.run(
        [*CLI, "fit", str(orders), "--out", str(out), "--publish", *connect],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fit.returncode == 0, fit.stderr
    records = json.loads(out.read_text())
    record, segments = records["all"], [r for k, r in records.items() if k != "all"]
    version = record["version"]
    versions = {r["version"] for r in records.values()}  # segments judge their customers
    assert f"workers now judge with {version}" in " ".join(fit.stdout.split())
    assert record["alerting"]["alert_at"] > 0
    assert records_on_topic(kafka_bootstrap, topics.model_parameters)[b"all"] == record

    produce(kafka_bootstrap, topics, scenario)
    worker = make_worker()
    worker.extra_args = ["--params-version", version]
    worker.start()
    published = read_outputs(kafka_bootstrap, topics)
    assert metric(worker, "cxstream_model_parameters_default") == 0

    # Every alert and snapshot names the record; the alerts are the pure fold's with it.
    assert published.alerts
    assert version in {s.params_version for s in published.snapshots.values()}
    assert {a.params_version for a in published.alerts} <= versions
    assert {s.params_version for s in published.snapshots.values()} <= versions
    expected = reference_run(scenario, config_with_record(load_config(), record, segments))
    assert alert_actions(published.alerts) == alert_actions(
        a for alerts in expected.alerts.values() for a in alerts
    )
    packaged = reference_run(scenario, load_config())
    assert alert_actions(a for alerts in packaged.alerts.values() for a in alerts) != (
        alert_actions(published.alerts)
    ), "the fitted parameters must change something, or this test shows nothing"

    # The loop closes: a fit from the compacted health topic (the statistics the worker keeps)
    # publishes a new version for the workers, over every customer who bought.
    again = subprocess.run(
        [*CLI, "fit", "--from-health", "--out", str(tmp_path / "live.json"), "--publish", *connect],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    live = json.loads((tmp_path / "live.json").read_text())["all"]
    buyers = {e.customer_id for e in scenario if isinstance(e, Purchase)}
    assert live["n"] == len(buyers) and live["version"] != version
    assert records_on_topic(kafka_bootstrap, topics.model_parameters)[b"all"] == live
