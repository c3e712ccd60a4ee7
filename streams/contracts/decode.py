"""Decode one Kafka message into a domain event, or say precisely why not.

The pipeline calls :func:`decode_event` for every input message, so it never raises for
anything a producer can put on a topic: framing, schema and content problems all come back
as :class:`Rejected` with a reason from :data:`REASON_CODES`, ready for the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from streams.contracts.cloudevents import SPECVERSION, dedup_key, read_headers
from streams.contracts.codec import normalize_content_type, read_record
from streams.contracts.confluent import ConfluentRegistry
from streams.contracts.limits import LIVE_WINDOW, EventTimeWindow
from streams.contracts.mapping import FROM_RECORD
from streams.contracts.results import MAX_DETAIL_CHARS, Decoded, Rejected, RejectError
from streams.contracts.store import ReaderSchema, SchemaStore, default_store
from streams.contracts.validation import check_event
from streams.errors import ContractError
from streams.topics import EVENT_INPUT_KINDS

Headers = Sequence[tuple[str, bytes | None]]
T = TypeVar("T")


class MessageLike(Protocol):
    """The parts of ``confluent_kafka.Message`` the contracts layer uses."""

    def topic(self) -> str | None: ...

    def partition(self) -> int | None: ...

    def offset(self) -> int | None: ...

    def key(self) -> bytes | None: ...

    def value(self) -> bytes | None: ...

    def headers(self) -> list[tuple[str, bytes | None]] | None: ...


def decode_event(
    topic_kind: str,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    *,
    now: float,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
    record_time: float | None = None,
    window: EventTimeWindow | None = None,
    require_key: bool = True,
) -> Decoded | Rejected:
    """Decode an input message of ``topic_kind`` (purchases, tickets, feedback, profiles).

    ``occurred_at`` must lie in ``window`` (default :data:`LIVE_WINDOW`) around the record's
    Kafka timestamp ``record_time`` (epoch seconds) when it is given and > 0, else around
    ``now``, and never more than ``window.max_ahead`` after ``now``. A null ``key`` is
    rejected unless ``require_key`` is False (events read from files have no key yet). An
    unknown ``topic_kind`` is a programming error and raises
    :class:`ContractError`; nothing about the message itself ever raises.
    """
    if topic_kind not in EVENT_INPUT_KINDS:
        raise ContractError(
            f"unknown topic kind {topic_kind!r}; expected one of {EVENT_INPUT_KINDS}"
        )
    reader = (store or default_store()).reader(topic_kind)
    checked = decode_checked(
        reader, key, value, headers, FROM_RECORD[reader.kind], check_event, now=now,
        registry=registry, store=store, record_time=record_time, window=window,
        require_key=require_key,
    )  # fmt: skip
    if isinstance(checked, Rejected):
        return checked
    return Decoded(*checked)


class _Checked(Protocol):
    """What :func:`decode_checked` needs of a decoded event or action."""

    source: str
    event_id: str


def decode_checked(
    reader: ReaderSchema,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    parse: Callable[[dict[str, Any]], T],
    check: Callable[..., None],
    *,
    now: float,
    registry: ConfluentRegistry | None,
    store: SchemaStore | None,
    record_time: float | None,
    window: EventTimeWindow | None,
    require_key: bool,
) -> tuple[T, str] | Rejected:
    """The one decoding path of every input topic: headers, framing, ``parse`` of the record
    and ``check`` of its content (see :func:`decode_event`); the item and its dedup key, or why
    not. Never raises for anything in the message."""
    try:
        found = read_headers(headers)
        if found.specversion is not None and found.specversion != SPECVERSION:
            raise RejectError(
                "unsupported_specversion", f"ce_specversion {found.specversion[:32]!r} != 1.0"
            )
        record = decode_value(reader, value, found.content_type, registry, store)
        item = parse(record)
        stamped = record_time is not None and record_time > 0
        check(
            item,
            key,
            found.ce_subject,
            reference=record_time if stamped and record_time is not None else now,
            window=window or LIVE_WINDOW,
            reference_name="the record timestamp" if stamped else "the wall clock",
            now=now,
            require_key=require_key,
        )
    except RejectError as rej:
        return rej.rejected()
    except Exception as exc:  # the boundary: nothing a producer sends may crash the pipeline
        return Rejected("undecodable", f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])
    named: _Checked = item  # type: ignore[assignment]
    if found.ce_source and found.ce_id:
        return item, dedup_key(found.ce_source, found.ce_id)
    return item, dedup_key(named.source, named.event_id)


def decode_value(
    reader: ReaderSchema,
    value: bytes | None,
    content_type: str | None,
    registry: ConfluentRegistry | None,
    store: SchemaStore | None,
) -> dict[str, Any]:
    """The Avro record in ``value``; raises :class:`RejectError` (shared with the outputs)."""
    if not value:
        raise RejectError("tombstone", "message has no value (null or empty)")
    if content_type is None:
        raise RejectError("missing_content_type", "no content-type header; see docs/contracts.md")
    fmt = normalize_content_type(content_type)
    if fmt is None:
        raise RejectError("unknown_content_type", f"content-type {content_type[:100]!r}")
    return read_record(store or default_store(), reader, fmt, bytes(value), registry)


def decode_message(
    msg: MessageLike,
    topic_kind: str,
    *,
    now: float,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
    window: EventTimeWindow | None = None,
) -> Decoded | Rejected:
    """:func:`decode_event` for a consumed ``confluent_kafka.Message`` (with its timestamp)."""
    return decode_event(
        topic_kind,
        msg.key(),
        msg.value(),
        msg.headers(),
        now=now,
        registry=registry,
        store=store,
        record_time=record_seconds(msg),
        window=window,
    )


def record_seconds(msg: object) -> float | None:
    """The Kafka timestamp of ``msg`` in epoch seconds, or None when it has none."""
    timestamp = getattr(msg, "timestamp", None)
    if timestamp is None:
        return None
    kind, millis = timestamp()
    return millis / 1000 if kind and millis > 0 else None
