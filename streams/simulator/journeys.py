"""Persona stories: when each customer buys, complains, answers surveys, lapses or leaves.

A journey is a generator of *episodes* (a purchase with its survey, a ticket's lifecycle...);
each episode is a list of events sorted by time, and episodes start in time order. The
engine interleaves overlapping episodes, so a journey reads like the customer's story.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from streams.domain import Channel, Event, FeedbackKind, PurchaseKind, Touchpoint
from streams.simulator.customer import DAY, Customer
from streams.simulator.personas import CHURN_PROBABILITY, Persona
from streams.simulator.tickets import ticket_episode

Episodes = Iterator[list[Event]]
Buying = Generator[list[Event], None, float]

# Churners stop at least this long before the window ends, so their silence is observable.
OBSERVABLE_SILENCE = 60 * DAY


@dataclass(frozen=True, slots=True)
class Campaign:
    """An agent or a store location asking its customers for top scores during a window."""

    source_id: str
    by_agent: bool
    starts: float
    ends: float


@dataclass(frozen=True, slots=True)
class World:
    start: float
    end: float
    campaigns: tuple[Campaign, ...] = ()


@dataclass(frozen=True, slots=True)
class Habits:
    """How often a persona answers surveys and files routine tickets, and how those go."""

    survey: float  # chance of an after-purchase survey answer
    nps: float  # chance of answering the quarterly relationship NPS
    tickets: float  # chance of a routine ticket after a purchase
    trouble: float  # worst trouble of a routine ticket (0 = always smooth)


HABITS: dict[Persona, Habits] = {
    Persona.LOYAL_PROMOTER: Habits(0.25, 0.6, 0.04, 0.15),
    Persona.STEADY: Habits(0.15, 0.35, 0.07, 0.5),
    Persona.QUIET_CHURNER: Habits(0.06, 0.2, 0.02, 0.2),
    Persona.FRUSTRATED: Habits(0.15, 0.35, 0.05, 0.3),
    Persona.DETRACTOR: Habits(0.15, 0.35, 0.04, 0.3),
    Persona.BARGAIN_HUNTER: Habits(0.3, 0.4, 0.02, 0.2),
    Persona.ONE_TIME: Habits(0.3, 0.0, 0.05, 0.3),
    Persona.WON_BACK: Habits(0.12, 0.3, 0.05, 0.3),
    Persona.COACHED: Habits(0.15, 0.3, 0.04, 0.3),
}


def _purchase_episode(c: Customer, t: float, habits: Habits) -> list[Event]:
    rng = c.rng
    purchase = c.purchase(t)
    events: list[Event] = [purchase]
    if rng.chance(habits.survey):
        in_store = purchase.channel is Channel.STORE
        location = (c.home_location if rng.chance(0.85) else None) if in_store else None
        kind = FeedbackKind.CSAT if rng.chance(0.6) else FeedbackKind.NPS
        at = t + rng.uniform(0.05, 3.0) * DAY
        channel = Channel.STORE if in_store else None
        events.append(
            c.feedback(at, kind, Touchpoint.AFTER_PURCHASE, channel=channel, location_id=location)
        )
    if t >= c.next_nps:
        c.next_nps = t + rng.uniform(75.0, 105.0) * DAY
        if rng.chance(habits.nps):
            events.append(
                c.feedback(t + rng.uniform(1.0, 7.0) * DAY, FeedbackKind.NPS, Touchpoint.PERIODIC)
            )
    if rng.chance(habits.tickets):
        opened = t + rng.uniform(0.5, 10.0) * DAY
        events.extend(ticket_episode(c, opened, rng.uniform(0.0, habits.trouble)))
        events.sort(key=_time)
    return events


def buying(c: Customer, t: float, until: float, stretch: float = 1.0) -> Buying:
    """Purchase episodes from ``t`` while before ``until``; returns when the next one was due."""
    habits = HABITS[c.persona]
    while t < until:
        c.last_purchase_at = t
        yield _purchase_episode(c, t, habits)
        t += c.gap(stretch)
    return t


def _between(c: Customer, low: float, high: float) -> float:
    """A time in [low, high]; ``low`` when the window is too short for the story."""
    return c.rng.uniform(low, high) if high > low else low


def loyal(c: Customer, w: World) -> Episodes:
    yield [c.profile(c.signup_at)]
    yield from buying(c, c.signup_at + c.rng.uniform(0.0, 3.0) * DAY, w.end)


def quiet_churner(c: Customer, w: World) -> Episodes:
    """Buys normally, slows down over the last third of its life, then simply stops."""
    c.churned = True
    yield [c.profile(c.signup_at)]
    stop = _between(c, c.signup_at + 45 * DAY, w.end - OBSERVABLE_SILENCE)
    slow_from = stop - 0.35 * (stop - c.signup_at)
    t = yield from buying(c, c.signup_at + c.rng.uniform(0.0, 3.0) * DAY, slow_from)
    c.satisfaction = max(0.0, c.satisfaction - 0.1)
    yield from buying(c, t, stop, stretch=1.6)


def one_time(c: Customer, w: World) -> Episodes:
    c.churned = True
    yield [c.profile(c.signup_at)]
    yield _purchase_episode(c, c.signup_at + c.rng.uniform(0.0, 2.0) * DAY, HABITS[c.persona])


def frustrated(c: Customer, w: World) -> Episodes:
    """A problem that support handles badly: escalations, SLA breaches, reopens; then leaves."""
    rng = c.rng
    yield [c.profile(c.signup_at)]
    trouble_at = _between(c, c.signup_at + 30 * DAY, w.end - 100 * DAY)
    yield from buying(c, c.signup_at + rng.uniform(0.0, 3.0) * DAY, trouble_at)
    t = c.trouble_at = trouble_at
    for _ in range(rng.randint(1, 3)):
        c.satisfaction = max(0.05, c.satisfaction - rng.uniform(0.15, 0.3))
        episode = ticket_episode(c, t, rng.uniform(0.65, 1.0))
        yield episode
        t = episode[-1].occurred_at + rng.uniform(1.0, 8.0) * DAY
    c.churned = rng.chance(CHURN_PROBABILITY[Persona.FRUSTRATED])
    yield from _aftermath(c, w, t, refund_chance=0.5)


def detractor(c: Customer, w: World) -> Episodes:
    """A bad experience, a low score and a review (usually public); then usually leaves."""
    rng = c.rng
    yield [c.profile(c.signup_at)]
    bad_at = _between(c, c.signup_at + 30 * DAY, w.end - 100 * DAY)
    yield from buying(c, c.signup_at + rng.uniform(0.0, 3.0) * DAY, bad_at)
    c.satisfaction = rng.uniform(0.0, 0.3)
    episode: list[Event] = []
    if rng.chance(0.5):
        episode = ticket_episode(c, bad_at, rng.uniform(0.4, 0.9))
    t = bad_at + rng.uniform(0.5, 5.0) * DAY
    if rng.chance(0.8):
        episode.append(c.feedback(t, FeedbackKind.NPS, Touchpoint.AFTER_PURCHASE))
    public = rng.chance(0.85)
    t += rng.uniform(0.1, 4.0) * DAY
    review = c.feedback(
        t,
        FeedbackKind.REVIEW,
        Touchpoint.AFTER_PURCHASE,
        score=rng.randint(1, 2) if rng.chance(0.9) else None,
        channel=Channel.SOCIAL if public else Channel.WEB,
        is_public=public,
        comment="Disappointing experience, would not recommend.",
    )
    episode.append(review)
    episode.sort(key=_time)
    c.trouble_at = episode[0].occurred_at
    yield episode
    c.churned = rng.chance(CHURN_PROBABILITY[Persona.DETRACTOR])
    yield from _aftermath(c, w, episode[-1].occurred_at + DAY, refund_chance=0.3)


def _aftermath(c: Customer, w: World, t: float, refund_chance: float) -> Episodes:
    """After a bad experience: a churner maybe asks a refund or cancels and goes silent;
    a saved customer recovers part of its satisfaction and keeps buying, less often."""
    rng = c.rng
    if c.churned:
        if rng.chance(refund_chance) and c.orders:
            yield [c.purchase(t, PurchaseKind.REFUND, amount_minor=-int(c.basket_minor))]
        elif rng.chance(0.3):
            yield [c.purchase(t, PurchaseKind.SUBSCRIPTION_CANCELLED, amount_minor=0)]
        return
    c.satisfaction = rng.uniform(0.5, 0.72)
    yield from buying(c, t + c.gap(1.5), w.end, stretch=1.3)


def bargain_hunter(c: Customer, w: World) -> Episodes:
    """Poor fit, bursty discount buying, gives 10s; a quarter drift away silently."""
    c.churned = c.rng.chance(CHURN_PROBABILITY[Persona.BARGAIN_HUNTER])
    yield [c.profile(c.signup_at)]
    stop = w.end
    if c.churned:
        stop = _between(c, c.signup_at + 60 * DAY, w.end - OBSERVABLE_SILENCE)
    yield from buying(c, c.signup_at + c.rng.uniform(0.0, 3.0) * DAY, stop)


def won_back(c: Customer, w: World) -> Episodes:
    """Buys, lapses for several of its own gaps (a long silence), then returns.

    If the window is too short for a lapse and a return, the customer is relabelled STEADY
    so the truth never claims a lapse that did not happen.
    """
    rng = c.rng
    yield [c.profile(c.signup_at)]
    lapse_len = max(60 * DAY, rng.uniform(4.0, 7.0) * c.mean_gap)
    lapse_from = _between(c, c.signup_at + 40 * DAY, w.end - lapse_len - 30 * DAY)
    t = yield from buying(c, c.signup_at + rng.uniform(0.0, 3.0) * DAY, lapse_from)
    yield from lapse_then_return(c, w, t, lapse_len, buying)


def lapse_then_return(
    c: Customer,
    w: World,
    t: float,
    lapse_len: float,
    buy: Callable[[Customer, float, float], Buying],
) -> Episodes:
    """Skip ``lapse_len`` from ``t`` (when the next purchase was due), then ``buy`` to the end.

    No room left for the return: the customer keeps buying from ``t`` and becomes STEADY.
    """
    back = t + lapse_len
    if back > w.end - 5 * DAY or c.last_purchase_at is None:
        c.persona = Persona.STEADY
        yield from buy(c, t, w.end)
        return
    c.lapse = (c.last_purchase_at, back)
    yield from buy(c, back, w.end)


def coached(c: Customer, w: World) -> Episodes:
    """A passive customer whose survey, during a coaching campaign, is pushed to the top score."""
    rng = c.rng
    yield [c.profile(c.signup_at)]
    campaigns = [k for k in w.campaigns if k.ends > c.signup_at + 5 * DAY]
    first = c.signup_at + rng.uniform(0.0, 3.0) * DAY
    if not campaigns:
        c.persona = Persona.STEADY
        yield from buying(c, first, w.end)
        return
    campaign = rng.choice(campaigns)
    c.coached_by = campaign.source_id
    visits = sorted(
        _between(c, max(campaign.starts, first + DAY), campaign.ends)
        for _ in range(rng.randint(1, 3))
    )
    t = first
    for visit in visits:
        t = yield from buying(c, t, visit)
        yield _coached_visit(c, campaign, visit)
    c.churned = rng.chance(CHURN_PROBABILITY[Persona.COACHED])
    stop = w.end
    if c.churned:
        stop = _between(c, campaign.ends + 30 * DAY, w.end - OBSERVABLE_SILENCE)
    yield from buying(c, max(t, visits[-1] + c.gap()), stop)


def _coached_visit(c: Customer, campaign: Campaign, at: float) -> list[Event]:
    """A purchase (store campaign) or a smooth ticket (agent campaign) and a coached 10."""
    rng = c.rng
    answer = at + rng.uniform(0.02, 0.3) * DAY
    if campaign.by_agent:
        events = ticket_episode(c, at, 0.0)
        answer = events[-1].occurred_at + rng.uniform(0.02, 0.5) * DAY
        survey = c.feedback(
            answer,
            FeedbackKind.NPS,
            Touchpoint.AFTER_TICKET,
            score=10,
            channel=Channel.PHONE,
            agent_id=campaign.source_id,
        )
        return [*events, survey]
    purchase = c.purchase(at, channel=Channel.STORE)
    survey = c.feedback(
        answer,
        FeedbackKind.NPS,
        Touchpoint.AFTER_PURCHASE,
        score=10,
        channel=Channel.STORE,
        location_id=campaign.source_id,
    )
    return [purchase, survey]


JOURNEYS: dict[Persona, Callable[[Customer, World], Episodes]] = {
    Persona.LOYAL_PROMOTER: loyal,
    Persona.STEADY: loyal,
    Persona.QUIET_CHURNER: quiet_churner,
    Persona.FRUSTRATED: frustrated,
    Persona.DETRACTOR: detractor,
    Persona.BARGAIN_HUNTER: bargain_hunter,
    Persona.ONE_TIME: one_time,
    Persona.WON_BACK: won_back,
    Persona.COACHED: coached,
}


def _time(event: Event) -> float:
    return event.occurred_at
