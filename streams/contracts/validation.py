"""Checks a schema cannot express: keys, value ranges, sizes and plausible times.

Each failure has its own reason code so a dead-letter dashboard says *what* is wrong with
a producer's data, and each detail names the field, the limit and the fix. The limits live
in :mod:`streams.contracts.limits`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Final

from streams.contracts.limits import (
    ATTRIBUTE_FIELDS,
    ID_FIELDS,
    MAX_AMOUNT_MINOR,
    MAX_ATTRIBUTE_CHARS,
    MAX_ID_CHARS,
    MAX_ITEM_COUNT,
    MAX_TEXT_CHARS,
    MAX_TIME,
    NOT_BEFORE,
    SIGNUP_NOT_BEFORE,
    TEXT_FIELDS,
    EventTimeWindow,
)
from streams.contracts.limits import iso_or_seconds as iso
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

SECONDS_AS_MS_HINT: Final = "looks like seconds sent as milliseconds"
MISSING_KEY_FIX: Final = (
    "produce with key = customer_id and the murmur2 partitioner, see docs/contracts.md"
)

# Feedback kind -> (reason code, inclusive range); a review's star rating is optional.
_SCORE_RANGES: Final[dict[FeedbackKind, tuple[ReasonCode, int, int]]] = {
    FeedbackKind.NPS: ("nps_out_of_range", 0, 10),
    FeedbackKind.CSAT: ("csat_out_of_range", 1, 5),
    FeedbackKind.CES: ("ces_out_of_range", 1, 7),
    FeedbackKind.REVIEW: ("rating_out_of_range", 1, 5),
}

# reason, limit, fix of each bounded string field
_STRING_LIMITS: Final[tuple[tuple[tuple[str, ...], ReasonCode, int, str], ...]] = (
    (ID_FIELDS, "identifier_too_long", MAX_ID_CHARS, "send a shorter id (e.g. a hash of it)"),
    (ATTRIBUTE_FIELDS, "attribute_too_long", MAX_ATTRIBUTE_CHARS, "send a short label"),
    (TEXT_FIELDS, "text_too_long", MAX_TEXT_CHARS, "cut the text before producing"),
)
# per event type, its bounded string fields (looked up once, not per message)
_BOUNDED: Final[dict[type, tuple[tuple[str, ReasonCode, int, str], ...]]] = {
    cls: tuple(
        (name, reason, limit, fix)
        for names, reason, limit, fix in _STRING_LIMITS
        for name in names
        if name in {f.name for f in fields(cls)}  # a type's own fields only
    )
    for cls in (Purchase, TicketEvent, Feedback, CustomerProfile)
}


def check_event(
    event: Event,
    key: bytes | None,
    subject: str | None,
    *,
    reference: float,
    window: EventTimeWindow,
    reference_name: str = "the wall clock",
    now: float | None = None,
    require_key: bool = True,
) -> None:
    """Raise :class:`RejectError` if ``event`` is not fit for the model.

    ``reference`` is the time ``window`` is relative to (the record's Kafka timestamp or
    the wall clock, named by ``reference_name`` in details); ``now``, the wall clock, also
    caps the future. ``require_key=False`` is for events that do not come from Kafka
    (files to replay): they have no key yet.
    """
    if not event.customer_id:
        raise RejectError("empty_customer_id", "customer_id is empty", "customer_id")
    if not event.event_id or not event.source:
        name = "source" if event.event_id else "event_id"
        raise RejectError("empty_identifier", f"{name} is empty: send a unique, stable id", name)
    _check_strings(event)
    check_key(event.customer_id, key, subject, require_key)
    check_event_time(event.occurred_at, reference, window, reference_name, now)
    if isinstance(event, Purchase):
        _check_purchase(event)
    elif isinstance(event, Feedback):
        _check_feedback(event)
    elif isinstance(event, TicketEvent):
        if not event.ticket_id:
            raise RejectError("empty_identifier", "ticket_id is empty", "ticket_id")
        _check_date("sla_due_at", event.sla_due_at, window.not_before)
    elif isinstance(event, CustomerProfile):
        _check_date("signup_at", event.signup_at, min(SIGNUP_NOT_BEFORE, window.not_before))


def _check_strings(event: Event) -> None:
    for name, reason, limit, fix in _BOUNDED[type(event)]:
        value = getattr(event, name)
        if value is not None and len(value) > limit:
            detail = f"{name} has {len(value)} characters, over the limit of {limit}: {fix}"
            raise RejectError(reason, detail, name)


def check_key(customer_id: str, key: bytes | None, subject: str | None, required: bool) -> None:
    """A null key lands on an arbitrary partition and would split the customer's state."""
    if key is None:
        if required:
            raise RejectError("missing_key", f"message has no key: {MISSING_KEY_FIX}", "key")
    elif key != customer_id.encode():
        raise RejectError(
            "key_mismatch",
            f"message key {key[:64]!r} != customer_id {customer_id[:64]!r}: {MISSING_KEY_FIX}",
            "key",
        )
    if subject is not None and subject != customer_id:
        raise RejectError(
            "key_mismatch",
            f"ce_subject {subject[:64]!r} != customer_id {customer_id[:64]!r}: set ce_subject"
            " to the customer_id or leave it out",
            "ce_subject",
        )


