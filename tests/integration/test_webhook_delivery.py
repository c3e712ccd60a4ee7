"""WebhookDelivery against a real aiohttp server on 127.0.0.1 (and a real Redis for the shared
idempotency store): retries, Retry-After, dead letters, idempotency and routing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from agents.demo.stack import free_port
from agents.sinks.idempotency import RedisIdempotencyStore
from agents.sinks.webhook import DeliveryStatus, WebhookDelivery
from streams.delivery import InMemoryIdempotencyStore
from streams.domain import Alert, AlertAction, AlertType, Priority, Reason

ALERT = Alert(
    alert_id="alert-1",
    customer_id="cust-1",
    type=AlertType.CHURN_RISK,
    action=AlertAction.OPENED,
    priority=Priority.HIGH,
    score=77.0,
    reasons=(Reason("detractor", "Gave an NPS of 2 after a support ticket", 2.0),),
    playbook="Call the customer within 48 hours",
    opened_at=1_700_000_000.0,
    occurred_at=1_700_000_000.0,
    cx_team="emea",
)
SECRET = "T000/B000/secret-token"


@dataclass
class Behaviour:
    """How one path answers: ``failures`` responses of ``status`` first, then 200."""

    failures: int = 0
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall each failing response (for timeouts)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class Webhook:
    """A recording webhook server; each path behaves as configured."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.base = ""

    def url(self, path: str, behaviour: Behaviour | None = None) -> str:
        self.behaviours[path] = behaviour or Behaviour()
        return f"{self.base}{path}"

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Request(request.path, dict(request.headers), await request.json()))
        behaviour = self.behaviours.get(request.path, Behaviour(failures=10**9, status=404))
        if behaviour.failures > 0:
            behaviour.failures -= 1
            await asyncio.sleep(behaviour.delay)
            return web.Response(status=behaviour.status, text="nope", headers=behaviour.headers)
        return web.Response(text="ok")


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    server = Webhook()
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base = f"http://{host}:{port}"
    yield server
    await runner.cleanup()


DeadLetters = list[tuple[Alert, str]]
Factory = Callable[..., tuple[WebhookDelivery, DeadLetters]]


@pytest.fixture
async def make_delivery() -> AsyncIterator[Factory]:
    """Build WebhookDelivery with fast retry timings; returns (delivery, dead letters)."""
    made: list[WebhookDelivery] = []

    def factory(url: str, **kwargs: Any) -> tuple[WebhookDelivery, DeadLetters]:
        dead: DeadLetters = []

        async def dead_letter(alert: Alert, reason: str) -> None:
            dead.append((alert, reason))

        options: dict[str, Any] = {
            "max_attempts": 3,
            "base_backoff": 0.01,
            "max_backoff": 0.05,
            "timeout": 0.5,
            "idempotency": InMemoryIdempotencyStore(),
            "dead_letter": dead_letter,
            **kwargs,
        }
        routes = options.pop("routes", {"emea": url})
        delivery = WebhookDelivery(routes, options.pop("default_url", url), **options)
        made.append(delivery)
        return delivery, dead

    yield factory
    for delivery in made:
        await delivery.close()


async def test_delivers_once_with_idempotency_key_and_slack_body(
    webhook: Webhook, make_delivery: Factory
) -> None:
    delivery, dead = make_delivery(webhook.url("/emea"))
    outcome = await delivery.deliver(ALERT)
    assert (outcome.status, outcome.attempts, outcome.retries) == (DeliveryStatus.DELIVERED, 1, 0)
    [request] = webhook.requests
    assert request.headers["Idempotency-Key"] == "alert-1:opened"
    assert request.headers["Content-Type"].startswith("application/json")
    assert "Gave an NPS of 2 after a support ticket" in str(request.body["blocks"])
    assert request.body["text"].startswith("Churn risk opened (high, score 77)")
    assert dead == []


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_retries_transient_failures_then_delivers_once(
    webhook: Webhook, make_delivery: Factory, status: int
) -> None:
    url = webhook.url("/emea", Behaviour(failures=2, status=status))
    delivery, dead = make_delivery(url)
    outcome = await delivery.deliver(ALERT)
    assert outcome.status is DeliveryStatus.DELIVERED
    assert (outcome.attempts, outcome.retries) == (3, 2)
    assert len(webhook.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in webhook.requests} == {"alert-1:opened"}
    assert dead == []
    assert (await delivery.deliver(ALERT)).status is DeliveryStatus.DUPLICATE
    assert len(webhook.requests) == 3


