"""Run real ``cxstream worker`` processes against the test stack and read what they publish."""

from __future__ import annotations

import json
import math
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from agents.cli.commands.worker_argv import worker_argv
from agents.demo.stack import free_port, healthy
from agents.settings import WORKER_DEFAULTS, ApiAccess, KafkaSettings, Settings, WorkerOptions
from agents.sinks.side_consumer import message_headers
from streams.contracts import (
    Decoded,
    decode_alert,
    decode_event,
    decode_snapshot,
    encode_event,
    record_timestamp,
)
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Alert, Event, Feedback, HealthSnapshot
from streams.jsonable import to_jsonable
from streams.loop_processing import loop_deadline, process_loop_event, process_loop_tick
from streams.model import CustomerState, ModelConfig, observe_feedback
from streams.processing import integrity_key
from streams.topics import INPUT_PARTITIONS, Topics

CLI = [sys.executable, "-m", "agents.cli"]  # the cxstream command, as the e2e tests run it
LATENESS = 7 * 86400.0  # event-time seconds ticks stay behind stream time in these tests
API_TOKEN = secrets.token_hex(32)  # one per test run, shared by its workers (they route)


@dataclass
class Worker:
    bootstrap: str
    topics: Topics
    app_id: str
    data_dir: Path
    redis_url: str | None = None
    webhook_url: str | None = None
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    api_token: str = field(default_factory=lambda: API_TOKEN, repr=False)
    extra_args: list[str] = field(default_factory=list)  # more `cxstream worker` flags

    def start(self, timeout: float = 90.0) -> Worker:
        self.launch()
        self.wait_healthy(timeout)
        return self

    def launch(self) -> None:
        """Start the worker process without waiting for it (to start several at once)."""
        options = WorkerOptions(
            settings=Settings(
                kafka=KafkaSettings(self.bootstrap),
                redis_url=self.redis_url,
                topic_prefix=self.topics.prefix,
            ),
            app_id=self.app_id,
            data_dir=self.data_dir,
            web_port=self.web_port,
            idle_wall_clock_after=None,
            allowed_lateness=LATENESS,
            session_timeout=6,
            tick_interval=float(os.environ.get("CX_TEST_TICK", "0.5")),
            batch_size=int(os.environ.get("CX_BATCH_SIZE", WORKER_DEFAULTS.batch_size)),
            api_access=ApiAccess(rate_per_second=500, burst=1000),  # tests read many customers
            redis_projection=self.redis_url is not None,
            webhook_url=self.webhook_url,
        )
        log_level = os.environ.get("CX_TEST_LOG", "warning")
        args = [*worker_argv(options, log_level=log_level), *self.extra_args]
        log = open(self.data_dir.with_suffix(".log"), "ab")  # noqa: SIM115 - lives with the process
        env = {**os.environ, "CX_API_TOKEN": self.api_token}  # never on the command line
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process and self.process.poll() is None, self.log_tail()
            if healthy(self.url):
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not healthy after {timeout}s\n{self.log_tail()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir.with_suffix(".log")
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def produce(
    bootstrap: str, topics: Topics, events: Iterable[Event], partitions: int = INPUT_PARTITIONS
) -> int:
    """Produce events like any cxstream producer: its configuration (Java-compatible murmur2
    partitioning) and record timestamps (the event time, which the merge orders by)."""
    producer = Producer(KafkaSettings(bootstrap).producer(**{"linger.ms": 5}))
    misplaced: list[tuple[bytes, int]] = []

    def check_partition(err: object, msg: object) -> None:
        key, partition = msg.key(), msg.partition()  # type: ignore[attr-defined]
        if err is not None or murmur2_partition(key, partitions) != partition:
            misplaced.append((key, partition))

    count = 0
    for event in events:
        key, value, headers = encode_event(event)
        producer.produce(
            topics.topic(EVENT_KINDS[type(event)]),
            key=key,
            value=value,
            headers=headers,
            on_delivery=check_partition,
            timestamp=record_timestamp(event.occurred_at),
        )
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0
    assert not misplaced, f"partitioning differs from the reference murmur2: {misplaced[:3]}"
    return count


@dataclass
class Published:
    alerts: list[Alert] = field(default_factory=list)
    snapshots: dict[str, HealthSnapshot] = field(default_factory=dict)

    def alert_keys(self) -> list[tuple[str, str, str, float]]:
        return [(a.customer_id, a.alert_id, a.action.value, a.occurred_at) for a in self.alerts]


def wait_drained(
    bootstrap: str,
    topics: Topics,
    group: str,
    limit: float = 120.0,
    partitions: int = INPUT_PARTITIONS,
) -> None:
    """Until ``group`` has committed every input record: processed and its effects flushed."""
    from confluent_kafka import TopicPartition

    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    parts = [TopicPartition(t, p) for t in topics.customer_inputs for p in range(partitions)]
    deadline = time.monotonic() + limit
    try:
        while True:
            committed = {(tp.topic, tp.partition): tp.offset for tp in probe.committed(parts, 10)}
            behind = [
                tp
                for tp in parts
                if probe.get_watermark_offsets(tp, 10)[1]
                > max(0, committed[(tp.topic, tp.partition)])
            ]
            if not behind:
                return
            assert time.monotonic() < deadline, f"group {group} still behind on {behind[:3]}"
            time.sleep(0.5)
    finally:
        probe.close()


def read_outputs(
    bootstrap: str, topics: Topics, quiet: float = 4.0, limit: float = 120.0
) -> Published:
    """Everything on the alert and health topics, once nothing new arrived for ``quiet`` s."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topics.alerts, topics.health])
    out = Published()
    last_new, started = time.monotonic(), time.monotonic()
    try:
        while time.monotonic() - last_new < quiet and time.monotonic() - started < limit:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                last_new = time.monotonic()
                headers = message_headers(msg)
                if msg.topic() == topics.alerts:
                    alert = decode_alert(msg.value(), headers)
                    assert isinstance(alert, Alert), alert
                    out.alerts.append(alert)
                else:
                    snap = decode_snapshot(msg.value(), headers)
                    assert isinstance(snap, HealthSnapshot), snap
                    out.snapshots[snap.customer_id] = snap
    finally:
        consumer.close()
    return out


def murmur2_partition(key: bytes, partitions: int = INPUT_PARTITIONS) -> int:
    """Kafka's Java default partitioner (what librdkafka's murmur2_random does for keys)."""
    m, r, length = 0x5BD1E995, 24, len(key)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(key[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = key[length - length % 4 :]
    if tail:
        for i in reversed(range(len(tail))):
            h ^= tail[i] << (8 * i)
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def as_on_the_wire(event: Event) -> Event:
    """The event as a consumer decodes it (the wire keeps event time to the millisecond)."""
    key, value, headers = encode_event(event)
    decoded = decode_event(EVENT_KINDS[type(event)], key, value, headers, now=event.occurred_at)
    assert isinstance(decoded, Decoded), decoded
    return decoded.event


def integrity_weights(
    events: Sequence[Event], config: ModelConfig, partitions: int = INPUT_PARTITIONS
) -> dict[str, float]:
    """Survey-integrity weights as the pipeline computes them: per partition and agent (or
    location), in the order feedback sits on its partition."""
    states: dict[str, object] = {}
    weights: dict[str, float] = {}
    for event in events:
        if not isinstance(event, Feedback):
            continue
        key = integrity_key(event, murmur2_partition(event.customer_id.encode(), partitions))
        if key is None:
            continue
        state, verdict = observe_feedback(states.get(key), event, event.occurred_at, config)  # type: ignore[arg-type]
        states[key] = state
        weights[event.event_id] = verdict.weight
    return weights


@dataclass
class Reference:
    alerts: dict[str, list[Alert]]
    states: dict[str, CustomerState]


def reference_run(
    events: Sequence[Event], config: ModelConfig, partitions: int = INPUT_PARTITIONS
) -> Reference:
    """What the pure model says for the same events: per customer in event-time order, then
    the inactivity ticks the pipeline's watermark reaches at the end of the stream. Folded
    like the worker folds, with the feedback loop (alerts tracked, outcomes decided)."""
    events = [as_on_the_wire(e) for e in events]
    weights = integrity_weights(events, config, partitions)
    per_customer: dict[str, list[Event]] = defaultdict(list)
    stream_time: dict[int, float] = defaultdict(float)
    for event in events:
        per_customer[event.customer_id].append(event)
        p = murmur2_partition(event.customer_id.encode(), partitions)
        stream_time[p] = max(stream_time[p], event.occurred_at)
    ref = Reference({}, {})
    for customer_id, mine in per_customer.items():
        state, emitted = None, []
        for event in sorted(mine, key=lambda e: e.occurred_at):
            weight = weights.get(event.event_id, 1.0)
            state, new, _ = process_loop_event(state, event, config, weight)
            emitted += new
        until = stream_time[murmur2_partition(customer_id.encode(), partitions)] - LATENESS
        deadline = loop_deadline(state, config) if state else None
        if state is not None and deadline is not None and deadline <= until:
            state, new, _ = process_loop_tick(state, until, config)
            emitted += new
        ref.alerts[customer_id] = emitted
        assert state is not None
        ref.states[customer_id] = state
    return ref


def alert_actions(alerts: Iterable[Alert]) -> dict[str, list[tuple[str, str, int]]]:
    """Alert actions per customer, in order; times in ms as the alert schema carries them."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for a in alerts:
        out[a.customer_id].append((a.alert_id, a.action.value, round(a.occurred_at * 1000)))
    return dict(out)


