"""The model's entry points: ``apply`` an event, ``tick`` time forward, take a ``snapshot``.

Pure functions of (state, input, event time, config): no clocks, no I/O. An ignored event
(duplicate, or too late to be checked for duplication) returns the very same state object, so
callers can count ignored events with ``new is old``.
"""

from __future__ import annotations

import bisect
import hashlib
import math

from streams.config import ModelConfig
from streams.domain import (
    Alert,
    CustomerProfile,
    Event,
    Feedback,
    HealthSnapshot,
    Purchase,
    PurchaseKind,
    TicketEvent,
)
from streams.model.alerts import AlertBook, step_alerts
from streams.model.fold import fold_feedback, fold_profile, fold_purchase, touch
from streams.model.health import band, contributions, health
from streams.model.lifecycle import moved, next_stage
from streams.model.loop_state import NO_LOOP
from streams.model.loss import loss_outlook, params_for
from streams.model.measures import Measures
from streams.model.positional import positional
from streams.model.risk import assess, assess_cached, remember_measures
from streams.model.state import (
    NO_CHANNELS,
    NO_FEEDBACK,
    NO_PROFILE,
    NO_PURCHASES,
    NO_TICKET_HISTORY,
    CustomerState,
    Engagement,
    build_state,
)
from streams.model.tickets import fold_ticket, prune_tickets

_SNAPSHOT = positional(HealthSnapshot)  # snapshot() runs once per customer and batch


def new_state(customer_id: str, at: float) -> CustomerState:
    """An empty customer first seen at ``at``."""
    return CustomerState(
        customer_id=customer_id,
        created_at=at,
        watermark=-math.inf,
        as_of=at,
        seen_at=(),
        seen_ids=(),
        id_floor=-math.inf,
        engagement=Engagement(-math.inf, 0.0, 0.0, NO_CHANNELS, -math.inf),
        purchases=NO_PURCHASES,
        tickets=(),
        ticket_history=NO_TICKET_HISTORY,
        feedback=NO_FEEDBACK,
        profile=NO_PROFILE,
        stage="new",
        stage_since=at,
        stage_history=(("new", at),),
        alerts=(),
        churn_resolved_at=-math.inf,
        referral_opened_at=-math.inf,
        health=50.0,
        prev_health=50.0,
        risk=0.0,
        loop=NO_LOOP,
    )


