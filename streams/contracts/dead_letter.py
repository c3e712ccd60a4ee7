"""Dead letters: the original message, byte for byte, plus ``dlq.*`` headers saying why.

Keeping key, value and headers intact means a dead letter can be replayed onto its source
topic unchanged once the producer or the contract is fixed. If a message is dead-lettered
again, new ``dlq.*`` headers are appended; readers should take the last occurrence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from streams.contracts.cloudevents import iso_utc
from streams.contracts.decode import MessageLike
from streams.contracts.results import Rejected

DLQ_REASON: Final = "dlq.reason"
DLQ_DETAIL: Final = "dlq.detail"
DLQ_SOURCE_TOPIC: Final = "dlq.source.topic"
DLQ_SOURCE_PARTITION: Final = "dlq.source.partition"
DLQ_SOURCE_OFFSET: Final = "dlq.source.offset"
DLQ_REJECTED_AT: Final = "dlq.rejected_at"
DLQ_HEADERS: Final = (
    DLQ_REASON,
    DLQ_DETAIL,
    DLQ_SOURCE_TOPIC,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_OFFSET,
    DLQ_REJECTED_AT,
)

HeaderList = list[tuple[str, bytes | None]]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")  # details may quote broken input


def dead_letter(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    rejected: Rejected,
    topic: str,
    partition: int,
    offset: int,
    now: float,
) -> tuple[bytes | None, bytes | None, HeaderList]:
    """``(key, value, headers)`` to produce to the dead-letter topic for one rejection."""
    out: HeaderList = list(headers or ())
    out += [
        (DLQ_REASON, _utf8(rejected.reason)),
        (DLQ_DETAIL, _utf8(rejected.detail)),
        (DLQ_SOURCE_TOPIC, _utf8(topic)),
        (DLQ_SOURCE_PARTITION, str(partition).encode()),
        (DLQ_SOURCE_OFFSET, str(offset).encode()),
        (DLQ_REJECTED_AT, iso_utc(now).encode()),
    ]
    return key, value, out


def dead_letter_message(
    msg: MessageLike, rejected: Rejected, now: float
) -> tuple[bytes | None, bytes | None, HeaderList]:
    """:func:`dead_letter` for a consumed ``confluent_kafka.Message``."""
    partition, offset = msg.partition(), msg.offset()
    return dead_letter(
        msg.key(),
        msg.value(),
        msg.headers(),
        rejected,
        msg.topic() or "",
        -1 if partition is None else partition,
        -1 if offset is None else offset,
        now,
    )
