"""The chaos soak's producers: good events with hostile records interleaved, all tracked.

Only what the broker acknowledged counts: each good record's and each hostile record's
(topic, partition, offset) comes from its delivery report, so the verdict compares the
cluster with the records that really are on the topics, even across broker kills.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from agents.settings import PRODUCER_DEFAULTS
from bench.chaos_faults import HostileMix, Outgoing
from streams.contracts import encode_event, record_timestamp
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Event
from streams.topics import Topics

Source = tuple[str, int, int]


def outgoing(event: Event) -> Outgoing:
    key, value, headers = encode_event(event)
    kind = EVENT_KINDS[type(event)]
    return Outgoing("good", kind, key, value, headers, record_timestamp(event.occurred_at))


@dataclass
class Traffic:
    """Produces ``good`` (in order) with ``hostile`` records spread evenly among them."""

    bootstrap: str
    topics: Topics
    mix: HostileMix
    customers: list[str]  # good customers hostile records may name
    good: dict[int, Source] = field(default_factory=dict)  # event index -> where it landed
    hostile: dict[Source, str] = field(default_factory=dict)  # where -> kind
    failed: Counter[str] = field(default_factory=Counter)  # kind -> not acknowledged
    produced_hostile: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        conf = {**PRODUCER_DEFAULTS, "bootstrap.servers": self.bootstrap, "log_level": 2}
        self.producer = Producer(conf)  # log level 2: broker kills are expected, not news
        self.big = Producer(  # 1 MB records, each in its own batch
            {
                **conf,
                "message.max.bytes": 4_000_000,
                "batch.size": 16_384,
                "linger.ms": 0,
            }
        )
        self.topic = {
            "purchases": self.topics.purchases,
            "tickets": self.topics.tickets,
            "feedback": self.topics.feedback,
            "profiles": self.topics.profiles,
        }

    def _report(self, kind: str, index: int) -> Any:
        def done(err: KafkaError | None, msg: Message) -> None:
            with self._lock:
                if err is not None:
                    self.failed[kind] += 1
                    return
                src = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
                if kind == "good":
                    self.good[index] = src
                else:
                    self.hostile[src] = kind

        return done

    def send(self, record: Outgoing, index: int = -1) -> None:
        producer = self.big if record.big else self.producer
        while True:
            try:
                producer.produce(
                    self.topic[record.topic_kind],
                    record.value,
                    record.key,
                    headers=record.headers,
                    timestamp=record.timestamp_ms,
                    on_delivery=self._report(record.kind, index),
                )
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)

    def run(
        self,
        events: Sequence[Event],
        first_index: int,
        hostile: int,
        seconds: float = 0.0,
        stop: threading.Event | None = None,
    ) -> None:
        """Produce ``events`` (paced over ``seconds`` when > 0) and ``hostile`` records among
        them; ``first_index`` numbers the events for :attr:`good`."""
        started, total, sent = time.monotonic(), max(1, len(events)), 0
        for i, event in enumerate(events):
            if stop is not None and stop.is_set():
                break
            if seconds > 0:
                time.sleep(max(0.0, started + i / total * seconds - time.monotonic()))
            record = outgoing(event)
            self.send(record, first_index + i)
            while sent < (i + 1) * hostile // total:
                self.send(self.mix.next(record, self.customers))
                sent += 1
        self.produced_hostile += sent
        self.flush()

    def flush(self) -> None:
        for producer in (self.producer, self.big):
            while producer.flush(30) > 0:  # a broker outage: keep waiting, never drop
                pass
