"""The .avsc files are the contract: they must mirror streams.domain exactly and be documented."""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import StrEnum
from typing import Any

import pytest

import schemas
from streams import alert_loop, domain
from streams.contracts.store import SINGLE_OBJECT_MARKER, SchemaStore, schema_fingerprint

DATACLASSES = {
    "purchases": domain.Purchase,
    "tickets": domain.TicketEvent,
    "feedback": domain.Feedback,
    "profiles": domain.CustomerProfile,
    "alerts": domain.Alert,
    "health": domain.HealthSnapshot,
    "alert_actions": alert_loop.AlertActionEvent,
    "alert_outcomes": alert_loop.AlertOutcome,
}
NESTED = {"Reason": domain.Reason, "Contribution": domain.Contribution}
ENUMS = {
    "Channel": domain.Channel,
    "PurchaseKind": domain.PurchaseKind,
    "TicketAction": domain.TicketAction,
    "TicketPriority": domain.TicketPriority,
    "FeedbackKind": domain.FeedbackKind,
    "Touchpoint": domain.Touchpoint,
    "AlertType": domain.AlertType,
    "AlertAction": domain.AlertAction,
    "Priority": domain.Priority,
    "AlertActionKind": alert_loop.ActionKind,
    "OutcomeKind": alert_loop.OutcomeKind,
    "HoldoutGroup": alert_loop.Group,
}


def _named_types(schema: Any) -> dict[str, dict[str, Any]]:
    """Every named type (record, enum) defined anywhere inside ``schema``."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(schema, dict):
        if schema.get("type") in ("record", "enum"):
            found[schema["name"]] = schema
        for value in schema.values():
            found |= _named_types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _named_types(value)
    return found


def _is_optional(tp: Any) -> bool:
    return isinstance(tp, types.UnionType) and type(None) in typing.get_args(tp)


def _check_record(schema: dict[str, Any], cls: type) -> None:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    assert [f["name"] for f in schema["fields"]] == list(fields), schema["name"]
    for avro_field in schema["fields"]:
        name, avro_type = avro_field["name"], avro_field["type"]
        nullable = isinstance(avro_type, list) and "null" in avro_type
        assert nullable == _is_optional(hints[name]), f"{schema['name']}.{name}"
        has_default = fields[name].default is not dataclasses.MISSING or (
            fields[name].default_factory is not dataclasses.MISSING
        )
        assert ("default" in avro_field) == has_default, f"{schema['name']}.{name} default"


@pytest.mark.parametrize("kind", sorted(schemas.SCHEMA_FILES))
def test_schema_mirrors_dataclass(kind: str) -> None:
    schema = schemas.load_schema(kind)
    assert schema["namespace"] == "io.cxstream.v1"
    _check_record(schema, DATACLASSES[kind])
    for name, named in _named_types(schema).items():
        if name in NESTED:
            _check_record(named, NESTED[name])
        if name in ENUMS:
            enum: type[StrEnum] = ENUMS[name]
            assert named["symbols"] == [m.value for m in enum], name


@pytest.mark.parametrize("kind", sorted(schemas.SCHEMA_FILES))
def test_every_field_and_type_is_documented(kind: str) -> None:
    schema = schemas.load_schema(kind)
    for named in _named_types(schema).values():
        assert named.get("doc"), named["name"]
        for field in named.get("fields", []):
            assert field.get("doc"), f"{named['name']}.{field['name']}"


def test_same_enum_is_identical_in_every_schema() -> None:
    """Channel is inlined in several schemas; the copies must not drift apart."""
    seen: dict[str, dict[str, Any]] = {}
    for kind in schemas.SCHEMA_FILES:
        for name, named in _named_types(schemas.load_schema(kind)).items():
            assert seen.setdefault(name, named) == named, name


def test_crc64_avro_matches_the_spec_test_vector() -> None:
    # Avro's schema-tests: the fingerprint of "null" is 7195948357588979594 (a signed long).
    from fastavro.schema import fingerprint

    assert int.from_bytes(bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")), "little") == (
        7195948357588979594
    )


def test_fingerprint_ignores_docs_and_logical_types() -> None:
    schema = schemas.load_schema("purchases")
    stripped = {k: v for k, v in schema.items() if k != "doc"}
    assert schema_fingerprint(schema) == schema_fingerprint(stripped)
    store = SchemaStore({"purchases": schema})
    reader = store.reader("purchases")
    assert reader.single_object_prefix == SINGLE_OBJECT_MARKER + schema_fingerprint(schema)
    assert store.writer(schema_fingerprint(schema)) is reader.writer


def test_default_store_loads_every_schema() -> None:
    store = SchemaStore.from_files()
    assert set(store.readers) == set(schemas.SCHEMA_FILES)
