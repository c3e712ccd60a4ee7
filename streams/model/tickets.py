"""Ticket records: merging a ticket's events, and folding closed tickets into history.

A ticket's record merges its events commutatively (earliest open, latest status by time then
rank, highest priority, earliest SLA). Closed tickets leave the live map after the retention
(and the oldest open ones beyond the cap) and become decayed counts in ``TicketHistory``, one
at a time, oldest first, each judged against the tickets still held.
"""

from __future__ import annotations

import math

from streams.config import ModelConfig
from streams.domain import TicketAction, TicketEvent
from streams.model.state import DAY_S, TicketHistory, TicketRecord, decay_to

_PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
# Status-changing actions: odd rank = open, even = closed; the higher rank wins a time tie.
_STATUS_RANK = {
    TicketAction.OPENED: 1,
    TicketAction.RESOLVED: 2,
    TicketAction.ESCALATED: 3,
    TicketAction.CLOSED: 4,
    TicketAction.REOPENED: 5,
}


def fold_ticket(tickets: tuple[TicketRecord, ...], ev: TicketEvent) -> tuple[TicketRecord, ...]:
    """Merge a ticket event into its record (creating it if new)."""
    for i, rec in enumerate(tickets):
        if rec.ticket_id == ev.ticket_id:
            return _canonical((*tickets[:i], _merge_ticket(rec, ev), *tickets[i + 1 :]))
    t = ev.occurred_at
    rank = _STATUS_RANK.get(ev.action)
    # An "updated" first sighting implies an open ticket but sets no status time: any real
    # status action, earlier or later, overrides it, as it would in order.
    status_at = t if rank is not None else -math.inf
    rank = rank if rank is not None else 1
    new = TicketRecord(
        ticket_id=ev.ticket_id,
        opened_at=t,
        category=ev.category,
        priority=ev.priority.value,
        sla_due_at=ev.sla_due_at if ev.sla_due_at is not None else math.inf,
        status_at=status_at,
        status_rank=rank,
        resolved_at=t if rank % 2 == 0 else -math.inf,
        escalations=int(ev.action is TicketAction.ESCALATED),
        escalated_at=t if ev.action is TicketAction.ESCALATED else -math.inf,
        reopens=int(ev.action is TicketAction.REOPENED),
    )
    return _canonical((*tickets, new))


def _canonical(tickets: tuple[TicketRecord, ...]) -> tuple[TicketRecord, ...]:
    """Order by (opened_at, ticket_id) so the map does not depend on arrival order."""
    return tuple(sorted(tickets, key=lambda r: (r.opened_at, r.ticket_id)))


def _merge_ticket(rec: TicketRecord, ev: TicketEvent) -> TicketRecord:
    t, action = ev.occurred_at, ev.action
    rank = _STATUS_RANK.get(action)
    status_at, status_rank = rec.status_at, rec.status_rank
    if rank is not None and (t, rank) > (status_at, status_rank):
        status_at, status_rank = t, rank
    earlier = (t, ev.category) < (rec.opened_at, rec.category)
    pr = ev.priority.value
    esc = action is TicketAction.ESCALATED
    return TicketRecord(
        ticket_id=rec.ticket_id,
        opened_at=t if earlier else rec.opened_at,
        category=ev.category if earlier else rec.category,
        priority=pr
        if _PRIORITY_RANK.get(pr, 1) > _PRIORITY_RANK.get(rec.priority, 1)
        else rec.priority,
        sla_due_at=min(rec.sla_due_at, ev.sla_due_at if ev.sla_due_at is not None else math.inf),
        status_at=status_at,
        status_rank=status_rank,
        resolved_at=max(rec.resolved_at, t)
        if rank is not None and rank % 2 == 0
        else rec.resolved_at,
        escalations=rec.escalations + esc,
        escalated_at=max(rec.escalated_at, t) if esc else rec.escalated_at,
        reopens=rec.reopens + (action is TicketAction.REOPENED),
    )


def is_repeat(rec: TicketRecord, tickets: tuple[TicketRecord, ...], window: float) -> bool:
    """Same category as another ticket opened within ``window`` seconds before this one."""
    return any(
        o.ticket_id != rec.ticket_id
        and o.category == rec.category
        and (o.opened_at, o.ticket_id) < (rec.opened_at, rec.ticket_id)
        and rec.opened_at - o.opened_at <= window
        for o in tickets
    )


