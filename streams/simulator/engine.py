"""Interleave every customer's journey into one event-time-ordered stream.

Customers are laid out in signup order (customer ``i`` signs up in the ``i``-th slice of the
acquisition period, at a random point inside it), so a customer is only created when the
stream reaches its signup, and dropped when its journey ends: memory follows the number of
*live* customers, never the number of events.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streams.domain import Event
from streams.simulator.attributes import STORE_LOCATIONS, SUPPORT_AGENTS
from streams.simulator.customer import DAY, Customer
from streams.simulator.journeys import JOURNEYS, Campaign, Episodes, World
from streams.simulator.personas import RETAIL_MIX, RICH_MIX, CustomerTruth, Persona, mix_table
from streams.simulator.retail import RETAIL_JOURNEYS
from streams.simulator.rng import Rng

DEFAULT_START = 1_704_067_200.0  # 2024-01-01T00:00:00Z: fixed, so runs are reproducible
RICH_ACQUISITION = 0.5  # share of the window over which rich-population customers sign up
RETAIL_ACQUISITION = 0.16  # a CDNOW-like cohort: first purchases in the first ~12 of 78 weeks
_CAMPAIGN_SALT = 0xC0AC4ED  # campaigns depend on the seed only, not on the population size

Finished = Callable[[Customer, float], None]


@dataclass(frozen=True, slots=True)
class Population:
    """A whole simulated population: its events in time order and what really happened."""

    events: list[Event]
    truth: dict[str, CustomerTruth]
    start: float
    end: float
    seed: int
    purchase_only: bool
    campaigns: tuple[Campaign, ...] = ()


def _campaigns(seed: int, start: float, days: int) -> tuple[Campaign, ...]:
    """Two store locations and two support agents that coach their customers for a few weeks."""
    rng = Rng(seed ^ _CAMPAIGN_SALT)
    end = start + days * DAY
    sources = [(rng.choice(STORE_LOCATIONS[:10]), False), (rng.choice(STORE_LOCATIONS[10:]), False)]
    sources += [(rng.choice(SUPPORT_AGENTS[:15]), True), (rng.choice(SUPPORT_AGENTS[15:]), True)]
    campaigns = []
    for source_id, by_agent in sources:
        starts = start + rng.uniform(0.25, 0.7) * days * DAY
        ends = min(end, starts + rng.uniform(21.0, 35.0) * DAY)
        campaigns.append(Campaign(source_id, by_agent, starts, ends))
    return tuple(campaigns)


def _drive(episodes: Episodes, end: float) -> Iterator[Event]:
    """One customer's events in time order: episodes start in order but may overlap."""
    pending: list[tuple[float, int, Event]] = []
    order = 0
    for episode in episodes:
        head = episode[0].occurred_at
        while pending and pending[0][0] <= head:
            yield heapq.heappop(pending)[2]
        if not pending and len(episode) == 1:  # the common case: a lone purchase
            if head <= end:
                yield episode[0]
            continue
        for event in episode:
            if event.occurred_at <= end:
                order += 1
                heapq.heappush(pending, (event.occurred_at, order, event))
    while pending:
        yield heapq.heappop(pending)[2]


class _Roster:
    """Creates customers in signup order; all draw from the population's one generator."""

    def __init__(self, customers: int, days: int, seed: int, start: float, retail: bool) -> None:
        self.customers, self.seed, self.retail = customers, seed, retail
        self.span = days * DAY * (RETAIL_ACQUISITION if retail else RICH_ACQUISITION)
        self.world = World(
            start, start + days * DAY, () if retail else _campaigns(seed, start, days)
        )
        self.personas, self.weights = mix_table(RETAIL_MIX if retail else RICH_MIX)
        self.journeys = RETAIL_JOURNEYS if retail else JOURNEYS
        self.rng = Rng(seed)
        self.index = 0
        self.next_signup = self._signup(0)

    def _signup(self, index: int) -> float:
        slot = (index + self.rng.random()) / max(1, self.customers)
        return self.world.start + self.span * slot

    def pending(self) -> float | None:
        return self.next_signup if self.index < self.customers else None

    def admit(self) -> tuple[Customer, Iterator[Event]]:
        rng = self.rng
        persona: Persona = rng.weighted(self.personas, self.weights)
        customer_id = f"c{self.index:07d}"
        prefix = f"s{self.seed}-{customer_id}-"
        customer = Customer(customer_id, persona, rng, self.next_signup, self.retail, prefix)
        self.index += 1
        self.next_signup = self._signup(self.index)
        return customer, _drive(self.journeys[persona](customer, self.world), self.world.end)


def stream(roster: _Roster, finished: Finished | None = None) -> Iterator[Event]:
    """Merge live customers' streams by (event time, customer index)."""
    heap: list[tuple[float, int, Event, Iterator[Event], Customer]] = []
    push, pop = heapq.heappush, heapq.heappop
    while True:
        due = roster.pending()
        while due is not None and (not heap or due <= heap[0][0]):
            customer, events = roster.admit()
            first = next(events)
            push(heap, (first.occurred_at, roster.index, first, events, customer))
            due = roster.pending()
        if not heap:
            return
        at, index, event, events, customer = pop(heap)
        yield event
        following = next(events, None)
        if following is not None:
            push(heap, (following.occurred_at, index, following, events, customer))
        elif finished is not None:
            finished(customer, at)
