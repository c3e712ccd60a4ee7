"""Fold a batch of input records into customer states: the worker's hot path, Faust-free.

The Faust agent hands over a batch of records; this module decodes them, drops redelivered
ones, runs the pure model per customer (reading and writing each customer's state once per
batch, however many of its events the batch holds) and returns what to publish. The agent
publishes alerts and dead letters, waits for the broker's acknowledgement, and only then
writes states and acknowledges the inputs: a crash can repeat an alert (same deterministic
id), never lose one.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agents import metrics
from agents.envelope import TOPIC_KINDS, Envelope, new_envelope
from streams.contracts import (
    RETRIABLE_REASONS,
    SKIP_REASONS,
    ConfluentRegistry,
    Decoded,
    Rejected,
    dead_letter,
    decode_event,
)
from streams.domain import Alert, Event, Feedback, HealthSnapshot
from streams.model import ModelConfig, next_deadline, snapshot
from streams.processing import process_event, process_tick
from streams.topics import Topics

Headers = list[tuple[str, bytes]]
TICK_VALUE = struct.Struct(">d")


class Record(Protocol):
    """What the processor needs of a consumed message (a Faust ``Message`` fits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    headers: Sequence[tuple[str, bytes]] | None


class IntegrityAccess(Protocol):
    """Survey-integrity weight of one feedback event (per agent/location state)."""

    def weigh(self, feedback: Feedback, record: Record) -> float: ...

    def flush(self) -> None: ...

    def discard(self) -> None: ...


class _FullWeight:
    def weigh(self, feedback: Feedback, record: Record) -> float:
        return 1.0

    def flush(self) -> None:
        return None

    def discard(self) -> None:
        return None


FULL_WEIGHT = _FullWeight()


class StateAccess(Protocol):
    """Table access in the context of the record that caused it (Faust needs that context)."""

    def get(self, customer_id: str, record: Record) -> Envelope | None: ...

    def put(self, customer_id: str, envelope: Envelope, record: Record) -> None: ...


@dataclass(slots=True)
class BatchOutput:
    alerts: list[Alert] = field(default_factory=list)
    snapshots: list[HealthSnapshot] = field(default_factory=list)
    dead_letters: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]] = field(
        default_factory=list
    )
    states: list[tuple[str, Envelope, Record]] = field(default_factory=list)
    deadlines: list[tuple[str, int, float]] = field(default_factory=list)
    stage_moves: list[tuple[str | None, str | None, str, str]] = field(default_factory=list)
    stream_times: dict[int, float] = field(default_factory=dict)
    first_consumed: float = 0.0


@dataclass(frozen=True, slots=True)
class _Item:
    record: Record
    kind_index: int  # index into TOPIC_KINDS, or -1 for a timer tick
    event: Event | None
    tick_until: float
    weight: float