async def test_429_retry_after_is_honoured_and_capped(
    webhook: Webhook, make_delivery: Factory
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    url = webhook.url("/emea", Behaviour(failures=2, status=429, headers={"Retry-After": "7"}))
    delivery, _ = make_delivery(url, sleep=sleep, max_retry_after=5.0, max_attempts=4)
    assert (await delivery.deliver(ALERT)).status is DeliveryStatus.DELIVERED
    assert waits == [5.0, 5.0]
    webhook.behaviours["/emea"] = Behaviour(failures=1, status=429, headers={"Retry-After": "2"})
    waits.clear()
    assert (await delivery.deliver(replace(ALERT, alert_id="alert-2"))).attempts == 2
    assert waits == [2.0]


async def test_backoff_grows_exponentially_with_jitter(
    webhook: Webhook, make_delivery: Factory
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    url = webhook.url("/emea", Behaviour(failures=4, status=502))
    delivery, _ = make_delivery(url, sleep=sleep, max_attempts=5, base_backoff=1.0, max_backoff=3.0)
    assert (await delivery.deliver(ALERT)).attempts == 5
    caps = [1.0, 2.0, 3.0, 3.0]  # base * 2**n, capped at max_backoff; equal jitter in [cap/2, cap]
    assert all(cap / 2 <= wait <= cap for wait, cap in zip(waits, caps, strict=True)), waits


async def test_always_failing_webhook_dead_letters_once(
    webhook: Webhook, make_delivery: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    url = webhook.url(f"/{SECRET}", Behaviour(failures=10**9, status=500))
    delivery, dead = make_delivery(url)
    with caplog.at_level(logging.WARNING):
        outcome = await delivery.deliver(ALERT)
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.FAILED, 3)
    assert len(webhook.requests) == 3
    [(alert, reason)] = dead
    assert alert is ALERT
    assert reason == "HTTP 500: nope; gave up after 3 attempts"
    assert outcome.reason == reason
    assert SECRET not in caplog.text and "alert-1:opened" in caplog.text


async def test_client_errors_are_not_retried(webhook: Webhook, make_delivery: Factory) -> None:
    delivery, dead = make_delivery(webhook.url("/emea", Behaviour(failures=1, status=404)))
    outcome = await delivery.deliver(ALERT)
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.FAILED, 1)
    assert len(webhook.requests) == 1
    assert [reason for _, reason in dead] == ["HTTP 404: nope (not retried)"]


async def test_connection_refused_is_retried_then_dead_lettered(make_delivery: Factory) -> None:
    port = free_port()  # a port that was free a moment ago: nothing listens there
    delivery, dead = make_delivery(f"http://127.0.0.1:{port}/{SECRET}")
    outcome = await delivery.deliver(ALERT)
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.FAILED, 3)
    [(_, reason)] = dead
    assert reason.startswith("connection error (ClientConnectorError")
    assert SECRET not in reason and str(port) not in reason


