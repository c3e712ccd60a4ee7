"""``POST /alerts/{alert_id}/actions``: a CX team's action on an alert, onto the actions topic.

The request is checked with the same contract as any producer's action (``decode_action``),
so a bad body gets the same reason code and field a dead letter would carry, as a 400. It is
routed to the worker owning the customer (like ``GET /customers/{id}``; the customer id is in
the body, the alert id alone names no customer), which answers 404 for a customer it does not
know, and is then *produced* to ``cx.alert-actions``, never folded here: the topic is the one
write path, so the action is folded in event-time order with the customer's other inputs,
de-duplicated by id, and replayed like everything else.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Final

import faust
from faust.exceptions import SameNode
from faust.web.exceptions import ServiceUnavailable

from agents.worker.outputs import OutputProducer
from streams.alert_loop import AlertActionEvent
from streams.contracts import JSON, LIVE_WINDOW, EventTimeWindow, Rejected
from streams.contracts.actions import DecodedAction, decode_action, encode_action
from streams.envelope import decode_envelope
from streams.jsonable import dumps, to_jsonable
from streams.topics import Topics

API_SOURCE: Final = "/cxstream/api"
MAX_BODY_BYTES: Final = 16 * 1024  # an action within every field limit is far smaller
NOT_FOUND: Final = {"error": "not_found", "detail": "no customer with this id on this cluster"}


def action_from_request(
    alert_id: str, body: bytes, now: float, window: EventTimeWindow = LIVE_WINDOW
) -> AlertActionEvent | Rejected:
    """The action a request body describes, checked like any producer's; never raises.

    The body holds the record's fields as JSON; ``alert_id`` comes from the path, and
    ``event_id`` (a fresh UUID), ``source`` and ``occurred_at`` (now) may be left out.
    """
    if len(body) > MAX_BODY_BYTES:
        return Rejected("undecodable", f"body of {len(body)} bytes, over {MAX_BODY_BYTES}")
    try:
        given = json.loads(body or b"{}")
    except (ValueError, RecursionError) as exc:
        return Rejected("undecodable", f"invalid JSON: {exc}")
    if not isinstance(given, dict):
        return Rejected("schema_mismatch", "the body must be a JSON object")
    if given.get("alert_id", alert_id) != alert_id:
        return Rejected("key_mismatch", "alert_id in the body differs from the path", "alert_id")
    customer_id = given.get("customer_id")
    if not isinstance(customer_id, str) or not customer_id:
        detail = "customer_id is missing: send the alert's customer_id (in the alert message)"
        return Rejected("empty_customer_id", detail, "customer_id")
    for name, what in (("action", "what was done, e.g. acknowledged"), ("actor", "who acted")):
        if not isinstance(given.get(name), str):
            return Rejected("schema_mismatch", f"{name} is missing: send {what}", name)
    record = {
        "event_id": uuid.uuid4().hex,
        "source": API_SOURCE,
        "occurred_at": round(now * 1000),
        **given,
        "alert_id": alert_id,
    }
    decoded = decode_action(
        customer_id.encode(),
        json.dumps(record).encode(),
        [("content-type", JSON.encode())],
        now=now,
        window=window,  # the worker's --max-event-delay-days, as for any producer's action
    )
    return decoded.event if isinstance(decoded, DecodedAction) else decoded


def customer_of(body: bytes) -> str | None:
    """The customer id a body names, for routing (validation comes later, on the owner)."""
    try:
        given = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return None
    cid = given.get("customer_id") if isinstance(given, dict) else None
    return cid if isinstance(cid, str) and cid else None


def register_action_view(
    app: faust.App,
    customers: Any,
    producer: OutputProducer,
    topics: Topics,
    window: EventTimeWindow = LIVE_WINDOW,
) -> None:
    @app.page("/alerts/{alert_id}/actions")
    class AlertActions(faust.web.View):  # type: ignore[misc]
        async def post(self, request: Any, alert_id: str) -> Any:
            body = await request.read()
            customer_id = customer_of(body)
            if customer_id is not None:
                try:
                    return await app.router.route_req(
                        customers.name, customer_id, self.web, request
                    )
                except SameNode:
                    pass
                except ServiceUnavailable:
                    detail = "the customer's partition has no owner yet (rebalancing): retry"
                    return self.json({"error": "unavailable", "detail": detail}, status=503)
            return await self._accept(alert_id, body)

        async def _accept(self, alert_id: str, body: bytes) -> Any:
            found = action_from_request(alert_id, body, time.time(), window)
            if isinstance(found, Rejected):
                problem = {"error": found.reason, "field": found.field, "detail": found.detail}
                return self.json(problem, status=400)
            raw = customers.get(found.customer_id)
            if not raw:
                return self.json(NOT_FOUND, status=404)
            key, value, headers = encode_action(found)
            producer.produce(topics.alert_actions, key, value, headers, timestamp=found.occurred_at)
            await producer.flush()
            state = decode_envelope(raw).state
            known = state.loop.find(alert_id) is not None
            known = known or any(a.alert_id == alert_id for a in state.alerts)
            reply = {
                "status": "accepted",
                "topic": topics.alert_actions,
                "alert_known": known,
                "action": to_jsonable(found),
            }
            return self.bytes(dumps(reply).encode(), content_type="application/json", status=202)
