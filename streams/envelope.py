"""The value the worker stores per customer (its state table): model state plus replay guards.

Besides the model's own event-id de-duplication (which catches a producer publishing the same
event twice), the envelope keeps, per input topic, the highest Kafka offset already folded into
this customer's state. A record redelivered after a crash or rebalance, or re-read by a replay
over existing state, has an offset at or below that mark and is skipped exactly, however long
ago it was processed. All of a customer's topics share one partition number (co-partitioned),
so one offset per topic is enough; the partition is kept so timer ticks can be routed back.

Version 2 adds a fifth mark, for the alert-actions topic. An envelope whose actions mark is
unset is still written as version 1, byte for byte, and version 1 decodes with that mark unset:
stored states survive the upgrade, and a worker not yet upgraded reads what a new one wrote
for every customer nobody acted on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from streams.errors import CxStreamError
from streams.model import CustomerState, state_from_bytes, state_to_bytes
from streams.topics import ACTIONS_KIND, INPUT_KINDS

ACTIONS_INDEX = INPUT_KINDS.index(ACTIONS_KIND)
_HEADER_V1 = struct.Struct(">BH4q16s8sd")
_HEADER_V2 = struct.Struct(">BH5q16s8sd")
NO_OFFSET = -1
Offsets = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Envelope:
    partition: int
    offsets: Offsets  # highest folded offset per INPUT_KINDS entry
    state: CustomerState
    stage: str = ""  # life-cycle stage and health band of the last snapshot, so the worker
    band: str = ""  # can keep its per-stage/per-band gauges without decoding old snapshots
    event_time: float = 0.0  # newest event time folded in: restores stream time after restarts

    def seen(self, kind_index: int, offset: int) -> bool:
        """True when the record at ``offset`` of that topic is already in the state."""
        return offset <= self.offsets[kind_index]

    def advanced(
        self, kind_index: int, offset: int, state: CustomerState, event_time: float
    ) -> Envelope:
        offsets = list(self.offsets)
        offsets[kind_index] = max(offsets[kind_index], offset)
        return replace(
            self,
            offsets=(offsets[0], offsets[1], offsets[2], offsets[3], offsets[4]),
            state=state,
            event_time=max(self.event_time, event_time),
        )

    def with_state(self, state: CustomerState) -> Envelope:
        return replace(self, state=state)

    def with_labels(self, stage: str, band: str) -> Envelope:
        return replace(self, stage=stage, band=band)


def new_envelope(partition: int, state: CustomerState) -> Envelope:
    return Envelope(partition, (NO_OFFSET, NO_OFFSET, NO_OFFSET, NO_OFFSET, NO_OFFSET), state)


def encode_envelope(envelope: Envelope) -> bytes:
    offsets = envelope.offsets
    v1 = offsets[ACTIONS_INDEX] == NO_OFFSET
    header = (_HEADER_V1 if v1 else _HEADER_V2).pack(
        1 if v1 else 2,
        envelope.partition,
        *(offsets[:ACTIONS_INDEX] if v1 else offsets),
        envelope.stage.encode(),
        envelope.band.encode(),
        envelope.event_time,
    )
    return header + state_to_bytes(envelope.state)


def decode_envelope(data: bytes) -> Envelope:
    version = data[0] if data else 0
    if version == 1:
        _, partition, a, b, c, d, stage, band, event_time = _HEADER_V1.unpack_from(data)
        offsets: Offsets = (a, b, c, d, NO_OFFSET)
        size = _HEADER_V1.size
    elif version == 2:
        _, partition, a, b, c, d, e, stage, band, event_time = _HEADER_V2.unpack_from(data)
        offsets, size = (a, b, c, d, e), _HEADER_V2.size
    else:
        raise CxStreamError(f"unknown customer-state envelope version {version}")
    return Envelope(
        partition,
        offsets,
        state_from_bytes(data[size:]),
        stage.rstrip(b"\0").decode(),
        band.rstrip(b"\0").decode(),
        event_time,
    )
