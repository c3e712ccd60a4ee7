"""Dead letters: the original message, byte for byte, plus ``dlq.*`` headers saying why.

Keeping key, value and headers intact means a dead letter can be replayed onto its source
topic unchanged once the producer or the contract is fixed. If a message is dead-lettered
again, new ``dlq.*`` headers are appended; readers should take the last occurrence.

A dead letter never exceeds ``max_bytes``: a message too large to produce would be
committed past and lost, so an oversized one is cut to fit and says so (``dlq.truncated``,
the original sizes and SHA-256 hashes). Nothing is dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from streams.contracts.cloudevents import iso_utc
from streams.contracts.decode import MessageLike
from streams.contracts.limits import DEFAULT_DLQ_MAX_BYTES
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
DLQ_EXCEPTION: Final = "dlq.exception"
DLQ_TRUNCATED: Final = "dlq.truncated"
DLQ_ORIGINAL_SIZE: Final = "dlq.original.size"
DLQ_ORIGINAL_SHA256: Final = "dlq.original.sha256"
DLQ_ORIGINAL_KEY_SIZE: Final = "dlq.original.key.size"
DLQ_ORIGINAL_KEY_SHA256: Final = "dlq.original.key.sha256"
DLQ_ORIGINAL_HEADERS_SIZE: Final = "dlq.original.headers.size"

#: Bytes a record costs beyond its key, value and header bytes (varints, attributes), and
#: per header: generous upper bounds, so the estimate never undercounts.
RECORD_OVERHEAD: Final = 64
HEADER_OVERHEAD: Final = 10
#: When cutting: an original key keeps at most this much, and each original header value.
MAX_CUT_KEY: Final = 1024
MAX_CUT_HEADER_VALUE: Final = 1024
#: When cutting: original headers beyond this many bytes in total are left out.
MAX_CUT_HEADERS: Final = 64 * 1024
MAX_DETAIL_BYTES: Final = 2048
#: The smallest budget that always fits the cut key and headers plus the dlq.* headers.
_MIN_BUDGET: Final = 100_000

HeaderList = list[tuple[str, bytes | None]]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")  # details may quote broken input


def message_size(key: bytes | None, value: bytes | None, headers: HeaderList) -> int:
    """An upper bound of the bytes one record takes in a produce request."""
    size = RECORD_OVERHEAD + len(key or b"") + len(value or b"")
    return size + sum(HEADER_OVERHEAD + len(_utf8(n)) + len(v or b"") for n, v in headers)


def dead_letter(
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    rejected: Rejected,
    topic: str,
    partition: int,
    offset: int,
    now: float,
    *,
    max_bytes: int = DEFAULT_DLQ_MAX_BYTES,
) -> tuple[bytes | None, bytes | None, HeaderList]:
    """``(key, value, headers)`` to produce to the dead-letter topic for one rejection."""
    if max_bytes < _MIN_BUDGET:
        raise ValueError(f"max_bytes must be >= {_MIN_BUDGET}, got {max_bytes}")
    original: HeaderList = list(headers or ())
    dlq: HeaderList = [
        (DLQ_REASON, _utf8(rejected.reason)),
        (DLQ_DETAIL, _utf8(rejected.detail)[:MAX_DETAIL_BYTES]),
        (DLQ_SOURCE_TOPIC, _utf8(topic)[:MAX_CUT_HEADER_VALUE]),
        (DLQ_SOURCE_PARTITION, str(partition).encode()),
        (DLQ_SOURCE_OFFSET, str(offset).encode()),
        (DLQ_REJECTED_AT, iso_utc(now).encode()),
    ]
    if rejected.exception is not None:
        dlq.append((DLQ_EXCEPTION, _utf8(rejected.exception)[:MAX_CUT_HEADER_VALUE]))
    if message_size(key, value, original + dlq) <= max_bytes:
        return key, value, original + dlq
    return _truncated(key, value, original, dlq, max_bytes)


def _truncated(
    key: bytes | None, value: bytes | None, original: HeaderList, dlq: HeaderList, budget: int
) -> tuple[bytes | None, bytes | None, HeaderList]:
    """Cut key, original headers and value (in that order of priority) to fit ``budget``."""
    notes: HeaderList = [(DLQ_TRUNCATED, b"true")]
    if value is not None:
        notes += [
            (DLQ_ORIGINAL_SIZE, str(len(value)).encode()),
            (DLQ_ORIGINAL_SHA256, hashlib.sha256(value).hexdigest().encode()),
        ]
    if key is not None and len(key) > MAX_CUT_KEY:
        notes += [
            (DLQ_ORIGINAL_KEY_SIZE, str(len(key)).encode()),
            (DLQ_ORIGINAL_KEY_SHA256, hashlib.sha256(key).hexdigest().encode()),
        ]
        key = key[:MAX_CUT_KEY]
    kept = _cut_headers(original)
    if kept != original:
        size = sum(len(_utf8(n)) + len(v or b"") for n, v in original)
        notes.append((DLQ_ORIGINAL_HEADERS_SIZE, str(size).encode()))
    out = kept + dlq + notes
    if value is not None:
        room = budget - message_size(key, b"", out)
        value = value[: max(room, 0)]
    return key, value, out


def _cut_headers(headers: HeaderList) -> HeaderList:
    """Each header value cut to :data:`MAX_CUT_HEADER_VALUE`, at most :data:`MAX_CUT_HEADERS`."""
    kept: HeaderList = []
    total = 0
    for name, raw in headers:
        cut_name = _utf8(name)[:MAX_CUT_HEADER_VALUE].decode("utf-8", "ignore")
        cut = None if raw is None else raw[:MAX_CUT_HEADER_VALUE]
        total += HEADER_OVERHEAD + len(_utf8(cut_name)) + len(cut or b"")
        if total > MAX_CUT_HEADERS:
            break
        kept.append((cut_name, cut))
    return kept


def dead_letter_message(
    msg: MessageLike, rejected: Rejected, now: float, *, max_bytes: int = DEFAULT_DLQ_MAX_BYTES
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
        max_bytes=max_bytes,
    )
