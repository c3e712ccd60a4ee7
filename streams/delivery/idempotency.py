"""Remember which alert actions were already delivered, so a webhook gets each one once.

The key is ``"<alert_id>:<action>"``: alert ids are deterministic, so a replayed or
re-processed alert maps to the same key, while its later *update* or *resolve* is a new key.

Delivery marks a key only *after* the webhook answered 2xx (mark-after-success). That makes
delivery **at-least-once**, not exactly-once: if the process dies between the successful POST
and the mark (or the mark itself fails), the alert is sent again after a restart or rebalance.
Receivers must therefore de-duplicate on the ``Idempotency-Key`` header, which carries the same
key. Marking *before* sending would instead lose alerts on a crash, which is worse for CX.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from streams.domain import Alert

DEFAULT_TTL_SECONDS = 30 * 24 * 3600  # longer than any replay window we expect


def idempotency_key(alert: Alert) -> str:
    """The delivery key of one alert action (also sent as the ``Idempotency-Key`` header)."""
    return f"{alert.alert_id}:{alert.action}"


class IdempotencyStore(Protocol):
    """Where delivered keys are recorded; shared by all workers in production (Redis, in
    ``agents.sinks.idempotency``)."""

    async def seen(self, key: str) -> bool:
        """True if ``key`` was already marked delivered (and has not expired)."""
        ...

    async def mark(self, key: str) -> bool:
        """Record ``key`` as delivered; True if this call recorded it, False if it already was."""
        ...


class InMemoryIdempotencyStore:
    """Per-process store for tests and single-worker setups; bounded so it cannot grow forever.

    Forgets everything on restart, so a replay after a restart re-sends: use Redis in production.
    """

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        *,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_entries <= 0:
            raise ValueError("ttl_seconds and max_entries must be positive")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._expires: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    async def seen(self, key: str) -> bool:
        expires = self._expires.get(key)
        if expires is None:
            return False
        if expires <= self._clock():
            del self._expires[key]
            return False
        return True

    async def mark(self, key: str) -> bool:
        if await self.seen(key):
            return False
        self._expires[key] = self._clock() + self._ttl
        while len(self._expires) > self._max:
            self._expires.popitem(last=False)  # oldest first: insertion order = mark order
        return True
