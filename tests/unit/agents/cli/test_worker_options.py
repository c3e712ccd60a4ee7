"""The worker's options from its flags: the defaults are the worker's own, the event-time
window follows the flags, and the command line built for a worker gives back its options."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from agents.cli.commands.worker import options_from_args
from agents.cli.commands.worker_argv import worker_argv
from agents.cli.main import build_parser
from agents.settings import (
    WORKER_DEFAULTS,
    ApiAccess,
    KafkaSettings,
    Settings,
    WorkerOptions,
)
from streams.contracts import LIVE_WINDOW, EventTimeWindow
from streams.contracts.limits import DAY


def test_the_default_window_is_the_live_window() -> None:
    options = options_from_args(build_parser().parse_args(["worker", "--insecure-api"]))
    assert options.event_time_window == LIVE_WINDOW


def test_the_window_follows_the_flags() -> None:
    argv = [
        "worker",
        "--insecure-api",
        "--max-event-delay-days",
        "2",
        "--max-event-ahead-hours",
        "3",
    ]
    window = options_from_args(build_parser().parse_args(argv)).event_time_window
    assert (window.max_delay, window.max_ahead) == (2 * DAY, 3 * 3600.0)
    unbounded = options_from_args(
        build_parser().parse_args(["worker", "--insecure-api", "--max-event-delay-days", "0"])
    ).event_time_window
    assert unbounded.max_delay is None, "0 accepts any age"


def parsed(argv: list[str]) -> WorkerOptions:
    assert argv[:4] == [sys.executable, "-m", "agents.cli", "worker"]
    return options_from_args(build_parser().parse_args(argv[3:]))


def test_the_flags_defaults_are_the_workers_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "CX_TOPIC_PREFIX", "CX_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    options = options_from_args(build_parser().parse_args(["worker"]))
    assert options == WORKER_DEFAULTS


def test_a_worker_started_with_its_argv_has_the_same_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the demo and the e2e harness start is what they describe, for every option."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "CX_TOPIC_PREFIX", "CX_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    token = tmp_path / "token"
    token.write_text("t" * 32)
    options = WorkerOptions(
        settings=Settings(
            kafka=KafkaSettings("broker:9093", "SASL_SSL", "SCRAM-SHA-512", "u", "p", "ca.pem"),
            redis_url="redis://r:6380/1",
            topic_prefix="t1.",
        ),
        app_id="a1",
        data_dir=tmp_path / "data",
        web_port=7001,
        idle_wall_clock_after=None,
        allowed_lateness=86400.0,
        session_timeout=6.0,
        tick_interval=0.5,
        batch_size=50,
        table_cache_mb=64,
        batch_within=0.01,
        batch_within_caught_up=0.002,
        api_access=ApiAccess(token="t" * 32, insecure=True, rate_per_second=500, burst=1000),
        event_time_window=EventTimeWindow.from_days(2, 0.5),
        webhook_url="http://hook/a",
        webhook_routes={"vip": "http://hook/vip"},
        webhook_escalations=True,
        fold_ahead=False,
    )
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "p")  # from the environment, never the argv
    argv = worker_argv(options, log_level="warning", api_token_file=token)
    assert "p" not in argv and "t" * 32 not in argv
    assert parsed(argv) == options
    without_redis = dataclasses.replace(options, redis_projection=False)
    assert parsed(worker_argv(without_redis, api_token_file=token)).redis_projection is False
