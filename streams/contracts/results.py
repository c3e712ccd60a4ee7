"""Outcome of decoding one message: bad input is data (a :class:`Rejected`), never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from streams.domain import Event

ReasonCode = Literal[
    # framing and format
    "missing_content_type",
    "unknown_content_type",
    "tombstone",
    "undecodable",
    "unknown_schema",
    "schema_mismatch",
    "registry_unavailable",
    "unsupported_specversion",
    # content
    "empty_customer_id",
    "empty_identifier",
    "key_mismatch",
    "future_event_time",
    "invalid_event_time",
    "negative_amount",
    "negative_item_count",
    "invalid_currency",
    "missing_score",
    "nps_out_of_range",
    "csat_out_of_range",
    "ces_out_of_range",
    "rating_out_of_range",
]

#: Every reason code, e.g. to pre-create metric label values (bounded cardinality).
REASON_CODES: Final[tuple[str, ...]] = get_args(ReasonCode)

#: Reasons caused by infrastructure, not by the message: retry instead of dead-lettering.
RETRIABLE_REASONS: Final[frozenset[str]] = frozenset({"registry_unavailable"})

#: Reasons that are not errors at all: a compacted-topic tombstone should be skipped.
SKIP_REASONS: Final[frozenset[str]] = frozenset({"tombstone"})

MAX_DETAIL_CHARS: Final = 500


@dataclass(frozen=True, slots=True)
class Decoded:
    """A valid event and the key to de-duplicate it by (CloudEvents source + id)."""

    event: Event
    dedup_key: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message was refused: a stable ``reason`` code and a human ``detail``."""

    reason: ReasonCode
    detail: str


class RejectError(Exception):
    """Internal control flow: raised deep in a codec, turned into :class:`Rejected` at the edge."""

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason: ReasonCode = reason
        self.detail = detail

    def rejected(self) -> Rejected:
        return Rejected(self.reason, self.detail[:MAX_DETAIL_CHARS])