def event_key(event: Event) -> int:
    """48-bit hash of the de-duplication key (source + id): small and fixed-size in the state."""
    digest = hashlib.blake2b(f"{event.source}\x1f{event.event_id}".encode(), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


def _remember(
    state: CustomerState, t: float, key: int, watermark: float, cfg: ModelConfig
) -> tuple[tuple[float, ...], tuple[int, ...], float]:
    """Add an id; forget ids older than the grace window; cap the memory (raising the floor)."""
    at, ids = state.seen_at, state.seen_ids
    i = bisect.bisect_left(at, t)
    while i < len(at) and at[i] == t and ids[i] < key:  # canonical order for equal times
        i += 1
    at, ids = (*at[:i], t, *at[i:]), (*ids[:i], key, *ids[i:])
    cut = bisect.bisect_left(at, watermark - cfg.ordering.grace_s)
    floor = state.id_floor
    excess = len(at) - cut - cfg.ordering.max_remembered_ids
    if excess > 0:
        cut += excess
        floor = max(floor, at[cut - 1])
    return (at[cut:], ids[cut:], floor) if cut else (at, ids, floor)


def is_late(state: CustomerState, event: Event, config: ModelConfig) -> bool:
    """Too old (or non-finite) to be checked for duplication, so ``apply`` ignores it.

    A profile change is never late: it is a last-writer-wins attribute, not a counted event.
    """
    if isinstance(event, CustomerProfile):
        return False
    t = event.occurred_at
    return not (t >= state.watermark - config.ordering.grace_s and t > state.id_floor)


def apply(
    state: CustomerState | None,
    event: Event,
    now: float,
    config: ModelConfig,
    *,
    feedback_weight: float = 1.0,
) -> tuple[CustomerState, list[Alert]]:
    """Fold one event into the customer's state and return the alerts it causes.

    ``now`` is stream time; evaluation happens at max(now, event time, last evaluation), so a
    late event never moves the model back in time. ``feedback_weight`` (from survey integrity)
    scales how much a feedback response counts in the loyalty means.
    """
    t = event.occurred_at
    if state is None:
        if not math.isfinite(t):
            raise ValueError(f"event {event.event_id}: occurred_at must be finite, got {t}")
        state = new_state(event.customer_id, t)
    if isinstance(event, CustomerProfile):
        profile = fold_profile(state.profile, event)
        created_at = min(state.created_at, t)  # the customer's first event, in any order
        if profile is state.profile and created_at == state.created_at:
            return state, []
        folded = _with(state, profile=profile, created_at=created_at)
    else:
        if is_late(state, event, config):
            return state, []  # the pipeline dead-letters these (reason late_event)
        key = event_key(event)
        if key in state.seen_ids:
            return state, []
        folded = _fold(state, event, t, key, config, feedback_weight)
    return evaluate(folded, max(now, t, state.as_of), event.event_id, config)


def _fold(
    state: CustomerState, event: Event, t: float, key: int, cfg: ModelConfig, fw: float
) -> CustomerState:
    ec = cfg.engagement
    wm = max(state.watermark, t)
    seen_at, seen_ids, floor = _remember(state, t, key, wm, cfg)
    purchases, engagement, feedback = state.purchases, state.engagement, state.feedback
    tickets, hist = state.tickets, state.ticket_history
    if isinstance(event, Purchase):
        purchases = fold_purchase(purchases, event, cfg)
        if event.kind is not PurchaseKind.REFUND:
            engagement = touch(engagement, t, ec.purchase_weight, event.channel, cfg)
    elif isinstance(event, TicketEvent):
        tickets = fold_ticket(tickets, event)
        engagement = touch(engagement, t, ec.ticket_weight, event.channel, cfg)
    elif isinstance(event, Feedback):
        feedback = fold_feedback(feedback, event, max(0.0, fw), cfg)
        engagement = touch(engagement, t, ec.feedback_weight * fw, event.channel, cfg)
    if wm > state.watermark or tickets is not state.tickets:
        tickets, hist = prune_tickets(tickets, hist, wm, cfg)
    s = state  # positional construction: this is the hot path (no per-field reflection)
    return build_state(
        s.customer_id,
        min(s.created_at, t),
        wm,
        s.as_of,
        seen_at,
        seen_ids,
        floor,
        engagement,
        purchases,
        tickets,
        hist,
        feedback,
        s.profile,
        s.stage,
        s.stage_since,
        s.stage_history,
        s.alerts,
        s.churn_resolved_at,
        s.referral_opened_at,
        s.health,
        s.prev_health,
        s.risk,
        s.loop,
    )


def evaluate(
    state: CustomerState, at: float, evidence: str, cfg: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """Re-derive stage, alerts and health at time ``at`` (``evidence`` names the cause)."""
    m = assess(state, at, cfg)
    book = step_alerts(state, m, evidence, cfg)
    stage, h = judge(state, m, cfg)
    new = _evaluated(state, m, moved(state, stage, m.now, cfg), book, h)
    return new, book.emitted


def judge(state: CustomerState, m: Measures, cfg: ModelConfig) -> tuple[str, float]:
    """(stage the evidence supports, composite health) at ``m.now``, kept on ``m``.

    Both read only the measures, the purchases and the profile, which an evaluation does not
    change: the state it returns shares them, so a snapshot of it reuses the values.
    """
    stage, h = m.stage, m.health
    if stage is None or h is None:
        stage, h = next_stage(state, m, cfg), health(m, cfg)
        m.stage, m.health = stage, h
    return stage, h


def _evaluated(
    s: CustomerState,
    m: Measures,
    staged: tuple[str, float, tuple[tuple[str, float], ...]],
    book: AlertBook,
    health_now: float,
) -> CustomerState:
    """``s`` re-derived at ``m.now``; the measures are cached on it for next_deadline/snapshot."""
    new = build_state(
        *(s.customer_id, s.created_at, s.watermark, m.now, s.seen_at, s.seen_ids, s.id_floor),
        *(s.engagement, s.purchases, s.tickets, s.ticket_history, s.feedback, s.profile),
        *staged,
        *(book.alerts(), book.churn_resolved_at, book.referral_opened_at),
        *(health_now, s.health, m.risk, s.loop),
    )
    remember_measures(new, m, book.cfg)
    return new


def tick(
    state: CustomerState, now: float, config: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """Let time pass without events: inactivity can move the stage and open or resolve alerts."""
    if not now > state.as_of:
        return state, []
    m = assess(state, now, config)
    stage, h = judge(state, m, config)
    book = step_alerts(state, m, f"tick@{now!r}", config)
    if not book.emitted and stage == state.stage and abs(h - state.health) < 1e-9:
        s = state  # nothing to report: only the evaluation time moves
        same = build_state(
            *(s.customer_id, s.created_at, s.watermark, now, s.seen_at, s.seen_ids, s.id_floor),
            *(s.engagement, s.purchases, s.tickets, s.ticket_history, s.feedback, s.profile),
            *(s.stage, s.stage_since, s.stage_history, s.alerts, s.churn_resolved_at),
            *(s.referral_opened_at, s.health, s.prev_health, s.risk, s.loop),
        )
        remember_measures(same, m, config)
        return same, []
    return _evaluated(state, m, moved(state, stage, now, config), book, h), book.emitted


def snapshot(state: CustomerState, now: float, config: ModelConfig) -> HealthSnapshot:
    """The customer's health as of ``now`` (never before the state's last evaluation)."""
    at = max(now, state.as_of)
    m = assess_cached(state, config) if at == state.as_of else assess(state, at, config)
    stage, h = judge(state, m, config)
    _, since, _ = moved(state, stage, at, config)
    baseline = state.health if at > state.as_of else state.prev_health
    outlook = loss_outlook(state, at, config)
    p = state.purchases
    return _SNAPSHOT(
        customer_id=state.customer_id,
        as_of=at,
        health=h,
        band=band(h, config),
        trend=round(h - baseline, 4),
        stage=stage,
        stage_since=since,
        churn_risk=m.risk,
        fit=m.fit if m.fit is not None else config.fit.unknown_score,
        lifetime_value_minor=int(m.ltv),
        nps_category=m.nps_category,
        contributions=contributions(m, config),
        open_alerts=tuple([a.alert_id for a in state.alerts]),
        cx_team=state.profile.cx_team,
        p_loss=None if m.p_loss is None else round(m.p_loss, 6),  # as the churn alert judges
        p_alive=None if outlook is None else round(outlook.p_alive, 6),
        expected_value_minor=None if outlook is None else outlook.expected_value_minor,
        params_version=params_for(state, config)[1],
        purchase_days=p.occasions,
        first_purchase_at=p.first_at if p.occasions > 0 else None,
        last_purchase_at=p.last_at if p.occasions > 0 else None,
        orders=p.orders,
        net_spend_minor=max(0, p.gross_minor - p.refund_minor),
    )


_FIELDS = tuple(CustomerState.__dataclass_fields__)


def _with(state: CustomerState, **changes: object) -> CustomerState:
    """A copy of ``state`` with some fields changed (cheaper than dataclasses.replace)."""
    values = {f: getattr(state, f) for f in _FIELDS}
    values.update(changes)
    return CustomerState(**values)
