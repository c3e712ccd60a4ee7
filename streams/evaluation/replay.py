"""Replay events through the pure model exactly as the pipeline folds them.

Events go through :func:`streams.processing.process_event` (due ticks first, then the event);
customers who fall silent are ticked through a deadline heap fed by ``next_deadline``, so a
churner who never sends another event still gets its inactivity alerts, at their exact
deadlines. Survey integrity runs per agent/location before each feedback, like the pipeline.
``tick_every`` adds plain ``tick`` calls at least that often per customer: a cross-check that
``next_deadline`` never sleeps through an alert.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.domain import Alert, Event, Feedback
from streams.model import (
    CustomerState,
    IntegrityState,
    ModelConfig,
    next_deadline,
    observe_feedback,
    tick,
)
from streams.processing import integrity_key, process_event, process_tick

_NUDGE = 1.0  # seconds: a deadline that did not move forward is retried this much later


@dataclass(slots=True)
class Replay:
    """The alert log of a replay plus what it cost."""

    alerts: list[Alert] = field(default_factory=list)
    events: int = 0
    ticks: int = 0
    coached_flags: int = 0
    seconds: float = 0.0


class _Replayer:
    def __init__(self, config: ModelConfig, end: float, tick_every: float | None) -> None:
        self.config, self.end, self.tick_every = config, end, tick_every
        self.states: dict[str, CustomerState] = {}
        self.integrity: dict[str, IntegrityState] = {}
        self.heap: list[tuple[float, str]] = []
        self.scheduled: dict[str, float] = {}
        self.out = Replay()

    def schedule(self, customer: str, state: CustomerState, now: float) -> None:
        deadline = next_deadline(state, self.config)
        if self.tick_every is not None:
            deadline = min(deadline if deadline is not None else self.end, now + self.tick_every)
        if deadline is None or deadline > self.end:
            self.scheduled.pop(customer, None)
            return
        deadline = max(deadline, now + _NUDGE) if deadline <= now else deadline
        self.scheduled[customer] = deadline
        heapq.heappush(self.heap, (deadline, customer))

    def run_due(self, until: float) -> None:
        """Tick every customer whose deadline is at or before ``until``, in deadline order."""
        heap = self.heap
        while heap and heap[0][0] <= until:
            when, customer = heapq.heappop(heap)
            if self.scheduled.get(customer) != when:
                continue  # superseded by a later event of this customer
            state, alerts = process_tick(self.states[customer], when, self.config)
            if self.tick_every is not None:
                state, more = tick(state, when, self.config)
                alerts.extend(more)
            self.out.ticks += 1
            self.out.alerts.extend(alerts)
            self.states[customer] = state
            self.schedule(customer, state, when)

    def weight(self, event: Event) -> float:
        if not isinstance(event, Feedback):
            return 1.0
        key = integrity_key(event)
        if key is None:
            return 1.0
        state, verdict = observe_feedback(
            self.integrity.get(key), event, event.occurred_at, self.config
        )
        self.integrity[key] = state
        self.out.coached_flags += verdict.coached
        return verdict.weight

    def apply(self, event: Event) -> None:
        customer = event.customer_id
        self.run_due(event.occurred_at)
        state, alerts = process_event(
            self.states.get(customer), event, self.config, self.weight(event)
        )
        self.states[customer] = state
        self.out.alerts.extend(alerts)
        self.out.events += 1
        self.schedule(customer, state, event.occurred_at)


def replay(
    events: Iterable[Event], end: float, config: ModelConfig, tick_every: float | None = None
) -> Replay:
    """Fold ``events`` (in event-time order) and tick everyone up to ``end``."""
    started = time.perf_counter()
    replayer = _Replayer(config, end, tick_every)
    for event in events:
        replayer.apply(event)
    replayer.run_due(end)
    replayer.out.seconds = time.perf_counter() - started
    return replayer.out
