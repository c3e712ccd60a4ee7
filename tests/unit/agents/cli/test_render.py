"""Terminal rendering: what a person reads must carry the facts, the reasons and the times."""

from __future__ import annotations

import math

from rich.console import Console

from agents.cli.producing import DeliveryReport
from agents.cli.render import (
    alert_renderable,
    customer_renderable,
    delivery_table,
    money,
    rejections_table,
    when,
)
from streams.domain import AlertAction
from streams.jsonable import to_jsonable
from tests.unit.contracts import samples


def text_of(renderable: object, width: int = 160) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_times_and_money() -> None:
    assert when(0.0) == "1970-01-01 00:00:00Z"
    assert when(-math.inf) == "—" and when(None) == "—"
    assert money(123456, "EUR") == "1,234.56 EUR" and money(None) == "—"


def test_alert_shows_who_why_and_what_to_do() -> None:
    alert = samples.alert()
    out = text_of(alert_renderable(alert))
    assert alert.customer_id in out and alert.type.value in out
    assert alert.priority.value in out
    for reason in alert.reasons:
        assert reason.message in out and reason.code in out
    assert alert.playbook in out


def test_resolved_alert_has_no_playbook_line() -> None:
    alert = samples.alert(action=AlertAction.RESOLVED)
    assert "playbook" not in text_of(alert_renderable(alert))


def test_customer_from_redis_shows_contributions_and_alert_reasons() -> None:
    snap, alert = samples.snapshot(), samples.alert()
    view = {
        "source": "redis",
        "customer_id": snap.customer_id,
        "health": to_jsonable(snap),
        "alerts": [to_jsonable(alert)],
        "stage_history": [],
        "facts": [],
    }
    out = text_of(customer_renderable(view))
    assert f"customer {snap.customer_id}" in out and "from redis" in out
    assert snap.stage in out and snap.band in out
    for c in snap.contributions:
        assert c.measure in out and c.detail in out
    assert alert.reasons[0].message in out and alert.alert_id in out
    assert "stage history" not in out
    assert "P(no purchase within horizon) 0.81" in out and "P(alive) 0.34" in out
    assert "expected value 420.00" in out and "mbgnbd-0123456789ab" in out


def test_customer_without_alerts_says_so() -> None:
    snap = samples.snapshot(open_alerts=())
    view = {
        "source": "api",
        "customer_id": snap.customer_id,
        "health": to_jsonable(snap),
        "alerts": [],
        "stage_history": [["new", 0.0], ["active", 86400.0]],
        "facts": [("orders", "3")],
    }
    out = text_of(customer_renderable(view))
    assert "no open alerts" in out
    assert "1970-01-02 00:00:00Z" in out and "active" in out and "orders" in out


def test_delivery_and_rejection_tables() -> None:
    report = DeliveryReport()
    report.sent.update({"purchases": 3, "tickets": 1})
    report.delivered.update({"purchases": 3})
    report.failed.update({"tickets": 1})
    out = text_of(delivery_table(report, "sent"))
    assert "purchases" in out and "total" in out
    rows = [("f.jsonl", n, "invalid_json", "bad") for n in range(1, 5)]
    out = text_of(rejections_table(rows, limit=2))
    assert "rejected: 4" in out and "2 more" in out and "invalid_json" in out
