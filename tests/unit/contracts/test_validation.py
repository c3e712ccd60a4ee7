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
    Rejected,
    decode_event,
    encode_event,
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
    return kind, None, json.dumps(record).encode(), [("content-type", JSON.encode())]


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
    "key_mismatch": [
        lambda: _set(_msg(samples.purchase()), key=b"cust-2"),
        lambda: _set(_msg(samples.purchase()), key=b""),
        lambda: _with_header(_msg(samples.purchase()), "ce_subject", b"cust-2"),
    ],
    "future_event_time": [lambda: _msg(samples.purchase(occurred_at=samples.NOW + 86_401))],
    "invalid_event_time": [
        lambda: _msg(samples.purchase(occurred_at=-0.001)),
        lambda: _msg(samples.ticket(sla_due_at=-1.0)),
        lambda: _msg(samples.profile(signup_at=1e15)),
    ],
    "negative_amount": [lambda: _msg(samples.purchase(amount_minor=-1))],
    "negative_item_count": [lambda: _msg(samples.purchase(item_count=-2))],
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
    strict = decode_event(*msg, now=samples.NOW, max_future_skew=60)
    assert isinstance(strict, Rejected) and strict.reason == "future_event_time"


def test_unknown_enum_symbol_with_default_resolves_like_avro() -> None:
    result = decode_event(
        *_json_msg("purchases", _purchase_json(channel="tiktok")), now=samples.NOW
    )
    assert isinstance(result, Decoded) and result.event.channel == "other"  # type: ignore[union-attr]


def test_unknown_topic_kind_is_a_programming_error() -> None:
    with pytest.raises(ContractError):
        decode_event("purchase", None, b"", None, now=samples.NOW)
