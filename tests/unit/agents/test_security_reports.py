"""What the worker says when Kafka or Redis refuse it: the fix, never the password."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from redis.exceptions import AuthenticationError, NoPermissionError
from redis.exceptions import ConnectionError as RedisConnectionError

from agents.demo.stack import free_port
from agents.settings import KafkaSettings
from agents.sinks import redis_model
from agents.sinks.redis_model import PROBLEM, HealthReport, describe_failure
from agents.sinks.side_consumer import SideConsumer
from agents.worker.health import HealthBoard
from agents.worker.preflight import PreflightError, check_connection, needs
from streams.topics import Topics

URL = "rediss://cx:s3cret-pass@redis.internal:6380/0?ssl_ca_certs=/etc/ca.pem"


def test_an_unreachable_broker_is_reported_within_the_timeout() -> None:
    kafka = KafkaSettings(
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="cx-worker",
        sasl_password="never-shown",
    )
    started = time.monotonic()
    with pytest.raises(PreflightError) as refused:
        check_connection(kafka, timeout=2.0)
    assert time.monotonic() - started < 6
    text = str(refused.value)
    assert text.startswith("cannot reach Kafka at user cx-worker (SCRAM-SHA-512 on 127.0.0.1:")
    assert "KAFKA_BOOTSTRAP_SERVERS" in text and "never-shown" not in text


def test_needs_follow_the_documented_grants() -> None:
    wanted = {(n.kind, n.name): {op.name for op in n.operations} for n in needs(Topics(), "cxs")}
    assert wanted[("topic", "cx.purchases")] == {"READ", "DESCRIBE"}
    assert wanted[("topic", "cx.alert-actions")] == {"READ", "WRITE", "DESCRIBE"}
    assert wanted[("topic", "cx.customer-health")] == {"READ", "WRITE", "DESCRIBE"}
    assert wanted[("topic", "cx.dead-letter")] == {"WRITE", "DESCRIBE"}
    assert wanted[("group", "cxs-redis-read-model")] == {"READ", "DESCRIBE"}
    assert ("group", "cxs-alert-delivery") not in wanted  # only with webhooks


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (AuthenticationError("WRONGPASS invalid"), "rejected the credentials of user cx"),
        (NoPermissionError("no permissions to access the 'cx:customer:c-42' key"), "~cx:*"),
        (RedisConnectionError("Error 111 connecting to redis.internal:6380."), "unreachable"),
        (
            RedisConnectionError("Error 1 connecting. [SSL: CERTIFICATE_VERIFY_FAILED] ..."),
            "?ssl_ca_certs=",
        ),
    ],
)
def test_redis_failures_name_the_fix_without_password_or_keys(
    exc: Exception, expected: str
) -> None:
    text = describe_failure(exc, URL, "cx:")
    assert expected in text and "redis.internal:6380" in text
    assert "s3cret-pass" not in text and "c-42" not in text


def test_refused_credentials_open_the_problem_at_once_an_outage_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    board, now = HealthBoard(), [100.0]
    monkeypatch.setattr(redis_model.time, "monotonic", lambda: now[0])
    report = HealthReport(board, URL, "cx:")
    report.failed(RedisConnectionError("Connection refused"))
    assert board.healthy  # one refused connection is a blip, not yet a problem
    now[0] += redis_model.UNREACHABLE_GRACE
    report.failed(RedisConnectionError("Connection refused"))
    assert [p.name for p in board.problems()] == [PROBLEM]
    report.succeeded()
    assert board.healthy
    report.failed(AuthenticationError("WRONGPASS"))
    assert "rejected the credentials" in board.problems()[0].detail


def test_side_consumer_probe_reports_failure_then_recovery_without_any_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sink's health is known before the first record and recovers on quiet topics."""
    outcomes: list[str] = []
    attempts = iter([AuthenticationError("WRONGPASS"), None, None, None])

    async def probe() -> None:
        exc = next(attempts)
        if exc:
            raise exc

    class QuietConsumer:
        def __init__(self, conf: dict[str, Any]) -> None: ...
        def subscribe(self, topics: Sequence[str]) -> None: ...
        def consume(self, n: int, timeout: float) -> list[Any]:
            time.sleep(0.01)
            return []

        def close(self) -> None: ...

    monkeypatch.setattr("agents.sinks.side_consumer.Consumer", QuietConsumer)

    async def handler(batch: Sequence[Any]) -> None: ...

    sink = SideConsumer(
        KafkaSettings(),
        "g",
        ["t"],
        handler,
        on_failure=lambda exc: outcomes.append("failed"),
        on_success=lambda: outcomes.append("ok"),
        probe=probe,
        probe_interval=0.05,
    )

    async def run_briefly() -> None:
        task = asyncio.create_task(sink.run())
        await asyncio.sleep(0.5)
        sink.stop()
        await task

    asyncio.run(run_briefly())
    assert outcomes == ["failed", "ok"]  # no more probes once healthy


def test_webhook_delivery_reports_its_redis_under_its_own_name() -> None:
    """Two sinks on one board: one recovering never clears the other's problem."""
    board = HealthBoard()
    read_model = HealthReport(board, URL, "cx:")
    delivery = HealthReport(board, URL, "cx:", "redis_alert_delivery")
    read_model.failed(AuthenticationError("WRONGPASS"))
    delivery.failed(AuthenticationError("WRONGPASS"))
    read_model.succeeded()
    assert [p.name for p in board.problems()] == ["redis_alert_delivery"]
