"""The alert-action and alert-outcome contracts: records, checks, encoders and decoders.

Actions are an input like purchases (topic ``cx.alert-actions``, key = customer id, the same
three wire formats and CloudEvents headers), so they are checked like every input: the key,
the sizes of :mod:`streams.contracts.limits`, a plausible event time, and what each kind needs
(an assignment names its assignee, a contact its channel, a dismissal its reason). Outcomes are
an output, keyed by alert id on the compacted ``cx.alert-outcomes`` topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from streams.alert_loop import ActionKind, AlertActionEvent, AlertOutcome, Group, OutcomeKind
from streams.contracts.cloudevents import make_headers, read_headers
from streams.contracts.codec import AVRO_SINGLE_OBJECT, write_record
from streams.contracts.confluent import ConfluentRegistry
from streams.contracts.decode import decode_checked, decode_value
from streams.contracts.limits import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ID_CHARS,
    EventTimeWindow,
)
from streams.contracts.mapping import to_millis
from streams.contracts.results import MAX_DETAIL_CHARS, Rejected, RejectError
from streams.contracts.store import SchemaStore, default_store
from streams.contracts.validation import check_event_time, check_key
from streams.domain import AlertType, Priority

ACTIONS_KIND: Final = "alert_actions"
OUTCOMES_KIND: Final = "alert_outcomes"
OUTCOME_SOURCE: Final = "/cxstream/alert-outcomes"

Encoded = tuple[bytes, bytes, list[tuple[str, bytes]]]
Headers = Sequence[tuple[str, bytes | None]]

_ID_FIELDS: Final = (
    "customer_id",
    "event_id",
    "source",
    "alert_id",
    "actor",
    "assignee",
    "referred_customer_id",
)
_ATTRIBUTE_FIELDS: Final = ("channel", "reason")
#: Kind-specific fields and the kinds that may carry them (``reason`` is a note on any kind).
ONLY_FOR: Final[dict[str, frozenset[ActionKind]]] = {
    "assignee": frozenset({ActionKind.ASSIGNED}),
    "channel": frozenset({ActionKind.CONTACTED, ActionKind.OFFER_MADE}),
    "referred_customer_id": frozenset({ActionKind.REFERRAL}),
}
#: The field each kind cannot do without, and what to send.
REQUIRED: Final[dict[ActionKind, tuple[str, str]]] = {
    ActionKind.ASSIGNED: ("assignee", "the team or person id the alert is assigned to"),
    ActionKind.CONTACTED: ("channel", "how the customer was reached, e.g. phone or email"),
    ActionKind.DISMISSED: ("reason", "why, e.g. not_a_risk (starts the long cooldown)"),
}
_KINDS: Final = {k.value: k for k in ActionKind}


@dataclass(frozen=True, slots=True)
class DecodedAction:
    """A valid action and the key to de-duplicate it by (CloudEvents source + id)."""

    event: AlertActionEvent
    dedup_key: str


def action_from_record(r: dict[str, Any]) -> AlertActionEvent:
    return AlertActionEvent(
        event_id=r["event_id"],
        source=r["source"],
        customer_id=r["customer_id"],
        occurred_at=r["occurred_at"] / 1000.0,
        alert_id=r["alert_id"],
        action=_KINDS[r["action"]],
        actor=r["actor"],
        assignee=r.get("assignee"),
        channel=r.get("channel"),
        reason=r.get("reason"),
        referred_customer_id=r.get("referred_customer_id"),
    )


def action_to_record(ev: AlertActionEvent) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "source": ev.source,
        "customer_id": ev.customer_id,
        "occurred_at": to_millis(ev.occurred_at),
        "alert_id": ev.alert_id,
        "action": ev.action.value,
        "actor": ev.actor,
        "assignee": ev.assignee,
        "channel": ev.channel,
        "reason": ev.reason,
        "referred_customer_id": ev.referred_customer_id,
    }


def outcome_to_record(o: AlertOutcome) -> dict[str, Any]:
    return {
        "alert_id": o.alert_id,
        "customer_id": o.customer_id,
        "type": o.type.value,
        "outcome": o.outcome.value,
        "opened_at": to_millis(o.opened_at),
        "decided_at": to_millis(o.decided_at),
        "priority": o.priority.value,
        "playbook": o.playbook,
        "group": o.group.value,
        "handled": o.handled,
        "intervened": o.intervened,
        "succeeded_at": None if o.succeeded_at is None else to_millis(o.succeeded_at),
    }


def outcome_from_record(r: dict[str, Any]) -> AlertOutcome:
    succeeded = r.get("succeeded_at")
    return AlertOutcome(
        alert_id=r["alert_id"],
        customer_id=r["customer_id"],
        type=AlertType(r["type"]),
        outcome=OutcomeKind(r["outcome"]),
        opened_at=r["opened_at"] / 1000.0,
        decided_at=r["decided_at"] / 1000.0,
        priority=Priority(r["priority"]),
        playbook=r["playbook"],
        group=Group(r["group"]),
        handled=r["handled"],
        intervened=r["intervened"],
        succeeded_at=None if succeeded is None else succeeded / 1000.0,
    )


def check_action(
    ev: AlertActionEvent,
    key: bytes | None,
    subject: str | None,
    *,
    reference: float,
    window: EventTimeWindow,
    reference_name: str = "the wall clock",
    now: float | None = None,
    require_key: bool = True,
) -> None:
    """Raise :class:`RejectError` naming the field and the fix if ``ev`` is not acceptable."""
    if not ev.customer_id:
        raise RejectError("empty_customer_id", "customer_id is empty", "customer_id")
    for name in ("event_id", "source", "actor"):
        if not getattr(ev, name):
            raise RejectError("empty_identifier", f"{name} is empty: send who or what", name)
    if not ev.alert_id and ev.action is not ActionKind.REFERRAL:
        raise RejectError(
            "empty_identifier", "alert_id is empty: send the alert_id acted on", "alert_id"
        )
    _check_sizes(ev)
    check_key(ev.customer_id, key, subject, require_key)
    check_event_time(ev.occurred_at, reference, window, reference_name, now)
    _check_kind_fields(ev)


def _check_sizes(ev: AlertActionEvent) -> None:
    limits = [(n, MAX_ID_CHARS, "identifier_too_long") for n in _ID_FIELDS]
    limits += [(n, MAX_ATTRIBUTE_CHARS, "attribute_too_long") for n in _ATTRIBUTE_FIELDS]
    for name, limit, reason in limits:
        value = getattr(ev, name)
        if value is not None and len(value) > limit:
            detail = f"{name} has {len(value)} characters, over the limit of {limit}: shorten it"
            raise RejectError(reason, detail, name)  # type: ignore[arg-type]


def _check_kind_fields(ev: AlertActionEvent) -> None:
    kind = ev.action.value
    for name, kinds in ONLY_FOR.items():
        if getattr(ev, name) is not None and ev.action not in kinds:
            allowed = " and ".join(sorted(k.value for k in kinds))
            raise RejectError(
                "unexpected_action_detail",
                f"{name} is only for {allowed} actions, not {kind}: leave it out",
                name,
            )
    need = REQUIRED.get(ev.action)
    if need is not None and not getattr(ev, need[0]):
        name, what = need
        raise RejectError(
            "missing_action_detail", f"an action {kind} needs {name}: send {what}", name
        )


def decode_action(
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None,
    *,
    now: float,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
    record_time: float | None = None,
    window: EventTimeWindow | None = None,
    require_key: bool = True,
) -> DecodedAction | Rejected:
    """Decode a message of the alert-actions topic like :func:`decode_event`; never raises."""
    reader = (store or default_store()).reader(ACTIONS_KIND)
    checked = decode_checked(
        reader, key, value, headers, action_from_record, check_action, now=now,
        registry=registry, store=store, record_time=record_time, window=window,
        require_key=require_key,
    )  # fmt: skip
    if isinstance(checked, Rejected):
        return checked
    return DecodedAction(*checked)


def encode_action(
    ev: AlertActionEvent,
    fmt: str = AVRO_SINGLE_OBJECT,
    *,
    registry: ConfluentRegistry | None = None,
    store: SchemaStore | None = None,
) -> Encoded:
    """Encode an action keyed by its customer; ``ce_id``/``ce_source`` are its id and source."""
    reader = (store or default_store()).reader(ACTIONS_KIND)
    value = write_record(reader, action_to_record(ev), fmt, registry)
    headers = make_headers(
        fmt, ev.event_id, ev.source, ACTIONS_KIND, ev.occurred_at, ev.customer_id
    )
    return ev.customer_id.encode(), value, headers


def encode_outcome(o: AlertOutcome, store: SchemaStore | None = None) -> Encoded:
    """Encode an outcome keyed by its alert id (the compacted topic keeps one per alert)."""
    reader = (store or default_store()).reader(OUTCOMES_KIND)
    value = write_record(reader, outcome_to_record(o), AVRO_SINGLE_OBJECT)
    headers = make_headers(
        AVRO_SINGLE_OBJECT, o.alert_id, OUTCOME_SOURCE, OUTCOMES_KIND, o.decided_at, o.customer_id
    )
    return o.alert_id.encode(), value, headers


def decode_outcome(
    value: bytes | None, headers: Headers | None, store: SchemaStore | None = None
) -> AlertOutcome | Rejected:
    """Decode a message of the alert-outcomes topic; never raises."""
    reader = (store or default_store()).reader(OUTCOMES_KIND)
    try:
        content_type = read_headers(headers).content_type
        return outcome_from_record(decode_value(reader, value, content_type, None, store))
    except RejectError as rej:
        return rej.rejected()
    except Exception as exc:
        return Rejected("undecodable", f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS])