def check_event_time(
    occurred_at: float,
    reference: float,
    window: EventTimeWindow,
    reference_name: str,
    now: float | None = None,
) -> None:
    """``occurred_at`` must be a date, and a plausible one relative to ``reference``."""
    _check_representable("occurred_at", occurred_at)
    earliest, latest = window.bounds(reference, now)
    if earliest <= occurred_at <= latest:
        return
    accepted = f"{iso(earliest)} .. {iso(latest)} ({reference_name} {iso(reference)})"
    hint = _unit_hint(occurred_at, latest) if occurred_at < window.not_before else None
    if hint is not None:
        detail = f"occurred_at {iso(occurred_at)} {hint} (accepted: {accepted})"
    else:
        if occurred_at < window.not_before:
            fix = "send the real event time in epoch milliseconds"
        elif occurred_at < earliest:
            fix = (
                f"it is more than {window.max_delay or 0:.0f}s older than {reference_name}:"
                " stamp the record timestamp with occurred_at, or import history with"
                " cxstream replay"
            )
        else:
            fix = "check the producer's clock and that occurred_at is in epoch milliseconds"
        detail = f"occurred_at {iso(occurred_at)} outside the accepted window {accepted}: {fix}"
    raise RejectError("event_time_out_of_range", detail, "occurred_at")


def _check_date(name: str, seconds: float | None, not_before: float) -> None:
    """Other time fields: a date, and not before the window's floor."""
    if seconds is None:
        return
    _check_representable(name, seconds)
    if seconds < not_before:
        hint = _unit_hint(seconds, MAX_TIME) or "is implausible: send the real time in epoch ms"
        raise RejectError(
            "event_time_out_of_range",
            f"{name} {iso(seconds)} {hint} (accepted: not before {iso(not_before)})",
            name,
        )


def _check_representable(name: str, seconds: float) -> None:
    """Times must lie in 1970..9999 so that they can be written back as dates."""
    if not 0.0 <= seconds <= MAX_TIME:
        hint = _unit_hint(seconds, MAX_TIME) or "send epoch milliseconds"
        raise RejectError(
            "invalid_event_time", f"{name} {seconds * 1000:.0f} ms outside 1970..9999: {hint}", name
        )


def _unit_hint(seconds: float, latest: float) -> str | None:
    """Name the unit mistake when the value makes sense in another unit."""
    if NOT_BEFORE <= seconds * 1000 <= latest:
        return f"{SECONDS_AS_MS_HINT}; send epoch milliseconds"
    if NOT_BEFORE <= seconds / 1000 <= latest:
        return "looks like microseconds sent as milliseconds; send epoch milliseconds"
    return None


def _check_purchase(p: Purchase) -> None:
    if abs(p.amount_minor) > MAX_AMOUNT_MINOR:
        raise RejectError(
            "amount_out_of_range",
            f"amount_minor {p.amount_minor} beyond ±10**15 (one quadrillion minor units):"
            " send the amount in minor units (e.g. cents), split larger orders",
            "amount_minor",
        )
    if p.amount_minor < 0 and p.kind is not PurchaseKind.REFUND:
        raise RejectError(
            "negative_amount",
            f"{p.kind.value} with amount_minor {p.amount_minor}: only refunds may be negative",
            "amount_minor",
        )
    if p.item_count < 0:
        raise RejectError(
            "negative_item_count", f"item_count {p.item_count} must be >= 0", "item_count"
        )
    if p.item_count > MAX_ITEM_COUNT:
        raise RejectError(
            "item_count_out_of_range",
            f"item_count {p.item_count} over the limit of {MAX_ITEM_COUNT}:"
            " send the number of items, not an amount or an id",
            "item_count",
        )
    currency = p.currency
    if len(currency) != 3 or not (currency.isascii() and currency.isalpha() and currency.isupper()):
        raise RejectError(
            "invalid_currency",
            f"currency {currency[:16]!r} is not ISO 4217: send three upper-case letters, e.g. EUR",
            "currency",
        )
    if not p.order_id:
        raise RejectError("empty_identifier", "order_id is empty", "order_id")


def _check_feedback(f: Feedback) -> None:
    reason, low, high = _SCORE_RANGES[f.kind]
    if f.score is None:
        if f.kind is not FeedbackKind.REVIEW:
            raise RejectError("missing_score", f"{f.kind.value} feedback without a score", "score")
    elif not low <= f.score <= high:
        raise RejectError(
            reason,
            f"{f.kind.value} score {f.score} outside {low}-{high}: send the raw score",
            "score",
        )
