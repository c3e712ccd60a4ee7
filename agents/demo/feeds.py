"""The demo's background threads: the simulator producing, and the watchers behind the view.

Three daemon threads share one :class:`Feeds` object: the simulator produces events at the
requested rate; the alert follower reads the alert topic (a throw-away consumer group that
never commits, like ``cxstream alerts``); the status poller reads the worker's ``/metrics``
and the Redis read model once a second. The view only ever sees :meth:`Feeds.picture`, a
copy taken under the lock, so a slow Redis or a busy broker never stalls the screen.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import Consumer
from prometheus_client.parser import text_string_to_metric_families

from agents.cli.producing import EventProducer
from agents.settings import Settings
from streams.contracts import decode_alert
from streams.domain import Alert, Event
from streams.simulator import DAY, DEFAULT_START

RECENT = 12  # alerts kept for the table
TOP_RISKS = 5


@dataclass(frozen=True, slots=True)
class RiskRow:
    customer_id: str
    priority: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Picture:
    """One consistent copy of everything the feeds know, taken for one frame or line."""

    elapsed: float = 0.0
    produced: int = 0
    processed: int = 0
    produced_rate: float = 0.0
    processed_rate: float = 0.0
    dead_letters: int = 0
    sim_day: float = 0.0
    sim_time: float | None = None
    sim_done: bool = False
    recent: tuple[Alert, ...] = ()  # newest first
    alert_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    bands: dict[str, int] = field(default_factory=dict)
    top_risks: tuple[RiskRow, ...] = ()
    notes: tuple[str, ...] = ()  # what went wrong, in words (worker down, Redis unreachable)

    @property
    def alerts_total(self) -> int:
        return sum(self.alert_counts.values())


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    processed: int = 0
    dead_letters: int = 0
    stages: tuple[tuple[str, int], ...] = ()
    bands: tuple[tuple[str, int], ...] = ()


def parse_metrics(text: str) -> WorkerMetrics:
    """The few series the demo shows, from Prometheus' text format (see agents.worker.metrics)."""
    processed = dead = 0
    stages: dict[str, int] = {}
    bands: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            value = int(sample.value)
            if sample.name == "cxstream_events_total":
                outcome = sample.labels.get("outcome")
                processed += value if outcome == "processed" else 0
                dead += value if outcome == "dead_letter" else 0
            elif sample.name == "cxstream_customers":
                stages[sample.labels["stage"]] = value
            elif sample.name == "cxstream_customers_by_health_band":
                bands[sample.labels["band"]] = value
    return WorkerMetrics(processed, dead, tuple(stages.items()), tuple(bands.items()))


def top_risks(client: Any, redis_prefix: str, count: int = TOP_RISKS) -> tuple[RiskRow, ...]:
    """The most urgent open churn alerts, as the read model ranks them (priority, then score)."""
    ids = [
        m.decode() if isinstance(m, bytes) else str(m)
        for m in client.zrevrange(f"{redis_prefix}open:churn_risk", 0, count - 1)
    ]
    if not ids:
        return ()
    raws = client.mget([f"{redis_prefix}alert:churn_risk:{cid}" for cid in ids])
    rows = []
    for cid, raw in zip(ids, raws, strict=True):
        alert = json.loads(raw) if raw else {}
        reasons = alert.get("reasons") or [{}]
        rows.append(
            RiskRow(
                cid,
                str(alert.get("priority", "?")),
                float(alert.get("score", 0)),
                str(reasons[0].get("message", "")),
            )
        )
    return tuple(rows)