class BatchProcessor:
    """Turns batches of records into states and outputs; one instance per worker."""

    def __init__(
        self,
        topics: Topics,
        config: ModelConfig,
        *,
        clock: Callable[[], float] = time.time,
        registry: ConfluentRegistry | None = None,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    ) -> None:
        self.config = config
        self.clock = clock
        self.registry = registry
        self.retry_delays = retry_delays
        self.topics = topics
        self.kind_by_topic = {
            topics.purchases: 0,
            topics.tickets: 1,
            topics.feedback: 2,
            topics.profiles: 3,
            topics.ticks: -1,
        }

    def process(
        self,
        records: Sequence[Record],
        states: StateAccess,
        integrity: IntegrityAccess = FULL_WEIGHT,
    ) -> BatchOutput:
        """Decode, weigh feedback (in record order), then fold each customer's items.

        A customer's items are folded in event-time order (stable for ties), which absorbs
        the interleaving of their topics within a batch.
        """
        out = BatchOutput(first_consumed=min((r.timestamp for r in records), default=0.0))
        groups: dict[str, list[_Item]] = {}
        now = self.clock()
        for record in records:
            item = self._item(record, now, out, integrity)
            if item is not None:
                key = item.event.customer_id if item.event else _text(record.key)
                groups.setdefault(key, []).append(item)
        for customer_id, items in groups.items():
            items.sort(key=_item_time)
            self._fold_customer(customer_id, items, states, out)
        return out

    def _item(
        self, record: Record, now: float, out: BatchOutput, integrity: IntegrityAccess
    ) -> _Item | None:
        kind_index = self.kind_by_topic.get(record.topic)
        if kind_index is None:
            return None
        if kind_index == -1:
            until = TICK_VALUE.unpack(record.value or b"\0" * 8)[0]
            return _Item(record, -1, None, until, 1.0)
        headers = list(record.headers or ())
        result = self._decode(TOPIC_KINDS[kind_index], record, headers, now)
        if isinstance(result, Rejected):
            self._reject(record, headers, result, now, out)
            return None
        assert isinstance(result, Decoded)
        event = result.event
        current = out.stream_times.get(record.partition, 0.0)
        out.stream_times[record.partition] = max(current, event.occurred_at)
        weight = integrity.weigh(event, record) if isinstance(event, Feedback) else 1.0
        return _Item(record, kind_index, event, 0.0, weight)

    def _decode(
        self, kind: str, record: Record, headers: Headers, now: float
    ) -> Decoded | Rejected:
        """Decode; an unreachable schema registry is waited for, not blamed on the message."""
        result = decode_event(
            kind, record.key, record.value, headers, now=now, registry=self.registry
        )
        for delay in self.retry_delays:
            if not (isinstance(result, Rejected) and result.reason in RETRIABLE_REASONS):
                break
            time.sleep(delay)  # blocks the batch: nothing downstream may overtake this record
            result = decode_event(
                kind, record.key, record.value, headers, now=now, registry=self.registry
            )
        return result

    def _reject(
        self, record: Record, headers: Headers, rejected: Rejected, now: float, out: BatchOutput
    ) -> None:
        if rejected.reason in SKIP_REASONS:
            return
        metrics.EVENTS.labels(record.topic, "dead_letter").inc()
        metrics.DEAD_LETTERS.labels(rejected.reason).inc()
        out.dead_letters.append(
            dead_letter(
                record.key,
                record.value,
                headers,
                rejected,
                record.topic,
                record.partition,
                record.offset,
                now,
            )
        )

    def _fold_customer(
        self, customer_id: str, items: list[_Item], states: StateAccess, out: BatchOutput
    ) -> None:
        before = states.get(customer_id, items[0].record)
        fresh = [i for i in items if not self._redelivered(before, i)]
        fresh.sort(key=_item_time)
        envelope = before
        for item in fresh:
            envelope = self._fold_one(envelope, item, out)
        if envelope is None or envelope is before:
            return
        snap = snapshot(envelope.state, max(_item_time(i) for i in fresh), self.config)
        out.snapshots.append(snap)
        old_stage = before.stage if before else None
        old_band = before.band if before else None
        if (old_stage, old_band) != (snap.stage, snap.band):
            out.stage_moves.append((old_stage, old_band, snap.stage, snap.band))
        envelope = envelope.with_labels(snap.stage, snap.band)
        out.states.append((customer_id, envelope, items[-1].record))
        deadline = next_deadline(envelope.state, self.config)
        if deadline is not None:
            out.deadlines.append((customer_id, envelope.partition, deadline))

    def _redelivered(self, envelope: Envelope | None, item: _Item) -> bool:
        """Judged against the state as loaded, before this batch moved any offset mark."""
        if envelope is None or item.event is None:
            return False
        if envelope.seen(item.kind_index, item.record.offset):
            metrics.EVENTS.labels(item.record.topic, "duplicate").inc()
            return True
        return False

    def _fold_one(
        self, envelope: Envelope | None, item: _Item, out: BatchOutput
    ) -> Envelope | None:
        record = item.record
        if item.event is None:  # timer tick
            if envelope is None:
                return None
            state, alerts = process_tick(envelope.state, item.tick_until, self.config)
            out.alerts.extend(alerts)
            return envelope.with_state(state) if state is not envelope.state else envelope
        state, alerts = process_event(
            envelope.state if envelope else None, item.event, self.config, item.weight
        )
        metrics.EVENTS.labels(record.topic, "processed").inc()
        out.alerts.extend(alerts)
        if envelope is None:
            envelope = new_envelope(record.partition, state)
        return envelope.advanced(item.kind_index, record.offset, state, item.event.occurred_at)


def _item_time(item: _Item) -> float:
    return item.event.occurred_at if item.event else item.tick_until


def _text(key: bytes | None) -> str:
    return key.decode("utf-8", "replace") if key else ""
