"""Domain types of the feedback loop: what CX teams did with an alert, and what came of it.

Alert actions are events like purchases or tickets (topic ``cx.alert-actions``, keyed by the
customer id so they land on the customer's partition); outcomes are the model's verdict on an
alert once its observation window has passed in event time (topic ``cx.alert-outcomes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.domain import AlertType, Priority


class ActionKind(StrEnum):
    """What happened to an alert; ``referral`` credits the customer with a referral made."""

    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    OFFER_MADE = "offer_made"
    DISMISSED = "dismissed"
    RESOLVED = "resolved"
    REFERRAL = "referral"


#: Actions that reach the customer: the treatment whose effect the holdout measures.
INTERVENTIONS: frozenset[ActionKind] = frozenset({ActionKind.CONTACTED, ActionKind.OFFER_MADE})
#: Actions that close the alert for the CX team (the model resolves it).
CLOSING: frozenset[ActionKind] = frozenset({ActionKind.DISMISSED, ActionKind.RESOLVED})
#: The dismissal reason that starts the long reopen cooldown.
NOT_A_RISK = "not_a_risk"


class OutcomeKind(StrEnum):
    RETAINED = "retained"  # churn risk: bought again or recovered within the window
    LOST = "lost"
    REFERRED = "referred"  # referral opportunity: a referral was credited within the window
    NO_REFERRAL = "no_referral"


class Group(StrEnum):
    """Holdout arm of an alert: control alerts are recorded but never delivered."""

    DELIVERED = "delivered"
    CONTROL = "control"


@dataclass(frozen=True, slots=True)
class AlertActionEvent:
    """One action on one alert (or, kind ``referral``, a referral the customer made)."""

    event_id: str
    source: str
    customer_id: str
    occurred_at: float
    alert_id: str  # empty only for kind referral
    action: ActionKind
    actor: str  # who acted: a person, team or service id
    assignee: str | None = None  # assigned: the team or person id
    channel: str | None = None  # contacted / offer_made: phone, email, chat, ...
    reason: str | None = None  # dismissed: why (not_a_risk starts the long cooldown)
    referred_customer_id: str | None = None  # referral: who was referred

    @property
    def detail(self) -> str:
        """The kind-specific field, for the action history."""
        return self.assignee or self.channel or self.reason or self.referred_customer_id or ""


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """The verdict on one alert, decided in event time ``window`` after it opened."""

    alert_id: str
    customer_id: str
    type: AlertType
    outcome: OutcomeKind
    opened_at: float
    decided_at: float  # opened_at + the observation window (event time)
    priority: Priority
    playbook: str  # playbook key, e.g. win_back, ticket_trouble, referral_ask
    group: Group
    handled: bool  # any CX action recorded
    intervened: bool  # contacted or offer_made
    succeeded_at: float | None = None  # the purchase, recovery or referral that decided it
