"""Fold CX teams' actions on alerts into the customer's state (pure, like every other event).

An action is recorded on its tracked alert: a set keyed by event id (a repeat changes nothing),
ordered by (time, event id), newest ``loop.max_actions_per_alert`` kept, with the earliest
action and intervention kept as minima so the cap never changes them. A dismissal or
resolution closes the alert if the model still holds it open: the model emits ``resolved``
(reason ``dismissed`` / ``resolved_by_team``) and the usual reopen cooldown runs from then; a
dismissal with reason ``not_a_risk`` moves the churn cooldown's start so that the same kind
does not reopen for ``loop.not_a_risk_cooldown_days``. A ``referral`` action credits the
customer's referral opportunities (see streams.model.outcomes).
"""

from __future__ import annotations

import dataclasses

from streams.alert_loop import CLOSING, INTERVENTIONS, NOT_A_RISK, ActionKind, AlertActionEvent
from streams.config import ModelConfig
from streams.domain import Alert, AlertAction, AlertType, Priority, Reason
from streams.model.loop_state import NOT_CLOSED, Loop, TrackedAlert, unknown_alert
from streams.model.outcomes import credit_referral
from streams.model.state import DAY_S, CustomerState

CHURN = AlertType.CHURN_RISK.value


def fold_action(
    state: CustomerState, ev: AlertActionEvent, cfg: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """Record ``ev``; returns the very same state when it changes nothing (a repeat)."""
    if ev.action is ActionKind.REFERRAL:
        loop = credit_referral(state.loop, ev.occurred_at, cfg)
        return (state, []) if loop is state.loop else (with_loop(state, loop), [])
    rec = state.loop.find(ev.alert_id) or unknown_alert(ev.alert_id, ev.occurred_at)
    new = record_action(rec, ev, cfg)
    if new is rec:
        return state, []
    loop = state.loop.put(new, cfg.loop.max_alerts)
    if rec.closed_key != NOT_CLOSED or new.closed_key == NOT_CLOSED:
        return with_loop(state, loop), []  # not closing, or the team closed it already
    return close(state, loop, ev, cfg)


def _closing(ev: AlertActionEvent) -> str:
    return f"{ev.action.value}:{ev.reason or ''}"


def record_action(rec: TrackedAlert, ev: AlertActionEvent, cfg: ModelConfig) -> TrackedAlert:
    """``rec`` with ``ev`` added (``rec`` itself when ``ev`` is already there)."""
    entry = (ev.occurred_at, ev.event_id, ev.action.value, ev.actor, ev.detail)
    if any(a[1] == ev.event_id for a in rec.actions):
        return rec
    cap = cfg.loop.max_actions_per_alert
    actions = tuple(sorted((*rec.actions, entry)))[-cap:]
    t = ev.occurred_at
    intervened = min(rec.intervened_at, t) if ev.action in INTERVENTIONS else rec.intervened_at
    closed_by, closed_key = rec.closed_by, rec.closed_key
    if ev.action in CLOSING and (t, ev.event_id) < closed_key:
        closed_by, closed_key = _closing(ev), (t, ev.event_id)
    new = dataclasses.replace(
        rec,
        anchor=min(rec.anchor, t) if not rec.known else rec.anchor,
        actions=actions,
        first_action_at=min(rec.first_action_at, t),
        intervened_at=intervened,
        closed_by=closed_by,
        closed_key=closed_key,
    )
    return rec if new == rec else new  # e.g. an action the cap dropped, seen again


def with_loop(state: CustomerState, loop: Loop) -> CustomerState:
    return dataclasses.replace(state, loop=loop)


def close(
    state: CustomerState, loop: Loop, ev: AlertActionEvent, cfg: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """Resolve the alert in the model if it is still open there (the team closed it)."""
    cur = next((a for a in state.alerts if a.alert_id == ev.alert_id), None)
    if cur is None:
        return with_loop(state, loop), []
    at = max(ev.occurred_at, state.as_of)
    churn_anchor = state.churn_resolved_at
    if cur.type == CHURN:
        cooldown = cfg.alerts.churn_risk.reopen_cooldown_days
        if ev.action is ActionKind.DISMISSED and ev.reason == NOT_A_RISK:
            # the model's reopen cooldown runs from churn_resolved_at: start it later so that
            # it ends not_a_risk_cooldown_days after the dismissal
            shift = max(0.0, cfg.loop.not_a_risk_cooldown_days - cooldown) * DAY_S
            churn_anchor = max(churn_anchor, at + shift)
        else:
            churn_anchor = max(churn_anchor, at)
    code = "dismissed" if ev.action is ActionKind.DISMISSED else "resolved_by_team"
    why = f"{ev.action.value} by {ev.actor}" + (f": {ev.reason}" if ev.reason else "")
    alert = Alert(
        alert_id=cur.alert_id,
        customer_id=state.customer_id,
        type=AlertType(cur.type),
        action=AlertAction.RESOLVED,
        priority=Priority(cur.priority),
        score=cur.score,
        reasons=(Reason(code, why, 1.0),),
        playbook="No action: closed by the CX team.",
        opened_at=cur.opened_at,
        occurred_at=at,
        cx_team=state.profile.cx_team,
        params_version=cfg.loss.params_version,
    )
    new = dataclasses.replace(
        state,
        alerts=tuple(a for a in state.alerts if a.alert_id != cur.alert_id),
        churn_resolved_at=churn_anchor,
        loop=loop,
    )
    return new, [alert]
