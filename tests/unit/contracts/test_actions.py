"""The alert-action contract: what each kind needs, what it may carry, and the common checks."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from streams.alert_loop import ActionKind, AlertActionEvent, AlertOutcome, Group, OutcomeKind
from streams.contracts import JSON, Rejected
from streams.contracts.actions import (
    DecodedAction,
    decode_action,
    decode_outcome,
    encode_action,
    encode_outcome,
)
from streams.domain import AlertType, Priority
from tests.unit.contracts import samples


def action(**changes: Any) -> AlertActionEvent:
    base = AlertActionEvent(
        "act-1", "/crm", "cust-1", samples.NOW - 60, "alert-9", ActionKind.ACKNOWLEDGED, "ana"
    )
    return dataclasses.replace(base, **changes)


def decode(ev: AlertActionEvent, fmt: str = JSON, **record: Any) -> DecodedAction | Rejected:
    key, value, headers = encode_action(ev)
    if record:  # as another service might send it: JSON with some fields changed
        body = {**json.loads(encode_action(ev, JSON)[1]), **record}
        value, headers = json.dumps(body).encode(), [("content-type", JSON.encode())]
    return decode_action(key, value, headers, now=samples.NOW)


@pytest.mark.parametrize(
    "ev",
    [
        action(),
        action(action=ActionKind.ASSIGNED, assignee="team-emea"),
        action(action=ActionKind.CONTACTED, channel="phone", reason="left a voicemail"),
        action(action=ActionKind.OFFER_MADE),
        action(action=ActionKind.OFFER_MADE, channel="email"),
        action(action=ActionKind.DISMISSED, reason="not_a_risk"),
        action(action=ActionKind.RESOLVED),
        action(action=ActionKind.REFERRAL, alert_id="", referred_customer_id="cust-2"),
        action(alert_id="a" * 256, actor="b" * 256, reason="r" * 256),
    ],
)
def test_valid_actions_round_trip(ev: AlertActionEvent) -> None:
    assert decode(ev) == DecodedAction(ev, f"/crm {ev.event_id}")


@pytest.mark.parametrize(
    ("ev", "reason", "field"),
    [
        (action(action=ActionKind.ASSIGNED), "missing_action_detail", "assignee"),
        (action(action=ActionKind.CONTACTED), "missing_action_detail", "channel"),
        (action(action=ActionKind.DISMISSED), "missing_action_detail", "reason"),
        (action(channel="phone"), "unexpected_action_detail", "channel"),
        (action(assignee="bob", reason="x"), "unexpected_action_detail", "assignee"),
        (action(referred_customer_id="c2"), "unexpected_action_detail", "referred_customer_id"),
        (action(alert_id=""), "empty_identifier", "alert_id"),
        (action(actor=""), "empty_identifier", "actor"),
        (action(alert_id="a" * 257), "identifier_too_long", "alert_id"),
        (action(reason="r" * 257), "attribute_too_long", "reason"),
        (action(occurred_at=samples.NOW + 3 * 86_400), "event_time_out_of_range", "occurred_at"),
    ],
)
def test_invalid_actions_name_the_field(ev: AlertActionEvent, reason: str, field: str) -> None:
    result = decode(ev)
    assert isinstance(result, Rejected)
    assert (result.reason, result.field) == (reason, field)
    assert field in result.detail


def test_the_key_must_be_the_customer() -> None:
    _, value, headers = encode_action(action())
    result = decode_action(b"someone-else", value, headers, now=samples.NOW)
    assert isinstance(result, Rejected) and result.reason == "key_mismatch"
    result = decode_action(None, value, headers, now=samples.NOW)
    assert isinstance(result, Rejected) and result.reason == "missing_key"


def test_unknown_action_kind_is_a_schema_mismatch_naming_the_field() -> None:
    result = decode(action(), action="poke")
    assert isinstance(result, Rejected) and result.reason == "schema_mismatch"
    assert "action" in result.detail


def test_json_may_leave_the_optional_fields_out() -> None:
    body = json.loads(encode_action(action(), JSON)[1])
    for name in ("assignee", "channel", "reason", "referred_customer_id"):
        del body[name]
    result = decode_action(
        b"cust-1",
        json.dumps(body).encode(),
        [("content-type", b"application/json")],
        now=samples.NOW,
    )
    assert isinstance(result, DecodedAction) and result.event == action()


def test_outcome_round_trips_keyed_by_alert_id() -> None:
    outcome = AlertOutcome(
        "alert-9", "cust-1", AlertType.CHURN_RISK, OutcomeKind.RETAINED, 1.7e9, 1.7e9 + 86_400,
        Priority.HIGH, "win_back", Group.CONTROL, True, False, 1.7e9 + 3600,
    )  # fmt: skip
    key, value, headers = encode_outcome(outcome)
    assert key == b"alert-9"
    assert decode_outcome(value, headers) == outcome
