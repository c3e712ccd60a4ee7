"""Fold a batch of input records into customer states: the worker's hot path, Faust-free.

The batch cycle hands over a batch of records; this module decodes them, drops redelivered
ones, runs the pure model per customer (reading and writing each customer's state once per
batch, however many of its events the batch holds) and returns what to publish, already
encoded. The cycle publishes alerts, snapshots and dead letters, waits for the broker's
acknowledgement, and only then writes states and acknowledges the inputs: a crash can repeat
an alert (same deterministic id), never lose one.

Nothing a record holds can make :meth:`BatchFold.process` raise: undecodable, implausible,
late and unprocessable records all become dead letters with a reason (see customer_fold).
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from agents.worker.customer_fold import CustomerFold, Item, Record, RecordFault
from agents.worker.fold_ports import (
    FULL_WEIGHT,
    BatchOutput,
    IntegrityAccess,
    StateAccess,
    StoredState,
)
from streams.contracts import (
    LIVE_WINDOW,
    RETRIABLE_REASONS,
    SKIP_REASONS,
    ConfluentRegistry,
    Decoded,
    EventTimeWindow,
    Rejected,
    dead_letter,
    decode_event,
    processing_failure,
)
from streams.contracts.actions import DecodedAction, decode_action
from streams.contracts.confluent import RegistryUnavailable
from streams.domain import Feedback
from streams.envelope import Envelope, encode_envelope
from streams.model import ModelConfig
from streams.topics import ACTIONS_KIND, INPUT_KINDS, Topics

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
TICK_VALUE = struct.Struct(">d")


@dataclass(slots=True)
class PreparedBatch:
    """A batch decoded and grouped: each customer's items in folding order."""

    out: BatchOutput
    groups: dict[str, list[Item]]
    now: float


