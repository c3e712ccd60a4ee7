"""Alert actions on a real broker and a real worker: through the API and the topic into the
state, a handled alert not re-notified, a control-group alert never posted (issue 16).

Three customers buy every ten days, fall silent, and after 62 days a profile update makes the
worker open their churn alert; a public detractor review three days later escalates it to
critical. With ``holdout_fraction = 0.5`` and ``--webhook-escalations``, the pure model (run
here first) picks two customers whose alert is delivered and one whose alert is held out.
Between the two phases a CX agent acknowledges A's alert through the API and another assigns
C's through the topic; at the end ``cxstream alerts dismiss`` closes B's.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from redis import Redis

from agents.cli.main import main
from agents.settings import KafkaSettings
from streams.alert_loop import ActionKind, AlertActionEvent, Group
from streams.contracts import record_timestamp
from streams.contracts.actions import encode_action
from streams.domain import (
    AlertAction,
    AlertType,
    Channel,
    CustomerProfile,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    Touchpoint,
)
from streams.loop_processing import process_loop_event
from streams.model import load_config
from streams.model.outcomes import holdout_group
from streams.topics import Topics
from tests.e2e.harness import Worker, api_state, customer_body, metric, produce

DAY = 86_400.0
CONFIG = "[loop]\nholdout_fraction = 0.5\n"


class Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Hook.received.append((self.headers.get("Idempotency-Key", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def eventually(check: Callable[[], bool], what: str, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def profile(cid: str, at: float) -> CustomerProfile:
    return CustomerProfile(
        f"{cid}-prof-{at:.0f}", "/crm", cid, at, "smb", "pro", "retail", "10-49", "emea",
        "web", at, "emea", "ana",
    )  # fmt: skip


def buying(cid: str, t0: float) -> list[Event]:
    """A profile, twenty orders ten days apart, then silence until a profile update at +62 d."""
    orders: list[Event] = [
        Purchase(f"{cid}-p{i}", "/shop", cid, t0 + i * 10 * DAY, PurchaseKind.ORDER_PLACED,
                 f"o{i}", 5000, "EUR", Channel.WEB, 1)
        for i in range(20)
    ]  # fmt: skip
    last = t0 + 190 * DAY
    return [profile(cid, t0 - DAY), *orders, profile(cid, last + 62 * DAY)]


def detractor(cid: str, at: float) -> Feedback:
    return Feedback(
        f"{cid}-review", "/reviews", cid, at, FeedbackKind.NPS, 0, Touchpoint.PERIODIC,
        Channel.SOCIAL, True, None, None, "never again",
    )  # fmt: skip


def opening(events: list[Event], config_path: Path) -> tuple[str, float]:
    """The churn alert the pure model opens on these events (the worker folds the same): its
    id and opening time."""
    state, opened = None, []
    for event in events:
        state, alerts, _ = process_loop_event(state, event, load_config(config_path))
        opened += [(a.alert_id, a.opened_at) for a in alerts if a.action is AlertAction.OPENED]
    assert len(opened) == 1, opened
    return opened[0]


def opened_alert(events: list[Event], config_path: Path) -> str:
    return opening(events, config_path)[0]


def post(worker: Worker, alert_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{worker.url}/alerts/{alert_id}/actions",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {worker.api_token}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def actions_of(worker: Worker, cid: str) -> list[tuple[str, str, str]]:
    rows: Any = api_state(worker, cid)["actions"]
    return [(r["alert_id"], a["action"], a["actor"]) for r in rows for a in r["actions"]]


def test_actions_reach_the_state_and_quiet_the_webhook(
    kafka_bootstrap: str,
    redis_url: str,
    topics: Topics,
    webhook: str,
    tmp_path: Path,
    unique_prefix: str,
) -> None:
    config_path = tmp_path / "model.toml"
    config_path.write_text(CONFIG)
    t0 = round(time.time() - 270 * DAY)  # recent for the live window; whole ms on the wire
    quiet = t0 + 190 * DAY
    delivered: list[tuple[str, str, list[Event]]] = []  # A and B
    control: list[tuple[str, str, list[Event]]] = []  # C
    for i in range(200):
        cid = f"{unique_prefix}c{i}"
        events = buying(cid, t0)
        alert = opened_alert(events, config_path)
        group = holdout_group(alert, AlertType.CHURN_RISK.value, 0.5)
        arm = control if group is Group.CONTROL else delivered
        if len(arm) < (1 if arm is control else 2):
            arm.append((cid, alert, events))
        if len(delivered) == 2 and control:
            break
    chosen = [*delivered, *control]
    (a, alert_a, _), (b, alert_b, _), (c, alert_c, _) = chosen
    produce(kafka_bootstrap, topics, [e for _, _, events in chosen for e in events])
    worker = Worker(
        kafka_bootstrap, topics, f"{unique_prefix}app", tmp_path / "w1", redis_url, webhook,
        extra_args=["--config", str(config_path), "--webhook-escalations"],
    )  # fmt: skip
    try:
        worker.start()
        for cid in (a, b, c):
            eventually(lambda cid=cid: _open_alert(worker, cid) is not None, f"{cid}: no alert")

        # A through the API (a bad body first: refused with its field), C through the topic
        status, problem = post(
            worker, alert_a, {"customer_id": a, "action": "dismissed", "actor": "x"}
        )
        assert (status, problem["error"], problem["field"]) == (
            400,
            "missing_action_detail",
            "reason",
        )
        ack = {"customer_id": a, "action": "acknowledged", "actor": "ana",
               "occurred_at": round((quiet + 63 * DAY) * 1000)}  # fmt: skip
        status, reply = post(worker, alert_a, ack)
        assert status == 202 and reply["alert_known"], reply
        assign = AlertActionEvent(
            f"{c}-assign", "/crm", c, quiet + 63 * DAY, alert_c, ActionKind.ASSIGNED, "bo",
            assignee="team-emea",
        )  # fmt: skip
        _produce_action(kafka_bootstrap, topics, assign)
        eventually(lambda: (alert_a, "acknowledged", "ana") in actions_of(worker, a), "API ack")
        eventually(lambda: (alert_c, "assigned", "bo") in actions_of(worker, c), "topic action")

        produce(kafka_bootstrap, topics, [detractor(x, quiet + 65 * DAY) for x in (a, b, c)])
        for cid in (a, b, c):
            eventually(lambda cid=cid: _open_alert(worker, cid) == "critical", f"{cid} escalated")
        suppressed = "cxstream_alert_notifications_suppressed_total"
        eventually(lambda: metric(worker, suppressed, 'reason="handled"') >= 1, "A's escalation")
        eventually(lambda: metric(worker, suppressed, 'reason="control"') >= 2, "C's alert")
        eventually(lambda: len(Hook.received) >= 3, "B's opening and escalation, A's opening")

        # the CLI finds B's customer in the Redis read model and dismisses B's alert: closed
        open_b = f"{topics.prefix.replace('.', ':')}alert:churn_risk:{b}"
        with Redis.from_url(redis_url) as client:
            eventually(lambda: bool(client.exists(open_b)), "B's alert in Redis")
        at = datetime.fromtimestamp(quiet + 66 * DAY, UTC).isoformat()
        connection = ["--bootstrap-servers", kafka_bootstrap, "--redis-url", redis_url]
        argv = ["alerts", "dismiss", alert_b, "--reason", "not_a_risk", "--actor", "cy", "--at",
                at, *connection, "--topic-prefix", topics.prefix]  # fmt: skip
        assert main(argv) == 0
        eventually(lambda: _open_alert(worker, b) is None, "B's alert closed by the dismissal")
        assert (alert_b, "dismissed", "cy") in actions_of(worker, b)
        time.sleep(2)  # anything more would be a re-notification
    finally:
        worker.kill()
    keys = sorted(key for key, _ in Hook.received)
    assert keys == sorted([f"{alert_a}:opened", f"{alert_b}:opened", f"{alert_b}:updated:critical"])
    opening = next(body for key, body in Hook.received if key == f"{alert_a}:opened")
    payload = opening["metadata"]["event_payload"]
    assert (payload["alert_id"], payload["customer_id"]) == (alert_a, a)
    assert payload["actions_url"].endswith(f"/alerts/{alert_a}/actions")


def _open_alert(worker: Worker, cid: str) -> str | None:
    """The priority of the customer's open churn alert, or None."""
    try:
        body = customer_body(worker, cid)
    except urllib.error.HTTPError:
        return None
    if body is None:  # not folded yet
        return None
    alerts: Any = body["state"]["alerts"]
    return next((x["priority"] for x in alerts if x["type"] == "churn_risk"), None)


def _produce_action(bootstrap: str, topics: Topics, ev: AlertActionEvent) -> None:
    producer = Producer(KafkaSettings(bootstrap).producer())
    key, value, headers = encode_action(ev)
    producer.produce(
        topics.alert_actions,
        value,
        key,
        headers=headers,
        timestamp=record_timestamp(ev.occurred_at),
    )
    assert producer.flush(30) == 0
