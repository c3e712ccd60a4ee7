"""``cxstream alerts``: filtering and the follow loop, with a scripted consumer."""

from __future__ import annotations

from dataclasses import dataclass

from agents.cli.commands.alerts import AlertFilter, follow
from streams.contracts import encode_alert
from streams.domain import Alert, AlertType, Priority
from tests.unit.contracts import samples


@dataclass
class Msg:
    payload: bytes
    headers_: list[tuple[str, bytes]]

    def error(self) -> None:
        return None

    def value(self) -> bytes:
        return self.payload

    def headers(self) -> list[tuple[str, bytes]]:
        return self.headers_

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 7


class ScriptedConsumer:
    def __init__(self, messages: list[Msg]) -> None:
        self.messages = list(messages)

    def poll(self, timeout: float) -> Msg | None:
        return self.messages.pop(0) if self.messages else None


def msg(alert: Alert) -> Msg:
    _, value, headers = encode_alert(alert)
    return Msg(value, headers)


def test_filter_by_type_priority_and_customer() -> None:
    churn_high = samples.alert(priority=Priority.HIGH)
    referral = samples.alert(type=AlertType.REFERRAL_OPPORTUNITY, priority=Priority.LOW)
    assert AlertFilter().accepts(churn_high) and AlertFilter().accepts(referral)
    only_churn = AlertFilter(frozenset({"churn_risk"}))
    assert only_churn.accepts(churn_high) and not only_churn.accepts(referral)
    assert AlertFilter(min_priority="high").accepts(churn_high)
    assert not AlertFilter(min_priority="critical").accepts(churn_high)
    assert not AlertFilter(min_priority="medium").accepts(referral)
    assert not AlertFilter(customer_id="someone-else").accepts(churn_high)


def test_follow_emits_matching_alerts_warns_on_garbage_and_stops_at_limit() -> None:
    alerts = [
        samples.alert(alert_id="a1", priority=Priority.LOW),
        samples.alert(alert_id="a2", priority=Priority.CRITICAL),
        samples.alert(alert_id="a3", priority=Priority.HIGH),
        samples.alert(alert_id="a4", priority=Priority.CRITICAL),
    ]
    messages = [msg(alerts[0]), Msg(b"junk", [("content-type", b"application/json")])]
    messages += [msg(a) for a in alerts[1:]]
    emitted: list[Alert] = []
    warnings: list[str] = []
    shown = follow(
        ScriptedConsumer(messages),
        AlertFilter(min_priority="high"),
        emitted.append,
        warnings.append,
        limit=2,
    )
    assert shown == 2 and [a.alert_id for a in emitted] == ["a2", "a3"]
    assert len(warnings) == 1 and "offset 7" in warnings[0] and "undecodable" in warnings[0]


def test_follow_stops_at_the_deadline() -> None:
    import time

    started = time.monotonic()
    shown = follow(
        ScriptedConsumer([]), AlertFilter(), print, print, deadline=time.monotonic() + 0.3
    )
    assert shown == 0 and time.monotonic() - started < 2.0