def without_repeats(
    actions: dict[str, list[tuple[str, str, int]]],
) -> dict[str, list[tuple[str, str, int]]]:
    """At-least-once delivery may repeat an alert action (same id): keep first appearances."""
    return {c: list(dict.fromkeys(items)) for c, items in actions.items()}


def get_json(url: str, token: str, limit: float = 60.0) -> dict[str, Any] | None:
    """An API body; None on 404. A worker rebalancing or restoring its tables answers 503 with
    Retry-After, and a rate limit 429: both are waited out for up to ``limit`` seconds. Four
    transient failures (a worker restarting) are retried; 401/403 are never."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + limit
    failures = 0
    while True:
        try:
            with urllib.request.urlopen(request, timeout=20) as resp:
                body: dict[str, Any] = json.loads(resp.read())
                return body
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code in (401, 403) or time.monotonic() > deadline:
                raise
            if exc.code in (429, 503):
                time.sleep(float(exc.headers.get("Retry-After", "1")))
                continue
            failures += 1
            if failures == 5:
                raise
        except OSError:
            failures += 1
            if failures == 5:
                raise
        time.sleep(1.0)


def customer_body(worker: Worker, customer_id: str, limit: float = 60.0) -> dict[str, Any] | None:
    """The API's body for a customer; None while it has none (see :func:`get_json`)."""
    return get_json(f"{worker.url}/customers/{customer_id}", worker.api_token, limit)


