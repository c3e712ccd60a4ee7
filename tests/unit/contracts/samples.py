"""Valid example objects of every contract type, with millisecond-exact times."""

from __future__ import annotations

from dataclasses import replace
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

X = TypeVar("X", bound=Any)

NOW = 1_700_000_000.0
T = NOW - 3600.25  # an hour ago, on a millisecond


def purchase(**changes: object) -> Purchase:
    base = Purchase(
        "p-1",
        "/shop/checkout",
        "cust-1",
        T,
        PurchaseKind.ORDER_PLACED,
        "o-1",
        4_999,
        "EUR",
        Channel.WEB,
        3,
    )
    return _replace(base, changes)


def ticket(**changes: object) -> TicketEvent:
    base = TicketEvent(
        "t-1",
        "/helpdesk",
        "cust-1",
        T,
        TicketAction.ESCALATED,
        "tk-9",
        TicketPriority.URGENT,
        "billing",
        Channel.PHONE,
        sla_due_at=T + 7200.5,
    )
    return _replace(base, changes)


def feedback(**changes: object) -> Feedback:
    base = Feedback(
        "f-1",
        "/surveys",
        "cust-1",
        T,
        FeedbackKind.NPS,
        3,
        Touchpoint.AFTER_TICKET,
        Channel.EMAIL,
        True,
        agent_id="ag-7",
        location_id=None,
        comment="slow 😞",
    )
    return _replace(base, changes)


def profile(**changes: object) -> CustomerProfile:
    base = CustomerProfile(
        "pr-1",
        "/crm",
        "cust-1",
        T,
        segment="smb",
        plan="pro",
        industry="retail",
        company_size="11-50",
        region="emea",
        acquisition_channel="referral",
        signup_at=T - 86_400 * 400,
        cx_team="team-emea",
        account_owner="ana",
    )
    return _replace(base, changes)


def events() -> list[Event]:
    """One of every input event kind, plus the optional-field-less variants."""
    return [
        purchase(),
        purchase(kind=PurchaseKind.REFUND, amount_minor=-4_999, channel=Channel.OTHER),
        ticket(),
        ticket(sla_due_at=None),
        feedback(),
        feedback(kind=FeedbackKind.REVIEW, score=None, agent_id=None, comment=None),
        profile(),
        CustomerProfile("pr-2", "/crm", "cust-2", T),
    ]


def alert(**changes: object) -> Alert:
    base = Alert(
        alert_id="al-1",
        customer_id="cust-1",
        type=AlertType.CHURN_RISK,
        action=AlertAction.OPENED,
        priority=Priority.CRITICAL,
        score=87.5,
        reasons=(
            Reason("public_detractor", "Public review with NPS 3", 3.0),
            Reason("escalated_ticket", "Urgent ticket escalated", 1.0),
        ),
        playbook="detractor-callback",
        opened_at=T,
        occurred_at=T + 60.001,
        cx_team="team-emea",
        lifetime_value_minor=1_250_000,
    )
    return _replace(base, changes)


def snapshot(**changes: object) -> HealthSnapshot:
    base = HealthSnapshot(
        customer_id="cust-1",
        as_of=T,
        health=38.25,
        band="red",
        trend=-12.5,
        stage="adoption",
        stage_since=T - 86_400 * 30,
        churn_risk=71.0,
        fit=82.5,
        lifetime_value_minor=1_250_000,
        nps_category="detractor",
        contributions=(
            Contribution("nps", 10.0, 0.4, "NPS 3 from a public review"),
            Contribution("tickets", 55.5, 0.6, "1 escalated ticket open"),
        ),
        open_alerts=("al-1",),
        cx_team="team-emea",
        p_loss=0.8125,
        p_alive=0.34,
        expected_value_minor=42_000,
        params_version="mbgnbd-0123456789ab",
        purchase_days=6,
        first_purchase_at=T - 86_400 * 200,
        last_purchase_at=T - 86_400 * 40,
        orders=7,
        net_spend_minor=84_000,
    )
    return _replace(base, changes)


def _replace(obj: X, changes: dict[str, object]) -> X:
    return replace(obj, **changes)
