"""Support-ticket lifecycles: smooth ones for happy customers, painful ones for frustrated ones.

A ticket's ``trouble`` (0-1) drives how likely it is to be escalated, to breach its SLA, to be
reopened or to be abandoned unresolved, so one function covers every persona.
"""

from __future__ import annotations

from streams.domain import (
    Channel,
    Event,
    FeedbackKind,
    TicketAction,
    TicketEvent,
    TicketPriority,
    Touchpoint,
)
from streams.simulator.customer import DAY, SOURCE, Customer

HOUR = 3_600.0
CATEGORIES = ("billing", "delivery", "product_defect", "account", "returns", "technical")
SLA_HOURS: dict[TicketPriority, float] = {
    TicketPriority.URGENT: 4.0,
    TicketPriority.HIGH: 24.0,
    TicketPriority.NORMAL: 72.0,
    TicketPriority.LOW: 168.0,
}
_PRIORITIES = (
    TicketPriority.LOW,
    TicketPriority.NORMAL,
    TicketPriority.HIGH,
    TicketPriority.URGENT,
)
_BUMP = {
    TicketPriority.LOW: TicketPriority.NORMAL,
    TicketPriority.NORMAL: TicketPriority.HIGH,
    TicketPriority.HIGH: TicketPriority.URGENT,
    TicketPriority.URGENT: TicketPriority.URGENT,
}
_TICKET_CHANNELS = (Channel.PHONE, Channel.CHAT, Channel.EMAIL, Channel.WEB)


class _Ticket:
    """Builds the events of one ticket with shared id, category and channel."""

    __slots__ = ("category", "channel", "customer", "priority", "ticket_id")

    def __init__(self, customer: Customer, category: str, priority: TicketPriority) -> None:
        customer.tickets += 1
        self.customer = customer
        self.ticket_id = f"{customer.customer_id}-t{customer.tickets}"
        self.category = category
        self.priority = priority
        self.channel = customer.rng.choice(_TICKET_CHANNELS)

    def event(self, at: float, action: TicketAction, sla_due_at: float | None) -> TicketEvent:
        c = self.customer
        return TicketEvent(
            event_id=c.next_id(),
            source=SOURCE,
            customer_id=c.customer_id,
            occurred_at=at,
            action=action,
            ticket_id=self.ticket_id,
            priority=self.priority,
            category=self.category,
            channel=self.channel,
            sla_due_at=sla_due_at,
        )


def ticket_episode(customer: Customer, opened_at: float, trouble: float) -> list[Event]:
    """All events of one ticket opened at ``opened_at``, in time order.

    Smooth tickets (trouble ~0) are resolved within SLA and often get a good CSAT; troubled
    ones are escalated, breach the SLA, get reopened, and their survey answers are poor.
    """
    rng = customer.rng
    priority = _PRIORITIES[min(3, int(rng.uniform(0.0, 2.0) + 2.2 * trouble))]
    ticket = _Ticket(customer, rng.choice(CATEGORIES), priority)
    sla = SLA_HOURS[priority] * HOUR
    due = opened_at + sla
    events: list[Event] = [ticket.event(opened_at, TicketAction.OPENED, due)]
    t = opened_at
    if rng.chance(0.3 + 0.5 * trouble):
        t += rng.uniform(0.1, 0.5) * sla
        events.append(ticket.event(t, TicketAction.UPDATED, due))
    if rng.chance(0.85 * trouble):
        t = max(t, opened_at + rng.uniform(0.4, 1.2) * sla)
        ticket.priority = _BUMP[ticket.priority]
        due = t + SLA_HOURS[ticket.priority] * HOUR
        events.append(ticket.event(t, TicketAction.ESCALATED, due))
    if trouble > 0.7 and rng.chance(0.25):
        return events  # abandoned: never resolved, the customer gives up
    breach = rng.chance(0.9 * trouble)
    t = max(t, opened_at) + (rng.uniform(1.2, 4.0) if breach else rng.uniform(0.2, 0.9)) * sla
    events.append(ticket.event(t, TicketAction.RESOLVED, due))
    if rng.chance(0.6 * trouble):
        t += rng.uniform(0.5, 3.0) * DAY
        events.append(ticket.event(t, TicketAction.REOPENED, due))
        t += rng.uniform(1.0, 5.0) * DAY
        events.append(ticket.event(t, TicketAction.RESOLVED, due))
    if rng.chance(0.5):
        events.append(ticket.event(t + rng.uniform(2.0, 4.0) * DAY, TicketAction.CLOSED, due))
    if rng.chance(0.45):
        t += rng.uniform(0.1, 1.5) * DAY
        kind = FeedbackKind.CES if rng.chance(0.3) else FeedbackKind.CSAT
        agent = customer.random_agent()
        events.append(customer.feedback(t, kind, Touchpoint.AFTER_TICKET, agent_id=agent))
    events.sort(key=_time)
    return events


def _time(event: Event) -> float:
    return event.occurred_at
