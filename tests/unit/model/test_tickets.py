"""Ticket records leaving the live map: what history keeps (streams/model/tickets.py)."""

from __future__ import annotations

import math

from streams.domain import TicketAction
from streams.model import load_config, snapshot
from streams.model.measures import success_at

from .conftest import DAY, T0, purchase, run, ticket
from .test_properties import diff_fields

CFG = load_config()
RETENTION = CFG.success.closed_ticket_retention_days * DAY


def test_a_ticket_known_only_from_updates_leaves_the_cap_without_poisoning_history() -> None:
    """Its eviction time falls back to when it was first seen; it has no status time."""
    evs = [purchase(T0, 0), ticket(T0 + DAY, 1, "U", TicketAction.UPDATED)]
    cap = CFG.success.max_tickets
    evs += [ticket(T0 + DAY + i, f"o{i}", f"T{i}", TicketAction.OPENED) for i in range(cap)]
    state, _ = run(evs, CFG)
    assert [r.ticket_id for r in state.tickets] == [f"T{i}" for i in range(cap)]
    assert state.ticket_history.at == T0 + DAY
    assert state.ticket_history.resolved == 0.0 and state.ticket_history.escalations == 0.0
    detail = next(
        c.detail for c in snapshot(state, T0 + 2 * DAY, CFG).contributions if c.measure == "success"
    )
    assert "nan" not in detail and "0.0 escalations" in detail, detail


def test_repeat_ticket_judged_the_same_whatever_the_window_spacing() -> None:
    """Two tickets leaving the retention in one step count as they would one after the other.

    H1 is a repeat of H0 (same category, opened within the window), but once H0 has left the
    live map it can no longer be compared. Whether H0 left in an earlier step or in the same
    step as H1 depends only on event spacing, so the count must not depend on it.
    """
    resolved = (T0 + 46 * DAY, T0 + 76 * DAY)
    history = [
        purchase(T0, "h0"),
        ticket(resolved[0], "h1", "H0", TicketAction.RESOLVED, category="delivery"),
        ticket(resolved[1], "h2", "H1", TicketAction.RESOLVED, category="delivery"),
    ]
    cutoff_h1 = resolved[1] + RETENTION
    window = [purchase(cutoff_h1, "w0"), purchase(cutoff_h1 + 1, "w1")]
    base, _ = run(history, CFG)
    in_order, _ = run(window, CFG, base)
    swapped, _ = run(window[::-1], CFG, base)
    assert base.tickets != ()
    assert in_order.tickets == swapped.tickets == ()
    assert in_order.ticket_history.repeats == swapped.ticket_history.repeats
    assert diff_fields(in_order, swapped) == []


def test_a_repeated_problem_stays_counted_after_its_first_ticket_leaves() -> None:
    """The count moves from the live map to history without a jump, then decays.

    S repeats P's problem (same category, opened 20 days later). P leaves the map first; S is
    then no longer comparable with anything held, so it is counted at P's leaving, decayed from
    when S opened, like every other ticket count.
    """
    p_open, s_open = T0 + DAY, T0 + 21 * DAY
    evs = [
        purchase(T0, 0),
        ticket(p_open, 1, "P", TicketAction.OPENED),
        ticket(p_open + DAY, 2, "P", TicketAction.RESOLVED),
        ticket(s_open, 3, "S", TicketAction.OPENED),
        ticket(s_open + DAY, 4, "S", TicketAction.RESOLVED),
    ]
    p_leaves = p_open + DAY + RETENTION
    both_held, _ = run([*evs, purchase(p_leaves - 1, 5)], CFG)
    p_gone, _ = run([*evs, purchase(p_leaves + 1, 5)], CFG)
    assert [r.ticket_id for r in both_held.tickets] == ["P", "S"]
    assert [r.ticket_id for r in p_gone.tickets] == ["S"]
    now = p_leaves + DAY
    lam = CFG.success.lam
    expected = math.exp(-lam * (now - s_open))
    for state in (both_held, p_gone):
        assert math.isclose(
            success_at(state.tickets, state.ticket_history, now, CFG).repeats, expected
        )
    later = s_open + DAY + RETENTION + 30 * DAY
    all_gone, _ = run([*evs, purchase(later, 6)], CFG)
    assert all_gone.tickets == ()
    repeats = success_at((), all_gone.ticket_history, later, CFG).repeats
    assert math.isclose(repeats, math.exp(-lam * (later - s_open)))
    detail = next(
        c.detail for c in snapshot(all_gone, later, CFG).contributions if c.measure == "success"
    )
    assert f"{repeats:.1f} repeats" in detail, detail
