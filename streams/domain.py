"""Domain types shared by the model, the contracts layer and the pipeline.

Times are event times in seconds since the Unix epoch (UTC), as ``float``: cheap to compare,
decay and serialise, and identical in replay. Money is integer minor units plus an ISO 4217
currency code, never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    """Where an interaction happened; unknown channels arrive as OTHER."""

    WEB = "web"
    APP = "app"
    STORE = "store"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    OTHER = "other"


class PurchaseKind(StrEnum):
    ORDER_PLACED = "order_placed"
    REFUND = "refund"
    SUBSCRIPTION_RENEWED = "subscription_renewed"
    SUBSCRIPTION_CANCELLED = "subscription_cancelled"


class TicketAction(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    ESCALATED = "escalated"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class FeedbackKind(StrEnum):
    NPS = "nps"  # score 0-10
    CSAT = "csat"  # score 1-5
    CES = "ces"  # score 1-7, lower effort is better
    REVIEW = "review"  # free text, optional star rating 1-5


class Touchpoint(StrEnum):
    AFTER_PURCHASE = "after_purchase"
    AFTER_TICKET = "after_ticket"
    PERIODIC = "periodic"


@dataclass(frozen=True, slots=True)
class Purchase:
    event_id: str
    source: str
    customer_id: str
    occurred_at: float
    kind: PurchaseKind
    order_id: str
    amount_minor: int  # refunds may carry a negative or positive amount; others are >= 0
    currency: str
    channel: Channel
    item_count: int


@dataclass(frozen=True, slots=True)
class TicketEvent:
    event_id: str
    source: str
    customer_id: str
    occurred_at: float
    action: TicketAction
    ticket_id: str
    priority: TicketPriority
    category: str
    channel: Channel
    sla_due_at: float | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    event_id: str
    source: str
    customer_id: str
    occurred_at: float
    kind: FeedbackKind
    score: int | None  # None only for a review without a star rating
    touchpoint: Touchpoint
    channel: Channel
    is_public: bool
    agent_id: str | None = None
    location_id: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """Latest known attributes of a customer (compacted topic: the last one wins)."""

    event_id: str
    source: str
    customer_id: str
    occurred_at: float
    segment: str | None = None
    plan: str | None = None
    industry: str | None = None
    company_size: str | None = None  # or household type for consumers
    region: str | None = None
    acquisition_channel: str | None = None
    signup_at: float | None = None
    cx_team: str | None = None  # routing key for alerts
    account_owner: str | None = None


Event = Purchase | TicketEvent | Feedback | CustomerProfile


class AlertType(StrEnum):
    CHURN_RISK = "churn_risk"
    REFERRAL_OPPORTUNITY = "referral_opportunity"


class AlertAction(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an alert exists: a stable machine code, a sentence for people, the value behind it."""

    code: str
    message: str
    value: float


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str  # deterministic: same customer, type and opening evidence -> same id
    customer_id: str
    type: AlertType
    action: AlertAction
    priority: Priority
    score: float  # 0-100; risk for churn alerts, opportunity strength for referrals
    reasons: tuple[Reason, ...]
    playbook: str
    opened_at: float  # event time the alert opened
    occurred_at: float  # event time of this action (open, update or resolve)
    cx_team: str | None = None
    lifetime_value_minor: int = 0
    p_loss: float | None = None  # churn: P(no purchase within the horizon) it was judged with
    value_at_risk_minor: int = 0  # churn: p_loss x expected value within the horizon
    params_version: str | None = None  # the model parameters it was judged with


@dataclass(frozen=True, slots=True)
class Contribution:
    """One measure's share of the composite health score."""

    measure: str
    score: float  # 0-100
    weight: float  # after renormalisation over the measures present
    detail: str  # human sentence: what evidence gave this score


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """What other services read on the customer-health topic and from Redis."""

    customer_id: str
    as_of: float
    health: float  # 0-100
    band: str  # red | amber | green
    trend: float  # change since the previous snapshot
    stage: str
    stage_since: float
    churn_risk: float  # 0-100
    fit: float  # 0-100
    lifetime_value_minor: int
    nps_category: str | None  # promoter | passive | detractor | None
    contributions: tuple[Contribution, ...] = field(default_factory=tuple)
    open_alerts: tuple[str, ...] = field(default_factory=tuple)  # alert ids
    cx_team: str | None = None
    # Loss outlook (buy-till-you-die, streams.model.loss); None before the first purchase.
    p_loss: float | None = None  # P(no purchase within the loss horizon), as alerts judge it
    p_alive: float | None = None
    expected_value_minor: int | None = None  # expected spend within the loss horizon
    params_version: str | None = None  # parameter record the outlook was computed with
    # Purchase statistics (what `cxstream fit` reads from the health topic)
    purchase_days: int = 0  # distinct days with an order
    first_purchase_at: float | None = None
    last_purchase_at: float | None = None
    orders: int = 0
    net_spend_minor: int = 0
