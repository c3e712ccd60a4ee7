"""Checks a schema cannot express: value ranges, identity and time sanity.

Each failure has its own reason code so a dead-letter dashboard says *what* is wrong with
a producer's data, not just that something is.
"""

from __future__ import annotations

from typing import Final

from streams.contracts.results import ReasonCode, RejectError
from streams.domain import (
    CustomerProfile,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    TicketEvent,
)

DEFAULT_MAX_FUTURE_SKEW: Final = 86_400.0  # seconds an event may lie ahead of "now"
MAX_TIME: Final = 253_402_300_799.999  # 9999-12-31T23:59:59.999Z, the last datetime

# Feedback kind -> (reason code, inclusive range); a review's star rating is optional.
_SCORE_RANGES: Final[dict[FeedbackKind, tuple[ReasonCode, int, int]]] = {
    FeedbackKind.NPS: ("nps_out_of_range", 0, 10),
    FeedbackKind.CSAT: ("csat_out_of_range", 1, 5),
    FeedbackKind.CES: ("ces_out_of_range", 1, 7),
    FeedbackKind.REVIEW: ("rating_out_of_range", 1, 5),
}


def check_event(
    event: Event, key: bytes | None, subject: str | None, now: float, max_future_skew: float
) -> None:
    """Raise :class:`RejectError` if ``event`` is not fit for the model."""
    if not event.customer_id:
        raise RejectError("empty_customer_id", "customer_id is empty")
    if not event.event_id or not event.source:
        raise RejectError("empty_identifier", "event_id and source must not be empty")
    if key is not None and key != event.customer_id.encode():
        raise RejectError(
            "key_mismatch", f"message key {key[:64]!r} != customer_id {event.customer_id!r}"
        )
    if subject is not None and subject != event.customer_id:
        raise RejectError("key_mismatch", f"ce_subject {subject!r} != {event.customer_id!r}")
    _check_time("occurred_at", event.occurred_at)
    if event.occurred_at > now + max_future_skew:
        raise RejectError(
            "future_event_time",
            f"occurred_at {event.occurred_at:.3f} is {event.occurred_at - now:.0f}s after now"
            f" (allowed skew {max_future_skew:.0f}s)",
        )
    if isinstance(event, Purchase):
        _check_purchase(event)
    elif isinstance(event, Feedback):
        _check_feedback(event)
    elif isinstance(event, TicketEvent):
        if not event.ticket_id:
            raise RejectError("empty_identifier", "ticket_id is empty")
        _check_time("sla_due_at", event.sla_due_at)
    elif isinstance(event, CustomerProfile):
        _check_time("signup_at", event.signup_at)


def _check_time(name: str, seconds: float | None) -> None:
    """Times must lie in 1970..9999 so that they can be written back as dates."""
    if seconds is not None and not 0.0 <= seconds <= MAX_TIME:
        raise RejectError("invalid_event_time", f"{name} {seconds:.3f} outside 1970..9999")


def _check_purchase(p: Purchase) -> None:
    if p.amount_minor < 0 and p.kind is not PurchaseKind.REFUND:
        raise RejectError("negative_amount", f"{p.kind.value} with amount {p.amount_minor}")
    if p.item_count < 0:
        raise RejectError("negative_item_count", f"item_count {p.item_count}")
    currency = p.currency
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha() and currency.isupper()):
        raise RejectError("invalid_currency", f"currency {currency[:16]!r} is not ISO 4217")
    if not p.order_id:
        raise RejectError("empty_identifier", "order_id is empty")


def _check_feedback(f: Feedback) -> None:
    reason, low, high = _SCORE_RANGES[f.kind]
    if f.score is None:
        if f.kind is not FeedbackKind.REVIEW:
            raise RejectError("missing_score", f"{f.kind.value} feedback without a score")
    elif not low <= f.score <= high:
        raise RejectError(reason, f"{f.kind.value} score {f.score} outside {low}-{high}")
