"""Every wire format round-trips every contract type, with CloudEvents headers."""

from __future__ import annotations

import json

import pytest

from agents.settings import connect_registry
from streams.contracts import (
    AVRO_SINGLE_OBJECT,
    CE_TYPES,
    CONFLUENT_AVRO,
    FORMATS,
    JSON,
    ConfluentRegistry,
    Decoded,
    Rejected,
    decode_alert,
    decode_event,
    decode_snapshot,
    encode_alert,
    encode_event,
    encode_snapshot,
)
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Event
from tests.unit.contracts import samples

EVENTS = samples.events()


def _registry(fmt: str) -> ConfluentRegistry | None:
    return connect_registry("mock://roundtrip") if fmt == CONFLUENT_AVRO else None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{type(e).__name__}-{e.event_id}")
def test_event_round_trip(fmt: str, event: Event) -> None:
    registry = _registry(fmt)
    key, value, headers = encode_event(event, fmt, registry=registry)
    assert key == event.customer_id.encode()
    result = decode_event(
        EVENT_KINDS[type(event)], key, value, headers, now=samples.NOW, registry=registry
    )
    assert result == Decoded(event, f"{event.source} {event.event_id}")


def test_cloudevents_headers_of_an_event() -> None:
    event = samples.purchase()
    _, _, headers = encode_event(event)
    assert dict(headers) == {
        "content-type": AVRO_SINGLE_OBJECT.encode(),
        "ce_specversion": b"1.0",
        "ce_id": b"p-1",
        "ce_source": b"/shop/checkout",
        "ce_type": CE_TYPES["purchases"].encode(),
        "ce_time": b"2023-11-14T21:13:19.750Z",
        "ce_subject": b"cust-1",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_alert_round_trip(fmt: str) -> None:
    registry = _registry(fmt)
    alert = samples.alert()
    key, value, headers = encode_alert(alert, fmt, registry=registry)
    assert key == b"cust-1"
    assert decode_alert(value, headers, registry=registry) == alert
    judged = samples.alert(p_loss=0.8125, value_at_risk_minor=9_000, params_version="v-1")
    _, judged_value, judged_headers = encode_alert(judged, fmt, registry=registry)
    assert decode_alert(judged_value, judged_headers, registry=registry) == judged
    ce = dict(headers)
    assert ce["ce_id"] == b"al-1:opened:1699996459751"
    assert ce["ce_source"] == b"/cxstream/alerts"
    assert ce["ce_type"] == b"io.cxstream.v1.alert"


@pytest.mark.parametrize("fmt", FORMATS)
def test_snapshot_round_trip(fmt: str) -> None:
    registry = _registry(fmt)
    for snapshot in (
        samples.snapshot(),
        samples.snapshot(contributions=(), open_alerts=(), nps_category=None, cx_team=None),
        samples.snapshot(p_loss=None, p_alive=None, expected_value_minor=None),
    ):
        key, value, headers = encode_snapshot(snapshot, fmt, registry=registry)
        assert key == b"cust-1"
        assert decode_snapshot(value, headers, registry=registry) == snapshot
        assert dict(headers)["ce_subject"] == b"cust-1"


def test_output_decoders_reject_bad_input_instead_of_raising() -> None:
    _, value, headers = encode_alert(samples.alert())
    truncated = decode_alert(value[:-3], headers)
    assert isinstance(truncated, Rejected) and truncated.reason == "undecodable"
    wrong_type = decode_snapshot(value, headers)  # an alert is not a snapshot
    assert isinstance(wrong_type, Rejected) and wrong_type.reason == "schema_mismatch"
    tombstone = decode_snapshot(None, headers)
    assert isinstance(tombstone, Rejected) and tombstone.reason == "tombstone"


def test_json_is_plain_json_with_avro_field_names() -> None:
    """Other services write this without any Avro library: bare unions, epoch millis."""
    _, value, headers = encode_event(samples.ticket(), JSON)
    assert json.loads(value) == {
        "event_id": "t-1",
        "source": "/helpdesk",
        "customer_id": "cust-1",
        "occurred_at": 1699996399750,
        "action": "escalated",
        "ticket_id": "tk-9",
        "priority": "urgent",
        "category": "billing",
        "channel": "phone",
        "sla_due_at": 1700003600250,
    }
    assert dict(headers)["content-type"] == b"application/json"


def test_single_object_layout() -> None:
    """C3 01, the 8-byte little-endian fingerprint of the schema, then the Avro body."""
    from streams.contracts import default_store

    _, value, _ = encode_event(samples.purchase())
    reader = default_store().reader("purchases")
    assert value[:2] == b"\xc3\x01"
    assert value[2:10] == reader.writer.fingerprint


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (b"application/json; charset=utf-8", True),
        (b"Application/JSON", True),
        (b"text/plain", False),
    ],
)
def test_content_type_is_matched_without_parameters_and_case(
    content_type: bytes, expected: bool
) -> None:
    key, value, headers = encode_event(samples.purchase(), JSON)
    headers = [(n, content_type if n == "content-type" else v) for n, v in headers]
    result = decode_event("purchases", key, value, headers, now=samples.NOW)
    assert isinstance(result, Decoded) is expected


def test_dedup_key_prefers_cloudevents_headers() -> None:
    key, value, headers = encode_event(samples.feedback())
    headers = [(n, b"/other/source" if n == "ce_source" else v) for n, v in headers]
    headers = [(n, b"ce-42" if n == "ce_id" else v) for n, v in headers]
    result = decode_event("feedback", key, value, headers, now=samples.NOW)
    assert isinstance(result, Decoded)
    assert result.dedup_key == "/other/source ce-42"


def test_dedup_key_falls_back_to_payload_without_cloudevents() -> None:
    key, value, _ = encode_event(samples.feedback())
    headers = [("content-type", AVRO_SINGLE_OBJECT.encode()), ("ce_id", b"only-id")]
    result = decode_event("feedback", key, value, headers, now=samples.NOW)
    assert isinstance(result, Decoded)
    assert result.dedup_key == "/surveys f-1"


def test_null_key_is_rejected_not_rekeyed() -> None:
    """A null key lands on an arbitrary partition: a second, independent customer state."""
    _, value, headers = encode_event(samples.profile())
    result = decode_event("profiles", None, value, headers, now=samples.NOW)
    assert isinstance(result, Rejected) and result.reason == "missing_key"
