"""``cxstream alerts ack|assign|contact|offer|dismiss|resolve ID``: act on an alert.

Produces one action to ``cx.alert-actions`` (the one write path, like the API's POST), checked
with the same contract first, so a missing ``--reason`` or ``--to`` is refused here with the
field named, not dead-lettered later. The alert's customer comes from ``--customer`` or, for an
open alert, from the Redis read model (its open alerts name their ids).
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
import uuid
from datetime import datetime
from typing import Any, Final

from confluent_kafka import Producer
from redis import Redis

from agents.settings import Settings
from streams.alert_loop import ActionKind, AlertActionEvent
from streams.contracts import JSON, REPLAY_WINDOW, Rejected, record_timestamp
from streams.contracts.actions import decode_action, encode_action
from streams.errors import CxStreamError
from streams.jsonable import to_jsonable

CLI_SOURCE: Final = "/cxstream/cli"
VERBS: Final = {
    "ack": ActionKind.ACKNOWLEDGED,
    "assign": ActionKind.ASSIGNED,
    "contact": ActionKind.CONTACTED,
    "offer": ActionKind.OFFER_MADE,
    "dismiss": ActionKind.DISMISSED,
    "resolve": ActionKind.RESOLVED,
}


def add_action_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "acting on an alert (cxstream alerts VERB ALERT_ID): produced to the alert-actions topic"
    )
    group.add_argument("--actor", help="who acts (default: your user name)")
    group.add_argument("--reason", help="dismiss: why (not_a_risk starts the long cooldown)")
    group.add_argument("--to", dest="assignee", help="assign: the team or person id")
    group.add_argument("--channel", help="contact / offer: phone, email, chat, ...")
    group.add_argument(
        "--at",
        type=moment,
        metavar="TIME",
        help="when it happened, ISO 8601 with a zone (e.g. 2026-11-20T14:30:00+01:00); default now",
    )


def moment(text: str) -> float:
    """An ISO 8601 time with a zone, as epoch seconds (argparse type)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no zone: add Z or +01:00")
    return when.timestamp()


def build_action(args: argparse.Namespace, customer_id: str, now: float) -> AlertActionEvent:
    """The action the flags describe, checked with the topic's contract (or CxStreamError)."""
    ev = AlertActionEvent(
        event_id=uuid.uuid4().hex,
        source=CLI_SOURCE,
        customer_id=customer_id,
        occurred_at=args.at if args.at is not None else now,
        alert_id=args.alert_id or "",
        action=VERBS[args.verb],
        actor=args.actor or getpass.getuser(),
        assignee=args.assignee,
        channel=args.channel,
        reason=args.reason,
    )
    key, value, headers = encode_action(ev, JSON)
    found = decode_action(key, value, headers, now=now, window=REPLAY_WINDOW)
    if isinstance(found, Rejected):
        flag = {"assignee": "--to", "reason": "--reason", "channel": "--channel"}.get(
            found.field or "", found.field
        )
        raise CxStreamError(f"{args.verb}: {flag}: {found.detail} ({found.reason})")
    return found.event


def customer_from_redis(redis_url: str | None, prefix: str, alert_id: str) -> str | None:
    """The customer of an open alert, from the read model's ``{prefix}alert:{type}:{id}``."""
    if not redis_url:
        return None
    client = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        for key in client.scan_iter(match=f"{prefix}alert:*", count=1000):
            raw: Any = client.get(key)
            found = json.loads(raw) if raw else {}
            if found.get("alert_id") == alert_id:
                return str(found["customer_id"])
    finally:
        client.close()
    return None


def run_action(args: argparse.Namespace, settings: Settings) -> int:
    if not args.alert_id:
        raise CxStreamError(f"alerts {args.verb}: name the alert: cxstream alerts {args.verb} ID")
    prefix = settings.topic_prefix.replace(".", ":")
    customer = args.customer or customer_from_redis(settings.redis_url, prefix, args.alert_id)
    if not customer:
        raise CxStreamError(
            f"alert {args.alert_id} is not open in the Redis read model: pass --customer ID "
            "(the alert's customer_id, in the alert message)"
        )
    ev = build_action(args, customer, time.time())
    producer = Producer(settings.kafka.producer())
    key, value, headers = encode_action(ev)
    topic = settings.topics.alert_actions
    producer.produce(topic, value, key, headers=headers, timestamp=record_timestamp(ev.occurred_at))
    if producer.flush(30) != 0:
        raise CxStreamError(f"the broker did not acknowledge the action on {topic} within 30 s")
    if args.json:
        print(json.dumps(to_jsonable(ev)))
    else:
        print(f"{ev.action.value} alert {ev.alert_id} of customer {customer} -> {topic}")
    return 0
