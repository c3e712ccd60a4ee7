"""``cxstream report outcomes``: what acting on churn alerts saves, from the decided outcomes.

Reads every alert outcome from the compacted ``cx.alert-outcomes`` topic (up to its end, with a
throw-away group that never commits) or from the Redis read model (``{prefix}outcome:*``), and
shows the retained rate of churn alerts by holdout arm with 95% Wilson intervals and the
differences with Newcombe intervals (streams.evaluation.uplift): a rich table, and with
``--png`` a chart. Control alerts were never delivered, so "treated minus control" is what
contacting customers saved on the alerts a team chose to act on, and "delivered minus control"
is the unbiased effect of delivering alerts at all.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from redis import Redis
from rich.console import Console
from rich.table import Table

from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.settings import Settings
from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.contracts.actions import decode_outcome, outcome_from_record
from streams.domain import AlertType
from streams.errors import CxStreamError
from streams.evaluation.uplift import Rate, Uplift, estimate_uplift


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="reports on what cxstream measured: `report outcomes` (uplift of acting on alerts)",
        description="outcomes: retained rate of churn alerts that were delivered and acted on, "
        "delivered at all, and held out (control), with 95%% intervals, from the decided "
        "alert outcomes; a table, and a chart with --png.",
    )
    parser.add_argument("what", choices=("outcomes",), help="the report")
    add_connection_flags(parser)
    parser.add_argument(
        "--source",
        choices=("topic", "redis"),
        default="topic",
        help="read the outcomes topic (default) or the Redis read model",
    )
    parser.add_argument("--png", type=Path, metavar="PATH", help="also draw the chart here")
    parser.add_argument("--json", action="store_true", help="machine output on stdout")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to read the topic")
    parser.set_defaults(run=run)


def read_topic(settings: Settings, timeout: float) -> list[AlertOutcome]:
    """Every outcome on the topic, read from the beginning up to the end offsets."""
    topic = settings.topics.alert_outcomes
    consumer = Consumer(
        settings.kafka.confluent(
            **{"group.id": f"cxstream-report-{uuid.uuid4().hex[:12]}", "enable.auto.commit": False}
        )
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise CxStreamError(f"topic {topic} not found: run `cxstream topics create` first")
        ends: dict[int, int] = {}
        for p in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        latest: dict[str, AlertOutcome] = {}  # compaction may lag: keep the newest per alert
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
                found = decode_outcome(msg.value(), msg.headers())
                if isinstance(found, AlertOutcome):
                    latest[found.alert_id] = found
        if ends:
            raise CxStreamError(f"{topic} not read to its end within {timeout:g} s (--timeout)")
        return list(latest.values())
    finally:
        consumer.close()


def read_redis(settings: Settings) -> list[AlertOutcome]:
    if not settings.redis_url:
        raise CxStreamError("--source redis needs --redis-url [REDIS_URL]")
    prefix = settings.topic_prefix.replace(".", ":")
    client = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        out = []
        for key in client.scan_iter(match=f"{prefix}outcome:*", count=1000):
            raw: Any = client.get(key)
            if raw:
                out.append(_from_json(json.loads(raw)))
        return out
    finally:
        client.close()


def _from_json(d: dict[str, Any]) -> AlertOutcome:
    """The read model's JSON (seconds) back into an outcome."""
    ms = {k: None if d.get(k) is None else round(d[k] * 1000) for k in _TIMES}
    return outcome_from_record({**d, **ms})


_TIMES = ("opened_at", "decided_at", "succeeded_at")


def table(u: Uplift, outcomes: list[AlertOutcome]) -> Table:
    churn = [o for o in outcomes if o.type is AlertType.CHURN_RISK]
    lost = sum(o.outcome is OutcomeKind.LOST for o in churn if not o.intervened)
    judged = sum(not o.intervened for o in churn)
    t = Table(title=f"churn alert outcomes ({len(churn)} decided)", title_justify="left")
    for col in ("arm", "alerts", "retained", "rate", "95% interval"):
        t.add_column(col, justify="left" if col == "arm" else "right")
    arms = (("delivered and acted on", u.treated), ("delivered", u.delivered))
    for name, rate in (*arms, ("control (held out)", u.control)):
        t.add_row(name, str(rate.n), str(rate.retained), _pct(rate.value), _ci(rate))
    t.add_section()
    t.add_row("acted on - control", "", "", _pct(u.effect), _span(u.low, u.high, "+"))
    diff = _span(u.itt_low, u.itt_high, "+")
    t.add_row("delivered - control", "", "", _pct(u.itt_effect), diff)
    t.caption = f"precision of untouched churn alerts: {_pct(lost / judged if judged else None)}"
    return t


def chart(u: Uplift, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = [("acted on", u.treated), ("delivered", u.delivered), ("control", u.control)]
    shown = [(name, r) for name, r in arms if r.n]
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (_, r) in enumerate(shown):
        ax.errorbar(
            i, r.value, yerr=[[r.value - r.low], [r.high - r.value]], fmt="o", capsize=8, ms=8
        )
        ax.annotate(f"{r.value:.0%} (n={r.n})", (i, r.high), ha="center", va="bottom")
    ax.set_xticks(range(len(shown)), [name for name, _ in shown])
    ax.set_xlim(-0.6, len(shown) - 0.4)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("retained within the window")
    ax.set_title(f"churn alerts retained, 95% intervals; uplift {u.effect:+.0%}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.source == "redis":
        outcomes = read_redis(settings)
    else:
        outcomes = read_topic(settings, args.timeout)
    uplift = estimate_uplift(outcomes)
    if args.png:
        chart(uplift, args.png)
    if args.json:
        print(json.dumps(_as_json(uplift, outcomes)))
        return 0
    console = Console()
    console.print(table(uplift, outcomes))
    if args.png:
        console.print(f"chart: {args.png}")
    return 0


def _as_json(u: Uplift, outcomes: list[AlertOutcome]) -> dict[str, Any]:
    def rate(r: Rate) -> dict[str, Any]:
        return {"n": r.n, "retained": r.retained, "rate": _num(r.value), "ci": _pair(r)}

    control = sum(o.group is Group.CONTROL for o in outcomes)
    return {
        "outcomes": len(outcomes),
        "control": control,
        "treated": rate(u.treated),
        "delivered": rate(u.delivered),
        "held_out": rate(u.control),
        "uplift": {"effect": _num(u.effect), "ci": [_num(u.low), _num(u.high)]},
        "itt": {"effect": _num(u.itt_effect), "ci": [_num(u.itt_low), _num(u.itt_high)]},
    }


def _num(x: float) -> float | None:
    return None if x != x else round(x, 6)  # NaN (no alerts in an arm) as null


def _pair(r: Rate) -> list[float | None]:
    return [_num(r.low), _num(r.high)]


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.1%}"


def _ci(r: Rate) -> str:
    return _span(r.low, r.high)


def _span(low: float, high: float, sign: str = "") -> str:
    return "-" if low != low else f"{low:{sign}.1%} .. {high:{sign}.1%}"
