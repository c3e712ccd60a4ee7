"""Encoders for cxstream's own producers, and decoders for the topics cxstream writes.

Every encoder returns ``(key, value, headers)`` ready for ``Producer.produce``: the key is
the customer id (so one customer's messages stay ordered on one partition) and the headers
carry ``content-type`` plus the CloudEvents attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from streams.contracts.cloudevents import make_headers, read_headers
from streams.contracts.codec import AVRO_SINGLE_OBJECT, write_record
from streams.contracts.confluent import ConfluentRegistry
from streams.contracts.decode import decode_value
from streams.contracts.mapping import (
    EVENT_KINDS,
    alert_from_record,
    alert_to_record,
    event_to_record,
    snapshot_from_record,
    snapshot_to_record,
    to_millis,
)
from streams.contracts.results import MAX_DETAIL_CHARS, Rejected, RejectError
from streams.contracts.store import SchemaStore, default_store
from streams.domain import Alert, Event, HealthSnapshot
from streams.errors import ContractError

ALERT_SOURCE: Final = "/cxstream/alerts"
HEALTH_SOURCE: Final = "/cxstream/customer-health"

Encoded = tuple[bytes, bytes, list[tuple[str, bytes]]]
Headers = Sequence[tuple[str, bytes | None]]
T = TypeVar("T")


def encode_event(
    event: Event,
    fmt: str = AVRO_SINGLE_OBJECT,
    *,
    registry: ConfluentRegistry | None = None,
    subject: str | None = None,
    store: SchemaStore | None = None,
) -> Encoded:
    """Encode an input event; ``ce_id``/``ce_source`` are its ``event_id``/``source``."""
    kind = EVENT_KINDS.get(type(event))
    if kind is None:
        raise ContractError(f"not an input event: {type(event).__name__}")
    reader = (store or default_store()).reader(kind)
    value = write_record(reader, event_to_record(event), fmt, registry, subject)
    headers = make_headers(
        fmt, event.event_id, event.source, kind, event.occurred_at, event.customer_id
    )
    return event.customer_id.encode(), value, headers


def encode_alert(
    alert: Alert,
    fmt: str = AVRO_SINGLE_OBJECT,
    *,
    registry: ConfluentRegistry | None = None,
    subject: str | None = None,
    store: SchemaStore | None = None,
    source: str = ALERT_SOURCE,
) -> Encoded:
    """Encode one alert action; ``ce_id`` is unique per action: ``{alert_id}:{action}:{ms}``."""
    reader = (store or default_store()).reader("alerts")
    value = write_record(reader, alert_to_record(alert), fmt, registry, subject)
    ce_id = f"{alert.alert_id}:{alert.action.value}:{to_millis(alert.occurred_at)}"
    headers = make_headers(fmt, ce_id, source, "alerts", alert.occurred_at, alert.customer_id)
    return alert.customer_id.encode(), value, headers


def encode_snapshot(
    snapshot: HealthSnapshot,
    fmt: str = AVRO_SINGLE_OBJECT,
    *,
    registry: ConfluentRegistry | None = None,
    subject: str | None = None,
    store: SchemaStore | None = None,
    source: str = HEALTH_SOURCE,
) -> Encoded:
    """Encode a health snapshot; ``ce_id`` is ``{customer_id}:{as_of ms}``."""
    reader = (store or default_store()).reader("health")
    value = write_record(reader, snapshot_to_record(snapshot), fmt, registry, subject)
    ce_id = f"{snapshot.customer_id}:{to_millis(snapshot.as_of)}"
    cid = snapshot.customer_id
    headers = make_headers(fmt, ce_id, source, "health", snapshot.as_of, cid)
    return cid.encode(), value, headers


def decode_alert(
    value: bytes | None,
    headers: Headers | None,
    *,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
) -> Alert | Rejected:
    """Decode a message of the alerts topic (for consumers and tests); never raises."""
    return _decode_output("alerts", alert_from_record, value, headers, registry, store)


def decode_snapshot(
    value: bytes | None,
    headers: Headers | None,
    *,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
) -> HealthSnapshot | Rejected:
    """Decode a message of the customer-health topic (for consumers and tests); never raises."""
    return _decode_output("health", snapshot_from_record, value, headers, registry, store)


def _decode_output(
    kind: str,
    convert: Callable[[dict[str, Any]], T],
    value: bytes | None,
    headers: Headers | None,
    registry: ConfluentRegistry | None,
    store: SchemaStore | None,
) -> T | Rejected:
    reader = (store or default_store()).reader(kind)
    try:
        record = decode_value(reader, value, read_headers(headers).content_type, registry, store)
        return convert(record)
    except RejectError as rej:
        return rej.rejected()
    except Exception as exc:  # same boundary as decode_event: bad input is data
        return Rejected("undecodable", f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])
