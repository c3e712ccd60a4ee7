"""Property tests: whatever arrives, decode_event answers Decoded or Rejected, never raises."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.settings import connect_registry
from streams.contracts import (
    AVRO_SINGLE_OBJECT,
    CONFLUENT_AVRO,
    FORMATS,
    JSON,
    REASON_CODES,
    Decoded,
    Rejected,
    decode_event,
    default_store,
    encode_event,
)
from streams.contracts.limits import MAX_AMOUNT_MINOR, MAX_ID_CHARS, MAX_ITEM_COUNT, NOT_BEFORE
from streams.contracts.mapping import EVENT_KINDS, event_to_record
from streams.domain import Event, Feedback, Purchase, PurchaseKind
from streams.topics import EVENT_INPUT_KINDS
from tests.unit.contracts import samples

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGISTRY = connect_registry("mock://properties")
VALID = [(e, *encode_event(e, fmt, registry=REGISTRY)) for e in samples.events() for fmt in FORMATS]
HEADER_NAMES = ["content-type", "ce_id", "ce_source", "ce_specversion", "ce_subject", "x-trace"]
PREFIXES = [b"", b"\xc3\x01", b"\x00\x00\x00\x00\x01", b"{"] + [
    r.single_object_prefix for r in default_store().readers.values()
]


def _check(result: Decoded | Rejected) -> None:
    """Rejections use a known code; anything decoded is a valid event."""
    if isinstance(result, Rejected):
        assert result.reason in REASON_CODES
        return
    event = result.event
    assert event.customer_id and event.event_id and event.source
    assert len(event.customer_id) <= MAX_ID_CHARS and event.occurred_at >= NOT_BEFORE
    if isinstance(event, Purchase):
        assert 0 <= event.item_count <= MAX_ITEM_COUNT
        assert abs(event.amount_minor) <= MAX_AMOUNT_MINOR
        assert event.amount_minor >= 0 or event.kind is PurchaseKind.REFUND
    if isinstance(event, Feedback) and event.score is not None:
        assert 0 <= event.score <= 10


headers_st = st.none() | st.lists(
    st.tuples(
        st.sampled_from(HEADER_NAMES) | st.text(max_size=12),
        st.none() | st.sampled_from([f.encode() for f in FORMATS]) | st.binary(max_size=16),
    ),
    max_size=6,
)


@FAST
@given(
    kind=st.sampled_from(EVENT_INPUT_KINDS),
    key=st.none() | st.binary(max_size=12),
    prefix=st.sampled_from(PREFIXES),
    body=st.none() | st.binary(max_size=80),
    headers=headers_st,
)
def test_arbitrary_messages(
    kind: str, key: bytes | None, prefix: bytes, body: bytes | None, headers: Any
) -> None:
    value = None if body is None else prefix + body
    _check(decode_event(kind, key, value, headers, now=samples.NOW, registry=REGISTRY))


@FAST
@given(data=st.data(), case=st.sampled_from(VALID))
def test_corrupted_valid_messages(data: st.DataObject, case: Any) -> None:
    event, key, value, headers = case
    position = data.draw(st.integers(0, len(value) - 1))
    replacement = data.draw(st.binary(min_size=0, max_size=3))
    corrupted = value[:position] + replacement + value[position + 1 :]
    kind = EVENT_KINDS[type(event)]
    _check(decode_event(kind, key, corrupted, headers, now=samples.NOW, registry=REGISTRY))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@FAST
@given(data=st.data(), event=st.sampled_from(samples.events()))
def test_near_valid_json_records(data: st.DataObject, event: Event) -> None:
    """Mutate one field of a valid record: drop it, or give it an arbitrary JSON value."""
    record = event_to_record(event)
    field = data.draw(st.sampled_from(sorted(record)))
    if data.draw(st.booleans()):
        del record[field]
    else:
        record[field] = data.draw(json_values)
    value = json.dumps(record).encode()
    kind = EVENT_KINDS[type(event)]
    _check(
        decode_event(
            kind,
            event.customer_id.encode(),
            value,
            [("content-type", JSON.encode())],
            now=samples.NOW,
        )
    )


def _typed_value(avro_type: Any) -> st.SearchStrategy[Any]:
    """Any value of an Avro type (ignoring ranges the schema cannot express)."""
    if isinstance(avro_type, list):
        return st.one_of(*(_typed_value(t) for t in avro_type))
    name = avro_type["type"] if isinstance(avro_type, dict) else avro_type
    if name == "enum":
        return st.sampled_from(avro_type["symbols"])
    return {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "string": st.sampled_from(["", "cust-1", "eur", "EUR"]) | st.text(max_size=6),
    }[name]


@FAST
@given(data=st.data(), event=st.sampled_from(samples.events()))
def test_near_valid_avro_records(data: st.DataObject, event: Event) -> None:
    """Type-correct but arbitrary values (empty ids, negative amounts, huge times) in Avro."""
    from fastavro import schemaless_writer

    kind = EVENT_KINDS[type(event)]
    reader = default_store().reader(kind)
    schema = json.loads(reader.writer.schema_json)
    record = event_to_record(event)
    for field in data.draw(st.lists(st.sampled_from(schema["fields"]), min_size=1, max_size=3)):
        record[field["name"]] = data.draw(_typed_value(field["type"]))
    buf = BytesIO(reader.single_object_prefix)
    buf.seek(0, 2)
    schemaless_writer(buf, reader.parsed, record)
    headers = [("content-type", AVRO_SINGLE_OBJECT.encode())]
    result = decode_event(kind, b"cust-1", buf.getvalue(), headers, now=samples.NOW)
    _check(result)
    if isinstance(result, Decoded):  # what is accepted also survives a round trip
        for fmt in (AVRO_SINGLE_OBJECT, JSON, CONFLUENT_AVRO):
            again = decode_event(
                kind,
                *encode_event(result.event, fmt, registry=REGISTRY),
                now=samples.NOW,
                registry=REGISTRY,
            )
            assert again == result
