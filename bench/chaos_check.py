"""The chaos soak's verdict: what the cluster published and holds, against the pure model.

Everything is compared with the pure fold of the good records that were acknowledged by the
broker (``tests.e2e.harness.reference_run``): customer states through the API, alert ids and
actions (repeats of the same id are at-least-once delivery, counted apart), the health topic's
latest snapshot per customer, Redis' copy of it, and the dead-letter topic, matched to the
hostile records by their ``dlq.source.*`` headers.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import Consumer, Message, TopicPartition

from bench.chaos_faults import NO_EFFECT_KINDS
from streams.contracts import decode_alert, decode_snapshot, encode_snapshot
from streams.domain import Alert, HealthSnapshot
from streams.model import ModelConfig, snapshot
from streams.topics import Topics
from tests.e2e.harness import (
    Reference,
    Worker,
    alert_actions,
    get_json,
    same_state,
    without_repeats,
)
from tests.e2e.harness import jsonable_state as _jsonable_state

Source = tuple[str, int, int]  # topic, partition, offset


def read_topic(
    bootstrap: str, topic: str, quiet: float = 4.0, limit: float = 600.0
) -> list[Message]:
    """Every record of ``topic``, once nothing new arrived for ``quiet`` seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"chaos-check-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.message.max.bytes": 4_000_000,
        }
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    last_new = started = time.monotonic()
    try:
        while time.monotonic() - last_new < quiet and time.monotonic() - started < limit:
            batch = [m for m in consumer.consume(1000, 0.5) if not m.error()]
            if batch:
                out += batch
                last_new = time.monotonic()
    finally:
        consumer.close()
    return out


def wait_group(bootstrap: str, group: str, topics: list[str], limit: float) -> bool:
    """Until ``group`` committed everything on ``topics`` (e.g. the Redis read model's side
    consumer); False when ``limit`` seconds passed first."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        meta = probe.list_topics(timeout=10).topics
        parts = [TopicPartition(t, p) for t in topics for p in meta[t].partitions]
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            committed = {(tp.topic, tp.partition): tp.offset for tp in probe.committed(parts, 10)}
            if all(
                probe.get_watermark_offsets(tp, 10)[1]
                <= max(0, committed[(tp.topic, tp.partition)])
                for tp in parts
            ):
                return True
            time.sleep(0.5)
        return False
    finally:
        probe.close()


def strict(value: Any) -> Any:
    """JSON values with non-finite floats as None: the API's old (``-Infinity``) and new
    (``null``) bodies compare the same."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return value


def _headers(msg: Message) -> dict[str, bytes]:
    return {k: v or b"" for k, v in msg.headers() or []}  # the last occurrence wins


@dataclass
class DeadLetterCheck:
    sent: Counter[str] = field(default_factory=Counter)  # hostile kind -> acknowledged records
    dead_lettered: Counter[str] = field(default_factory=Counter)  # kind -> distinct sources
    reasons: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    repeated: int = 0  # dead letters for a source already dead-lettered (redelivery)
    good_dead_lettered: Counter[str] = field(default_factory=Counter)  # reason -> good records
    unknown: int = 0  # dead letters naming a source this soak did not produce
    truncated: int = 0  # carrying dlq.original.size
    examples: list[str] = field(default_factory=list)  # a few good records' dead letters
    unknown_examples: list[str] = field(default_factory=list)  # the first unknown ones

    def missing(self, kind: str) -> int:
        return 0 if kind in NO_EFFECT_KINDS else self.sent[kind] - self.dead_lettered[kind]

    @property
    def rejected(self) -> int:
        return sum(n for k, n in self.sent.items() if k not in NO_EFFECT_KINDS)

    @property
    def matched(self) -> int:
        return sum(n for k, n in self.dead_lettered.items() if k not in NO_EFFECT_KINDS)


def check_dead_letters(
    messages: Iterable[Message], hostile: dict[Source, str], good: set[Source]
) -> DeadLetterCheck:
    check = DeadLetterCheck(sent=Counter(hostile.values()))
    seen: set[Source] = set()
    for msg in messages:
        h = _headers(msg)
        try:
            src = (
                h["dlq.source.topic"].decode(),
                int(h["dlq.source.partition"]),
                int(h["dlq.source.offset"]),
            )
        except (KeyError, ValueError):
            check.unknown += 1
            if len(check.unknown_examples) < 5:
                check.unknown_examples.append(f"no dlq.source headers: {sorted(h)}")
            continue
        reason = h.get("dlq.reason", b"?").decode(errors="replace")
        check.truncated += "dlq.original.size" in h
        if src in seen:
            check.repeated += 1
        elif src in hostile:
            check.dead_lettered[hostile[src]] += 1
            check.reasons[hostile[src]][reason] += 1
        elif src in good:
            check.good_dead_lettered[reason] += 1
            if check.good_dead_lettered[reason] <= 2:  # two examples per reason
                detail = " ".join(h.get("dlq.detail", b"").decode(errors="replace").split())
                check.examples.append(f"{src[0]}[{src[1]}]@{src[2]} {reason}: {detail[:300]}")
        else:
            check.unknown += 1
            if len(check.unknown_examples) < 5:
                detail = " ".join(h.get("dlq.detail", b"").decode(errors="replace").split())
                check.unknown_examples.append(
                    f"{src[0]}[{src[1]}]@{src[2]} {reason} key={msg.key()!r}: {detail[:200]}"
                )
        seen.add(src)
    return check


@dataclass
class AlertCheck:
    published: int = 0  # alert records on the topic
    unique: int = 0  # distinct (id, action, time)
    expected: int = 0  # what the pure model emits
    missing: int = 0  # expected, never published
    extra: int = 0  # published, not expected
    same_id_different_content: int = 0  # a repeat of an id whose record differs
    examples: list[str] = field(default_factory=list)  # a few missing or extra actions


