"""Every documented limit of the input contract, in one place (see docs/contracts.md).

The limits exist so that nothing a producer sends can break a worker later: an amount of
``2**63 - 1`` overflowed the health snapshot's Avro long when summed, a 1 MB customer id
became a 1 MB table, changelog and Redis key, and an event time in seconds instead of
milliseconds landed in January 1970 and opened a churn alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

DAY: Final = 86_400.0

#: |amount_minor| bound: one quadrillion minor units (10 trillion in a 2-decimal currency).
#: 9,223 such amounts still sum below 2**63 and a float sum stays exact to the unit.
MAX_AMOUNT_MINOR: Final = 10**15
#: Items in one order.
MAX_ITEM_COUNT: Final = 1_000_000
#: Identifiers: customer_id, event_id, source, order_id, ticket_id, agent_id, location_id.
MAX_ID_CHARS: Final = 256
#: Categorical attributes: ticket category and the profile fields (segment, plan, ...).
MAX_ATTRIBUTE_CHARS: Final = 256
#: Free text: a feedback comment.
MAX_TEXT_CHARS: Final = 10_000

ID_FIELDS: Final = (
    "customer_id",
    "event_id",
    "source",
    "order_id",
    "ticket_id",
    "agent_id",
    "location_id",
)
ATTRIBUTE_FIELDS: Final = (
    "category",
    "segment",
    "plan",
    "industry",
    "company_size",
    "region",
    "acquisition_channel",
    "cx_team",
    "account_owner",
)
TEXT_FIELDS: Final = ("comment",)

#: No event within the field limits above encodes larger (10,000 characters of text escaped as
#: ``\uXXXX`` take 60 KB; every identifier and attribute at its limit adds under 20 KB).
MAX_EVENT_BYTES: Final = 256 * 1024

#: 2000-01-01T00:00:00Z: no customer event of this system predates it; everything before is
#: a unit mistake (seconds sent as milliseconds land in January 1970) or a zero default.
NOT_BEFORE: Final = 946_684_800.0
#: signup_at may predate 2000 (long-standing customers); before 1971 it is a unit mistake.
SIGNUP_NOT_BEFORE: Final = 31_536_000.0
#: How far an event may lie after its reference time (clock skew between producers).
DEFAULT_MAX_FUTURE_SKEW: Final = DAY
#: How long before its record's Kafka timestamp an event may have occurred, live.
DEFAULT_MAX_DELAY: Final = 30 * DAY
#: Tolerated clock skew of a recorded file's machine, for replay and import.
REPLAY_MAX_AHEAD: Final = 60.0
#: 9999-12-31T23:59:59.999Z: the last time that can be written back as a date.
MAX_TIME: Final = 253_402_300_799.999

#: Dead letters stay below librdkafka's default message.max.bytes (1,000,000) with room
#: for the record batch framing.
DEFAULT_DLQ_MAX_BYTES: Final = 900_000


@dataclass(frozen=True, slots=True)
class EventTimeWindow:
    """Which ``occurred_at`` values are plausible, relative to a reference time.

    The reference is the record's Kafka timestamp when known (> 0), else the wall clock:
    given the same record and timestamp the verdict is the same on every replay (once the
    wall clock has passed the timestamp). The wall clock also caps the future, so that a
    producer-set timestamp cannot carry an event years ahead. ``max_delay=None`` puts no
    bound on age (replays and imports carry old history).
    """

    not_before: float = NOT_BEFORE
    max_delay: float | None = DEFAULT_MAX_DELAY
    max_ahead: float = DEFAULT_MAX_FUTURE_SKEW

    def __post_init__(self) -> None:
        if self.max_ahead < 0 or (self.max_delay is not None and self.max_delay < 0):
            raise ValueError(f"window bounds must be >= 0: {self}")

    def bounds(self, reference: float, now: float | None = None) -> tuple[float, float]:
        """The inclusive ``(earliest, latest)`` accepted event time for ``reference``."""
        earliest = self.not_before
        if self.max_delay is not None:
            earliest = max(earliest, reference - self.max_delay)
        ahead_of = reference if now is None else min(reference, now)
        return earliest, ahead_of + self.max_ahead

    @classmethod
    def from_days(
        cls, max_delay_days: float | None, max_ahead_days: float, not_before: float = NOT_BEFORE
    ) -> EventTimeWindow:
        """A window from settings given in days (``None``: no bound on age)."""
        delay = None if max_delay_days is None else max_delay_days * DAY
        return cls(not_before, delay, max_ahead_days * DAY)


#: The worker's default: at most 30 days before the record timestamp, 1 day after it.
LIVE_WINDOW: Final = EventTimeWindow()
#: Replay and import: any age since 2000, but not in the future of the wall clock.
REPLAY_WINDOW: Final = EventTimeWindow(max_delay=None, max_ahead=REPLAY_MAX_AHEAD)


def iso_or_seconds(seconds: float) -> str:
    """ISO-8601 UTC for a rejection detail, or the raw number for a time no date can show."""
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return f"{seconds:.3f}s"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
