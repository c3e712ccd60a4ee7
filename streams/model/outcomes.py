"""Outcomes of alerts, decided in event time, and the randomised holdout.

Every alert the model opens is tracked (streams.model.loop_state). Its observation window is
``loop.churn_window_days`` (churn risk) or ``loop.referral_window_days`` (referral) of event
time after it opened. Success evidence inside the window is kept as its earliest time: for
churn risk an order or renewal, or the model resolving the alert as ``recovered``; for a
referral opportunity a ``referral`` action. Once the customer's evaluation time reaches the
window's end, the outcome is decided (retained / lost, referred / no_referral), stamped with
the window's end as its time, and never changes: a replay of the same events gives the same
outcomes. New churn alerts go to the control group when a hash of their id falls below
``loop.holdout_fraction``: deterministic, so every replay and every worker agrees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence

from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.config import ModelConfig
from streams.domain import Alert, AlertAction, AlertType, Priority, Purchase, PurchaseKind
from streams.model.alerts import PLAYBOOKS
from streams.model.loop_state import Loop, TrackedAlert, unknown_alert
from streams.model.state import DAY_S, CustomerState

CHURN = AlertType.CHURN_RISK.value
REFERRAL = AlertType.REFERRAL_OPPORTUNITY.value
_BUYING = frozenset({PurchaseKind.ORDER_PLACED, PurchaseKind.SUBSCRIPTION_RENEWED})


def holdout_group(alert_id: str, alert_type: str, fraction: float) -> Group:
    """Control when the alert id's hash, as a number in [0, 1), is below ``fraction``."""
    if alert_type != CHURN or fraction <= 0.0:
        return Group.DELIVERED
    digest = hashlib.sha256(f"holdout|{alert_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return Group.CONTROL if u < fraction else Group.DELIVERED


def playbook_key(alert: Alert) -> str:
    """A short, bounded label for the alert's playbook (metrics, reports)."""
    if alert.type is AlertType.REFERRAL_OPPORTUNITY:
        return "referral_ask"
    return next((r.code for r in alert.reasons if r.code in PLAYBOOKS), "win_back")


def window_s(alert_type: str, cfg: ModelConfig) -> float:
    days = cfg.loop.churn_window_days if alert_type == CHURN else cfg.loop.referral_window_days
    return days * DAY_S


def due_at(rec: TrackedAlert, cfg: ModelConfig) -> float:
    return rec.opened_at + window_s(rec.type, cfg) if rec.known else math.inf


def observe(
    state: CustomerState,
    event: object | None,
    alerts: Sequence[Alert],
    now: float,
    cfg: ModelConfig,
) -> tuple[CustomerState, list[AlertOutcome]]:
    """Track opened alerts, note success evidence, decide the outcomes due by ``now``.

    Returns the very same state when nothing changed (so callers can still spot repeats).
    """
    loop = state.loop
    for alert in alerts:
        loop = _track(loop, alert, cfg)
    if isinstance(event, Purchase) and event.kind in _BUYING:
        loop = _success(loop, CHURN, event.occurred_at, cfg)
    loop, outcomes = _decide(loop, state.customer_id, now, cfg)
    if loop is state.loop:
        return state, outcomes
    return dataclasses.replace(state, loop=loop), outcomes


def credit_referral(loop: Loop, at: float, cfg: ModelConfig) -> Loop:
    """A referral the customer made at ``at`` succeeds every referral alert open at that time."""
    return _success(loop, REFERRAL, at, cfg)


def outcome_deadline(state: CustomerState, cfg: ModelConfig) -> float | None:
    """The earliest undecided window end: when a tick must come to decide an outcome."""
    dues = [due_at(a, cfg) for a in state.loop.alerts if a.known and not a.outcome]
    return min(dues) if dues else None


def _track(loop: Loop, alert: Alert, cfg: ModelConfig) -> Loop:
    rec = loop.find(alert.alert_id)
    if alert.action is AlertAction.OPENED and (rec is None or not rec.known):
        t = alert.opened_at
        group = holdout_group(alert.alert_id, alert.type.value, cfg.loop.holdout_fraction)
        new = dataclasses.replace(
            rec or unknown_alert(alert.alert_id, t),
            type=alert.type.value,
            opened_at=t,
            priority=alert.priority.value,
            playbook=playbook_key(alert),
            group=group.value,
            anchor=t,
        )
        return loop.put(new, cfg.loop.max_alerts)
    recovered = any(r.code == "recovered" for r in alert.reasons)
    if rec is not None and alert.action is AlertAction.RESOLVED and recovered:
        return _success(loop, CHURN, alert.occurred_at, cfg, only=alert.alert_id)
    return loop


def _success(
    loop: Loop, alert_type: str, at: float, cfg: ModelConfig, only: str | None = None
) -> Loop:
    """Note success evidence at ``at`` on undecided ``alert_type`` alerts whose window holds it."""
    changed = False
    out: list[TrackedAlert] = []
    for rec in loop.alerts:
        hit = (
            rec.type == alert_type
            and not rec.outcome
            and (only is None or rec.alert_id == only)
            and rec.opened_at < at <= due_at(rec, cfg)
            and at < rec.success_at
        )
        if hit:
            rec = dataclasses.replace(rec, success_at=at)
            changed = True
        out.append(rec)
    return Loop(tuple(out)) if changed else loop


def _decide(
    loop: Loop, customer_id: str, now: float, cfg: ModelConfig
) -> tuple[Loop, list[AlertOutcome]]:
    outcomes: list[AlertOutcome] = []
    out: list[TrackedAlert] = []
    for rec in loop.alerts:
        due = due_at(rec, cfg)
        if rec.known and not rec.outcome and now >= due:
            kind = _verdict(rec)
            rec = dataclasses.replace(rec, outcome=kind.value)
            outcomes.append(to_outcome(rec, customer_id, cfg))
        out.append(rec)
    return (Loop(tuple(out)) if outcomes else loop), outcomes


def _verdict(rec: TrackedAlert) -> OutcomeKind:
    ok = rec.success_at < math.inf
    if rec.type == CHURN:
        return OutcomeKind.RETAINED if ok else OutcomeKind.LOST
    return OutcomeKind.REFERRED if ok else OutcomeKind.NO_REFERRAL


def to_outcome(rec: TrackedAlert, customer_id: str, cfg: ModelConfig) -> AlertOutcome:
    """The published form of a decided record."""
    return AlertOutcome(
        alert_id=rec.alert_id,
        customer_id=customer_id,
        type=AlertType(rec.type),
        outcome=OutcomeKind(rec.outcome),
        opened_at=rec.opened_at,
        decided_at=due_at(rec, cfg),
        priority=Priority(rec.priority),
        playbook=rec.playbook,
        group=Group(rec.group),
        handled=rec.handled,
        intervened=rec.intervened,
        succeeded_at=rec.success_at if rec.success_at < math.inf else None,
    )
