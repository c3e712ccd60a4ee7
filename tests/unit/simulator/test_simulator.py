"""The simulator: deterministic, ordered, and its ground truth agrees with its events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import cache

import pytest

from streams.config import load_config
from streams.domain import (
    CustomerProfile,
    Event,
    Feedback,
    Purchase,
    PurchaseKind,
    TicketAction,
    TicketEvent,
)
from streams.simulator import DAY, Persona, Population, iter_events, simulate
from streams.simulator.attributes import CX_TEAMS

DAYS = 365


@cache
def rich() -> Population:
    return simulate(1500, DAYS, seed=11)


@cache
def retail() -> Population:
    return simulate(1500, DAYS, seed=11, purchase_only=True)


def by_customer(population: Population) -> dict[str, list[Event]]:
    events: dict[str, list[Event]] = defaultdict(list)
    for event in population.events:
        events[event.customer_id].append(event)
    return events


def orders(events: list[Event]) -> list[Purchase]:
    return [e for e in events if isinstance(e, Purchase) and e.kind is PurchaseKind.ORDER_PLACED]


def test_same_seed_same_population_other_seed_other_population() -> None:
    a, b = simulate(200, 120, seed=3), simulate(200, 120, seed=3)
    assert a.events == b.events
    assert a.truth == b.truth
    assert simulate(200, 120, seed=4).events != a.events


@pytest.mark.parametrize("purchase_only", [False, True])
def test_streaming_variant_yields_the_same_events(purchase_only: bool) -> None:
    population = simulate(300, 200, seed=5, purchase_only=purchase_only)
    assert list(iter_events(300, 200, seed=5, purchase_only=purchase_only)) == population.events


@pytest.mark.parametrize("population", [rich, retail])
def test_events_sorted_unique_ids_in_window(population: Callable[[], Population]) -> None:
    pop = population()
    times = [e.occurred_at for e in pop.events]
    assert times == sorted(times)
    assert len({e.event_id for e in pop.events}) == len(pop.events)
    assert {e.source for e in pop.events} == {"simulator"}
    assert pop.start <= times[0] and times[-1] <= pop.end == pop.start + DAYS * DAY
    assert set(by_customer(pop)) == set(pop.truth)


def test_rich_population_has_every_persona_and_event_kind() -> None:
    personas = {t.persona for t in rich().truth.values()}
    assert personas == set(Persona)
    kinds = {type(e) for e in rich().events}
    assert kinds == {Purchase, TicketEvent, Feedback, CustomerProfile}
    actions = {e.action for e in rich().events if isinstance(e, TicketEvent)}
    assert {TicketAction.ESCALATED, TicketAction.REOPENED} <= actions
    assert any(isinstance(e, Feedback) and e.is_public for e in rich().events)


@pytest.mark.parametrize("population", [rich, retail])
def test_churners_are_silent_after_churn_at(population: Callable[[], Population]) -> None:
    pop = population()
    events = by_customer(pop)
    for customer_id, truth in pop.truth.items():
        last = events[customer_id][-1].occurred_at
        if truth.churned:
            assert truth.churn_at == last
        else:
            assert truth.churn_at is None


def test_trouble_starts_with_a_ticket_or_feedback_and_no_order_follows_it() -> None:
    """``trouble_at`` marks the first event of a frustrated or detractor customer's bad
    experience: the earliest moment an alert about it could open."""
    pop = rich()
    events = by_customer(pop)
    signalled = {Persona.FRUSTRATED, Persona.DETRACTOR}
    for customer_id, truth in pop.truth.items():
        if truth.persona not in signalled:
            assert truth.trouble_at is None
            continue
        assert truth.trouble_at is not None
        first = next(e for e in events[customer_id] if e.occurred_at >= truth.trouble_at)
        assert first.occurred_at == truth.trouble_at
        assert isinstance(first, TicketEvent | Feedback)
        if truth.churned:
            assert not any(o.occurred_at > truth.trouble_at for o in orders(events[customer_id]))


@pytest.mark.parametrize("population", [rich, retail])
def test_one_time_buyers_buy_exactly_once(population: Callable[[], Population]) -> None:
    pop = population()
    events = by_customer(pop)
    one_timers = [c for c, t in pop.truth.items() if t.persona is Persona.ONE_TIME]
    assert one_timers
    for customer_id in one_timers:
        assert len(orders(events[customer_id])) == 1
        assert pop.truth[customer_id].churned


def test_purchase_only_population_is_a_retail_log() -> None:
    pop = retail()
    assert all(isinstance(e, Purchase) for e in pop.events)
    shares: dict[Persona, int] = defaultdict(int)
    for truth in pop.truth.values():
        shares[truth.persona] += 1
        assert not truth.referral_worthy and truth.cx_team is None
    assert shares[Persona.ONE_TIME] > 0.4 * len(pop.truth)  # most customers never come back
    first_buys = [orders(events)[0].occurred_at for events in by_customer(pop).values()]
    assert max(first_buys) <= pop.start + 0.2 * DAYS * DAY  # one early-acquired cohort


def test_first_event_is_at_signup_and_profiles_route_to_a_team() -> None:
    pop = rich()
    for customer_id, events in by_customer(pop).items():
        truth = pop.truth[customer_id]
        first = events[0]
        assert isinstance(first, CustomerProfile) and first.occurred_at == truth.signup_at
        assert first.cx_team in CX_TEAMS and first.cx_team == truth.cx_team


def test_fit_labels_agree_with_the_models_ideal_customer_profile() -> None:
    icp = load_config().fit.icp
    for event in rich().events:
        if not isinstance(event, CustomerProfile):
            continue
        num = den = 0.0
        for name, spec in icp.items():
            value = getattr(event, name, None)
            if value is not None:
                num += spec.importance * spec.values.get(value.lower(), spec.default)
                den += spec.importance
        score = 100.0 * num / den
        truth = rich().truth[event.customer_id]
        assert score >= 70.0 if truth.good_fit else score < 60.0


def test_referral_worthy_are_good_fit_promoters() -> None:
    worthy = [t for t in rich().truth.values() if t.referral_worthy]
    assert worthy
    assert all(t.good_fit and t.persona is Persona.LOYAL_PROMOTER for t in worthy)
    assert not any(t.good_fit for t in rich().truth.values() if t.persona is Persona.BARGAIN_HUNTER)


def test_coached_customers_give_tens_to_their_coach_during_the_campaign() -> None:
    pop = rich()
    windows = {c.source_id: (c.starts, c.ends) for c in pop.campaigns}
    events = by_customer(pop)
    coached = [t for t in pop.truth.values() if t.coached_by is not None]
    assert coached
    for truth in coached:
        assert truth.persona is Persona.COACHED
        assert truth.coached_by is not None
        starts, ends = windows[truth.coached_by]
        tens = [
            e
            for e in events[truth.customer_id]
            if isinstance(e, Feedback)
            and e.score == 10
            and truth.coached_by in (e.agent_id, e.location_id)
        ]
        assert tens and all(starts <= e.occurred_at <= ends + 10 * DAY for e in tens)


@pytest.mark.parametrize("population", [rich, retail])
def test_won_back_customers_lapse_then_return(population: Callable[[], Population]) -> None:
    pop = population()
    events = by_customer(pop)
    won_back = [t for t in pop.truth.values() if t.persona is Persona.WON_BACK]
    assert won_back
    for truth in won_back:
        assert truth.lapse is not None and not truth.churned
        last, back = truth.lapse
        assert back - last >= 60 * DAY
        times = [p.occurred_at for p in orders(events[truth.customer_id])]
        assert last in times and back in times
        assert not [t for t in times if last < t < back]


def test_money_and_tickets_are_well_formed() -> None:
    for event in rich().events:
        if isinstance(event, Purchase):
            assert isinstance(event.amount_minor, int) and len(event.currency) == 3
            assert event.amount_minor >= 0 or event.kind is PurchaseKind.REFUND
        elif isinstance(event, TicketEvent):
            assert event.sla_due_at is not None and event.category
        elif isinstance(event, Feedback) and event.score is not None:
            assert 0 <= event.score <= 10


def test_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="customers"):
        simulate(-1, 10, seed=1)
    with pytest.raises(ValueError, match="days"):
        iter_events(10, 0, seed=1)
    assert simulate(0, 10, seed=1).events == []
