"""Decode one Kafka message into a domain event, or say precisely why not.

The pipeline calls :func:`decode_event` for every input message, so it never raises for
anything a producer can put on a topic: framing, schema and content problems all come back
as :class:`Rejected` with a reason from :data:`REASON_CODES`, ready for the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from streams.contracts.cloudevents import SPECVERSION, dedup_key, read_headers
from streams.contracts.codec import normalize_content_type, read_record
from streams.contracts.confluent import ConfluentRegistry
from streams.contracts.mapping import FROM_RECORD
from streams.contracts.results import MAX_DETAIL_CHARS, Decoded, Rejected, RejectError
from streams.contracts.store import INPUT_KINDS, ReaderSchema, SchemaStore, default_store
from streams.contracts.validation import DEFAULT_MAX_FUTURE_SKEW, check_event
from streams.errors import ContractError

Headers = Sequence[tuple[str, bytes | None]]


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
    max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW,
) -> Decoded | Rejected:
    """Decode an input message of ``topic_kind`` (purchases, tickets, feedback, profiles).

    ``now`` (epoch seconds) bounds how far in the future ``occurred_at`` may be. An unknown
    ``topic_kind`` is a programming error and raises :class:`ContractError`; nothing about
    the message itself ever raises.
    """
    if topic_kind not in INPUT_KINDS:
        raise ContractError(f"unknown topic kind {topic_kind!r}; expected one of {INPUT_KINDS}")
    reader = (store or default_store()).reader(topic_kind)
    try:
        return _decode(reader, key, value, headers, now, registry, store, max_future_skew)
    except RejectError as rej:
        return rej.rejected()
    except Exception as exc:  # the boundary: nothing a producer sends may crash the pipeline
        return Rejected("undecodable", f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])


def _decode(
    reader: ReaderSchema,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    now: float,
    registry: ConfluentRegistry | None,
    store: SchemaStore | None,
    max_future_skew: float,
) -> Decoded:
    found = read_headers(headers)
    if found.specversion is not None and found.specversion != SPECVERSION:
        raise RejectError(
            "unsupported_specversion", f"ce_specversion {found.specversion[:32]!r} != 1.0"
        )
    record = decode_value(reader, value, found.content_type, registry, store)
    event = FROM_RECORD[reader.kind](record)
    check_event(event, key, found.ce_subject, now, max_future_skew)
    if found.ce_source and found.ce_id:
        return Decoded(event, dedup_key(found.ce_source, found.ce_id))
    return Decoded(event, dedup_key(event.source, event.event_id))


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
    max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW,
) -> Decoded | Rejected:
    """:func:`decode_event` for a consumed ``confluent_kafka.Message``."""
    return decode_event(
        topic_kind,
        msg.key(),
        msg.value(),
        msg.headers(),
        now=now,
        registry=registry,
        store=store,
        max_future_skew=max_future_skew,
    )