def prune_tickets(
    tickets: tuple[TicketRecord, ...], hist: TicketHistory, watermark: float, cfg: ModelConfig
) -> tuple[tuple[TicketRecord, ...], TicketHistory]:
    """Fold closed tickets older than the retention (and the oldest beyond the cap) into history."""
    if not tickets:
        return tickets, hist
    sc = cfg.success
    cutoff = watermark - sc.closed_ticket_retention_days * DAY_S
    old = [r for r in tickets if not r.is_open and r.resolved_at < cutoff]
    keep = [r for r in tickets if r.is_open or r.resolved_at >= cutoff]
    if len(keep) > sc.max_tickets:
        keep.sort(key=lambda r: (not r.is_open, r.status_at, r.ticket_id), reverse=True)
        old.extend(keep[sc.max_tickets :])
        keep = keep[: sc.max_tickets]
        keep.sort(key=lambda r: (r.opened_at, r.ticket_id))
    if not old:
        return tickets, hist
    # Leave one at a time, oldest first, each judged against the tickets still held: the same
    # history whether the watermark passed them in one step or in several (event spacing).
    old.sort(key=lambda r: (settled_at(r), r.ticket_id))
    window = sc.repeat_window_days * DAY_S
    held = tickets
    for rec in old:
        held = tuple(o for o in held if o is not rec)
        hist = _evict(rec, held, hist, cfg)
        for later in held:  # repeats of `rec` it leaves with no earlier ticket held: count now
            if _repeats(later, rec, window) and not is_repeat(later, held, window):
                hist = _add_repeat(hist, later.opened_at, sc.lam)
    return tuple(keep), hist


def _repeats(later: TicketRecord, earlier: TicketRecord, window: float) -> bool:
    """``later`` repeats ``earlier``'s problem: same category, opened within ``window`` after."""
    return is_repeat(later, (earlier,), window)


def _add_repeat(h: TicketHistory, opened_at: float, lam: float) -> TicketHistory:
    """One repeated problem into history, decayed from when the repeating ticket opened."""
    at = max(h.at, opened_at)
    k = decay_to(1.0, h.at, at, lam)
    return TicketHistory(
        at=at,
        escalations=h.escalations * k,
        reopens=h.reopens * k,
        breaches=h.breaches * k,
        repeats=h.repeats * k + decay_to(1.0, opened_at, at, lam),
        resolution_hours=h.resolution_hours * k,
        resolved=h.resolved * k,
        escalated_at=h.escalated_at,
    )


def settled_at(rec: TicketRecord) -> float:
    """The ticket's reference time for decay: resolved, else last status, else first seen.

    Always finite: a ticket seen only through "updated" events has no status time.
    """
    return rec.resolved_at if rec.resolved_at > -math.inf else max(rec.status_at, rec.opened_at)


def _evict(
    rec: TicketRecord, tickets: tuple[TicketRecord, ...], h: TicketHistory, cfg: ModelConfig
) -> TicketHistory:
    lam = cfg.success.lam
    t = settled_at(rec)
    at = max(h.at, t)

    def add(v: float, w: float) -> float:
        return decay_to(v, h.at, at, lam) + w * math.exp(-lam * (at - t))

    resolved = rec.resolved_at > -math.inf
    breach = resolved and rec.resolved_at > rec.sla_due_at
    dur = (rec.resolved_at - rec.opened_at) / 3600.0 if resolved else 0.0
    # Still a repeat (an earlier ticket outlives it): count it now, decayed from its opening;
    # else it was counted when its last earlier ticket left, or it never was one.
    repeat = is_repeat(rec, tickets, cfg.success.repeat_window_days * DAY_S)
    return TicketHistory(
        at=at,
        escalations=add(h.escalations, rec.escalations),
        reopens=add(h.reopens, rec.reopens),
        breaches=add(h.breaches, float(breach)),
        repeats=decay_to(h.repeats, h.at, at, lam)
        + float(repeat) * decay_to(1.0, rec.opened_at, at, lam),
        resolution_hours=add(h.resolution_hours, dur),
        resolved=add(h.resolved, float(resolved)),
        escalated_at=max(h.escalated_at, rec.escalated_at),
    )
