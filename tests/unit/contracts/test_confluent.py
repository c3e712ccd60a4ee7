"""Confluent wire format against confluent-kafka's own serializers and mock registry client.

No Schema Registry server runs here, so ``mock://`` (confluent-kafka's in-memory
MockSchemaRegistryClient) stands in for one; the framing is checked against confluent's
AvroSerializer/AvroDeserializer so a real registry sees the same bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

import schemas
from agents.settings import RegistryAdapter, connect_registry
from streams.contracts import (
    CONFLUENT_AVRO,
    ConfluentRegistry,
    Decoded,
    Rejected,
    decode_event,
    encode_event,
)
from streams.contracts.mapping import event_to_record
from tests.unit.contracts import samples

HEADERS = [("content-type", CONFLUENT_AVRO.encode())]
KEY = b"cust-1"
CTX = SerializationContext("cx.purchases", MessageField.VALUE)


def _registry(client: Any) -> ConfluentRegistry:
    return ConfluentRegistry(RegistryAdapter(client))


@pytest.fixture
def client() -> Any:
    client = SchemaRegistryClient.new_client({"url": "mock://contracts-test"})
    yield client
    for subject in client.get_subjects():
        client.delete_subject(subject, permanent=True)


def test_mock_url_gives_confluents_mock_client(client: Any) -> None:
    assert type(client).__name__ == "MockSchemaRegistryClient"


def test_confluent_serializer_output_decodes(client: Any) -> None:
    serializer = AvroSerializer(client, schemas.SCHEMA_DIR.joinpath("purchase.avsc").read_text())
    event = samples.purchase()
    value = serializer(event_to_record(event), CTX)
    assert value is not None and value[0] == 0
    result = decode_event(
        "purchases",
        KEY,
        value,
        HEADERS,
        now=samples.NOW,
        registry=_registry(client),
    )
    assert result == Decoded(event, "/shop/checkout p-1")


def test_our_confluent_output_decodes_with_confluents_deserializer(client: Any) -> None:
    event = samples.purchase()
    _, value, headers = encode_event(
        event,
        CONFLUENT_AVRO,
        registry=_registry(client),
        subject="cx.purchases-value",
    )
    assert dict(headers)["content-type"] == CONFLUENT_AVRO.encode()
    record = AvroDeserializer(client)(value, CTX)
    assert record["order_id"] == "o-1"
    assert record["occurred_at"].timestamp() == event.occurred_at  # a datetime via logicalType
    assert client.get_latest_version("cx.purchases-value").schema_id == int.from_bytes(
        value[1:5], "big"
    )


def test_unknown_schema_id(client: Any) -> None:
    value = b"\x00\x00\x00\x03\xe7" + b"\x00" * 20
    result = decode_event(
        "purchases",
        KEY,
        value,
        HEADERS,
        now=samples.NOW,
        registry=_registry(client),
    )
    assert isinstance(result, Rejected) and result.reason == "unknown_schema"


def test_no_registry_configured() -> None:
    _, value, _ = encode_event(
        samples.purchase(), CONFLUENT_AVRO, registry=connect_registry("mock://other")
    )
    result = decode_event("purchases", KEY, value, HEADERS, now=samples.NOW)
    assert isinstance(result, Rejected) and result.reason == "unknown_schema"


def test_registry_outage_is_retriable_not_bad_data() -> None:
    class Down:
        def schema_str(self, schema_id: int) -> str:
            raise ConnectionError("registry unreachable")

        def register_avro(self, subject: str, schema_json: str) -> int:
            raise ConnectionError("registry unreachable")

    value = b"\x00\x00\x00\x00\x01" + b"\x00" * 20
    result = decode_event(
        "purchases", KEY, value, HEADERS, now=samples.NOW, registry=ConfluentRegistry(Down())
    )
    assert isinstance(result, Rejected) and result.reason == "registry_unavailable"


def test_other_record_type_under_confluent_framing(client: Any) -> None:
    registry = _registry(client)
    _, value, _ = encode_event(samples.ticket(), CONFLUENT_AVRO, registry=registry)
    result = decode_event("purchases", KEY, value, HEADERS, now=samples.NOW, registry=registry)
    assert isinstance(result, Rejected) and result.reason == "schema_mismatch"


def test_schema_is_fetched_once_per_id(client: Any) -> None:
    calls = []
    real = RegistryAdapter(client)

    class Counting:
        def schema_str(self, schema_id: int) -> str:
            calls.append(schema_id)
            return real.schema_str(schema_id)

        def register_avro(self, subject: str, schema_json: str) -> int:
            return real.register_avro(subject, schema_json)

    serializer = AvroSerializer(client, schemas.SCHEMA_DIR.joinpath("purchase.avsc").read_text())
    value = serializer(event_to_record(samples.purchase()), CTX)
    registry = ConfluentRegistry(Counting())
    for _ in range(3):
        assert isinstance(
            decode_event("purchases", KEY, value, HEADERS, now=samples.NOW, registry=registry),
            Decoded,
        )
    assert len(calls) == 1
