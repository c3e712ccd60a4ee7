"""Which alert messages reach a CX team: openings, escalations of untouched alerts; never the
holdout, never a re-notification of an alert someone acted on."""

from __future__ import annotations

import dataclasses

from streams.alert_loop import ActionKind, AlertActionEvent
from streams.alert_notify import notify_headers, wants_notification
from streams.delivery.action_links import with_action_links
from streams.delivery.formatting import format_slack_message
from streams.domain import (
    Alert,
    AlertAction,
    AlertType,
    Channel,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    Touchpoint,
)
from streams.loop_processing import process_loop_event
from streams.model import CustomerState, ModelConfig, load_config

DAY = 86_400.0
T0 = 1_700_000_000.0


def config(holdout: float) -> ModelConfig:
    cfg = load_config()
    return dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, holdout_fraction=holdout))


def history(cid: str) -> list[Event]:
    """Twenty orders ten days apart (then silence)."""
    orders: list[Event] = [
        Purchase(f"{cid}-p{i}", "/shop", cid, T0 + i * 10 * DAY, PurchaseKind.ORDER_PLACED,
                 f"o{i}", 5000, "EUR", Channel.WEB, 1)
        for i in range(20)
    ]  # fmt: skip
    return orders


def review(cid: str, at: float) -> Feedback:
    return Feedback(
        f"{cid}-r", "/reviews", cid, at, FeedbackKind.NPS, 0, Touchpoint.PERIODIC,
        Channel.SOCIAL, True, None, None, "never again",
    )  # fmt: skip


def fold(
    state: CustomerState | None, events: list[Event | AlertActionEvent], cfg: ModelConfig
) -> tuple[CustomerState | None, list[tuple[Alert, bool, bytes]]]:
    seen: list[tuple[Alert, bool, bytes]] = []
    for event in events:
        before = state
        state, alerts, _ = process_loop_event(state, event, cfg)
        for alert, headers in zip(alerts, notify_headers(alerts, before, state), strict=True):
            verdict = wants_notification(headers)
            assert verdict is not None
            seen.append((alert, verdict, dict(headers)["cx-holdout-group"]))
    return state, seen


def opened(cid: str, cfg: ModelConfig) -> tuple[CustomerState | None, Alert, bool, bytes]:
    """The history, then a public detractor review 62 days into the silence opens the alert."""
    quiet = T0 + 190 * DAY
    state, seen = fold(None, [*history(cid)], cfg)
    state, seen = fold(state, [review(cid, quiet + 62 * DAY)], cfg)
    first = next(s for s in seen if s[0].action is AlertAction.OPENED)
    return state, first[0], first[1], first[2]


def test_an_opening_is_posted_unless_held_out() -> None:
    cfg = config(0.5)
    verdicts = {}
    for i in range(40):
        _, alert, notify, group = opened(f"c{i}", cfg)
        assert alert.type is AlertType.CHURN_RISK
        verdicts[group] = notify
    assert verdicts == {b"delivered": True, b"control": False}


def test_an_escalation_is_posted_only_while_nobody_acted() -> None:
    cfg = config(0.0)
    quiet = T0 + 190 * DAY
    state, seen = fold(None, [*history("c1"), Purchase(
        "late", "/shop", "c1", quiet + 61 * DAY, PurchaseKind.REFUND, "o0", -1, "EUR",
        Channel.WEB, 1)], cfg)  # fmt: skip
    alert = next(a for a, _, _ in seen if a.action is AlertAction.OPENED)
    acked = AlertActionEvent("a1", "/crm", "c1", quiet + 62 * DAY, alert.alert_id,
                             ActionKind.ACKNOWLEDGED, "ana")  # fmt: skip
    for actions, posted in (([], True), ([acked], False)):
        _, later = fold(state, [*actions, review("c1", quiet + 65 * DAY)], cfg)
        escalations = [(a, n) for a, n, _ in later if a.action is AlertAction.UPDATED]
        assert [a.priority.value for a, _ in escalations] == ["critical"]
        assert [n for _, n in escalations] == [posted]


def test_messages_without_a_verdict_are_left_to_the_old_rule() -> None:
    assert wants_notification([("content-type", b"x")]) is None
    assert wants_notification([("cx-notify", b"false")]) is False


def test_webhook_message_carries_ids_action_url_and_buttons() -> None:
    cfg = config(0.0)
    _, alert, _, _ = opened("c 1/x", cfg)
    body = with_action_links(
        format_slack_message(alert), alert, "https://cx.example/alerts/{alert_id}/actions"
    )
    payload = body["metadata"]["event_payload"]
    assert payload == {
        "alert_id": alert.alert_id,
        "customer_id": "c 1/x",
        "actions_url": f"https://cx.example/alerts/{alert.alert_id}/actions",
    }
    buttons = next(b for b in body["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["cxstream_acknowledged", "cxstream_dismissed"]
    assert body["text"] == format_slack_message(alert)["text"]
