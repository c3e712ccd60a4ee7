"""CloudEvents 1.0 Kafka binding, binary mode: attributes travel as ``ce_*`` headers.

In binary mode the CloudEvents ``datacontenttype`` *is* the Kafka ``content-type`` header,
so one header both satisfies CloudEvents and selects cxstream's wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from streams.contracts.codec import CONTENT_TYPE_HEADER
from streams.errors import ContractError

SPECVERSION: Final = "1.0"
CE_SPECVERSION: Final = "ce_specversion"
CE_ID: Final = "ce_id"
CE_SOURCE: Final = "ce_source"
CE_TYPE: Final = "ce_type"
CE_TIME: Final = "ce_time"
CE_SUBJECT: Final = "ce_subject"

#: CloudEvents ``type`` of each record kind (reverse-DNS, versioned with the namespace).
CE_TYPES: Final[dict[str, str]] = {
    "purchases": "io.cxstream.v1.purchase",
    "tickets": "io.cxstream.v1.ticket",
    "feedback": "io.cxstream.v1.feedback",
    "profiles": "io.cxstream.v1.profile",
    "alerts": "io.cxstream.v1.alert",
    "health": "io.cxstream.v1.health",
    "alert_actions": "io.cxstream.v1.alert-action",
    "alert_outcomes": "io.cxstream.v1.alert-outcome",
}

Headers = Sequence[tuple[str, bytes | None]]


def iso_utc(seconds: float) -> str:
    """RFC 3339 / ISO-8601 UTC with milliseconds and a ``Z``, e.g. for ``ce_time``."""
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ContractError(f"time {seconds!r} cannot be written as a date: {exc}") from exc
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_headers(
    content_type: str, ce_id: str, source: str, kind: str, time: float, subject: str
) -> list[tuple[str, bytes]]:
    """The ``content-type`` header plus the CloudEvents attributes of one event."""
    return [
        (CONTENT_TYPE_HEADER, content_type.encode()),
        (CE_SPECVERSION, SPECVERSION.encode()),
        (CE_ID, ce_id.encode()),
        (CE_SOURCE, source.encode()),
        (CE_TYPE, CE_TYPES[kind].encode()),
        (CE_TIME, iso_utc(time).encode()),
        (CE_SUBJECT, subject.encode()),
    ]


@dataclass(slots=True)
class MessageHeaders:
    """The headers cxstream reads, decoded to text (the last occurrence of a name wins)."""

    content_type: str | None = None
    specversion: str | None = None
    ce_id: str | None = None
    ce_source: str | None = None
    ce_subject: str | None = None


_FIELDS: Final = {
    CONTENT_TYPE_HEADER: "content_type",
    CE_SPECVERSION: "specversion",
    CE_ID: "ce_id",
    CE_SOURCE: "ce_source",
    CE_SUBJECT: "ce_subject",
}


def read_headers(headers: Headers | None) -> MessageHeaders:
    """Pick the interesting headers out of a Kafka header list (names case-insensitive).

    Raises ``UnicodeDecodeError`` for a non-UTF-8 value; the decoder turns that into a
    rejection.
    """
    found = MessageHeaders()
    if not headers:
        return found
    for name, value in headers:
        attr = _FIELDS.get(name) or _FIELDS.get(name.lower())
        if attr is not None:
            setattr(found, attr, None if value is None else value.decode())
    return found


def dedup_key(source: str, event_id: str) -> str:
    """``source`` and ``id`` joined by a space: a space cannot occur in a URI-reference."""
    return f"{source} {event_id}"
