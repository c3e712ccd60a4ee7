"""``cxstream customer`` against the real Redis read model when no worker API answers."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis

from agents.cli.main import main
from agents.demo.stack import free_port
from agents.sinks.redis_model import RedisReadModel
from streams.domain import Alert, AlertAction, AlertType, HealthSnapshot, Priority
from streams.jsonable import to_jsonable
from tests.unit.contracts import samples

pytestmark = pytest.mark.integration


def closed_api() -> str:
    return f"http://127.0.0.1:{free_port()}"


def write(
    redis_url: str, prefix: str, snapshots: list[HealthSnapshot], alerts: list[Alert]
) -> None:
    async def go() -> None:
        client = Redis.from_url(redis_url)
        await RedisReadModel(client, prefix).write(snapshots, alerts)
        await client.aclose()

    asyncio.run(go())


def argv(redis_url: str, prefix: str, customer: str, *extra: str) -> list[str]:
    return [
        "customer",
        customer,
        "--api",
        closed_api(),
        "--redis-url",
        redis_url,
        "--redis-key-prefix",
        prefix,
        "--timeout",
        "2",
        *extra,
    ]


def test_falls_back_to_redis_and_shows_health_and_alerts(
    redis_url: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = samples.snapshot(customer_id="cust-r1")
    churn = samples.alert(customer_id="cust-r1")
    referral = samples.alert(
        customer_id="cust-r1",
        alert_id="al-2",
        priority=Priority.LOW,
        type=AlertType.REFERRAL_OPPORTUNITY,
    )
    write(redis_url, unique_prefix, [snap], [churn, referral])

    assert main(argv(redis_url, unique_prefix, "cust-r1")) == 0
    captured = capsys.readouterr()
    assert "API unreachable" in captured.err
    assert "from redis" in captured.out and snap.contributions[0].detail in captured.out
    assert "al-2" in captured.out and churn.reasons[0].message in captured.out

    assert main(argv(redis_url, unique_prefix, "cust-r1", "--json")) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["source"] == "redis" and body["health"] == to_jsonable(snap)
    assert sorted(a["alert_id"] for a in body["alerts"]) == ["al-1", "al-2"]


def test_resolved_alerts_disappear_and_unknown_customers_exit_1(
    redis_url: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = samples.snapshot(customer_id="cust-r2", open_alerts=())
    opened = samples.alert(customer_id="cust-r2")
    write(
        redis_url,
        unique_prefix,
        [snap],
        [opened, samples.alert(customer_id="cust-r2", action=AlertAction.RESOLVED)],
    )
    assert main(argv(redis_url, unique_prefix, "cust-r2", "--source", "redis")) == 0
    assert "no open alerts" in capsys.readouterr().out
    assert main(argv(redis_url, unique_prefix, "nobody", "--source", "redis")) == 1
