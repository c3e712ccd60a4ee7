"""Outcome of decoding one message: bad input is data (a :class:`Rejected`), never an exception."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from streams.contracts.limits import iso_or_seconds
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
    "missing_key",
    "key_mismatch",
    "identifier_too_long",
    "attribute_too_long",
    "text_too_long",
    "invalid_event_time",
    "event_time_out_of_range",
    "negative_amount",
    "amount_out_of_range",
    "negative_item_count",
    "item_count_out_of_range",
    "invalid_currency",
    "missing_score",
    "nps_out_of_range",
    "csat_out_of_range",
    "ces_out_of_range",
    "rating_out_of_range",
    "missing_action_detail",
    "unexpected_action_detail",
    # the worker, after decoding
    "late_event",
    "processing_failed",
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
    """Why a message was refused: a stable ``reason`` code and a human ``detail``.

    ``field`` names the offending field when one is to blame (for per-field counts);
    ``exception`` names the exception class when processing (not decoding) failed, and
    becomes the ``dlq.exception`` header.
    """

    reason: ReasonCode
    detail: str
    field: str | None = None
    exception: str | None = None


def processing_failure(exc: BaseException) -> Rejected:
    """A record the worker failed on after decoding it (model, encoding, producing).

    Dead-lettering it lets the batch go on; the record can be replayed once fixed.
    """
    name = type(exc).__name__
    detail = (
        f"processing failed with {name} after the record passed validation (a cxstream"
        f" defect: report it with this dead letter, replay the record once fixed): {exc}"
    )
    return Rejected("processing_failed", detail[:MAX_DETAIL_CHARS], exception=name)


def late_event(occurred_at: float, newest: float, lateness_s: float) -> Rejected:
    """An event older than its customer's newest event minus the lateness bound."""
    detail = (
        f"occurred_at {iso_or_seconds(occurred_at)} is {(newest - occurred_at) / 3600:.1f}h"
        f" before this customer's newest event {iso_or_seconds(newest)}, beyond the lateness"
        f" bound of {lateness_s / 3600:g}h: the model has moved on; produce events within"
        " the bound, or raise ordering.grace_hours and rebuild the state by replay"
    )
    return Rejected("late_event", detail[:MAX_DETAIL_CHARS], field="occurred_at")


class RejectError(Exception):
    """Internal control flow: raised deep in a codec, turned into :class:`Rejected` at the edge."""

    def __init__(self, reason: ReasonCode, detail: str, field: str | None = None) -> None:
        super().__init__(reason, detail)
        self.reason: ReasonCode = reason
        self.detail = detail
        self.field = field

    def rejected(self) -> Rejected:
        return Rejected(self.reason, self.detail[:MAX_DETAIL_CHARS], self.field)
