"""On the real broker: valid input decodes, malformed input lands intact in the dead-letter topic.

The consume -> decode -> (valid | dead letter) loop here is the contract the pipeline follows,
run with the public API of streams.contracts only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, KafkaException, Message, Producer

from agents.settings import connect_registry
from streams.contracts import (
    AVRO_SINGLE_OBJECT,
    CONFLUENT_AVRO,
    DLQ_HEADERS,
    JSON,
    ConfluentRegistry,
    Decoded,
    Rejected,
    dead_letter_message,
    decode_message,
    encode_event,
)
from streams.domain import Event
from streams.topics import Topics
from tests.integration.helpers import drain
from tests.unit.contracts import samples

pytestmark = pytest.mark.integration

Headers = list[tuple[str, bytes | None]]
SO = AVRO_SINGLE_OBJECT.encode()
T = samples.T
STAMP = round(T * 1000)  # every record's timestamp is its event time (docs/contracts.md)


def _valid(registry: ConfluentRegistry) -> list[tuple[Event, bytes, bytes, Headers]]:
    out: list[tuple[Event, bytes, bytes, Headers]] = []
    for i, fmt in enumerate([AVRO_SINGLE_OBJECT, JSON, CONFLUENT_AVRO] * 3):
        event = samples.purchase(event_id=f"ok-{i}", customer_id=f"cust-{i % 4}")
        key, value, headers = encode_event(event, fmt, registry=registry)
        out.append((event, key, value, [*headers, ("x-trace", None)]))
    return out


def _malformed(registry: ConfluentRegistry) -> list[tuple[str, bytes | None, bytes, Headers]]:
    _, good_value, good_headers = encode_event(samples.purchase(), registry=registry)
    nps_11 = encode_event(samples.feedback(score=11))  # a feedback record on purchases
    negative = encode_event(samples.purchase(event_id="bad-amount", amount_minor=-5))
    return [
        ("missing_content_type", b"cust-1", good_value, []),
        ("unknown_content_type", b"cust-1", b"<xml/>", [("content-type", b"text/xml")]),
        ("undecodable", b"cust-2", b"\xc3\x01garbage", [("content-type", SO), ("x", b"\x00")]),
        ("undecodable", None, b"{oops", [("content-type", b"application/json")]),
        ("key_mismatch", b"someone-else", good_value, list(good_headers)),
        ("missing_key", None, good_value, list(good_headers)),
        (
            "amount_out_of_range",
            *_encoded(samples.purchase(event_id="max", amount_minor=2**63 - 1)),
        ),
        (
            "event_time_out_of_range",
            *_encoded(samples.purchase(event_id="s", occurred_at=T / 1000)),
        ),
        ("schema_mismatch", nps_11[0], nps_11[1], list(nps_11[2])),
        ("negative_amount", negative[0], negative[1], [*negative[2], ("dup", b"1"), ("dup", None)]),
    ]


def _encoded(event: Event) -> tuple[bytes, bytes, Headers]:
    key, value, headers = encode_event(event)
    return key, value, list(headers)


def _consume(consumer: Consumer, topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    consumer.subscribe([topic])
    return drain(consumer, count, timeout)


def test_valid_decode_and_malformed_are_dead_lettered_intact(
    topics: Topics,
    make_producer: Callable[..., Producer],
    make_consumer: Callable[..., Consumer],
) -> None:
    registry = connect_registry("mock://ingest-dead-letter")
    valid, malformed = _valid(registry), _malformed(registry)
    producer = make_producer()
    for _, k, v, h in [*valid, *malformed]:
        producer.produce(topics.purchases, key=k, value=v, headers=h, timestamp=STAMP)
    assert producer.flush(10) == 0

    decoded: list[Event] = []
    sources: dict[tuple[bytes | None, bytes | None], Message] = {}
    for msg in _consume(make_consumer(), topics.purchases, len(valid) + len(malformed)):
        result = decode_message(msg, "purchases", now=time.time(), registry=registry)
        if isinstance(result, Decoded):
            decoded.append(result.event)
            continue
        dl_key, dl_value, dl_headers = dead_letter_message(msg, result, now=time.time())
        producer.produce(topics.dead_letter, key=dl_key, value=dl_value, headers=dl_headers)
        sources[dl_key, dl_value] = msg
    assert producer.flush(10) == 0

    assert sorted(e.event_id for e in decoded) == sorted(e.event_id for e, *_ in valid)
    assert all(e in [v[0] for v in valid] for e in decoded)

    letters = _consume(make_consumer(), topics.dead_letter, len(malformed))
    assert len(letters) == len(malformed)
    by_content = {(msg.key(), msg.value()): msg for msg in letters}
    assert len(by_content) == len(malformed) == len(sources)
    for reason, key, value, headers in malformed:
        letter = by_content[key, value]  # key and value unchanged
        source = sources[key, value]
        got = letter.headers() or []
        assert got[: len(headers)] == headers  # original headers byte for byte, in order
        dlq = dict(got[len(headers) :])
        assert list(dlq) == list(DLQ_HEADERS)
        assert dlq["dlq.reason"] == reason.encode()
        assert dlq["dlq.detail"]
        assert dlq["dlq.source.topic"] == topics.purchases.encode()
        assert dlq["dlq.source.partition"] == str(source.partition()).encode()
        assert dlq["dlq.source.offset"] == str(source.offset()).encode()
        assert (dlq["dlq.rejected_at"] or b"").endswith(b"Z")


def test_a_1mb_record_is_dead_lettered_truncated_not_lost(
    topics: Topics,
    make_producer: Callable[..., Producer],
    make_consumer: Callable[..., Consumer],
) -> None:
    """A record too large for a default producer to dead-letter intact goes out cut to fit."""
    junk = bytes(range(256)) * 4_060  # 1,039,360 bytes: accepted by the broker's default limit
    key = b"c" * 2_000  # a poison key too (and no content type)
    big = make_producer(**{"message.max.bytes": 1_048_000})
    big.produce(topics.purchases, key=key, value=junk, headers=[("x-trace", b"t" * 3000)])
    assert big.flush(10) == 0

    (msg,) = _consume(make_consumer(), topics.purchases, 1)
    result = decode_message(msg, "purchases", now=time.time())
    assert isinstance(result, Rejected) and result.reason == "missing_content_type"
    producer = make_producer()  # librdkafka's default message.max.bytes: 1,000,000
    with pytest.raises(KafkaException, match="too large"):  # the original: never deliverable
        producer.produce(topics.dead_letter, key=msg.key(), value=msg.value())
    dl_key, dl_value, dl_headers = dead_letter_message(msg, result, now=time.time())
    producer.produce(topics.dead_letter, key=dl_key, value=dl_value, headers=dl_headers)
    assert producer.flush(10) == 0

    (letter,) = _consume(make_consumer(), topics.dead_letter, 1)
    value = letter.value() or b""
    assert len(value) > 800_000 and junk.startswith(value)
    assert letter.key() == key[:1024]
    found = dict(letter.headers() or [])
    assert found["dlq.truncated"] == b"true"
    assert found["dlq.reason"] == b"missing_content_type"
    assert found["dlq.original.size"] == str(len(junk)).encode()
    assert found["dlq.original.sha256"] == hashlib.sha256(junk).hexdigest().encode()
    assert found["dlq.original.key.size"] == b"2000"
    assert found["dlq.original.key.sha256"] == hashlib.sha256(key).hexdigest().encode()
    assert found["x-trace"] == b"t" * 1024
