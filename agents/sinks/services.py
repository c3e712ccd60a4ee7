"""Register the sinks on a worker: the Redis read model and webhook alert delivery.

Both follow cxstream's own output topics on their own consumer groups (see side_consumer), so
an outage of Redis or of a webhook slows only that sink, never the customer agent. Each runs
as a task of the worker's app and reports to its health board.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents.settings import WorkerOptions
from agents.sinks.idempotency import RedisIdempotencyStore
from agents.sinks.redis_model import HealthReport, describe_failure, redis_projection
from agents.sinks.side_consumer import SideConsumer, message_headers
from agents.sinks.webhook import DEFAULT_ACTIONS, DeliveryStatus, WebhookDelivery
from agents.worker import loop_metrics, metrics
from agents.worker.health import HealthBoard
from streams.alert_notify import GROUP_HEADER, wants_notification
from streams.contracts import decode_alert, encode_alert
from streams.delivery import InMemoryIdempotencyStore
from streams.domain import Alert, AlertAction, AlertType

DELIVERY_FAILURE_HEADER = "cx-delivery-failure"
DELIVERY_PROBLEM = "redis_alert_delivery"  # the idempotency store of webhook delivery


def register_sinks(
    app: faust.App, options: WorkerOptions, health: HealthBoard, *, budget: bool = False
) -> None:
    """Run the sinks the options ask for as tasks of ``app``, stopped on shutdown; with an
    alert ``budget``, churn openings are posted from the alerts-admitted topic only."""
    settings = options.settings
    if options.redis_projection and settings.redis_url:
        projection = redis_projection(
            settings.kafka,
            settings.topics,
            settings.redis_url,
            group=f"{options.app_id}-redis-read-model",
            key_prefix=settings.topic_prefix.replace(".", ":"),
            health=health,  # /healthz: 503 while Redis refuses us
        )
        _run_as_task(app, projection, "redis-read-model")
    if options.webhook_url or options.webhook_routes:
        _run_as_task(app, _delivery_consumer(app, options, health, budget), "alert-delivery")


def _run_as_task(app: faust.App, consumer: SideConsumer, name: str) -> None:
    async def side_task() -> None:
        await consumer.run()

    side_task.__name__ = side_task.__qualname__ = name.replace("-", "_")
    app.task(side_task)

    @app.on_before_shutdown.connect
    async def stop_side_task(app: Any, **kwargs: Any) -> None:
        consumer.stop()


def _delivery_consumer(
    app: faust.App, options: WorkerOptions, health: HealthBoard, budget: bool
) -> SideConsumer:
    settings = options.settings
    admitted = settings.topics.alerts_admitted if budget else None
    idempotency: Any = InMemoryIdempotencyStore()
    key_prefix = settings.topic_prefix.replace(".", ":")
    redis_health = HealthReport(health, settings.redis_url or "", key_prefix, DELIVERY_PROBLEM)
    if settings.redis_url:
        idempotency = RedisIdempotencyStore(
            Redis.from_url(settings.redis_url), prefix=f"{key_prefix}delivered:"
        )

    def failed(exc: Exception) -> None:  # webhook failures are dead-lettered, not raised
        if isinstance(exc, RedisError):
            redis_health.failed(exc)

    async def dead_letter(alert: Alert, reason: str) -> None:
        key, value, headers = encode_alert(alert)
        headers.append((DELIVERY_FAILURE_HEADER, reason.encode()[:500]))
        sent = await app.producer.send(
            settings.topics.delivery_dead_letter, key, value, None, None, headers
        )
        await sent

    delivery = WebhookDelivery(
        options.webhook_routes,
        options.webhook_url or next(iter(options.webhook_routes.values())),
        idempotency=idempotency,
        dead_letter=dead_letter,
        customer_url_template=options.customer_url_template,
        actions_url_template=f"{str(app.conf.canonical_url).rstrip('/')}/alerts/{{alert_id}}/actions",
        actions=DEFAULT_ACTIONS | ({AlertAction.UPDATED} if options.webhook_escalations else set()),
    )

    async def handle(batch: Sequence[Any]) -> None:
        notify = _to_notify(batch, admitted)
        outcomes = await asyncio.gather(*(delivery.deliver(a) for a in notify))
        for outcome in outcomes:
            if outcome.status is DeliveryStatus.DELIVERED:
                metrics.DELIVERIES.labels("delivered").inc()
            elif outcome.status is DeliveryStatus.FAILED:
                metrics.DELIVERIES.labels("failed").inc()
            if outcome.attempts > 1:
                metrics.DELIVERIES.labels("retried").inc(outcome.attempts - 1)

    return SideConsumer(
        settings.kafka,
        f"{options.app_id}-alert-delivery",
        [settings.topics.alerts, *([admitted] if admitted else [])],
        handle,
        batch_size=100,
        on_failure=failed,
        on_success=redis_health.succeeded,
        describe=lambda exc: (
            describe_failure(exc, settings.redis_url or "", key_prefix)
            if isinstance(exc, RedisError)
            else repr(exc)
        ),
    )


def _to_notify(batch: Sequence[Any], admitted: str | None = None) -> list[Alert]:
    """The batch's alerts the worker marked for the team (see streams.alert_notify).

    Control-group alerts and re-notifications of handled alerts are counted, not posted; an
    alert from a worker that wrote no verdict is posted only when it opens. With an alert
    budget (``admitted`` names its topic), a churn alert is posted only as an opening the
    budget admitted: the others, and the updates and resolutions of all, stay quiet.
    """
    out: list[Alert] = []
    for message in batch:
        headers = message_headers(message)
        alert = decode_alert(message.value(), headers)
        if not isinstance(alert, Alert):
            continue
        if admitted is not None and alert.type is AlertType.CHURN_RISK:
            if message.topic() == admitted:
                out.append(alert)
            continue
        verdict = wants_notification(headers)
        if verdict is False:
            group = dict(headers).get(GROUP_HEADER) or b""
            loop_metrics.SUPPRESSED.labels("control" if group == b"control" else "handled").inc()
        elif verdict or alert.action is AlertAction.OPENED:
            out.append(alert)
    return out
