"""Simulated CX teams acting on alerts, and personas answering with a known save probability.

The model's alerts are only known while folding, so this runs the loop itself: customer by
customer (alerts depend on the customer's own events only), events in event-time order through
:mod:`streams.loop_processing`. When a delivered churn alert opens, a simulated CX agent
contacts the customer with probability ``act_share``, ``contact_delay_days`` later; the
persona is then saved with its probability from :data:`SAVE_PROBABILITY` and buys again within
``save_within_days``. Control alerts (the holdout) are never acted on. Every draw is seeded
from the alert id, so a run is reproducible.

The true effect is known exactly: for every contacted alert the run also knows whether the
customer would have been retained anyway (their own later purchases), so the average effect
of contacting on the contacted alerts is counted, not estimated.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from streams.alert_loop import ActionKind, AlertActionEvent, AlertOutcome, Group
from streams.config import ModelConfig
from streams.domain import (
    Alert,
    AlertAction,
    AlertType,
    Channel,
    Event,
    Purchase,
    PurchaseKind,
)
from streams.loop_processing import LoopInput, loop_deadline, process_loop_event, process_loop_tick
from streams.model import CustomerState
from streams.model.outcomes import holdout_group
from streams.simulator.customer import DAY
from streams.simulator.personas import CustomerTruth, Persona

#: P(the customer is saved | a CX agent contacts them while a churn alert is open), by persona.
SAVE_PROBABILITY: Mapping[Persona, float] = {
    Persona.LOYAL_PROMOTER: 0.6,
    Persona.STEADY: 0.5,
    Persona.QUIET_CHURNER: 0.4,
    Persona.FRUSTRATED: 0.5,
    Persona.DETRACTOR: 0.3,
    Persona.BARGAIN_HUNTER: 0.2,
    Persona.ONE_TIME: 0.1,
    Persona.WON_BACK: 0.4,
    Persona.COACHED: 0.4,
}


@dataclass(frozen=True, slots=True)
class CxTeam:
    act_share: float = 0.6  # share of delivered churn alerts a CX agent acts on
    contact_delay_days: float = 1.0
    save_within_days: float = 21.0


@dataclass(slots=True)
class LoopRun:
    """What a simulated run produced, plus the ground truth of the interventions."""

    alerts: list[Alert] = field(default_factory=list)
    outcomes: list[AlertOutcome] = field(default_factory=list)
    actions: list[AlertActionEvent] = field(default_factory=list)
    # contacted alert id -> (saved by the contact, would have bought in the window anyway)
    contacts: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    save_probability: dict[str, float] = field(default_factory=dict)  # contacted alert id -> p

    def true_effect(self, outcomes: Iterable[AlertOutcome] | None = None) -> float:
        """Exact effect of the contact on the retained rate of the contacted alerts whose
        outcome was decided (the average treatment effect on the treated): the share saved
        who would not have bought within the window anyway."""
        decided = [o.alert_id for o in (outcomes or self.outcomes) if o.alert_id in self.contacts]
        flips = [self.contacts[a][0] and not self.contacts[a][1] for a in decided]
        return sum(flips) / len(flips) if flips else 0.0


def _draw(alert_id: str, salt: str) -> random.Random:
    seed = hashlib.sha256(f"{salt}|{alert_id}".encode()).digest()[:8]
    return random.Random(int.from_bytes(seed, "big"))


def run_with_interventions(
    events: Iterable[Event],
    truth: Mapping[str, CustomerTruth],
    cfg: ModelConfig,
    team: CxTeam,
    end: float,
) -> LoopRun:
    """Fold every customer's events with the CX team in the loop, until ``end``."""
    by_customer: dict[str, list[Event]] = {}
    for e in events:
        by_customer.setdefault(e.customer_id, []).append(e)
    run = LoopRun()
    for cid in sorted(by_customer):
        own = sorted(by_customer[cid], key=lambda e: e.occurred_at)
        _customer(own, truth[cid].persona, cfg, team, end, run)
    return run


def _customer(
    own: list[Event], persona: Persona, cfg: ModelConfig, team: CxTeam, end: float, run: LoopRun
) -> None:
    queue: list[LoopInput] = list(own)
    state: CustomerState | None = None
    i = 0

    def record(alerts: list[Alert], outcomes: list[AlertOutcome]) -> bool:
        """Keep what was emitted; True when the CX team's reaction was queued."""
        run.outcomes.extend(outcomes)
        queued = False
        for alert in alerts:
            run.alerts.append(alert)
            reaction = _react(alert, own, persona, cfg, team, run)
            if reaction:
                queue[i:] = sorted([*queue[i:], *reaction], key=lambda e: e.occurred_at)
                queued = True
        return queued

    while True:
        last = i >= len(queue)
        upto = end if last else queue[i].occurred_at
        before = len(queue)
        state = _tick_to(state, upto, cfg, record, inclusive=last)
        if len(queue) != before:
            continue  # a tick opened an alert the team reacts to: fold that first
        if last:
            return
        item = queue[i]
        i += 1
        state, alerts, outcomes = process_loop_event(state, item, cfg)
        record(alerts, outcomes)


def _tick_to(
    state: CustomerState | None,
    t: float,
    cfg: ModelConfig,
    record: Callable[[list[Alert], list[AlertOutcome]], bool],
    inclusive: bool = False,
) -> CustomerState | None:
    """Deliver the deadline ticks due before ``t`` (as the worker's timer would)."""
    previous = float("-inf")
    while state is not None:
        d = loop_deadline(state, cfg)
        if d is None or d > t or (d == t and not inclusive) or d <= previous:
            break
        state, alerts, outcomes = process_loop_tick(state, d, cfg)
        previous = d
        if record(alerts, outcomes):
            break
    return state


def _react(
    alert: Alert,
    own: list[Event],
    persona: Persona,
    cfg: ModelConfig,
    team: CxTeam,
    run: LoopRun,
) -> list[LoopInput]:
    """The CX agent's action (and the customer's answer) to a newly opened churn alert."""
    if alert.type is not AlertType.CHURN_RISK or alert.action is not AlertAction.OPENED:
        return []
    if holdout_group(alert.alert_id, alert.type.value, cfg.loop.holdout_fraction) is Group.CONTROL:
        return []
    rng = _draw(alert.alert_id, "cx-agent")
    if rng.random() >= team.act_share:
        return []
    at = alert.opened_at + team.contact_delay_days * DAY
    contact = AlertActionEvent(
        f"sim-contact-{alert.alert_id}", "/sim/cx", alert.customer_id, at, alert.alert_id,
        ActionKind.CONTACTED, "sim-agent", channel="phone",
    )  # fmt: skip
    run.actions.append(contact)
    p_save = SAVE_PROBABILITY[persona]
    run.save_probability[alert.alert_id] = p_save
    saved = rng.random() < p_save
    bought_at = at + rng.uniform(1.0, team.save_within_days) * DAY
    window_end = alert.opened_at + cfg.loop.churn_window_days * DAY
    anyway = any(
        isinstance(e, Purchase)
        and e.kind in (PurchaseKind.ORDER_PLACED, PurchaseKind.SUBSCRIPTION_RENEWED)
        and alert.opened_at < e.occurred_at <= window_end
        for e in own
    )
    run.contacts[alert.alert_id] = (saved, anyway)
    if not saved:
        return [contact]
    save = Purchase(
        f"sim-save-{alert.alert_id}", "/sim/shop", alert.customer_id, bought_at,
        PurchaseKind.ORDER_PLACED, f"save-{alert.alert_id[:12]}", 3000, "EUR", Channel.PHONE, 1,
    )  # fmt: skip
    return [contact, save]
