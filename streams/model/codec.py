"""Compact, versioned bytes for model states (Faust table values and their changelog).

Format: UTF-8 JSON array ``[version, field, ...]`` with records as positional arrays in field
order. It is small, stdlib-only, fast to encode, and explicit about its version so a future
layout can be migrated instead of misread.
"""

from __future__ import annotations

import json
from typing import Any

from streams.errors import ContractError
from streams.model.integrity import IntegrityState
from streams.model.state import (
    CustomerState,
    Engagement,
    FeedbackAgg,
    OpenAlert,
    Profile,
    Purchases,
    TicketHistory,
    TicketRecord,
)

STATE_VERSION = 1
INTEGRITY_VERSION = 1
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_RECORDS = {
    "engagement": Engagement,
    "purchases": Purchases,
    "ticket_history": TicketHistory,
    "feedback": FeedbackAgg,
    "profile": Profile,
}
_LISTS = {"tickets": TicketRecord, "alerts": OpenAlert}
_FIELDS = tuple(CustomerState.__dataclass_fields__)


def _row(obj: Any) -> list[Any]:
    return [getattr(obj, f) for f in obj.__slots__]


def _tuples(value: Any) -> Any:
    """JSON arrays back to (nested) tuples, as the frozen records hold them."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def state_to_bytes(state: CustomerState) -> bytes:
    """Encode a customer state; size is bounded because the state is."""
    out: list[Any] = [STATE_VERSION]
    for name in _FIELDS:
        value = getattr(state, name)
        if name in _RECORDS:
            out.append(_row(value))
        elif name in _LISTS:
            out.append([_row(v) for v in value])
        else:
            out.append(value)
    return _dumps(out).encode()


def _load(data: bytes, what: str, version: int, width: int) -> list[Any]:
    try:
        payload = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"{what}: bytes are not a valid encoded state ({exc})") from exc
    if not isinstance(payload, list) or not payload:
        raise ContractError(f"{what}: expected a versioned array")
    if payload[0] != version:
        raise ContractError(
            f"{what}: unsupported state version {payload[0]!r} (this build reads version "
            f"{version}); migrate or rebuild the table from its input topics"
        )
    if len(payload) != width + 1:
        raise ContractError(f"{what}: expected {width} fields, got {len(payload) - 1}")
    return payload


def state_from_bytes(data: bytes) -> CustomerState:
    """Decode :func:`state_to_bytes` output; raises ContractError on unknown versions."""
    payload = _load(data, "customer state", STATE_VERSION, len(_FIELDS))
    values: dict[str, Any] = {}
    try:
        for name, raw in zip(_FIELDS, payload[1:], strict=True):
            if name in _RECORDS:
                values[name] = _RECORDS[name](*_tuples(raw))
            elif name in _LISTS:
                values[name] = tuple(_LISTS[name](*_tuples(r)) for r in raw)
            else:
                values[name] = _tuples(raw)
        return CustomerState(**values)
    except TypeError as exc:
        raise ContractError(f"customer state: malformed field layout ({exc})") from exc


def integrity_to_bytes(state: IntegrityState) -> bytes:
    return _dumps([INTEGRITY_VERSION, *_row(state)]).encode()


def integrity_from_bytes(data: bytes) -> IntegrityState:
    width = len(IntegrityState.__dataclass_fields__)
    payload = _load(data, "integrity state", INTEGRITY_VERSION, width)
    try:
        return IntegrityState(*_tuples(payload[1:]))
    except TypeError as exc:
        raise ContractError(f"integrity state: malformed field layout ({exc})") from exc