class Feeds:
    """Runs the simulator and the watchers; hands out consistent pictures of what they saw."""

    def __init__(
        self,
        producer: EventProducer,
        events: Iterator[Event],
        settings: Settings,
        worker_url: str,
        logger: logging.Logger | None = None,
    ) -> None:
        self._logger = logger
        self._producer, self._events, self._start = producer, events, DEFAULT_START
        self._kafka, self._alert_topic = settings.kafka, settings.topics.alerts
        self._worker_url = worker_url
        self._redis_prefix = settings.topic_prefix.replace(".", ":")  # as the worker's keys
        self._redis = redis.Redis.from_url(
            settings.redis_url or "", socket_timeout=2, socket_connect_timeout=2
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._began = time.monotonic()
        self._sim_time: float | None = None
        self._sim_done = False
        self._recent: deque[Alert] = deque(maxlen=RECENT)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._metrics = WorkerMetrics()
        self._risks: tuple[RiskRow, ...] = ()
        self._rates = (0.0, 0.0)
        self._notes: dict[str, str] = {}
        self.new_alerts: queue.SimpleQueue[Alert] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=t, name=f"demo-{t.__name__}", daemon=True)
            for t in (self._follow_alerts, self._simulate, self._poll_status)
        ]

    def start(self) -> None:
        self._began = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.1, deadline - time.monotonic()))
        self._redis.close()

    @property
    def sim_done(self) -> bool:
        return self._sim_done

    def picture(self) -> Picture:
        with self._lock:
            m = self._metrics
            return Picture(
                elapsed=time.monotonic() - self._began,
                produced=self._producer.report.total_sent,
                processed=m.processed,
                produced_rate=self._rates[0],
                processed_rate=self._rates[1],
                dead_letters=m.dead_letters,
                sim_day=((self._sim_time or self._start) - self._start) / DAY,
                sim_time=self._sim_time,
                sim_done=self._sim_done,
                recent=tuple(reversed(self._recent)),
                alert_counts=dict(self._counts),
                stages=dict(m.stages),
                bands=dict(m.bands),
                top_risks=self._risks,
                notes=tuple(self._notes.values()),
            )

    def _note(self, source: str, text: str | None) -> None:
        with self._lock:
            if text is None:
                self._notes.pop(source, None)
            else:
                self._notes[source] = text

    def _simulate(self) -> None:
        """Produce every event at the producer's rate, then flush; stop early when asked."""
        try:
            for event in self._events:
                if self._stop.is_set():
                    break
                self._producer.send(event)
                self._sim_time = event.occurred_at
            self._producer.flush(2.0 if self._stop.is_set() else 30.0)
        except Exception as exc:  # shown on screen rather than lost in a thread
            self._note("simulator", f"simulator stopped: {exc}")
        finally:
            self._sim_done = True

    def _follow_alerts(self) -> None:
        consumer = Consumer(
            self._kafka.confluent(
                **{
                    "group.id": f"cxstream-demo-view-{uuid.uuid4().hex[:12]}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                    **({"logger": self._logger} if self._logger else {}),
                }
            )
        )
        consumer.subscribe([self._alert_topic])
        try:
            while not self._stop.is_set():
                message = consumer.poll(0.25)
                if message is None or message.error():
                    continue
                alert = decode_alert(message.value(), message.headers())
                if isinstance(alert, Alert):
                    with self._lock:
                        self._recent.append(alert)
                        self._counts[(alert.type.value, alert.action.value)] += 1
                    self.new_alerts.put(alert)
        finally:
            consumer.close()

    def _poll_status(self) -> None:
        samples: deque[tuple[float, int, int]] = deque(maxlen=4)
        while not self._stop.wait(1.0):
            self._read_metrics()
            self._read_redis()
            samples.append(
                (time.monotonic(), self._producer.report.total_sent, self._metrics.processed)
            )
            (t0, p0, c0), (t1, p1, c1) = samples[0], samples[-1]
            if t1 > t0:
                with self._lock:
                    self._rates = ((p1 - p0) / (t1 - t0), (c1 - c0) / (t1 - t0))

    def _read_metrics(self) -> None:
        try:
            with urllib.request.urlopen(f"{self._worker_url}/metrics", timeout=2) as response:
                metrics = parse_metrics(response.read().decode())
        except (OSError, ValueError) as exc:
            self._note("worker", f"worker metrics unreachable: {exc}")
            return
        with self._lock:
            self._metrics = metrics
        self._note("worker", None)

    def _read_redis(self) -> None:
        try:
            risks = top_risks(self._redis, self._redis_prefix)
        except (redis.RedisError, ValueError) as exc:
            self._note("redis", f"Redis unreachable: {exc}")
            return
        with self._lock:
            self._risks = risks
        self._note("redis", None)
