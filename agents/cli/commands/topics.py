"""``cxstream topics create|list``: set up and inspect cxstream's topics on a cluster.

``create`` is idempotent (topics that exist are reported, not changed); ``list`` shows what
the cluster really has, because an existing topic with the wrong partition count breaks
co-partitioning silently and no ``create`` can fix it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.worker.topic_admin import TopicState, describe, ensure_topics, topic_specs
from streams.errors import StackError
from streams.topics import DEFAULT_PARTITIONS


def _retention(config: dict[str, str]) -> str:
    value = config.get("retention.ms")
    if value is None:
        return ""
    ms = int(value)
    return "forever" if ms < 0 else f"{ms / 86_400_000:g} d"


def states_table(states: list[TopicState], outcome: dict[str, str] | None = None) -> Table:
    table = Table(title_justify="left")
    for name in ("topic", "partitions", "cleanup", "retention"):
        table.add_column(name)
    if outcome is not None:
        table.add_column("status")
    for s in states:
        if s.partitions is None:
            parts = "[red]missing[/]"
        elif s.partitions != s.expected_partitions:
            parts = f"[red]{s.partitions} (expected {s.expected_partitions})[/]"
        else:
            parts = str(s.partitions)
        row = [s.name, parts, s.config.get("cleanup.policy", ""), _retention(s.config)]
        if outcome is not None:
            status = outcome.get(s.name, "")
            row.append(f"[green]{status}[/]" if status == "created" else status)
        table.add_row(*row)
    return table


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "topics",
        help="create or list cxstream's topics on a cluster",
        description="Create (idempotently) or inspect every topic cxstream uses.",
    )
    actions = parser.add_subparsers(dest="topics_action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create every missing topic (idempotent)",
        description="Create every topic cxstream uses with its partitions, compaction and "
        "retention; existing topics are reported as 'exists' and left unchanged. Exit "
        "status: 0 on success, 1 when an existing topic has a different partition count, "
        "2 when the cluster refuses or cannot be reached.",
    )
    listing = actions.add_parser(
        "list",
        help="show cxstream's topics as the cluster has them",
        description="Show every cxstream topic with its partitions, cleanup policy and "
        "retention. Exit status: 0 when all exist as expected, 1 otherwise.",
    )
    for sub in (create, listing):
        add_connection_flags(sub)
        sub.add_argument(
            "--partitions",
            type=int,
            default=DEFAULT_PARTITIONS,
            help=f"partitions of every co-partitioned topic (default {DEFAULT_PARTITIONS}: "
            "room for a dozen workers; dead-letter topics have 1)",
        )
        sub.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    create.add_argument(
        "--replication-factor",
        type=int,
        default=1,
        help="replicas of each partition (default 1; use 3 in production)",
    )
    create.add_argument(
        "--retention-ms",
        type=int,
        default=None,
        help="retention of every non-compacted topic (default: events 4 weeks, ticks 1 week; "
        "-1 keeps forever). Kafka deletes records by their timestamp, which is the event "
        "time: replaying older history needs a retention that covers it",
    )
    create.set_defaults(run=run_create)
    listing.set_defaults(run=run_list)


def _report(
    args: argparse.Namespace, states: list[TopicState], outcome: dict[str, str] | None
) -> int:
    mismatched = [s.name for s in states if s.partitions != s.expected_partitions]
    if args.json:
        rows: list[dict[str, Any]] = [
            {
                "topic": s.name,
                "partitions": s.partitions,
                "expected_partitions": s.expected_partitions,
                "config": s.config,
                **({"status": outcome.get(s.name)} if outcome is not None else {}),
            }
            for s in states
        ]
        print(json.dumps(rows))
    else:
        Console().print(states_table(states, outcome))
        if mismatched:
            Console(stderr=True).print(
                f"{len(mismatched)} topic(s) missing or with another partition count: "
                + ", ".join(mismatched),
                style="red",
            )
    return 1 if mismatched else 0


def run_create(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.partitions < 1 or args.replication_factor < 1:
        raise StackError("--partitions and --replication-factor must be >= 1")
    outcome = ensure_topics(
        settings.kafka,
        settings.topics,
        args.partitions,
        args.replication_factor,
        args.timeout,
        args.retention_ms,
    )
    specs = topic_specs(settings.topics, args.partitions, args.retention_ms)
    deadline = time.monotonic() + min(args.timeout, 10.0)
    states = describe(settings.kafka, specs, args.timeout)
    while time.monotonic() < deadline and any(s.partitions is None for s in states):
        time.sleep(0.2)  # metadata of just-created topics can lag the creation briefly
        states = describe(settings.kafka, specs, args.timeout)
    return _report(args, states, outcome)


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    specs = topic_specs(settings.topics, args.partitions)
    return _report(args, describe(settings.kafka, specs, args.timeout), None)
