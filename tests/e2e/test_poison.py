"""Hostile records on a real broker: every one is dead-lettered with its reason, no customer
loses an event, and the worker stays healthy (regressions of issue 13's findings)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from streams.contracts import encode_event, record_timestamp
from streams.domain import Event, Purchase
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
    same_state,
    without_repeats,
)

pytestmark = pytest.mark.e2e

MB = 1_000_000
ID_CHARS = 320_000  # key, value and ce_subject each carry it: ~1 MB, what the broker takes
DAY = 86_400.0


def hostile_records(
    victim: Purchase, late_for: Purchase
) -> list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]], float, str]]:
    """(name, key, value, headers, record time, expected reason) for each poison kind."""
    at = victim.occurred_at

    def poisoned(name: str, reason: str, **changes: object) -> tuple:  # type: ignore[type-arg]
        event = dataclasses.replace(victim, event_id=f"poison-{name}", **changes)
        key, value, headers = encode_event(event)
        return name, key, value, headers, at, reason

    avro = [("content-type", b"application/vnd.cxstream.avro-single-object")]
    late_key, late_value, late_headers = encode_event(
        dataclasses.replace(
            late_for, event_id="poison-late", occurred_at=late_for.occurred_at - 5 * DAY
        )
    )
    null_key = encode_event(dataclasses.replace(victim, event_id="poison-null-key"))
    return [
        poisoned("long-max", "amount_out_of_range", amount_minor=2**63 - 1),
        poisoned("huge-amount", "amount_out_of_range", amount_minor=760_000_000_000_000_000),
        poisoned("seconds", "event_time_out_of_range", occurred_at=at / 1000),
        poisoned("1970", "event_time_out_of_range", occurred_at=40 * DAY),
        poisoned("big-id", "identifier_too_long", customer_id="x" * ID_CHARS),
        ("null-key", None, null_key[1], null_key[2], at, "missing_key"),
        ("mb-junk", victim.customer_id.encode(), b"\x00" * MB, avro, at, "undecodable"),
        ("late", late_key, late_value, late_headers, late_for.occurred_at + DAY, "late_event"),
    ]


def dead_letters(bootstrap: str, topics: Topics, expected: int) -> dict[str, dict[str, bytes]]:
    """Dead letters by the event id in their value (or by source offset), with headers."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"dlq-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "fetch.message.max.bytes": 2 * MB,
        }
    )
    consumer.subscribe([topics.dead_letter])
    found: dict[str, dict[str, bytes]] = {}
    deadline = time.monotonic() + 60
    while len(found) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(10, 0.5):
            if msg.error():
                continue
            headers = {k: v or b"" for k, v in msg.headers() or []}
            assert len(msg.value() or b"") + len(msg.key() or b"") <= MB
            found[headers["dlq.source.offset"].decode() + headers["dlq.source.topic"].decode()] = {
                **headers,
                "value": msg.value() or b"",
            }
    consumer.close()
    return found


def test_poison_records_are_dead_lettered_and_cost_no_customer_an_event(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
) -> None:
    purchases = [e for e in scenario if isinstance(e, Purchase)]
    victim, late_for = purchases[len(purchases) // 2], purchases[-1]
    hostile = hostile_records(victim, late_for)
    half = len(scenario) // 2
    produce(kafka_bootstrap, topics, scenario[:half])
    producer = Producer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "partitioner": "murmur2_random",
            "message.max.bytes": 2 * MB,
        }
    )
    offsets: dict[str, str] = {}

    def send(name: str, key: bytes | None, value: bytes, headers: list, ts: float) -> None:  # type: ignore[type-arg]
        def on_delivery(err: object, msg: object) -> None:
            assert err is None, err
            offsets[name] = f"{msg.offset()}{msg.topic()}"  # type: ignore[attr-defined]

        producer.produce(
            topics.purchases,
            value,
            key,
            headers=headers,
            timestamp=record_timestamp(ts),
            on_delivery=on_delivery,
        )
        assert producer.flush(30) == 0  # one record per batch: the broker takes ~1 MB a batch

    for name, key, value, headers, ts, _ in hostile[:-1]:
        send(name, key, value, headers, ts)
    produce(kafka_bootstrap, topics, scenario[half:])
    send(*hostile[-1][:5])  # the late event: published after the customer's newer events

    worker = make_worker().start()
    published = read_outputs(kafka_bootstrap, topics)
    found = dead_letters(kafka_bootstrap, topics, len(hostile))

    reasons = {name: found[offsets[name]]["dlq.reason"].decode() for name, *_ in hostile}
    assert reasons == {name: reason for name, *_, reason in hostile}
    junk = found[offsets["mb-junk"]]
    assert junk["dlq.original.size"] == str(MB).encode() and junk["dlq.original.sha256"]
    assert found[offsets["big-id"]]["dlq.truncated"] == b"true"

    expected = reference_run(scenario, load_config())
    assert without_repeats(alert_actions(published.alerts)) == alert_actions(
        a for alerts in expected.alerts.values() for a in alerts
    )
    assert set(published.snapshots) == set(expected.states)
    for customer_id in expected.states:  # every customer, the victims included
        same_state(
            api_state(worker, customer_id)["state"], jsonable_state(expected.states[customer_id])
        )
    assert metric(worker, "cxstream_agent_failures_total") == 0
    assert metric(worker, "cxstream_dead_letters_total", 'reason="late_event"') == 1
