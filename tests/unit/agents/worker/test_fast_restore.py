"""The librdkafka changelog read runs once per active recovery, inside Faust's time bound, and a
failed read leaves the whole restore to Faust instead of stopping the worker (the read itself
is tested on a real broker: tests/integration/test_fast_restore.py)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from agents.settings import KafkaSettings
from agents.worker import fast_restore


class Recovery:
    """The piece of Faust's ``Recovery`` that ``install`` wraps: its high-watermark step."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    async def _build_highwaters(
        self, consumer: Any, tps: Any, destination: Any, title: str
    ) -> None:
        self.steps.append(title)


def app_with(recovery: Recovery) -> Any:
    return SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery),
        conf=SimpleNamespace(broker_request_timeout=90.0),
    )


def step(recovery: Recovery, title: str) -> None:
    asyncio.run(recovery._build_highwaters(None, {TP("changelog", 0)}, {}, title))


def test_the_read_runs_before_the_actives_high_watermarks_within_half_faust_s_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[float] = []

    async def read(recovery: Any, conf: dict[str, Any], budget_s: float) -> Any:
        reads.append(budget_s)
        assert recovery.steps == [], "before Faust builds the high watermarks"
        return fast_restore.Restored(partitions=1, records=3)

    monkeypatch.setattr(fast_restore, "restore_ahead", read)
    recovery = Recovery()
    fast_restore.install(app_with(recovery), {})
    step(recovery, "active")
    step(recovery, "standby")
    assert reads == [45.0], "once, for the actives only"
    assert recovery.steps == ["active", "standby"]


def test_a_failed_read_leaves_the_restore_to_faust(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(recovery: Any, conf: dict[str, Any], budget_s: float) -> Any:
        raise RuntimeError("IO error: No space left on device")

    monkeypatch.setattr(fast_restore, "restore_ahead", broken)
    recovery = Recovery()
    fast_restore.install(app_with(recovery), {})
    with caplog.at_level(logging.WARNING):
        step(recovery, "active")
    assert recovery.steps == ["active"], "Faust's recovery went on"
    assert "Faust recovers it" in caplog.text and "No space left" in caplog.text


def test_the_read_never_commits_or_joins_and_keeps_the_worker_s_credentials() -> None:
    kafka = KafkaSettings("b:9093", "SASL_SSL", "SCRAM-SHA-512", "cx-worker", "secret")
    conf = fast_restore.consumer_conf(kafka, "cxstream")
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["group.id"].startswith("cxstream"), "inside the worker's group ACL prefix"
    assert conf["enable.auto.commit"] is False and conf["enable.partition.eof"] is True
