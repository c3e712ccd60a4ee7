"""The per-record work every peer pipeline in the benchmark does: the worker's model, no Faust.

decode (the contracts layer, Avro single-object) → the same loop-aware fold the worker calls
(:func:`streams.loop_processing.process_loop_event`, due inactivity ticks included) → a health
snapshot → encoded alert and snapshot messages. The plain confluent-kafka loop and the Quix
Streams pipeline both call :func:`fold_record`, so their rows differ only in how records reach
it and where the state lives. Not here (the worker's extra duties): offset marks against
redelivery, dead letters, Redis, webhooks, metrics, timer ticks between events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from streams.contracts import Decoded, decode_event, encode_alert, encode_snapshot
from streams.domain import Event
from streams.loop_processing import process_loop_event
from streams.model import CustomerState, ModelConfig, load_config, snapshot
from streams.topics import Topics

#: the producer settings the worker's outputs use (agents.settings), for every peer
PEER_PRODUCER = {
    "partitioner": "murmur2_random",
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "compression.type": "lz4",
}
#: (topic, key, value, headers) of one output message
Output = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class PeerFold:
    """The topics and model configuration the peers fold with."""

    topics: Topics
    config: ModelConfig

    @classmethod
    def default(cls, prefix: str) -> PeerFold:
        return cls(Topics(prefix), load_config())

    def kind(self, topic: str) -> str:
        t = self.topics
        return {
            t.purchases: "purchases",
            t.tickets: "tickets",
            t.feedback: "feedback",
            t.profiles: "profiles",
        }[topic]


def fold_record(
    fold: PeerFold,
    kind: str,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    timestamp_ms: int,
    state: CustomerState | None,
) -> tuple[CustomerState | None, list[Output]]:
    """One input record through the model; (new state, messages to publish)."""
    decoded = decode_event(
        kind,
        key,
        value,
        headers,
        now=time.time(),
        record_time=timestamp_ms / 1000 or None,
    )
    if not isinstance(decoded, Decoded):  # the backlog holds none; a real pipeline dead-letters
        return state, []
    event: Event = decoded.event
    new, alerts, _outcomes = process_loop_event(state, event, fold.config)
    if new is state:  # a repeat: nothing to publish
        return state, []
    out: list[Output] = [(fold.topics.alerts, *encode_alert(alert)) for alert in alerts]
    snap = snapshot(new, event.occurred_at, fold.config)
    out.append((fold.topics.health, *encode_snapshot(snap)))
    return new, out
