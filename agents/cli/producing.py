"""Produce encoded input events to their topics, the way every cxstream producer must.

Keyed by customer id, partitioned with Java's murmur2 (``PRODUCER_DEFAULTS`` in
agents.settings, the one producer configuration), and stamped with the event time
(:func:`streams.contracts.record_timestamp`, the rule of docs/contracts.md "Record
timestamps", which the merge scheduler, the worker's event-time window and the retention
checks rely on). Used by ``cxstream simulate``, ``replay``, ``import`` and the demo.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, Producer

from agents.settings import KafkaSettings, Settings
from streams.contracts import (
    AVRO_SINGLE_OBJECT,
    CONFLUENT_AVRO,
    JSON,
    ConfluentRegistry,
    encode_event,
    record_timestamp,
)
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Event
from streams.errors import ConfigError, ContractError
from streams.topics import Topics

Headers = list[tuple[str, bytes]]


class ProducerLike(Protocol):
    """The part of ``confluent_kafka.Producer`` used here (a fake in unit tests)."""

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes,
        headers: Headers,
        on_delivery: Callable[[Any, Any], None],
        timestamp: int = 0,
    ) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


class RateLimiter:
    """Paces calls to ``rate`` per second on a fixed schedule, so short stalls catch up."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._count = 0

    def acquire(self) -> None:
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self.interval
        if due > now:
            self._sleep(due - now)
        self._count += 1


@dataclass(slots=True)
class DeliveryReport:
    """What was handed to the producer and what the broker acknowledged, by event kind."""

    sent: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # error text -> occurrences
    timed_out: int = 0  # still unacknowledged when the final flush gave up

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def total_failed(self) -> int:
        return sum(self.failed.values()) + self.timed_out

    @property
    def pending(self) -> int:
        """Sent but neither acknowledged nor failed (yet)."""
        return self.total_sent - sum(self.delivered.values()) - self.total_failed

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON for ``--json`` summaries."""
        return {
            "sent": dict(self.sent),
            "delivered": dict(self.delivered),
            "failed": dict(self.failed),
            "timed_out": self.timed_out,
            "errors": dict(self.errors),
            "total_sent": self.total_sent,
            "total_failed": self.total_failed,
        }


class EventProducer:
    """Encodes events and produces each to its kind's input topic, keyed by customer id."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Topics,
        fmt: str = AVRO_SINGLE_OBJECT,
        *,
        registry: ConfluentRegistry | None = None,
        rate: float | None = None,
        conf: dict[str, Any] | None = None,
        producer: ProducerLike | None = None,
    ) -> None:
        self.topics = topics
        self.fmt = fmt
        self.registry = registry
        self.report = DeliveryReport()
        self._limiter = RateLimiter(rate) if rate else None
        self._producer: ProducerLike = producer or Producer(kafka.producer(**(conf or {})))

    def topic_for(self, kind: str) -> str:
        """The input topic of a record kind (purchases, tickets, feedback, profiles)."""
        if kind not in EVENT_KINDS.values():
            raise ContractError(f"not an input kind: {kind!r}")
        topic: str = getattr(self.topics, kind)
        return topic

    def send(self, event: Event) -> str:
        """Encode and produce one event, stamped with its event time; returns its kind.

        Blocks only on a full queue or rate.
        """
        kind = EVENT_KINDS[type(event)]
        key, value, headers = encode_event(event, self.fmt, registry=self.registry)
        self.send_encoded(kind, key, value, headers, record_timestamp(event.occurred_at))
        return kind

    def send_encoded(
        self, kind: str, key: bytes, value: bytes, headers: Headers, timestamp_ms: int
    ) -> None:
        """Produce one encoded record; ``timestamp_ms`` is its event time (epoch ms)."""
        if timestamp_ms <= 0:
            raise ContractError(
                f"record timestamp must be the event time in ms > 0, got {timestamp_ms}"
            )
        if self._limiter is not None:
            self._limiter.acquire()
        topic = self.topic_for(kind)
        callback = self._on_delivery(kind)
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=headers,
                    on_delivery=callback,
                    timestamp=timestamp_ms,
                )
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.1)
        self.report.sent[kind] += 1
        self._producer.poll(0)

    def _on_delivery(self, kind: str) -> Callable[[Any, Any], None]:
        def done(err: KafkaError | None, _msg: Any) -> None:
            if err is None:
                self.report.delivered[kind] += 1
            else:
                self.report.failed[kind] += 1
                self.report.errors[err.str() if isinstance(err, KafkaError) else str(err)] += 1

        return done

    def flush(self, timeout: float = 30.0) -> DeliveryReport:
        """Wait for every delivery report; what is still queued at ``timeout`` counts as failed."""
        self._producer.flush(timeout)
        pending = self.report.pending
        if pending > 0:
            self.report.errors[f"not acknowledged within {timeout:g}s"] += pending
            self.report.timed_out += pending
        return self.report


#: ``--format`` choices of the producing commands -> content type.
FORMAT_NAMES: dict[str, str] = {
    "avro": AVRO_SINGLE_OBJECT,
    "json": JSON,
    "confluent": CONFLUENT_AVRO,
}


def positive_float(text: str) -> float:
    """argparse type for rates and timeouts."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_producing_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by the commands that produce events (simulate, replay)."""
    group = parser.add_argument_group("producing")
    group.add_argument(
        "--format",
        choices=sorted(FORMAT_NAMES),
        default="avro",
        help="wire format: avro (single-object, default), json, or confluent "
        "(needs --schema-registry-url)",
    )
    group.add_argument(
        "--rate",
        type=positive_float,
        metavar="EVENTS_PER_S",
        help="produce at most this many events per second (default: as fast as possible)",
    )
    group.add_argument(
        "--flush-timeout",
        type=positive_float,
        default=60.0,
        help="seconds to wait for outstanding deliveries at the end (default 60)",
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def producer_from_settings(
    settings: Settings, format_name: str, rate: float | None = None
) -> EventProducer:
    """An :class:`EventProducer` for the CLI; the Confluent format needs a schema registry."""
    fmt = FORMAT_NAMES[format_name]
    registry = settings.schema_registry()
    if fmt == CONFLUENT_AVRO and registry is None:
        raise ConfigError("--format confluent needs --schema-registry-url [SCHEMA_REGISTRY_URL]")
    return EventProducer(settings.kafka, settings.topics, fmt, registry=registry, rate=rate)
