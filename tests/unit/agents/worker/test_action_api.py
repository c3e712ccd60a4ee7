"""The API's reading of an action request: the same contract as the topic, fields named."""

from __future__ import annotations

import json

import pytest

from agents.worker.action_api import API_SOURCE, action_from_request, customer_of
from streams.alert_loop import ActionKind, AlertActionEvent
from streams.contracts import Rejected

NOW = 1_795_000_000.0


def req(**body: object) -> bytes:
    return json.dumps(body).encode()


def test_a_minimal_body_gets_an_id_a_source_and_the_time_of_the_request() -> None:
    ev = action_from_request("a-1", req(customer_id="c1", action="acknowledged", actor="ana"), NOW)
    assert isinstance(ev, AlertActionEvent)
    assert (ev.alert_id, ev.customer_id, ev.action, ev.actor) == (
        "a-1", "c1", ActionKind.ACKNOWLEDGED, "ana",
    )  # fmt: skip
    assert ev.source == API_SOURCE and ev.occurred_at == NOW and len(ev.event_id) == 32


def test_given_ids_and_times_are_kept() -> None:
    at = int(NOW * 1000) - 60_000
    body = req(customer_id="c1", action="dismissed", actor="ana", reason="not_a_risk",
               event_id="chat-77", source="/slack", occurred_at=at)  # fmt: skip
    ev = action_from_request("a-1", body, NOW)
    assert isinstance(ev, AlertActionEvent)
    assert (ev.event_id, ev.source, ev.occurred_at, ev.reason) == (
        "chat-77", "/slack", NOW - 60, "not_a_risk",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{nope", "undecodable", None),
        (b"[1]", "schema_mismatch", None),
        (req(action="acknowledged", actor="a"), "empty_customer_id", "customer_id"),
        (req(customer_id="c1", actor="a"), "schema_mismatch", "action"),
        (req(customer_id="c1", action="acknowledged"), "schema_mismatch", "actor"),
        (req(customer_id="c1", action="assigned", actor="a"), "missing_action_detail", "assignee"),
        (req(customer_id="c1", action="acknowledged", actor="a", alert_id="b-2"),
         "key_mismatch", "alert_id"),
        (req(customer_id="c1", action="acknowledged", actor="a", occurred_at=0),
         "event_time_out_of_range", "occurred_at"),
        (b" " * 20_000, "undecodable", None),
    ],
)  # fmt: skip
def test_bad_requests_name_the_reason_and_field(
    body: bytes, reason: str, field: str | None
) -> None:
    found = action_from_request("a-1", body, NOW)
    assert isinstance(found, Rejected)
    assert (found.reason, found.field) == (reason, field), found.detail


def test_routing_reads_only_the_customer_id() -> None:
    assert customer_of(req(customer_id="c9", action=1)) == "c9"
    assert customer_of(b"{nope") is None and customer_of(req(customer_id=3)) is None
