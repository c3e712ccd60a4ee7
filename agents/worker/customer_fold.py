"""Fold one customer's records of a batch into their state, so one bad record harms no other.

Everything a customer's records produce is computed and *encoded* here, before anything is
published: alerts, the health snapshot, the stored state. If any of that raises (a model bug, a
value the Avro encoder refuses, an output over the broker's size limit), the customer's records
are folded again one at a time and the record whose inclusion fails is set aside as a
``processing_failed`` dead letter; the others are folded as usual. Other customers in the batch
never see the failure, and the batch always completes, so Faust never commits past a record
that was not handled.

Events older than the customer's lateness bound cannot be folded exactly (their duplicates can
no longer be recognised), so they are set aside as ``late_event`` dead letters instead of
vanishing. Both paths are deterministic: a replay sets aside exactly the same records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from streams.alert_loop import AlertActionEvent, AlertOutcome
from streams.alert_notify import notify_headers
from streams.contracts import encode_alert, encode_snapshot, iso_utc
from streams.contracts.actions import encode_outcome
from streams.domain import Alert, HealthSnapshot
from streams.envelope import Envelope, encode_envelope, new_envelope
from streams.errors import CxStreamError
from streams.loop_processing import LoopInput, loop_deadline, process_loop_event, process_loop_tick
from streams.model import CustomerState, ModelConfig, is_late, snapshot

#: Largest output message (key + value + headers) the worker publishes: librdkafka refuses
#: messages over 1,000,000 bytes, and an output that cannot be published must be caught here.
MAX_OUTPUT_BYTES: Final = 900_000

Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


class Record(Protocol):
    """What the batch fold needs of a consumed message (a Faust ``Message`` fits)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    headers: Sequence[tuple[str, bytes]] | None


class RecordFault(CxStreamError):
    """A record's own content made processing fail (its ``__cause__`` says how).

    Only such failures are dead-lettered; anything else (a table, the broker, the network) is
    retried for as long as it lasts, since dead-lettering would blame good records for it.
    """


class OutputTooLarge(CxStreamError):
    """An encoded output would exceed :data:`MAX_OUTPUT_BYTES`."""


@dataclass(frozen=True, slots=True)
class Item:
    """One record of the batch, decoded: an input event, or a timer tick (``event`` None)."""

    record: Record
    kind_index: int  # index into INPUT_KINDS, or -1 for a timer tick
    offset: int
    partition: int
    event: LoopInput | None  # an input event or an alert action
    tick_until: float
    weight: float

    @property
    def time(self) -> float:
        return self.event.occurred_at if self.event else self.tick_until


@dataclass(slots=True)
class CustomerResult:
    """What one customer's records produced; nothing of it has been published yet."""

    envelope: Envelope | None = None  # None: the state did not change
    state_bytes: bytes = b""
    alerts: list[Alert] = field(default_factory=list)
    alert_headers: list[list[tuple[str, bytes]]] = field(default_factory=list)  # per alert
    outcomes: list[AlertOutcome] = field(default_factory=list)
    snapshot: HealthSnapshot | None = None
    messages: list[Message] = field(default_factory=list)  # (topic, key, value, headers)
    deadline: float | None = None
    processed: list[Item] = field(default_factory=list)
    duplicates: list[Item] = field(default_factory=list)
    late: list[tuple[Item, str]] = field(default_factory=list)  # (item, detail)
    failed: list[tuple[Item, BaseException]] = field(default_factory=list)


class CustomerFold:
    """Folds, checks and encodes one customer's items; pure apart from the encoders."""

    def __init__(
        self, config: ModelConfig, alerts_topic: str, health_topic: str, outcomes_topic: str
    ) -> None:
        self.config = config
        self.alerts_topic = alerts_topic
        self.health_topic = health_topic
        self.outcomes_topic = outcomes_topic

    def fold(self, before: Envelope | None, items: Sequence[Item]) -> CustomerResult:
        """All items folded, or, if that fails, every item that can be folded, one by one."""
        try:
            return self._fold(before, items)
        except Exception:
            return self._fold_carefully(before, items)

    def _fold_carefully(self, before: Envelope | None, items: Sequence[Item]) -> CustomerResult:
        accepted: list[Item] = []
        failed: list[tuple[Item, BaseException]] = []
        result = CustomerResult()
        for item in items:
            try:
                result = self._fold(before, [*accepted, item])
            except Exception as exc:
                failed.append((item, exc))
            else:
                accepted.append(item)
        result.failed = failed
        return result

    def _fold(self, before: Envelope | None, items: Sequence[Item]) -> CustomerResult:
        result = CustomerResult()
        envelope = before
        for item in items:
            envelope = self._fold_one(envelope, item, result)
        if envelope is None or envelope is before:
            return result
        snap = snapshot(envelope.state, max(i.time for i in items), self.config)
        envelope = envelope.with_labels(snap.stage, snap.band)
        result.envelope = envelope
        result.snapshot = snap
        for alert, extra in zip(result.alerts, result.alert_headers, strict=True):
            key, value, headers = encode_alert(alert)
            result.messages.append(_checked(self.alerts_topic, key, value, headers + extra))
        for outcome in result.outcomes:
            result.messages.append(_checked(self.outcomes_topic, *encode_outcome(outcome)))
        result.messages.append(_checked(self.health_topic, *encode_snapshot(snap)))
        result.state_bytes = encode_envelope(envelope)
        result.deadline = loop_deadline(envelope.state, self.config)
        return result

    def _emitted(
        self,
        result: CustomerResult,
        before: CustomerState | None,
        after: CustomerState,
        alerts: list[Alert],
        outcomes: list[AlertOutcome],
    ) -> None:
        result.alerts.extend(alerts)
        result.alert_headers.extend(notify_headers(alerts, before, after))
        result.outcomes.extend(outcomes)

    def _fold_one(
        self, envelope: Envelope | None, item: Item, result: CustomerResult
    ) -> Envelope | None:
        if item.event is None:  # timer tick
            if envelope is None:
                return None
            state, alerts, outcomes = process_loop_tick(
                envelope.state, item.tick_until, self.config
            )
            self._emitted(result, envelope.state, state, alerts, outcomes)
            return envelope.with_state(state) if state is not envelope.state else envelope
        event = item.event
        if (  # actions de-duplicate by event id for good, so they are never too late
            not isinstance(event, AlertActionEvent)
            and envelope is not None
            and is_late(envelope.state, event, self.config)
        ):
            result.late.append((item, self._late_detail(envelope, event)))
            return envelope
        before = envelope.state if envelope else None
        state, alerts, outcomes = process_loop_event(before, event, self.config, item.weight)
        if envelope is not None and state is envelope.state:
            result.duplicates.append(item)
        else:
            result.processed.append(item)
        self._emitted(result, before, state, alerts, outcomes)
        if envelope is None:
            envelope = new_envelope(item.partition, state)
        return envelope.advanced(item.kind_index, item.offset, state, event.occurred_at)

    def _late_detail(self, envelope: Envelope, event: LoopInput) -> str:
        grace_h = self.config.ordering.grace_s / 3600
        return (
            f"occurred_at {iso_utc(event.occurred_at)} is more than {grace_h:g} h behind this "
            f"customer's newest event ({iso_utc(envelope.state.watermark)}), too late to be "
            "checked for duplicates; raise ordering.grace_hours or replay the history into a "
            "fresh consumer group"
        )


def _checked(
    topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> Message:
    size = len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers)
    if size > MAX_OUTPUT_BYTES:
        raise OutputTooLarge(f"{topic} message of {size} bytes exceeds {MAX_OUTPUT_BYTES}")
    return topic, key, value, headers