def api_state(worker: Worker, customer_id: str, limit: float = 60.0) -> dict[str, object]:
    """The API's body for a customer, which must exist."""
    body = customer_body(worker, customer_id, limit)
    assert body is not None, f"{worker.url}: customer {customer_id} not found (404)"
    return body


def metric(worker: Worker, prefix: str, containing: str = "") -> float:
    """The sum of the worker's ``/metrics`` samples on lines that start with ``prefix`` (and
    hold ``containing``, e.g. a label that is not the first)."""
    with urllib.request.urlopen(f"{worker.url}/metrics", timeout=5) as resp:
        lines = resp.read().decode().splitlines()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith(prefix) and containing in line
    )


def jsonable_state(state: CustomerState) -> object:
    return json.loads(json.dumps(to_jsonable(state)))


def same_state(got: object, want: object, path: str = "state") -> None:
    """Equal, except that floats may differ in the last bits.

    A failover can split one exponential decay into two (``e^a·e^b`` rather than ``e^(a+b)``):
    a rounding difference nobody can see. Counted things (orders, money, tickets, offsets) are
    ints and strings, compared exactly, so anything counted twice still fails.
    """
    if isinstance(want, float) and isinstance(got, float | int):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (path, got, want)
    elif isinstance(want, dict) and isinstance(got, dict):
        assert got.keys() == want.keys(), (path, sorted(got), sorted(want))
        for key in want:
            same_state(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list) and isinstance(got, list):
        assert len(got) == len(want), (path, got, want)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same_state(g, w, f"{path}[{i}]")
    else:
        assert got == want, (path, got, want)