class BatchFold:
    """Turns batches of records into states and outputs; one instance per worker."""

    def __init__(
        self,
        topics: Topics,
        config: ModelConfig,
        *,
        clock: Callable[[], float] = time.time,
        registry: ConfluentRegistry | None = None,
        retry_delays: Sequence[float] = (0.5,),
        window: EventTimeWindow = LIVE_WINDOW,
    ) -> None:
        self.config = config
        self.clock = clock
        self.registry = registry
        self.retry_delays = retry_delays
        self.window = window
        self.topics = topics
        self.kind_by_topic = {topic: i for i, topic in enumerate(topics.customer_inputs)}
        self.kind_by_topic[topics.ticks] = -1
        self.customer_fold = CustomerFold(
            config, topics.alerts, topics.health, topics.alert_outcomes
        )

    def use(self, config: ModelConfig) -> None:
        """Judge with ``config`` from the next batch on (parameters are swapped between batches)."""
        self.config = config
        self.customer_fold.config = config

    def process(
        self,
        records: Sequence[Record],
        states: StateAccess,
        integrity: IntegrityAccess = FULL_WEIGHT,
    ) -> BatchOutput:
        """Decode, weigh feedback (in record order), then fold each customer's items."""
        return self.fold_prepared(self.prepare(records, integrity), states)

    def fold_prepared(self, batch: PreparedBatch, states: StateAccess) -> BatchOutput:
        """Fold each customer of a prepared batch from their stored state, in this process."""
        for customer_id, items in batch.groups.items():
            before = states.get(customer_id, items[0].record)  # errors: retried, not blamed
            self.fold_customer(customer_id, before, items, batch.out, batch.now)
        return batch.out

    def prepare(self, records: Sequence[Record], integrity: IntegrityAccess) -> PreparedBatch:
        """Decode and weigh a batch's records and group them by customer, ready to fold.

        A customer's items are in record-timestamp order (the merge's order; event time
        for records that follow the contract, then event time within a millisecond), which
        absorbs the interleaving of their topics within a batch. Ordering by the payload's
        event time instead would make a record stamped later than it claims to have occurred
        late or not depending on which batch it shared with the customer's newer events.
        """
        out = BatchOutput(first_consumed=min((r.timestamp for r in records), default=0.0))
        groups: dict[str, list[Item]] = {}
        now = self.clock()
        for record in records:
            try:
                item = self._item(record, now, out, integrity)
            except RecordFault as fault:  # table or broker errors propagate: retried
                self._failed(record, fault.__cause__ or fault, now, out)
                continue
            if item is not None:
                key = item.event.customer_id if item.event else _text(record.key)
                groups.setdefault(key, []).append(item)
        for items in groups.values():
            items.sort(key=_item_order)
        return PreparedBatch(out, groups, now)

    def _item(
        self, record: Record, now: float, out: BatchOutput, integrity: IntegrityAccess
    ) -> Item | None:
        kind_index = self.kind_by_topic.get(record.topic)
        if kind_index is None:
            return None
        if kind_index == -1:
            if record.value is None or len(record.value) != TICK_VALUE.size:
                log.warning("ignored a malformed tick at %s offset %s", record.topic, record.offset)
                return None
            until = TICK_VALUE.unpack(record.value)[0]
            return Item(record, -1, record.offset, record.partition, None, until, 1.0)
        headers = list(record.headers or ())
        result = self._decode(INPUT_KINDS[kind_index], record, headers, now)
        if isinstance(result, Rejected):
            self._reject(record, headers, result, now, out)
            return None
        event = result.event
        current = out.stream_times.get(record.partition, 0.0)
        out.stream_times[record.partition] = max(current, event.occurred_at)
        weight = integrity.weigh(event, record) if isinstance(event, Feedback) else 1.0
        return Item(record, kind_index, record.offset, record.partition, event, 0.0, weight)

    def _decode(
        self, kind: str, record: Record, headers: Headers, now: float
    ) -> Decoded | DecodedAction | Rejected:
        """Decode; an unreachable schema registry is waited for, not blamed on the message.

        A blip is retried here; a longer outage raises :class:`RegistryUnavailable`, so the
        batch cycle retries the whole batch (without blocking the event loop) for as long as the
        outage lasts, with ``/healthz`` saying so.
        """
        result = self._decode_once(kind, record, headers, now)
        for delay in self.retry_delays:
            if not (isinstance(result, Rejected) and result.reason in RETRIABLE_REASONS):
                break
            time.sleep(delay)  # blocks the batch: nothing downstream may overtake this record
            result = self._decode_once(kind, record, headers, now)
        if isinstance(result, Rejected) and result.reason in RETRIABLE_REASONS:
            raise RegistryUnavailable(f"{record.topic}[{record.partition}]: {result.detail}")
        return result

    def _decode_once(
        self, kind: str, record: Record, headers: Headers, now: float
    ) -> Decoded | DecodedAction | Rejected:
        decode = decode_action if kind == ACTIONS_KIND else partial(decode_event, kind)
        return decode(
            record.key,
            record.value,
            headers,
            now=now,
            registry=self.registry,
            record_time=record.timestamp or None,
            window=self.window,
        )

    def _reject(
        self, record: Record, headers: Headers, rejected: Rejected, now: float, out: BatchOutput
    ) -> None:
        if rejected.reason in SKIP_REASONS:
            return
        out.outcomes.append((record.topic, "dead_letter"))
        out.dead_letter_reasons.append(rejected.reason)
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

    def _failed(self, record: Record, exc: BaseException, now: float, out: BatchOutput) -> None:
        log.warning(
            "%s at %s[%s] offset %s: dead-lettered as processing_failed",
            type(exc).__name__,
            record.topic,
            record.partition,
            record.offset,
        )
        if self.kind_by_topic.get(record.topic) == -1:
            return  # a tick is internal: the next event or tick does its work
        self._reject(record, list(record.headers or ()), processing_failure(exc), now, out)

    def fold_customer(
        self,
        customer_id: str,
        before: Envelope | None,
        items: list[Item],
        out: BatchOutput,
        now: float,
    ) -> None:
        """Fold one customer's items (in order) into ``out``; ``before`` is their stored state."""
        fresh = [i for i in items if not self._redelivered(before, i, out)]
        if not fresh:
            if before is not None:  # see _rewrite
                out.states.append(_rewrite(customer_id, before, items[-1].record))
            return
        result = self.customer_fold.fold(before, fresh)
        for item, error in result.failed:
            self._failed(item.record, error, now, out)
        for item, detail in result.late:
            record = item.record
            late = Rejected("late_event", detail)
            self._reject(record, list(record.headers or ()), late, now, out)
        out.outcomes.extend((item.record.topic, "processed") for item in result.processed)
        out.outcomes.extend((item.record.topic, "duplicate") for item in result.duplicates)
        envelope, snap = result.envelope, result.snapshot
        if envelope is None or snap is None:
            return
        out.alerts.extend(result.alerts)
        out.alert_outcomes.extend(result.outcomes)
        out.snapshots.append(snap)
        out.messages.extend(result.messages)
        old_stage = before.stage if before else None
        old_band = before.band if before else None
        if (old_stage, old_band) != (snap.stage, snap.band):
            out.stage_moves.append((customer_id, old_stage, old_band, snap.stage, snap.band))
        out.states.append((customer_id, envelope, result.state_bytes, items[-1].record))
        if result.deadline is not None:
            out.deadlines.append((customer_id, envelope.partition, result.deadline))

    def _redelivered(self, envelope: Envelope | None, item: Item, out: BatchOutput) -> bool:
        """Judged against the state as loaded, before this batch moved any offset mark."""
        if envelope is None or item.event is None:
            return False
        if envelope.seen(item.kind_index, item.offset):
            out.outcomes.append((item.record.topic, "duplicate"))
            return True
        return False


def _rewrite(customer_id: str, before: Envelope, record: Record) -> StoredState:
    """The loaded state, written again for records it has already folded in.

    Such records come back after a crash or a rebalance. The local store may hold the state
    that folded them while the changelog never received it (the worker died between the two
    writes). Writing it again puts it in the changelog before their offsets are committed, so
    the partition's next owner, restoring from the changelog, cannot lose them.
    """
    return customer_id, before, encode_envelope(before), record


def _item_order(item: Item) -> tuple[float, float]:
    return item.record.timestamp, item.time


def _text(key: bytes | None) -> str:
    return key.decode("utf-8", "replace") if key else ""
