"""What the batch fold needs from outside and what it hands back, free of Faust.

``StateAccess`` and ``IntegrityAccess`` are the table reads and writes the fold makes (the
worker implements them over Faust tables in ``tables``; tests over dicts). ``BatchOutput`` is
everything one batch produced, already encoded, which the batch cycle publishes and only then
stores and acknowledges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from agents.worker.customer_fold import Message, Record
from streams.alert_loop import AlertOutcome
from streams.domain import Alert, Feedback, HealthSnapshot
from streams.envelope import Envelope


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

    def put(self, customer_id: str, envelope: Envelope | None, raw: bytes, record: Record) -> None:
        """Store ``raw``, the encoded ``envelope`` (None when the fold ran in another process;
        encoding failures are caught earlier)."""


class RawStateAccess(StateAccess, Protocol):
    """Also the stored bytes of a customer's state, for a fold that decodes them elsewhere."""

    def get_raw(self, customer_id: str, record: Record) -> bytes | None: ...


StoredState = tuple[str, Envelope | None, bytes, Record]  # customer id, state, bytes, last record


@dataclass(slots=True)
class BatchOutput:
    alerts: list[Alert] = field(default_factory=list)
    snapshots: list[HealthSnapshot] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # encoded alerts and snapshots
    dead_letters: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]] = field(
        default_factory=list
    )
    states: list[StoredState] = field(default_factory=list)
    deadlines: list[tuple[str, int, float]] = field(default_factory=list)
    # (customer id, old stage, old band, stage, band) of customers whose labels changed
    stage_moves: list[tuple[str, str | None, str | None, str, str]] = field(default_factory=list)
    stream_times: dict[int, float] = field(default_factory=dict)
    first_consumed: float = 0.0
    # Counted by the batch cycle once the batch is durable: a retried batch must not count twice.
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (topic, outcome)
    alert_outcomes: list[AlertOutcome] = field(default_factory=list)
    dead_letter_reasons: list[str] = field(default_factory=list)
