"""``cxstream simulate``: produce the persona simulator's events to the input topics.

Events are generated lazily (``iter_events``), so memory follows the number of live
customers, not the number of events: a 100k-customer year streams in constant memory.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from rich.console import Console

from agents.cli.commands.common import (
    add_connection_flags,
    refuse_expiring_history,
    settings_from_args,
)
from agents.cli.producing import EventProducer, add_producing_flags, producer_from_settings
from agents.cli.render import delivery_table, error_lines, progress
from agents.settings import Settings
from agents.worker.topic_admin import history_problems
from streams.domain import Event
from streams.simulator import DAY, DEFAULT_START, iter_events

PROGRESS_EVERY = 500  # events between progress-bar updates: rich is not free per event


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_start(text: str | None, days: int, now: float | None = None) -> float:
    """``None`` -> the simulator's fixed start; ``now`` -> ``days`` ago; else an ISO date/time."""
    if text is None:
        return DEFAULT_START
    if text == "now":
        return (time.time() if now is None else now) - days * DAY
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--start {text!r}: {exc}") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="produce simulated customers' events (purchases, tickets, feedback, profiles)",
        description="Run the persona simulator (loyal promoters, quiet churners, frustrated "
        "ticket-filers, ...) and produce its events, keyed by customer id, to the input "
        "topics. Refuses a history older than the topics' retention, which the broker would "
        "delete within minutes. Exit status: 0 when every event was acknowledged, 1 when "
        "some delivery failed, 2 on a configuration error.",
    )
    add_connection_flags(parser)
    parser.add_argument(
        "--customers",
        type=positive_int,
        default=100,
        help="number of simulated customers (default 100)",
    )
    parser.add_argument(
        "--days", type=positive_int, default=90, help="days of activity to simulate (default 90)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=42,
        help="random seed: the same seed gives the same events (default 42)",
    )
    parser.add_argument(
        "--start",
        metavar="ISO|now",
        help="event time of day one: an ISO date/time (UTC unless it says "
        "otherwise), or 'now' to end the simulation about now; default "
        "2024-01-01T00:00Z",
    )
    parser.add_argument(
        "--ignore-retention",
        action="store_true",
        help="produce even when the input topics' retention would delete part of the "
        "history (Kafka deletes records by timestamp, which is the event time)",
    )
    parser.add_argument(
        "--purchase-only",
        action="store_true",
        help="a CDNOW-like retail log: purchases only, no profiles/tickets",
    )
    add_producing_flags(parser)
    parser.set_defaults(run=run)


def produce_all(
    producer: EventProducer, events: Iterable[Event], start: float, days: int, show: bool
) -> int:
    """Produce every event with a progress bar over simulated days; returns the count."""
    count = 0
    with progress(Console(stderr=True), enabled=show) as bar:
        task = bar.add_task("simulated days", total=days, count=0)
        for event in events:
            producer.send(event)
            count += 1
            if count % PROGRESS_EVERY == 0:
                bar.update(task, completed=(event.occurred_at - start) / DAY, count=count)
        bar.update(task, completed=days, count=count)
    return count


def _history_fits(settings: Settings, start: float) -> bool:
    """True when the input topics keep events from ``start`` on; else say how to fix it."""
    problems = history_problems(settings.kafka, settings.topics, start, time.time())
    if problems:
        fix = "simulate fewer --days with --start now"
        refuse_expiring_history("simulate", start, problems, fix)
    return not problems


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    try:
        start = parse_start(args.start, args.days)
    except argparse.ArgumentTypeError as exc:
        Console(stderr=True).print(f"cxstream simulate: {exc}", style="red")
        return 2
    if not args.ignore_retention and not _history_fits(settings, start):
        return 2
    events = iter_events(
        args.customers, args.days, args.seed, start=start, purchase_only=args.purchase_only
    )
    producer = producer_from_settings(settings, args.format, rate=args.rate)
    interrupted = False
    try:
        produce_all(producer, events, start, args.days, show=not args.no_progress)
    except KeyboardInterrupt:
        interrupted = True  # still flush and report what was produced
    report = producer.flush(args.flush_timeout)
    out = Console()
    if args.json:
        print(json.dumps({**report.as_dict(), "interrupted": interrupted}))
    else:
        title = f"simulate: {args.customers} customers, {args.days} days, seed {args.seed}"
        out.print(delivery_table(report, title + (" (interrupted)" if interrupted else "")))
        if report.errors:
            out.print(error_lines(report.errors))
    if interrupted:
        return 130
    return 1 if report.total_failed else 0
