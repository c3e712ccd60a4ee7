"""``cxstream report outcomes`` reads the real outcomes topic or Redis and draws its chart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from confluent_kafka import Producer
from redis.asyncio import Redis

from agents.cli.main import main
from agents.sinks.redis_model import RedisReadModel
from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.contracts.actions import encode_outcome
from streams.domain import AlertType, Priority
from streams.evaluation.uplift import estimate_uplift
from streams.topics import Topics

DAY = 86_400.0


def outcomes() -> list[AlertOutcome]:
    """12 control alerts (3 retained), 30 delivered of which 20 contacted (12 retained)."""
    rows = [(Group.CONTROL, False, i < 3) for i in range(12)]
    rows += [(Group.DELIVERED, i < 20, i < 12 or i == 25) for i in range(30)]
    return [
        AlertOutcome(
            f"alert-{i}",
            f"c-{i}",
            AlertType.CHURN_RISK,
            OutcomeKind.RETAINED if kept else OutcomeKind.LOST,
            1.7e9 + i,
            1.7e9 + i + 90 * DAY,
            Priority.HIGH,
            "win_back",
            group,
            intervened,
            intervened,
            1.7e9 + i + DAY if kept else None,
        )
        for i, (group, intervened, kept) in enumerate(rows)
    ]


def run_report(capsys: pytest.CaptureFixture[str], topics: Topics, *args: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["report", "outcomes", "--topic-prefix", topics.prefix, "--json", *args]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_report_from_the_topic_and_from_redis(
    kafka_bootstrap: str,
    redis_url: str,
    topics: Topics,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for outcome in outcomes():
        key, value, headers = encode_outcome(outcome)
        producer.produce(topics.alert_outcomes, value, key, headers=headers)
    assert producer.flush(30) == 0
    png = tmp_path / "uplift.png"
    got = run_report(capsys, topics, "--bootstrap-servers", kafka_bootstrap, "--png", str(png))
    want = estimate_uplift(outcomes())
    assert got["outcomes"] == 42 and got["control"] == 12
    assert got["treated"] == {
        "n": 20, "retained": 12, "rate": 0.6, "ci": [round(want.treated.low, 6),
                                                     round(want.treated.high, 6)],
    }  # fmt: skip
    assert got["held_out"]["n"] == 12 and got["held_out"]["retained"] == 3  # type: ignore[index]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    async def project() -> None:
        client = Redis.from_url(redis_url)
        await RedisReadModel(client, topics.prefix.replace(".", ":")).write([], [], outcomes())
        await client.aclose()

    asyncio.run(project())
    from_redis = run_report(capsys, topics, "--source", "redis", "--redis-url", redis_url)
    assert from_redis == got
