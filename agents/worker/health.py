"""What makes a worker unhealthy, in one place: ``/healthz`` reads it, the parts report to it.

A part that notices a fault it cannot fix by itself (the customer agent crashed on a batch, the
Redis read model cannot write, the broker refuses our credentials) raises a named problem here;
it clears the problem once it works again. ``/healthz`` answers 503 while any problem is open,
listing them, so an orchestrator restarts or routes around the worker and on-call sees why.
Problem texts must never hold secrets or customer data: they are served without credentials.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    name: str  # a stable identifier, e.g. "customer_agent" or "redis_read_model"
    detail: str  # what is wrong and what to do, for a person
    since: float  # wall-clock seconds when it was first raised


class HealthBoard:
    """Open problems by name; thread-safe (side consumers may report from threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, Problem] = {}

    def raise_problem(self, name: str, detail: str) -> None:
        with self._lock:
            since = self._problems[name].since if name in self._problems else time.time()
            self._problems[name] = Problem(name, detail, since)

    def clear(self, name: str) -> None:
        with self._lock:
            self._problems.pop(name, None)

    def problems(self) -> list[Problem]:
        with self._lock:
            return sorted(self._problems.values(), key=lambda p: p.name)

    @property
    def healthy(self) -> bool:
        with self._lock:
            return not self._problems
