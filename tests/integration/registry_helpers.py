"""Helpers of the schema-registry tests: events, framing by confluent-kafka, worker probes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from agents.settings import KafkaSettings
from schemas import SCHEMA_DIR, SCHEMA_FILES
from streams.contracts import CONFLUENT_AVRO, record_timestamp
from streams.contracts.mapping import event_to_record
from streams.domain import Channel, Purchase, PurchaseKind, TicketAction, TicketEvent
from streams.domain import TicketPriority as Priority
from streams.topics import Topics
from tests.e2e.harness import Worker, customer_body, metric

BASE = 1_714_521_600.0  # 2024-05-01 UTC; every event within two days: no lateness, no ticks


def schemas_dir(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the package's schemas with the purchase schema changed by ``change``."""
    for name in SCHEMA_FILES.values():
        (tmp_path / name).write_text((SCHEMA_DIR / name).read_text())
    purchase = json.loads((SCHEMA_DIR / "purchase.avsc").read_text())
    change(purchase)
    (tmp_path / "purchase.avsc").write_text(json.dumps(purchase, indent=2))
    return tmp_path


def purchase(customer: str, n: int) -> Purchase:
    return Purchase(
        f"{customer}-p{n}", "/shop", customer, BASE + 3600 * n, PurchaseKind.ORDER_PLACED,
        f"o{n}", 1000 * n, "EUR", Channel.WEB, n,
    )  # fmt: skip


def ticket(customer: str, n: int) -> TicketEvent:
    return TicketEvent(
        f"{customer}-t{n}", "/desk", customer, BASE + 3600 * n, TicketAction.OPENED, f"k{n}",
        Priority.HIGH, "billing", Channel.EMAIL,
    )  # fmt: skip


def produce(bootstrap: str, topic: str, framed: list[tuple[str, float, bytes]]) -> None:
    """Registry-framed values as another service sends them: keyed, stamped, murmur2."""
    producer = Producer(KafkaSettings(bootstrap).producer())
    for key, at, value in framed:
        headers = [("content-type", CONFLUENT_AVRO.encode())]
        producer.produce(
            topic, value, key.encode(), headers=headers, timestamp=record_timestamp(at)
        )
    assert producer.flush(30) == 0


def framed(
    serializer: AvroSerializer, topic: str, events: list[Any], **extra: Any
) -> list[tuple[str, float, bytes]]:
    """(key, event time, value) of each event, serialized by confluent-kafka's serializer."""
    out = []
    for event in events:
        record = {**event_to_record(event), **extra}
        value = serializer(record, SerializationContext(topic, MessageField.VALUE))
        assert isinstance(value, bytes) and value[0] == 0  # Confluent framing: magic byte 0
        out.append((event.customer_id, event.occurred_at, value))
    return out


def wait_for(what: str, check: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.3)


def customer_state(worker: Worker, customer: str) -> dict[str, Any] | None:
    """The worker's state of ``customer`` (its HTTP API), None while it has none (404)."""
    try:
        body = customer_body(worker, customer)
    except urllib.error.HTTPError:
        return None
    state: dict[str, Any] | None = body["state"] if body else None
    return state


def orders(worker: Worker, customer: str) -> int:
    state = customer_state(worker, customer)
    return int(state["purchases"]["orders"]) if state else 0


def folded(worker: Worker, customer: str, path: tuple[str, ...], want: object) -> bool:
    node: Any = customer_state(worker, customer)
    for key in path:
        node = node[key] if node else None
    return bool(node == want)


def healthz(worker: Worker) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{worker.url}/healthz", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:  # the worker's loop is busy asking the registry
        return 0, str(exc)


def no_dead_letters(worker: Worker, bootstrap: str, topics: Topics) -> None:
    assert metric(worker, "cxstream_dead_letters_total") == 0
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-probe"})
    try:
        low, high = probe.get_watermark_offsets(TopicPartition(topics.dead_letter, 0), 10)
    finally:
        probe.close()
    assert high == low, f"{high - low} records were dead-lettered"


def tickets(worker: Worker, customer: str) -> int:
    state = customer_state(worker, customer)
    return len(state["tickets"]) if state else 0
