"""Schema evolution: v2 adds an optional field with a default (a BACKWARD+FORWARD change).

Old readers read new data and new readers read old data, for single-object Avro (the reader
finds the writer's schema by fingerprint) and for JSON (defaults fill missing fields,
unknown fields are ignored).
"""

from __future__ import annotations

import copy
import json
from io import BytesIO
from typing import Any

import pytest
from fastavro import schemaless_writer

import schemas
from streams.contracts import AVRO_SINGLE_OBJECT, JSON, Decoded, Rejected, decode_event
from streams.contracts.mapping import event_to_record
from streams.contracts.store import SchemaStore, make_writer, strip_logical_types
from streams.domain import Purchase
from tests.unit.contracts import samples

V1 = schemas.load_schema("purchases")
V2 = copy.deepcopy(V1)
V2["fields"].append(
    {"name": "coupon_code", "type": ["null", "string"], "default": None, "doc": "Coupon used."}
)
CURRENT = {kind: schemas.load_schema(kind) for kind in schemas.SCHEMA_FILES}
OLD_READER = SchemaStore(CURRENT, known=[V2])  # v1 current; v2 known (e.g. schemas/history)
NEW_READER = SchemaStore(CURRENT | {"purchases": V2}, known=[V1])


def _single_object(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    writer = make_writer(schema)
    buf = BytesIO(b"\xc3\x01" + writer.fingerprint)
    buf.seek(0, 2)
    schemaless_writer(buf, writer.parsed, record)
    return buf.getvalue()


def _decode(store: SchemaStore, value: bytes, fmt: str) -> Decoded | Rejected:
    headers = [("content-type", fmt.encode())]
    return decode_event("purchases", b"cust-1", value, headers, now=samples.NOW, store=store)


def test_v2_has_a_different_fingerprint() -> None:
    assert make_writer(V1).fingerprint != make_writer(V2).fingerprint


@pytest.mark.parametrize("fmt", [AVRO_SINGLE_OBJECT, JSON])
def test_old_reader_reads_new_data(fmt: str) -> None:
    record = event_to_record(samples.purchase()) | {"coupon_code": "SPRING"}
    value = _single_object(V2, record) if fmt == AVRO_SINGLE_OBJECT else json.dumps(record).encode()
    assert _decode(OLD_READER, value, fmt) == Decoded(samples.purchase(), "/shop/checkout p-1")


@pytest.mark.parametrize("fmt", [AVRO_SINGLE_OBJECT, JSON])
def test_new_reader_reads_old_data(fmt: str) -> None:
    record = event_to_record(samples.purchase())
    value = _single_object(V1, record) if fmt == AVRO_SINGLE_OBJECT else json.dumps(record).encode()
    assert isinstance(_decode(NEW_READER, value, fmt), Decoded)


def test_new_reader_fills_the_default() -> None:
    from streams.contracts.codec import read_json, read_single_object

    old = event_to_record(samples.purchase())
    reader = NEW_READER.reader("purchases")
    assert read_single_object(NEW_READER, reader, _single_object(V1, old))["coupon_code"] is None
    assert read_json(reader, json.dumps(old).encode())["coupon_code"] is None


def test_reader_without_the_writer_schema_rejects_as_unknown_schema() -> None:
    """Why schemas/history exists: single-object data is unreadable without its schema."""
    record = event_to_record(samples.purchase()) | {"coupon_code": None}
    result = _decode(SchemaStore(CURRENT), _single_object(V2, record), AVRO_SINGLE_OBJECT)
    assert isinstance(result, Rejected) and result.reason == "unknown_schema"


def test_new_enum_symbol_resolves_to_the_enum_default() -> None:
    v2 = copy.deepcopy(V1)
    channel = next(f for f in v2["fields"] if f["name"] == "channel")["type"]
    channel["symbols"] = [*channel["symbols"], "tiktok"]
    record = event_to_record(samples.purchase()) | {"channel": "tiktok"}
    value = _single_object(v2, record)
    result = _decode(SchemaStore(CURRENT, known=[v2]), value, AVRO_SINGLE_OBJECT)
    assert isinstance(result, Decoded) and isinstance(result.event, Purchase)
    assert result.event.channel == "other"


def test_history_files_are_registered_as_writers(tmp_path: Any, monkeypatch: Any) -> None:
    (tmp_path / "purchase.v2.avsc").write_text(json.dumps(V2))
    monkeypatch.setattr(schemas, "HISTORY_DIR", tmp_path)
    store = SchemaStore.from_files()
    assert store.writer(make_writer(V2).fingerprint) is not None
    assert strip_logical_types({"type": "long", "logicalType": "timestamp-millis"}) == {
        "type": "long"
    }


def test_snapshots_written_before_the_loss_outlook_still_decode() -> None:
    """schemas/history keeps health_snapshot.v1: its single-object messages stay readable and
    read the outlook fields as unknown (None)."""
    from streams.contracts import decode_snapshot
    from streams.contracts.mapping import snapshot_to_record

    v1 = schemas.load_schema_file(schemas.HISTORY_DIR / "health_snapshot.v1.avsc")
    new = samples.snapshot()
    old_fields = {f["name"] for f in v1["fields"]}
    record = {k: v for k, v in snapshot_to_record(new).items() if k in old_fields}
    headers = [("content-type", AVRO_SINGLE_OBJECT.encode())]
    decoded = decode_snapshot(_single_object(v1, record), headers)
    assert decoded == samples.snapshot(
        p_loss=None,
        p_alive=None,
        expected_value_minor=None,
        params_version=None,
        purchase_days=0,
        first_purchase_at=None,
        last_purchase_at=None,
        orders=0,
        net_spend_minor=0,
    )


def test_alerts_written_before_the_loss_probability_still_decode() -> None:
    from streams.contracts import decode_alert
    from streams.contracts.mapping import alert_to_record

    v1 = schemas.load_schema_file(schemas.HISTORY_DIR / "alert.v1.avsc")
    old_fields = {f["name"] for f in v1["fields"]}
    record = {k: v for k, v in alert_to_record(samples.alert()).items() if k in old_fields}
    headers = [("content-type", AVRO_SINGLE_OBJECT.encode())]
    decoded = decode_alert(_single_object(v1, record), headers)
    assert decoded == samples.alert()
    assert decoded.p_loss is None and decoded.params_version is None  # type: ignore[union-attr]
