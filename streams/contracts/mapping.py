"""1:1 mapping between the dataclasses of :mod:`streams.domain` and Avro record dicts.

Records use the field names of the dataclasses; times are integer epoch milliseconds
(``timestamp-millis``) in records and float epoch seconds in the domain. Enum symbols are
looked up in prebuilt dicts rather than by calling the enum class: it is the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from streams.domain import (
    Alert,
    AlertAction,
    AlertType,
    Channel,
    Contribution,
    CustomerProfile,
    Event,
    Feedback,
    FeedbackKind,
    HealthSnapshot,
    Priority,
    Purchase,
    PurchaseKind,
    Reason,
    TicketAction,
    TicketEvent,
    TicketPriority,
    Touchpoint,
)
from streams.errors import ContractError

Record = dict[str, Any]
E = TypeVar("E", bound=StrEnum)


def _symbols(enum: type[E]) -> dict[str, E]:
    return {member.value: member for member in enum}


_CHANNEL = _symbols(Channel)
_PURCHASE_KIND = _symbols(PurchaseKind)
_TICKET_ACTION = _symbols(TicketAction)
_TICKET_PRIORITY = _symbols(TicketPriority)
_FEEDBACK_KIND = _symbols(FeedbackKind)
_TOUCHPOINT = _symbols(Touchpoint)
_ALERT_TYPE = _symbols(AlertType)
_ALERT_ACTION = _symbols(AlertAction)
_PRIORITY = _symbols(Priority)

#: Record kind of every event class (the ``topic_kind`` of its input topic).
EVENT_KINDS: dict[type, str] = {
    Purchase: "purchases",
    TicketEvent: "tickets",
    Feedback: "feedback",
    CustomerProfile: "profiles",
}


def to_millis(seconds: float) -> int:
    """Float epoch seconds to integer epoch milliseconds, rounding to the nearest ms."""
    if not math.isfinite(seconds):
        raise ContractError(f"time must be finite, got {seconds!r}")
    return round(seconds * 1000.0)


def record_timestamp(occurred_at: float) -> int:
    """The Kafka timestamp of an input record: its event time, epoch ms (one rule for every
    producer, docs/contracts.md "Record timestamps"); refuses a time that is no event time."""
    millis = to_millis(occurred_at)
    if millis <= 0:
        raise ContractError(f"record timestamp must be the event time in ms > 0, got {millis}")
    return millis


def _opt_millis(seconds: float | None) -> int | None:
    return None if seconds is None else to_millis(seconds)


def _opt_seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000.0


def purchase_from_record(r: Record) -> Purchase:
    return Purchase(
        event_id=r["event_id"],
        source=r["source"],
        customer_id=r["customer_id"],
        occurred_at=r["occurred_at"] / 1000.0,
        kind=_PURCHASE_KIND[r["kind"]],
        order_id=r["order_id"],
        amount_minor=r["amount_minor"],
        currency=r["currency"],
        channel=_CHANNEL[r["channel"]],
        item_count=r["item_count"],
    )


def ticket_from_record(r: Record) -> TicketEvent:
    return TicketEvent(
        event_id=r["event_id"],
        source=r["source"],
        customer_id=r["customer_id"],
        occurred_at=r["occurred_at"] / 1000.0,
        action=_TICKET_ACTION[r["action"]],
        ticket_id=r["ticket_id"],
        priority=_TICKET_PRIORITY[r["priority"]],
        category=r["category"],
        channel=_CHANNEL[r["channel"]],
        sla_due_at=_opt_seconds(r["sla_due_at"]),
    )


def feedback_from_record(r: Record) -> Feedback:
    return Feedback(
        event_id=r["event_id"],
        source=r["source"],
        customer_id=r["customer_id"],
        occurred_at=r["occurred_at"] / 1000.0,
        kind=_FEEDBACK_KIND[r["kind"]],
        score=r["score"],
        touchpoint=_TOUCHPOINT[r["touchpoint"]],
        channel=_CHANNEL[r["channel"]],
        is_public=r["is_public"],
        agent_id=r["agent_id"],
        location_id=r["location_id"],
        comment=r["comment"],
    )


def profile_from_record(r: Record) -> CustomerProfile:
    return CustomerProfile(
        event_id=r["event_id"],
        source=r["source"],
        customer_id=r["customer_id"],
        occurred_at=r["occurred_at"] / 1000.0,
        segment=r["segment"],
        plan=r["plan"],
        industry=r["industry"],
        company_size=r["company_size"],
        region=r["region"],
        acquisition_channel=r["acquisition_channel"],
        signup_at=_opt_seconds(r["signup_at"]),
        cx_team=r["cx_team"],
        account_owner=r["account_owner"],
    )


def alert_from_record(r: Record) -> Alert:
    return Alert(
        alert_id=r["alert_id"],
        customer_id=r["customer_id"],
        type=_ALERT_TYPE[r["type"]],
        action=_ALERT_ACTION[r["action"]],
        priority=_PRIORITY[r["priority"]],
        score=float(r["score"]),
        reasons=tuple(
            Reason(code=x["code"], message=x["message"], value=float(x["value"]))
            for x in r["reasons"]
        ),
        playbook=r["playbook"],
        opened_at=r["opened_at"] / 1000.0,
        occurred_at=r["occurred_at"] / 1000.0,
        cx_team=r["cx_team"],
        lifetime_value_minor=r["lifetime_value_minor"],
        p_loss=_opt_float(r.get("p_loss")),
        value_at_risk_minor=r.get("value_at_risk_minor", 0),
        params_version=r.get("params_version"),
    )


def snapshot_from_record(r: Record) -> HealthSnapshot:
    return HealthSnapshot(
        customer_id=r["customer_id"],
        as_of=r["as_of"] / 1000.0,
        health=float(r["health"]),
        band=r["band"],
        trend=float(r["trend"]),
        stage=r["stage"],
        stage_since=r["stage_since"] / 1000.0,
        churn_risk=float(r["churn_risk"]),
        fit=float(r["fit"]),
        lifetime_value_minor=r["lifetime_value_minor"],
        nps_category=r["nps_category"],
        contributions=tuple(
            Contribution(
                measure=c["measure"],
                score=float(c["score"]),
                weight=float(c["weight"]),
                detail=c["detail"],
            )
            for c in r["contributions"]
        ),
        open_alerts=tuple(r["open_alerts"]),
        cx_team=r["cx_team"],
        p_loss=_opt_float(r.get("p_loss")),
        p_alive=_opt_float(r.get("p_alive")),
        expected_value_minor=r.get("expected_value_minor"),
        params_version=r.get("params_version"),
        purchase_days=r.get("purchase_days", 0),
        first_purchase_at=_opt_seconds(r.get("first_purchase_at")),
        last_purchase_at=_opt_seconds(r.get("last_purchase_at")),
        orders=r.get("orders", 0),
        net_spend_minor=r.get("net_spend_minor", 0),
    )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


#: Record -> domain object, by record kind.
FROM_RECORD: dict[str, Callable[[Record], Any]] = {
    "purchases": purchase_from_record,
    "tickets": ticket_from_record,
    "feedback": feedback_from_record,
    "profiles": profile_from_record,
    "alerts": alert_from_record,
    "health": snapshot_from_record,
}


def _common(e: Event) -> Record:
    return {
        "event_id": e.event_id,
        "source": e.source,
        "customer_id": e.customer_id,
        "occurred_at": to_millis(e.occurred_at),
    }


def purchase_to_record(p: Purchase) -> Record:
    return _common(p) | {
        "kind": p.kind.value,
        "order_id": p.order_id,
        "amount_minor": p.amount_minor,
        "currency": p.currency,
        "channel": p.channel.value,
        "item_count": p.item_count,
    }


def ticket_to_record(t: TicketEvent) -> Record:
    return _common(t) | {
        "action": t.action.value,
        "ticket_id": t.ticket_id,
        "priority": t.priority.value,
        "category": t.category,
        "channel": t.channel.value,
        "sla_due_at": _opt_millis(t.sla_due_at),
    }


def feedback_to_record(f: Feedback) -> Record:
    return _common(f) | {
        "kind": f.kind.value,
        "score": f.score,
        "touchpoint": f.touchpoint.value,
        "channel": f.channel.value,
        "is_public": f.is_public,
        "agent_id": f.agent_id,
        "location_id": f.location_id,
        "comment": f.comment,
    }


def profile_to_record(p: CustomerProfile) -> Record:
    return _common(p) | {
        "segment": p.segment,
        "plan": p.plan,
        "industry": p.industry,
        "company_size": p.company_size,
        "region": p.region,
        "acquisition_channel": p.acquisition_channel,
        "signup_at": _opt_millis(p.signup_at),
        "cx_team": p.cx_team,
        "account_owner": p.account_owner,
    }


def event_to_record(event: Event) -> Record:
    """The Avro record of an input event (what cxstream's and others' producers write)."""
    if isinstance(event, Purchase):
        return purchase_to_record(event)
    if isinstance(event, TicketEvent):
        return ticket_to_record(event)
    if isinstance(event, Feedback):
        return feedback_to_record(event)
    if isinstance(event, CustomerProfile):
        return profile_to_record(event)
    raise ContractError(f"not an input event: {type(event).__name__}")


def alert_to_record(a: Alert) -> Record:
    return {
        "alert_id": a.alert_id,
        "customer_id": a.customer_id,
        "type": a.type.value,
        "action": a.action.value,
        "priority": a.priority.value,
        "score": float(a.score),
        "reasons": [{"code": x.code, "message": x.message, "value": x.value} for x in a.reasons],
        "playbook": a.playbook,
        "opened_at": to_millis(a.opened_at),
        "occurred_at": to_millis(a.occurred_at),
        "cx_team": a.cx_team,
        "lifetime_value_minor": a.lifetime_value_minor,
        "p_loss": a.p_loss,
        "value_at_risk_minor": a.value_at_risk_minor,
        "params_version": a.params_version,
    }


def snapshot_to_record(s: HealthSnapshot) -> Record:
    return {
        "customer_id": s.customer_id,
        "as_of": to_millis(s.as_of),
        "health": float(s.health),
        "band": s.band,
        "trend": float(s.trend),
        "stage": s.stage,
        "stage_since": to_millis(s.stage_since),
        "churn_risk": float(s.churn_risk),
        "fit": float(s.fit),
        "lifetime_value_minor": s.lifetime_value_minor,
        "nps_category": s.nps_category,
        "contributions": [
            {"measure": c.measure, "score": c.score, "weight": c.weight, "detail": c.detail}
            for c in s.contributions
        ],
        "open_alerts": list(s.open_alerts),
        "cx_team": s.cx_team,
        "p_loss": s.p_loss,
        "p_alive": s.p_alive,
        "expected_value_minor": s.expected_value_minor,
        "params_version": s.params_version,
        "purchase_days": s.purchase_days,
        "first_purchase_at": _opt_millis(s.first_purchase_at),
        "last_purchase_at": _opt_millis(s.last_purchase_at),
        "orders": s.orders,
        "net_spend_minor": s.net_spend_minor,
    }
