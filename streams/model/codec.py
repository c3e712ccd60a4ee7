"""Compact, versioned bytes for model states (Faust table values and their changelog).

Version 3 is version 2 plus the feedback-loop part (tracked alerts, actions, outcomes) as one
more tuple; a state whose loop is empty is still written as version 2, byte for byte as before,
so states stored by older builds and states without actions keep their exact encoding.

Customer state, version 2: one version byte, then a :mod:`marshal` (format 2) tuple of the
state's fields in declaration order, records as positional tuples in field order, then the
cached next deadline tagged with a fingerprint of the config and deadline rules it was
computed under (or None). marshal only rebuilds plain values (tuples, numbers, strings, None):
loading never runs code, unlike pickle. Version 1 (UTF-8 JSON ``[1, field, ...]``) is still
read, so tables written by older builds load. Integrity states stay JSON ``[1, field, ...]``.
"""

from __future__ import annotations

import json
import marshal
import math
from operator import attrgetter
from typing import Any

from streams.errors import ContractError
from streams.model.deadline import export_deadline, import_deadline
from streams.model.integrity import IntegrityState
from streams.model.loop_state import NO_LOOP, Loop, TrackedAlert
from streams.model.state import (
    NO_FEEDBACK,
    NO_PROFILE,
    NO_PURCHASES,
    NO_TICKET_HISTORY,
    CustomerState,
    Engagement,
    FeedbackAgg,
    OpenAlert,
    Profile,
    Purchases,
    TicketHistory,
    TicketRecord,
    build_alert,
    build_engagement,
    build_feedback,
    build_history,
    build_profile,
    build_purchases,
    build_state,
    build_ticket,
)

STATE_VERSION = 3
_V2 = 2
INTEGRITY_VERSION = 1
_V1 = 1
# Format 2: binary floats and no object references (formats 3+ mark objects whose reference
# count is above one, so equal states could encode differently); stable since Python 2.5.
_MARSHAL_FORMAT = 2
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_FIELDS = tuple(CustomerState.__dataclass_fields__)
# Field order, not __slots__ (which a mypyc-compiled class does not have): the same names.
_INTEGRITY_FIELDS = tuple(IntegrityState.__dataclass_fields__)
# state_to_bytes / _from_v2 spell the field order out (the hot path): fail loudly if it changes.
if (
    *("customer_id", "created_at", "watermark", "as_of", "seen_at", "seen_ids", "id_floor"),
    *("engagement", "purchases", "tickets", "ticket_history", "feedback", "profile", "stage"),
    *("stage_since", "stage_history", "alerts", "churn_resolved_at", "referral_opened_at"),
    *("health", "prev_health", "risk", "loop"),
) != _FIELDS:
    raise RuntimeError("CustomerState fields changed: update the codec and bump STATE_VERSION")


def _getter(cls: type) -> Any:
    return attrgetter(*cls.__dataclass_fields__)  # type: ignore[attr-defined]


_ENGAGEMENT, _PURCHASES, _TICKET = _getter(Engagement), _getter(Purchases), _getter(TicketRecord)
_HISTORY, _FEEDBACK, _PROFILE = _getter(TicketHistory), _getter(FeedbackAgg), _getter(Profile)
_ALERT = _getter(OpenAlert)
_TRACKED = _getter(TrackedAlert)
# Empty parts decode to the shared constants (cheaper, and their caches are shared).
_NO_PURCHASES = _PURCHASES(NO_PURCHASES)
_NO_FEEDBACK, _NO_PROFILE = _FEEDBACK(NO_FEEDBACK), _PROFILE(NO_PROFILE)