def check_alerts(messages: Iterable[Message], expected: Reference) -> AlertCheck:
    alerts: list[Alert] = []
    first_value: dict[tuple[str, str, int], bytes] = {}
    check = AlertCheck()
    for msg in messages:
        alert = decode_alert(msg.value(), list(msg.headers() or []))
        assert isinstance(alert, Alert), alert
        alerts.append(alert)
        ident = (alert.alert_id, alert.action.value, round(alert.occurred_at * 1000))
        value = msg.value() or b""
        if first_value.setdefault(ident, value) != value:
            check.same_id_different_content += 1
    got = without_repeats(alert_actions(alerts))
    want = alert_actions(a for items in expected.alerts.values() for a in items)
    check.published = len(alerts)
    check.unique = sum(len(v) for v in got.values())
    check.expected = sum(len(v) for v in want.values())
    for customer in set(got) | set(want):
        mine, theirs = Counter(got.get(customer, [])), Counter(want.get(customer, []))
        missing, extra = theirs - mine, mine - theirs
        check.missing += sum(missing.values())
        check.extra += sum(extra.values())
        for label, items in (("missing", missing), ("extra", extra)):
            if items and len(check.examples) < 4:
                check.examples.append(f"{label} {customer}: {sorted(items)[:2]}")
    return check


@dataclass
class StateCheck:
    customers: int = 0
    equal: int = 0
    lost: list[str] = field(default_factory=list)  # fewer orders/spend/refunds, or absent
    double_counted: list[str] = field(default_factory=list)  # more of them
    differs: list[str] = field(default_factory=list)  # other differences
    example: str = ""
    examples: list[str] = field(default_factory=list)  # first differences, with their path


_COUNTED = ("orders", "gross_minor", "refunds", "refund_minor")


def _classify(got: dict[str, Any] | None, want: dict[str, Any]) -> tuple[str, str]:
    """The verdict and the first difference (path, got, want)."""
    if got is None:
        return "lost", "no state"
    try:
        same_state(got, want)
        return "equal", ""
    except AssertionError as exc:
        first = " ".join(str(exc).split())[:240]
    g, w = got.get("purchases", {}), want["purchases"]
    if any(g.get(k, 0) < w[k] for k in _COUNTED):
        return "lost", first
    if any(g.get(k, 0) > w[k] for k in _COUNTED):
        return "double_counted", first
    return "differs", first


def check_states(workers: list[Worker], expected: Reference, token: str) -> StateCheck:
    """Every customer through the API, asking the workers in turn (requests are routed)."""
    check = StateCheck(customers=len(expected.states))
    ids = sorted(expected.states)

    def one(i: int) -> tuple[str, tuple[str, str]]:
        body = get_json(f"{workers[i % len(workers)].url}/customers/{ids[i]}", token, 120.0)
        got = strict(body["state"]) if body else None
        want = strict(_jsonable_state(expected.states[ids[i]]))
        return ids[i], _classify(got, want)

    with ThreadPoolExecutor(4) as pool:
        for customer, (verdict, first) in pool.map(one, range(len(ids))):
            if verdict == "equal":
                check.equal += 1
                continue
            getattr(check, verdict).append(customer)
            if len(check.examples) < 4:
                check.examples.append(f"{customer} ({verdict}): {first}")
                check.example = check.example or f"{customer}: {verdict}"
    return check


@dataclass
class HealthCheck:
    customers: int = 0  # with a snapshot on the health topic
    equal_to_model: int = 0  # latest snapshot = the model's final state seen at its as_of
    missing: int = 0  # reference customers without any snapshot
    redis_equal: int = 0  # Redis cx:customer:{id} = the latest snapshot
    redis_missing: int = 0
    redis_caught_up: bool = True  # its side consumer committed everything before the check


def _snapshot_json(snap: HealthSnapshot) -> Any:
    return strict(_jsonable_state(snap))  # type: ignore[arg-type]  # any dataclass converts


def check_health(
    messages: Iterable[Message],
    expected: Reference,
    config: ModelConfig,
    redis_url: str,
    topics: Topics,
    bootstrap: str,
    app_id: str,
) -> HealthCheck:
    redis_group = f"{app_id}-redis-read-model"
    redis_caught_up = wait_group(bootstrap, redis_group, [topics.health, topics.alerts], 120.0)
    latest: dict[str, HealthSnapshot] = {}
    for msg in messages:
        snap = decode_snapshot(msg.value(), list(msg.headers() or []))
        assert isinstance(snap, HealthSnapshot), snap
        latest[snap.customer_id] = snap
    check = HealthCheck(customers=len(latest), redis_caught_up=redis_caught_up)
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = topics.prefix.replace(".", ":")
    for customer, state in expected.states.items():
        found = latest.get(customer)
        if found is None:
            check.missing += 1
            continue
        snap = found
        _, value, headers = encode_snapshot(snapshot(state, snap.as_of, config))
        want = decode_snapshot(value, headers)  # as the topic carries it (Avro round trip)
        assert isinstance(want, HealthSnapshot), want
        try:
            same_state(_snapshot_json(snap), _snapshot_json(want))  # type: ignore[arg-type]
            check.equal_to_model += 1
        except AssertionError:
            pass
        stored = store.get(f"{prefix}customer:{customer}")
        if stored is None:
            check.redis_missing += 1
            continue
        try:
            same_state(strict(json.loads(stored)), _snapshot_json(snap))
            check.redis_equal += 1
        except AssertionError:
            pass
    store.close()
    return check
