"""Each way a message can be wrong has its own reason code, and every code is reachable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from streams.contracts import (
    AVRO_SINGLE_OBJECT,
    JSON,
    REASON_CODES,
    Decoded,
    EventTimeWindow,
    Rejected,
    decode_event,
    encode_event,
    late_event,
    processing_failure,
)
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Event, FeedbackKind, PurchaseKind
from streams.errors import ContractError
from tests.unit.contracts import samples

Msg = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]] | None]


def _msg(event: Event, fmt: str = AVRO_SINGLE_OBJECT) -> Msg:
    key, value, headers = encode_event(event, fmt)
    return EVENT_KINDS[type(event)], key, value, list(headers)


def _with_header(msg: Msg, name: str, value: bytes | None) -> Msg:
    kind, key, body, headers = msg
    return kind, key, body, [(n, v) for n, v in headers or [] if n != name] + [(name, value)]


def _json_msg(kind: str, record: dict[str, Any]) -> Msg:
    return kind, b"cust-1", json.dumps(record).encode(), [("content-type", JSON.encode())]


def _purchase_json(**changes: Any) -> dict[str, Any]:
    _, _, value, _ = _msg(samples.purchase(), JSON)
    return {**json.loads(value or b""), **changes}


def _without(field: str) -> dict[str, Any]:
    record = _purchase_json()
    del record[field]
    return record


def _set(msg: Msg, *, key: bytes | None = b"-", value: bytes | None = b"-") -> Msg:
    """``msg`` with its key and/or value replaced (``b"-"`` keeps the original)."""
    kind, old_key, old_value, headers = msg
    return (
        kind,
        old_key if key == b"-" else key,
        old_value if value == b"-" else value,
        headers,
    )


SO: list[tuple[str, bytes | None]] = [("content-type", AVRO_SINGLE_OBJECT.encode())]

CASES: dict[str, list[Callable[[], Msg]]] = {
    "missing_content_type": [lambda: (*_msg(samples.purchase())[:3], [])],
    "unknown_content_type": [
        lambda: _with_header(_msg(samples.purchase()), "content-type", b"application/xml")
    ],
    "tombstone": [
        lambda: _set(_msg(samples.profile()), value=None),
        lambda: _set(_msg(samples.profile()), value=b""),
    ],
    "undecodable": [
        lambda: ("purchases", None, b"plain text", SO),
        lambda: ("purchases", None, b"\xc3\x01\x00", SO),  # header cut short
        lambda: _set(_json_msg("purchases", {}), value=b"{not json"),
        lambda: _set(_json_msg("purchases", {}), value=b"\xff\xfe\x00"),
        lambda: _set(_msg(samples.purchase()), value=(_msg(samples.purchase())[2] or b"") + b"!"),
        lambda: _set(_msg(samples.purchase()), value=(_msg(samples.purchase())[2] or b"")[:-4]),
        lambda: _with_header(_msg(samples.purchase()), "ce_id", b"\xff\xfe"),
    ],
    "unknown_schema": [
        lambda: (
            "purchases",
            None,
            b"\xc3\x01" + b"\x01" * 8 + b"\x00",
            [("content-type", AVRO_SINGLE_OBJECT.encode())],
        ),
    ],
    "schema_mismatch": [
        lambda: ("purchases", *_msg(samples.ticket())[1:]),  # a ticket on the purchases topic
        lambda: _json_msg("purchases", _purchase_json(amount_minor="12.00")),
        lambda: _json_msg("purchases", _purchase_json(amount_minor=12.5)),
        lambda: _json_msg("purchases", _purchase_json(kind="gift")),
        lambda: _json_msg("purchases", _purchase_json(item_count=True)),
        lambda: _json_msg("purchases", _without("order_id")),
        lambda: _json_msg("purchases", [1, 2]),  # type: ignore[arg-type]
    ],
    "unsupported_specversion": [
        lambda: _with_header(_msg(samples.purchase()), "ce_specversion", b"0.3")
    ],
    "empty_customer_id": [lambda: _set(_msg(samples.purchase(customer_id="")), key=None)],
    "empty_identifier": [
        lambda: _msg(samples.purchase(event_id="")),
        lambda: _msg(samples.ticket(source="")),
        lambda: _msg(samples.ticket(ticket_id="")),
        lambda: _msg(samples.purchase(order_id="")),
    ],
    "missing_key": [lambda: _set(_msg(samples.purchase()), key=None)],
    "key_mismatch": [
        lambda: _set(_msg(samples.purchase()), key=b"cust-2"),
        lambda: _set(_msg(samples.purchase()), key=b""),
        lambda: _with_header(_msg(samples.purchase()), "ce_subject", b"cust-2"),
    ],
    "identifier_too_long": [
        lambda: _msg(samples.purchase(customer_id="c" * 1_000_000)),  # a known poison
        lambda: _msg(samples.purchase(order_id="o" * 257)),
        lambda: _msg(samples.ticket(ticket_id="t" * 257)),
        lambda: _msg(samples.feedback(source="/" * 257)),
        lambda: _msg(samples.feedback(agent_id="a" * 257)),
        lambda: _msg(samples.feedback(location_id="l" * 257)),
    ],
    "attribute_too_long": [
        lambda: _msg(samples.ticket(category="billing" * 40)),
        lambda: _msg(samples.profile(cx_team="t" * 257)),
    ],
    "text_too_long": [lambda: _msg(samples.feedback(comment="x" * 10_001))],
    "event_time_out_of_range": [
        lambda: _msg(samples.purchase(occurred_at=samples.NOW + 86_401)),  # future
        lambda: _msg(samples.purchase(occurred_at=round(samples.NOW) / 1000)),  # s as ms
        lambda: _msg(samples.purchase(occurred_at=86_400.0 * 100)),  # 1970
        lambda: _msg(samples.purchase(occurred_at=samples.NOW - 31 * 86_400)),  # too old
        lambda: _msg(samples.ticket(sla_due_at=1_700_000.0)),
        lambda: _msg(samples.profile(signup_at=1_000.0)),
    ],
    "invalid_event_time": [
        lambda: _msg(samples.purchase(occurred_at=-0.001)),
        lambda: _msg(samples.ticket(sla_due_at=-1.0)),
        lambda: _msg(samples.profile(signup_at=1e15)),
    ],
    "negative_amount": [lambda: _msg(samples.purchase(amount_minor=-1))],
    "amount_out_of_range": [
        lambda: _msg(samples.purchase(amount_minor=2**63 - 1)),  # Java's Long.MAX_VALUE
        lambda: _msg(samples.purchase(amount_minor=760_000_000_000_000_000)),
        lambda: _msg(samples.purchase(kind=PurchaseKind.REFUND, amount_minor=-(10**15) - 1)),
        lambda: _json_msg("purchases", _purchase_json(amount_minor=2**63 - 1)),
    ],
    "negative_item_count": [lambda: _msg(samples.purchase(item_count=-2))],
    "item_count_out_of_range": [lambda: _msg(samples.purchase(item_count=1_000_001))],
    "invalid_currency": [
        lambda: _msg(samples.purchase(currency="eur")),
        lambda: _msg(samples.purchase(currency="EURO")),
        lambda: _msg(samples.purchase(currency="E1R")),
    ],
    "missing_score": [lambda: _msg(samples.feedback(score=None))],
    "nps_out_of_range": [
        lambda: _msg(samples.feedback(score=11)),
        lambda: _msg(samples.feedback(score=-1)),
    ],
    "csat_out_of_range": [lambda: _msg(samples.feedback(kind=FeedbackKind.CSAT, score=0))],
    "ces_out_of_range": [lambda: _msg(samples.feedback(kind=FeedbackKind.CES, score=8))],
    "rating_out_of_range": [lambda: _msg(samples.feedback(kind=FeedbackKind.REVIEW, score=6))],
    "registry_unavailable": [],  # covered in test_confluent.py (needs a failing registry)
    "missing_action_detail": [],  # alert actions: tests/unit/contracts/test_actions.py
    "unexpected_action_detail": [],  # alert actions: tests/unit/contracts/test_actions.py
    "late_event": [],  # made by the worker: test_worker_reasons below
    "processing_failed": [],  # made by the worker: test_worker_reasons below
}


def test_every_reason_code_has_a_case() -> None:
    assert set(CASES) == set(REASON_CODES)


@pytest.mark.parametrize(
    ("reason", "make"),
    [(reason, make) for reason, makers in CASES.items() for make in makers],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_reason(reason: str, make: Callable[[], Msg]) -> None:
    kind, key, value, headers = make()
    result = decode_event(kind, key, value, headers, now=samples.NOW)
    assert isinstance(result, Rejected), result
    assert result.reason == reason, result.detail
    assert result.detail


@pytest.mark.parametrize(
    "event",
    [
        samples.purchase(kind=PurchaseKind.REFUND, amount_minor=-100),
        samples.purchase(amount_minor=0, item_count=0),
        samples.purchase(occurred_at=samples.NOW + 86_399),
        samples.purchase(occurred_at=samples.NOW - 30 * 86_400),
        samples.purchase(amount_minor=10**15, item_count=1_000_000),
        samples.purchase(kind=PurchaseKind.REFUND, amount_minor=-(10**15)),
        samples.purchase(customer_id="c" * 256, order_id="o" * 256),
        samples.feedback(comment="x" * 10_000, agent_id="a" * 256),
        samples.profile(signup_at=86_400.0 * 366),  # 1971: long-standing customers exist
        samples.feedback(kind=FeedbackKind.NPS, score=0),
        samples.feedback(kind=FeedbackKind.NPS, score=10),
        samples.feedback(kind=FeedbackKind.CES, score=7),
        samples.feedback(kind=FeedbackKind.REVIEW, score=None),
    ],
)
def test_edge_values_are_accepted(event: Event) -> None:
    assert isinstance(decode_event(*_msg(event), now=samples.NOW), Decoded)


def test_future_skew_is_configurable() -> None:
    msg = _msg(samples.purchase(occurred_at=samples.NOW + 120))
    assert isinstance(decode_event(*msg, now=samples.NOW), Decoded)
    strict = decode_event(*msg, now=samples.NOW, window=EventTimeWindow(max_ahead=60))
    assert isinstance(strict, Rejected) and strict.reason == "event_time_out_of_range"
    assert "check the producer's clock" in strict.detail


def test_details_name_the_field_the_limit_and_the_fix() -> None:
    def detail(event: Event) -> str:
        result = decode_event(*_msg(event), now=samples.NOW)
        assert isinstance(result, Rejected)
        return result.detail

    assert detail(samples.purchase(amount_minor=2**63 - 1)).startswith(
        "amount_minor 9223372036854775807 beyond ±10**15"
    )
    long_id = detail(samples.purchase(customer_id="c" * 1_000_000))
    assert long_id.startswith("customer_id has 1000000 characters, over the limit of 256")
    assert len(long_id) < 200  # the id itself is not echoed
    assert "limit of 1000000" in detail(samples.purchase(item_count=2**31 - 1))
    assert "limit of 10000" in detail(samples.feedback(comment="x" * 20_000))


def test_null_key_is_rejected_with_the_fix() -> None:
    result = decode_event(*_set(_msg(samples.purchase()), key=None), now=samples.NOW)
    assert isinstance(result, Rejected) and result.reason == "missing_key"
    assert "key = customer_id and the murmur2 partitioner, see docs/contracts.md" in result.detail
    # events read from a file have no key yet: the producer keys them by customer_id
    unkeyed = _set(_msg(samples.purchase()), key=None)
    assert isinstance(decode_event(*unkeyed, now=samples.NOW, require_key=False), Decoded)


def test_worker_reasons() -> None:
    failed = processing_failure(OverflowError("int too large to convert"))
    assert failed.reason == "processing_failed" and failed.exception == "OverflowError"
    assert "OverflowError" in failed.detail and "int too large" in failed.detail
    late = late_event(samples.NOW - 80 * 3600, samples.NOW, 72 * 3600)
    assert late.reason == "late_event" and late.exception is None
    assert "80.0h before" in late.detail and "lateness bound of 72h" in late.detail
    assert "2023-11-11T14:13:20.000Z" in late.detail


def test_unknown_enum_symbol_with_default_resolves_like_avro() -> None:
    result = decode_event(
        *_json_msg("purchases", _purchase_json(channel="tiktok")), now=samples.NOW
    )
    assert isinstance(result, Decoded) and result.event.channel == "other"  # type: ignore[union-attr]


def test_unknown_topic_kind_is_a_programming_error() -> None:
    with pytest.raises(ContractError):
        decode_event("purchase", None, b"", None, now=samples.NOW)
