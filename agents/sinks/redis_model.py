"""The Redis read model: the latest health per customer and ranked open alerts.

Keys (``{p}`` is the Redis key prefix, ``cx:`` by default):

- ``{p}customer:{id}``            JSON health snapshot (health, band, stage, contributions, ...)
- ``{p}alert:{type}:{id}``        JSON of the customer's open alert of that type (with reasons)
- ``{p}open:churn_risk``          sorted set of customer ids, most urgent first with ZREVRANGE
- ``{p}open:referral_opportunity``  the same for referral opportunities
- ``{p}outcome:{alert_id}``        JSON of the alert's outcome once decided (cx.alert-outcomes)

It is a projection of the alert, customer-health and alert-outcome topics, written in pipelined
batches by a side consumer that commits only after Redis accepted the batch. When Redis refuses the
credentials, denies a command or stays unreachable, the worker's health board carries the
problem ``redis_read_model`` (``/healthz`` answers 503) until a write succeeds again.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from agents.settings import KafkaSettings
from agents.sinks.side_consumer import SideConsumer, message_headers
from agents.worker import metrics
from agents.worker.health import HealthBoard
from streams.alert_loop import AlertOutcome
from streams.contracts import decode_alert, decode_snapshot
from streams.contracts.actions import decode_outcome
from streams.domain import Alert, AlertAction, HealthSnapshot, Priority
from streams.jsonable import to_jsonable
from streams.topics import Topics

PROBLEM = "redis_read_model"
UNREACHABLE_GRACE = 10.0  # seconds of failed attempts before an outage turns the worker unhealthy
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

    def outcome_key(self, alert_id: str) -> str:
        return f"{self.prefix}outcome:{alert_id}"

    async def write(
        self,
        snapshots: Sequence[HealthSnapshot],
        alerts: Sequence[Alert],
        outcomes: Sequence[AlertOutcome] = (),
    ) -> None:
        """One pipelined round trip for a whole batch; idempotent, so retries are safe."""
        pipe = self.client.pipeline(transaction=False)
        for outcome in outcomes:
            pipe.set(self.outcome_key(outcome.alert_id), json.dumps(to_jsonable(outcome)))
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


def where(redis_url: str) -> tuple[str, str]:
    """(user, host:port) of a Redis URL, for messages: never the password."""
    parts = urlsplit(redis_url)
    return parts.username or "default", f"{parts.hostname}:{parts.port or 6379}"


def describe_failure(exc: Exception, redis_url: str, key_prefix: str) -> str:
    """What went wrong and what to change, without the password or any key (keys hold ids)."""
    user, address = where(redis_url)
    if isinstance(exc, AuthenticationError):
        return (
            f"Redis at {address} rejected the credentials of user {user}: check the user and "
            "password in REDIS_URL (redis[s]://USER:PASSWORD@HOST:PORT/DB) and that the user is on"
        )
    if isinstance(exc, NoPermissionError):
        return (
            f"Redis user {user} at {address} may not write the read model: grant it the keys "
            f"~{key_prefix}* and the string, sorted-set and keyspace commands (docs/security.md)"
        )
    if _tls_refused(exc):
        return (
            f"TLS to Redis at {address} failed (the server's certificate is not trusted): give "
            "the CA in REDIS_URL as ?ssl_ca_certs=/path/ca.pem, or check the host name"
        )
    if isinstance(exc, RedisError | OSError):  # connection refused, timeouts
        return (
            f"Redis at {address} unreachable ({type(exc).__name__}: {str(exc)[:160]}): check "
            "REDIS_URL, that Redis runs, and redis:// vs rediss:// (TLS) for its port"
        )
    return f"Redis write failed at {address}: {type(exc).__name__}"


def _tls_refused(exc: BaseException) -> bool:
    """A certificate that will not verify: a setting to fix, not an outage to wait out."""
    cause = exc.__cause__ or exc.__context__
    unverified = isinstance(cause, ssl.SSLCertVerificationError)
    return unverified or "CERTIFICATE_VERIFY_FAILED" in str(exc)


class HealthReport:
    """Turns a Redis sink's outcomes into a named problem (``redis_read_model``) on the board."""

    def __init__(
        self, board: HealthBoard | None, redis_url: str, key_prefix: str, problem: str = PROBLEM
    ) -> None:
        self.board, self.url, self.prefix, self.problem = board, redis_url, key_prefix, problem
        self.failing_since: float | None = None

    def failed(self, exc: Exception) -> None:
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        refused = isinstance(exc, AuthenticationError | NoPermissionError) or _tls_refused(exc)
        if self.board and (refused or now - self.failing_since >= UNREACHABLE_GRACE):
            self.board.raise_problem(self.problem, describe_failure(exc, self.url, self.prefix))

    def succeeded(self) -> None:
        self.failing_since = None
        if self.board:
            self.board.clear(self.problem)


def redis_projection(
    kafka: KafkaSettings,
    topics: Topics,
    redis_url: str,
    group: str,
    key_prefix: str = "cx:",
    health: HealthBoard | None = None,
) -> SideConsumer:
    """A side consumer that keeps :class:`RedisReadModel` in step with the output topics."""
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    model = RedisReadModel(client, key_prefix)
    report = HealthReport(health, redis_url, key_prefix)

    async def probe() -> None:
        await client.ping()

    def failed(exc: Exception) -> None:
        metrics.REDIS_WRITE_FAILURES.inc()
        report.failed(exc)

    async def handle(batch: Sequence[Any]) -> None:
        snapshots: dict[str, HealthSnapshot] = {}
        alerts: list[Alert] = []
        outcomes: list[AlertOutcome] = []
        for message in batch:
            headers = message_headers(message)
            if message.topic() == topics.alert_outcomes:
                outcome = decode_outcome(message.value(), headers)
                if isinstance(outcome, AlertOutcome):
                    outcomes.append(outcome)
            elif message.topic() == topics.health:
                snap = decode_snapshot(message.value(), headers)
                if isinstance(snap, HealthSnapshot):
                    snapshots[snap.customer_id] = snap  # coalesce: only the latest matters
            else:
                alert = decode_alert(message.value(), headers)
                if isinstance(alert, Alert):
                    alerts.append(alert)
        await model.write(list(snapshots.values()), alerts, outcomes)

    return SideConsumer(
        kafka,
        group,
        [topics.health, topics.alerts, topics.alert_outcomes],
        handle,
        on_failure=failed,
        on_success=report.succeeded,
        probe=probe,
        describe=lambda exc: describe_failure(exc, redis_url, key_prefix),
    )
