"""Dead letters keep the original message byte for byte and say why, where and when."""

from __future__ import annotations

from dataclasses import dataclass

from streams.contracts import (
    DLQ_HEADERS,
    Rejected,
    dead_letter,
    dead_letter_message,
    decode_message,
)
from tests.unit.contracts import samples


def test_dead_letter_appends_dlq_headers_and_keeps_the_rest() -> None:
    original = [("content-type", b"application/json"), ("trace", None), ("trace", b"\x00\xff")]
    rejected = Rejected("nps_out_of_range", "nps score 11 outside 0-10 — ünïcode")
    key, value, headers = dead_letter(
        b"cust-1", b"\x01\x02", original, rejected, "cx.feedback", 3, 42, samples.NOW + 0.5
    )
    assert (key, value) == (b"cust-1", b"\x01\x02")
    assert headers[: len(original)] == original
    assert headers[len(original) :] == [
        ("dlq.reason", b"nps_out_of_range"),
        ("dlq.detail", "nps score 11 outside 0-10 — ünïcode".encode()),
        ("dlq.source.topic", b"cx.feedback"),
        ("dlq.source.partition", b"3"),
        ("dlq.source.offset", b"42"),
        ("dlq.rejected_at", b"2023-11-14T22:13:20.500Z"),
    ]
    assert [name for name, _ in headers[len(original) :]] == list(DLQ_HEADERS)


def test_dead_letter_of_a_message_without_key_value_or_headers() -> None:
    key, value, headers = dead_letter(
        None, None, None, Rejected("tombstone", "no value"), "t", 0, 0, samples.NOW
    )
    assert key is None and value is None and len(headers) == len(DLQ_HEADERS)


def test_undecodable_detail_survives_as_header_bytes() -> None:
    rejected = Rejected("undecodable", "bad surrogate \udcff here")
    _, _, headers = dead_letter(None, b"x", [], rejected, "t", 0, 0, samples.NOW)
    assert dict(headers)["dlq.detail"] == b"bad surrogate \\udcff here"


@dataclass
class FakeMessage:
    """Just the accessors of confluent_kafka.Message that the contracts layer uses."""

    _key: bytes | None
    _value: bytes | None
    _headers: list[tuple[str, bytes | None]] | None

    def topic(self) -> str:
        return "cx.purchases"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 7

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers


def test_decode_and_dead_letter_a_message() -> None:
    msg = FakeMessage(b"cust-1", b"garbage", [("content-type", b"application/json")])
    rejected = decode_message(msg, "purchases", now=samples.NOW)
    assert isinstance(rejected, Rejected) and rejected.reason == "undecodable"
    key, value, headers = dead_letter_message(msg, rejected, samples.NOW)
    assert (key, value) == (b"cust-1", b"garbage")
    found = dict(headers)
    assert found["dlq.source.topic"] == b"cx.purchases"
    assert found["dlq.source.partition"] == b"2"
    assert found["dlq.source.offset"] == b"7"