def state_to_bytes(state: CustomerState) -> bytes:
    """Encode a customer state; size is bounded because the state is."""
    s = state
    payload = (
        *(s.customer_id, s.created_at, s.watermark, s.as_of, s.seen_at, s.seen_ids, s.id_floor),
        _ENGAGEMENT(s.engagement),
        _PURCHASES(s.purchases),
        tuple(map(_TICKET, s.tickets)),
        _HISTORY(s.ticket_history),
        _FEEDBACK(s.feedback),
        _PROFILE(s.profile),
        *(s.stage, s.stage_since, s.stage_history, tuple(map(_ALERT, s.alerts))),
        *(s.churn_resolved_at, s.referral_opened_at, s.health, s.prev_health, s.risk),
        export_deadline(s),
    )
    if not s.loop.alerts:
        return bytes((_V2,)) + marshal.dumps(payload, _MARSHAL_FORMAT)
    loop = tuple(map(_TRACKED, s.loop.alerts))
    return bytes((STATE_VERSION,)) + marshal.dumps((*payload, loop), _MARSHAL_FORMAT)


def state_from_bytes(data: bytes) -> CustomerState:
    """Decode :func:`state_to_bytes` output (or version 1); ContractError on anything else."""
    head = data[:1]
    if head == b"\x02":
        return _from_v2(data)
    if head == b"\x03":
        return _from_v2(data, with_loop=True)
    if head == b"[":
        return _from_v1(data)
    if head and head[0] < 0x20:
        raise ContractError(
            f"customer state: unsupported state version {head[0]} (this build reads versions "
            f"{_V1} to {STATE_VERSION}); migrate or rebuild the table from its input topics"
        )
    raise ContractError("customer state: bytes are not a valid encoded state")


def _from_v2(data: bytes, with_loop: bool = False) -> CustomerState:
    try:
        payload = marshal.loads(memoryview(data)[1:])
        loop = Loop(tuple([TrackedAlert(*a) for a in payload[-1]])) if with_loop else NO_LOOP
        (cid, created, wm, as_of, seen_at, seen_ids, floor, eng, pur, tickets, hist, fb, prof,
         stage, since, history, alerts, resolved, referred, health, prev, risk, memo) = (
            payload[:-1] if with_loop else payload
        )  # fmt: skip
        state = build_state(
            *(cid, created, wm, as_of, seen_at, seen_ids, floor),
            build_engagement(*eng),
            NO_PURCHASES if pur == _NO_PURCHASES else build_purchases(*pur),
            tuple([build_ticket(*t) for t in tickets]),
            # No eviction time means nothing was evicted; earlier builds could leave NaN sums here
            # when the ticket cap evicted a ticket seen only through "updated" events.
            NO_TICKET_HISTORY if hist[0] == -math.inf else build_history(*hist),
            NO_FEEDBACK if fb == _NO_FEEDBACK else build_feedback(*fb),
            NO_PROFILE if prof == _NO_PROFILE else build_profile(*prof),
            *(stage, since, history, tuple([build_alert(*a) for a in alerts])),
            *(resolved, referred, health, prev, risk, loop),
        )
    except (ValueError, EOFError, TypeError, IndexError) as exc:
        version = 3 if with_loop else 2
        raise ContractError(f"customer state: malformed version {version} payload ({exc})") from exc
    import_deadline(state, memo)
    return state


# Version 1 (JSON) and integrity states.
_RECORDS = {
    "engagement": Engagement,
    "purchases": Purchases,
    "ticket_history": TicketHistory,
    "feedback": FeedbackAgg,
    "profile": Profile,
}
_LISTS = {"tickets": TicketRecord, "alerts": OpenAlert}


def _tuples(value: Any) -> Any:
    """JSON arrays back to (nested) tuples, as the frozen records hold them."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


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


def _from_v1(data: bytes) -> CustomerState:
    payload = _load(data, "customer state", _V1, len(_FIELDS) - 1)  # v1 predates the loop
    values: dict[str, Any] = {"loop": NO_LOOP}
    try:
        for name, raw in zip(_FIELDS[:-1], payload[1:], strict=True):
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
    return _dumps([INTEGRITY_VERSION, *(getattr(state, f) for f in _INTEGRITY_FIELDS)]).encode()


def integrity_from_bytes(data: bytes) -> IntegrityState:
    width = len(IntegrityState.__dataclass_fields__)
    payload = _load(data, "integrity state", INTEGRITY_VERSION, width)
    try:
        return IntegrityState(*_tuples(payload[1:]))
    except TypeError as exc:
        raise ContractError(f"integrity state: malformed field layout ({exc})") from exc
