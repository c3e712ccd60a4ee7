"""``cxstream alerts``: follow the alert topic and print alerts as they arrive; or act on one.

``cxstream alerts ack|assign|contact|offer|dismiss|resolve ID`` produces an action instead
(see agents.cli.commands.alert_actions). Following reads with a throw-away consumer group and never
commits, so watching alerts never moves anyone else's offsets and every run starts where
``--from-beginning`` says.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer
from rich.console import Console

from agents.cli.commands.alert_actions import VERBS, add_action_flags, run_action
from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.cli.render import alert_renderable
from streams.contracts import ConfluentRegistry, decode_alert
from streams.domain import Alert, AlertType, Priority
from streams.errors import CxStreamError
from streams.jsonable import to_jsonable

PRIORITIES = tuple(p.value for p in Priority)  # low .. critical, in rank order


@dataclass(frozen=True, slots=True)
class AlertFilter:
    types: frozenset[str] = frozenset()  # empty: every type
    min_priority: str = "low"
    customer_id: str | None = None

    def accepts(self, alert: Alert) -> bool:
        return (
            (not self.types or alert.type.value in self.types)
            and PRIORITIES.index(alert.priority.value) >= PRIORITIES.index(self.min_priority)
            and (self.customer_id is None or alert.customer_id == self.customer_id)
        )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="follow the alert topic and print alerts as they arrive; or act on one",
        description="Follow the alert topic (churn-risk and referral-opportunity alerts as "
        "they open, update and resolve). Runs until Ctrl-C, --max or --timeout. Messages "
        "that cannot be decoded are reported on stderr and skipped. With a VERB and an alert "
        "id, record what a CX team did instead: e.g. `cxstream alerts dismiss ID --reason "
        "not_a_risk`, `cxstream alerts assign ID --to team-emea`.",
    )
    parser.add_argument("verb", nargs="?", choices=sorted(VERBS), help="act on an alert")
    parser.add_argument("alert_id", nargs="?", help="the alert to act on")
    add_connection_flags(parser)
    parser.add_argument(
        "--type",
        action="append",
        choices=[t.value for t in AlertType],
        dest="types",
        help="only this alert type (repeatable; default all)",
    )
    parser.add_argument(
        "--min-priority",
        choices=PRIORITIES,
        default="low",
        help="only alerts at least this urgent (default low: all)",
    )
    parser.add_argument(
        "--customer", help="only this customer's alerts; with a VERB: the alert's customer"
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the oldest retained alert (default: only new ones)",
    )
    parser.add_argument("--max", type=int, metavar="N", help="stop after printing N alerts")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per alert per line (machine output)"
    )
    add_action_flags(parser)
    parser.set_defaults(run=run)


def consumer_for(args: argparse.Namespace, topic: str) -> Any:
    settings = settings_from_args(args)
    consumer = Consumer(
        settings.kafka.confluent(
            **{
                "group.id": f"cxstream-alerts-cli-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest" if args.from_beginning else "latest",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
            }
        )
    )
    consumer.subscribe([topic])
    return consumer


def follow(
    consumer: Any,
    accept: AlertFilter,
    emit: Callable[[Alert], None],
    warn: Callable[[str], None],
    *,
    registry: ConfluentRegistry | None = None,
    limit: int | None = None,
    deadline: float | None = None,
) -> int:
    """Poll, decode, filter and emit until ``limit`` alerts or ``deadline``; returns the count."""
    shown = 0
    while limit is None or shown < limit:
        wait = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if wait <= 0:
            break
        message = consumer.poll(wait)
        if message is None:
            continue
        if message.error():
            warn(f"consumer error: {message.error()}")
            continue
        decoded = decode_alert(message.value(), message.headers(), registry=registry)
        if not isinstance(decoded, Alert):
            where = f"partition {message.partition()} offset {message.offset()}"
            warn(f"skipped undecodable alert at {where}: {decoded.reason}: {decoded.detail}")
        elif accept.accepts(decoded):
            emit(decoded)
            shown += 1
    return shown


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if getattr(args, "verb", None):
        return run_action(args, settings)
    if args.max is not None and args.max < 1:
        raise CxStreamError("--max must be >= 1")
    accept = AlertFilter(frozenset(args.types or ()), args.min_priority, args.customer)
    out, err = Console(), Console(stderr=True)

    def emit(alert: Alert) -> None:
        if args.json:
            print(json.dumps(to_jsonable(alert)), flush=True)
        else:
            out.print(alert_renderable(alert))

    if not args.json:
        err.print(f"following {settings.topics.alerts} (Ctrl-C to stop)", style="dim")
    consumer = consumer_for(args, settings.topics.alerts)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        follow(
            consumer,
            accept,
            emit,
            lambda text: err.print(text, style="yellow"),
            registry=settings.schema_registry(),
            limit=args.max,
            deadline=deadline,
        )
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
