"""Webhook delivery's idempotency store in Redis, shared by all workers.

The key scheme, the in-memory store for tests and single workers, and why delivery is
at-least-once are in :mod:`streams.delivery.idempotency`.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from streams.delivery.idempotency import DEFAULT_TTL_SECONDS


class RedisIdempotencyStore:
    """Store shared by all workers: ``SET <prefix><key> 1 NX EX <ttl>``.

    NX makes the mark atomic across workers; EX lets keys expire once a replay can no longer
    produce them. Redis errors propagate: the caller decides whether a failed mark is fatal.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        prefix: str = "cxstream:delivered:",
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix

    async def seen(self, key: str) -> bool:
        return bool(await self._client.exists(self._prefix + key))

    async def mark(self, key: str) -> bool:
        return bool(await self._client.set(self._prefix + key, "1", nx=True, ex=self._ttl))