async def test_timeout_is_retried(webhook: Webhook, make_delivery: Factory) -> None:
    url = webhook.url("/emea", Behaviour(failures=1, status=200, delay=1.0))
    delivery, dead = make_delivery(url, timeout=0.2)
    outcome = await delivery.deliver(ALERT)
    assert (outcome.status, outcome.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert dead == []


async def test_concurrent_duplicates_send_one_post(
    webhook: Webhook, make_delivery: Factory
) -> None:
    url = webhook.url("/emea", Behaviour(failures=1, status=503, delay=0.1))
    delivery, _ = make_delivery(url)
    outcomes = await asyncio.gather(*(delivery.deliver(ALERT) for _ in range(5)))
    statuses = sorted(o.status for o in outcomes)
    assert statuses == [DeliveryStatus.DELIVERED] + [DeliveryStatus.DUPLICATE] * 4
    assert len(webhook.requests) == 2  # one failed attempt, one success; never a second alert


async def test_routes_by_team_and_falls_back_to_default(
    webhook: Webhook, make_delivery: Factory
) -> None:
    routes = {"emea": webhook.url("/emea"), "apac": webhook.url("/apac")}
    delivery, _ = make_delivery("", routes=routes, default_url=webhook.url("/default"))
    await delivery.deliver(ALERT)
    await delivery.deliver(replace(ALERT, alert_id="a2", cx_team="apac"))
    await delivery.deliver(replace(ALERT, alert_id="a3", cx_team=None))
    await delivery.deliver(replace(ALERT, alert_id="a4", cx_team="nordics"))
    paths = ("/emea", "/apac", "/default")
    keys = {p: [r.headers["Idempotency-Key"] for r in webhook.to(p)] for p in paths}
    assert keys == {
        "/emea": ["alert-1:opened"],
        "/apac": ["a2:opened"],
        "/default": ["a3:opened", "a4:opened"],
    }


async def test_only_configured_actions_are_sent(webhook: Webhook, make_delivery: Factory) -> None:
    delivery, _ = make_delivery(webhook.url("/emea"))
    for action in (AlertAction.UPDATED, AlertAction.RESOLVED):
        outcome = await delivery.deliver(replace(ALERT, action=action))
        assert outcome.status is DeliveryStatus.SKIPPED
    assert webhook.requests == []
    delivery, _ = make_delivery(webhook.url("/emea"), actions={AlertAction.RESOLVED})
    assert (await delivery.deliver(ALERT)).status is DeliveryStatus.SKIPPED
    resolved = replace(ALERT, action=AlertAction.RESOLVED)
    assert (await delivery.deliver(resolved)).status is DeliveryStatus.DELIVERED
    assert [r.headers["Idempotency-Key"] for r in webhook.requests] == ["alert-1:resolved"]


# --- shared Redis idempotency store (real redis-server from tests/conftest.py) ---------------


@pytest.fixture
async def redis_store(
    redis_url: str, unique_prefix: str
) -> AsyncIterator[tuple[RedisIdempotencyStore, aioredis.Redis]]:
    client = aioredis.Redis.from_url(redis_url)
    yield RedisIdempotencyStore(client, ttl_seconds=600, prefix=unique_prefix), client
    await client.aclose()


Store = tuple[RedisIdempotencyStore, aioredis.Redis]


@pytest.mark.integration
async def test_redis_store_marks_once_with_ttl(redis_store: Store, unique_prefix: str) -> None:
    store, client = redis_store
    assert not await store.seen("alert-1:opened")
    assert await store.mark("alert-1:opened")
    assert not await store.mark("alert-1:opened")  # NX: a second worker's mark is refused
    assert await store.seen("alert-1:opened")
    assert not await store.seen("alert-1:resolved")
    assert 0 < await client.ttl(f"{unique_prefix}alert-1:opened") <= 600


@pytest.mark.integration
async def test_two_workers_sharing_redis_send_one_post(
    webhook: Webhook, make_delivery: Factory, redis_store: Store
) -> None:
    store, _ = redis_store
    url = webhook.url("/emea")
    first, _ = make_delivery(url, idempotency=store)
    second, _ = make_delivery(url, idempotency=store)  # e.g. after a rebalance
    assert (await first.deliver(ALERT)).status is DeliveryStatus.DELIVERED
    assert (await second.deliver(ALERT)).status is DeliveryStatus.DUPLICATE
    assert len(webhook.requests) == 1
