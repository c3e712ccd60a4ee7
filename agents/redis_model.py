"""The Redis read model: the latest health per customer and ranked open alerts.

Keys (``{p}`` is the Redis key prefix, ``cx:`` by default):

- ``{p}customer:{id}``            JSON health snapshot (health, band, stage, contributions, ...)
- ``{p}alert:{type}:{id}``        JSON of the customer's open alert of that type (with reasons)
- ``{p}open:churn_risk``          sorted set of customer ids, most urgent first with ZREVRANGE
- ``{p}open:referral_opportunity``  the same for referral opportunities

It is a projection of the alert and customer-health topics, written in pipelined batches by a
side consumer that commits only after Redis accepted the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from agents import metrics
from agents.settings import KafkaSettings
from agents.side_consumer import SideConsumer, message_headers
from agents.web import to_jsonable
from streams.contracts import decode_alert, decode_snapshot
from streams.domain import Alert, AlertAction, HealthSnapshot, Priority
from streams.topics import Topics

PRIORITY_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}


def rank_score(alert: Alert) -> float:
    """Priority first, then the alert's own score: ZREVRANGE lists the most urgent first."""
    return PRIORITY_RANK[alert.priority] * 1000.0 + alert.score


class RedisReadModel:
    def __init__(self, client: Redis, prefix: str = "cx:") -> None:
        self.client = client
        self.prefix = prefix

    def customer_key(self, customer_id: str) -> str:
        return f"{self.prefix}customer:{customer_id}"

    def alert_key(self, alert_type: str, customer_id: str) -> str:
        return f"{self.prefix}alert:{alert_type}:{customer_id}"

    def ranking_key(self, alert_type: str) -> str:
        return f"{self.prefix}open:{alert_type}"

    async def write(self, snapshots: Sequence[HealthSnapshot], alerts: Sequence[Alert]) -> None:
        """One pipelined round trip for a whole batch; idempotent, so retries are safe."""
        pipe = self.client.pipeline(transaction=False)
        for snap in snapshots:
            pipe.set(self.customer_key(snap.customer_id), json.dumps(to_jsonable(snap)))
        for alert in alerts:
            kind = alert.type.value
            if alert.action is AlertAction.RESOLVED:
                pipe.zrem(self.ranking_key(kind), alert.customer_id)
                pipe.delete(self.alert_key(kind, alert.customer_id))
            else:
                pipe.zadd(self.ranking_key(kind), {alert.customer_id: rank_score(alert)})
                pipe.set(self.alert_key(kind, alert.customer_id), json.dumps(to_jsonable(alert)))
        await pipe.execute()

    async def customer(self, customer_id: str) -> dict[str, Any] | None:
        raw = await self.client.get(self.customer_key(customer_id))
        return json.loads(raw) if raw else None

    async def top(self, alert_type: str, count: int = 10) -> list[tuple[str, float]]:
        rows: list[Any] = await self.client.zrevrange(
            self.ranking_key(alert_type), 0, count - 1, withscores=True
        )
        return [(_text(row[0]), float(row[1])) for row in rows]


def _text(member: object) -> str:
    return member.decode() if isinstance(member, bytes) else str(member)


def redis_projection(
    kafka: KafkaSettings, topics: Topics, redis_url: str, group: str, key_prefix: str = "cx:"
) -> SideConsumer:
    """A side consumer that keeps :class:`RedisReadModel` in step with the output topics."""
    model = RedisReadModel(Redis.from_url(redis_url, socket_timeout=5), key_prefix)

    async def handle(batch: Sequence[Any]) -> None:
        snapshots: dict[str, HealthSnapshot] = {}
        alerts: list[Alert] = []
        for message in batch:
            headers = message_headers(message)
            if message.topic() == topics.health:
                snap = decode_snapshot(message.value(), headers)
                if isinstance(snap, HealthSnapshot):
                    snapshots[snap.customer_id] = snap  # coalesce: only the latest matters
            else:
                alert = decode_alert(message.value(), headers)
                if isinstance(alert, Alert):
                    alerts.append(alert)
        await model.write(list(snapshots.values()), alerts)

    return SideConsumer(
        kafka,
        group,
        [topics.health, topics.alerts],
        handle,
        on_failure=lambda exc: metrics.REDIS_WRITE_FAILURES.inc(),
    )
