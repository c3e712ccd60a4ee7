"""The worker's event-time window comes from its flags, and the defaults are the live window."""

from __future__ import annotations

from agents.cli import build_parser
from agents.commands.worker import options_from_args
from streams.contracts import LIVE_WINDOW
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
