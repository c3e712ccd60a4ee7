"""Dead letters keep the original message byte for byte and say why, where and when."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest

from streams.contracts import (
    DEFAULT_DLQ_MAX_BYTES,
    DLQ_HEADERS,
    Rejected,
    dead_letter,
    dead_letter_message,
    decode_message,
    processing_failure,
)
from streams.contracts.dead_letter import message_size
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


MB = 1_000_000
BUDGET = DEFAULT_DLQ_MAX_BYTES


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().encode()


def _letter(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]]
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]:
    rejected = Rejected("undecodable", "junk")
    return dead_letter(key, value, headers, rejected, "cx.purchases", 1, 9, samples.NOW)


def test_a_1mb_value_is_dead_lettered_truncated_with_size_and_hash() -> None:
    value = bytes(range(256)) * (MB // 256 + 1)
    key, cut, headers = _letter(b"cust-1", value, [("content-type", b"application/json")])
    assert key == b"cust-1" and cut is not None and value.startswith(cut)
    assert BUDGET - 1_000 < message_size(key, cut, headers) <= BUDGET < 1_000_000
    found = dict(headers)
    assert found["dlq.truncated"] == b"true"
    assert found["dlq.original.size"] == str(len(value)).encode()
    assert found["dlq.original.sha256"] == _sha(value)
    assert "dlq.original.key.size" not in found
    assert headers[0] == ("content-type", b"application/json")  # original headers kept
    assert found["dlq.reason"] == b"undecodable" and found["dlq.source.offset"] == b"9"


def test_a_1mb_key_and_huge_headers_are_cut_too() -> None:
    key = b"k" * MB
    huge = [("trace", b"t" * MB), ("x" * 5000, b"v")] + [(f"h{i}", b"h" * 900) for i in range(200)]
    cut_key, cut_value, headers = _letter(key, b"small", huge)
    assert cut_key == key[:1024] and cut_value == b"small"
    assert message_size(cut_key, cut_value, headers) <= BUDGET
    found = dict(headers)
    assert found["dlq.original.key.size"] == str(MB).encode()
    assert found["dlq.original.key.sha256"] == _sha(key)
    assert found["dlq.original.size"] == b"5" and found["dlq.original.sha256"] == _sha(b"small")
    original_headers = sum(len(n) + len(v) for n, v in huge)
    assert found["dlq.original.headers.size"] == str(original_headers).encode()
    assert headers[0] == ("trace", b"t" * 1024)


def test_everything_oversized_at_once_still_fits_a_smaller_budget() -> None:
    rejected = Rejected("undecodable", "x" * 10_000)
    key, value, headers = dead_letter(
        b"k" * MB,
        b"v" * MB,
        [("h", b"h" * MB)] + [(f"h{i}", b"x" * 2000) for i in range(100)],
        processing_failure(ValueError("x" * MB)),
        "t" * 5000,
        0,
        0,
        samples.NOW,
        max_bytes=100_000,
    )
    assert message_size(key, value, headers) <= 100_000  # the smallest budget allowed
    assert value and len(value) > 20_000  # as much of the value as fits
    with pytest.raises(ValueError):
        dead_letter(None, b"v", [], rejected, "t", 0, 0, samples.NOW, max_bytes=99_999)


def test_a_message_within_budget_is_untouched() -> None:
    value = b"v" * (BUDGET - 2_000)
    _, same, headers = _letter(b"cust-1", value, [])
    assert same == value and "dlq.truncated" not in dict(headers)


def test_processing_failure_carries_the_exception_class() -> None:
    rejected = processing_failure(OverflowError("int too big to convert"))
    _, _, headers = dead_letter(b"c", b"v", [], rejected, "cx.purchases", 0, 5, samples.NOW)
    found = dict(headers)
    assert found["dlq.reason"] == b"processing_failed"
    assert found["dlq.exception"] == b"OverflowError"
    assert b"int too big to convert" in found["dlq.detail"]
