"""The shared producer wrapper: routing, delivery accounting, back-pressure and pacing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from agents.cli.producing import (
    EventProducer,
    RateLimiter,
    producer_from_settings,
)
from agents.settings import PRODUCER_DEFAULTS, KafkaSettings, Settings
from streams.contracts import CONTENT_TYPE_HEADER, JSON, Decoded, decode_event
from streams.domain import Event
from streams.errors import ConfigError, ContractError
from streams.topics import Topics
from tests.unit.contracts import samples

Callback = Callable[[Any, Any], None]


class FakeProducer:
    """Records produce calls; delivery reports are released by ``flush``/``poll``."""

    def __init__(self, full_times: int = 0, fail_with: KafkaError | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.pending: list[Callback] = []
        self.full_times = full_times
        self.fail_with = fail_with
        self.polls: list[float] = []
        self.keep_undelivered = 0

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: Any,
        on_delivery: Callback,
        timestamp: int = 0,
    ) -> None:
        if self.full_times:
            self.full_times -= 1
            raise BufferError("queue full")
        message = {"topic": topic, "key": key, "value": value, "headers": headers}
        self.messages.append({**message, "timestamp": timestamp})
        self.pending.append(on_delivery)

    def poll(self, timeout: float) -> int:
        self.polls.append(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        deliver = self.pending[: len(self.pending) - self.keep_undelivered]
        self.pending = self.pending[len(deliver) :]
        for callback in deliver:
            callback(self.fail_with, None)
        return len(self.pending)


def make(fake: FakeProducer, fmt: str = JSON) -> EventProducer:
    return EventProducer(KafkaSettings(), Topics("p."), fmt, producer=fake)


def test_java_compatible_partitioner_and_idempotence_are_pinned() -> None:
    assert PRODUCER_DEFAULTS["partitioner"] == "murmur2_random"
    assert PRODUCER_DEFAULTS["enable.idempotence"] is True


def test_each_kind_goes_to_its_prefixed_topic_keyed_by_customer() -> None:
    fake = FakeProducer()
    producer = make(fake)
    events: list[Event] = [
        samples.purchase(),
        samples.ticket(),
        samples.feedback(),
        samples.profile(),
    ]
    kinds = [producer.send(e) for e in events]
    assert kinds == ["purchases", "tickets", "feedback", "profiles"]
    assert [m["topic"] for m in fake.messages] == [
        "p.purchases",
        "p.support-tickets",
        "p.feedback",
        "p.customer-profiles",
    ]
    for message, kind in zip(fake.messages, kinds, strict=True):
        assert message["key"] == b"cust-1"
        assert (CONTENT_TYPE_HEADER, JSON.encode()) in message["headers"]
        decoded = decode_event(
            kind, message["key"], message["value"], message["headers"], now=samples.NOW
        )
        assert not hasattr(decoded, "reason"), decoded


def test_record_timestamp_is_the_event_time() -> None:
    """The one rule (docs/contracts.md): merge order, the worker's window and retention."""
    fake = FakeProducer()
    producer = make(fake)
    old = samples.purchase(occurred_at=samples.NOW - 400 * 86_400.5)
    for event in (samples.purchase(), old, samples.ticket()):
        producer.send(event)
    assert [m["timestamp"] for m in fake.messages] == [
        round(e.occurred_at * 1000) for e in (samples.purchase(), old, samples.ticket())
    ]
    for message in fake.messages:  # what the worker then sees: decoded against that timestamp
        result = decode_event(
            "purchases" if message["topic"] == "p.purchases" else "tickets",
            message["key"],
            message["value"],
            message["headers"],
            now=samples.NOW + 10 * 365 * 86_400,
            record_time=message["timestamp"] / 1000,
        )
        assert isinstance(result, Decoded), result
    with pytest.raises(ContractError):
        producer.send_encoded("purchases", b"k", b"v", [], 0)  # "now" would break the rule


def test_delivery_report_counts_successes_and_failures_by_kind() -> None:
    fake = FakeProducer()
    producer = make(fake)
    producer.send(samples.purchase())
    producer.send(samples.purchase(event_id="p-2"))
    report = producer.flush(1.0)
    assert report.sent["purchases"] == 2 and report.delivered["purchases"] == 2
    assert report.total_failed == 0 and report.pending == 0

    failing = FakeProducer(fail_with=KafkaError(KafkaError._MSG_TIMED_OUT))
    producer = make(failing)
    producer.send(samples.ticket())
    report = producer.flush(1.0)
    assert report.failed["tickets"] == 1
    assert report.errors == {"Local: Message timed out": 1}


def test_messages_still_queued_after_flush_count_as_failed() -> None:
    fake = FakeProducer()
    fake.keep_undelivered = 2
    producer = make(fake)
    for i in range(3):
        producer.send(samples.feedback(event_id=f"f-{i}"))
    report = producer.flush(0.5)
    assert report.delivered["feedback"] == 1
    assert report.timed_out == 2 and report.total_failed == 2
    assert report.as_dict()["errors"] == {"not acknowledged within 0.5s": 2}


def test_a_full_local_queue_is_drained_and_retried_not_dropped() -> None:
    fake = FakeProducer(full_times=3)
    producer = make(fake)
    producer.send(samples.purchase())
    assert len(fake.messages) == 1
    assert fake.polls.count(0.1) == 3
    assert producer.report.sent["purchases"] == 1


def test_rate_limiter_spaces_calls_on_a_fixed_schedule() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.acquire()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    now[0] += 2.0  # a stall: the schedule lets the backlog through without sleeping
    limiter.acquire()
    assert len(slept) == 4


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_confluent_format_needs_a_registry() -> None:
    with pytest.raises(ConfigError, match="schema-registry-url"):
        producer_from_settings(Settings(), "confluent")
