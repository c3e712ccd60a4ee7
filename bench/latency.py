"""Live latency at a fixed offered rate: produce → health snapshot and produce → alert.

Each timed customer's send time is compared with the moment its snapshot or alert reaches a
consumer. The consumer runs in a thread of its own that waits on ``poll``, which returns as
soon as a record arrives; a loop alternating production with ``consume(n, timeout)`` would add
up to that timeout to every reading (librdkafka's batch consume waits it out unless the batch
fills), and any stall of the producing loop on top.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer

from agents.settings import PRODUCER_DEFAULTS
from bench.loads import topic_for
from streams.contracts import encode_event, record_timestamp
from streams.domain import (
    Channel,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    Touchpoint,
)
from streams.topics import Topics

#: How often the producing loop wakes to send what the offered rate makes due.
PACE_S = 0.001


def latency_at_rate(
    bootstrap: str,
    topics: Topics,
    rate: float,
    seconds: float,
    event_time_base: float,
    run: str = "lat",
    warm_up: float = 1.0,
    cool_down: float = 2.0,
) -> dict[str, float]:
    """Produce fresh customers at ``rate`` events/s; time each until its snapshot/alert.

    The first ``warm_up`` seconds of traffic are not timed: a worker's first records pay its
    one-off costs (lazy imports, first fetches of idle partitions). Traffic goes on, untimed,
    for ``cool_down`` seconds after the timed ones, so they see the offered rate to the end:
    when traffic stops, the last records of a partition wait for the merge's idle time
    (``--max-task-idle``), a pause's latency, not the rate's. ``run`` names the customers
    and events: another run needs another, or its events would be duplicates of the first's."""
    arrivals = _Arrivals(bootstrap, topics)
    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap, "linger.ms": 1})
    # The idempotent producer fetches metadata and its producer id in the background: its
    # first records would time that start-up, not the worker.
    producer.list_topics(timeout=10)
    time.sleep(1.0)
    sent: dict[str, float] = {}
    start, i, produced = time.perf_counter(), 0, 0
    timed_from, until = start + warm_up, start + warm_up + seconds
    stop_producing = until + cool_down
    try:
        while (now := time.perf_counter()) < stop_producing:
            # ``rate`` counts events (every fifth customer sends two), not customers
            while produced < (now - start) * rate:
                # Event time continues from the backlog's end: a jump to the wall clock would
                # make every customer's inactivity deadline due at once (a tick storm).
                for event in _latency_events(i, event_time_base + now - start, run):
                    key, value, headers = encode_event(event)
                    producer.produce(
                        topic_for(topics, type(event)),
                        value,
                        key,
                        headers=headers,
                        timestamp=record_timestamp(event.occurred_at),
                    )
                    sent[event.customer_id] = time.perf_counter()
                    produced += 1
                i += 1
            producer.poll(0)
            time.sleep(PACE_S)
        producer.flush(10)
        time.sleep(10.0)  # what is still on its way
    finally:
        received = arrivals.stop()
    snap_lat: list[float] = []
    alert_lat: list[float] = []
    for topic, customer, at in received:
        was_sent = sent.get(customer)
        if was_sent is not None and timed_from <= was_sent < until:
            (snap_lat if topic == topics.health else alert_lat).append(at - was_sent)
    return {
        "offered_rate": rate,
        **_percentiles("", snap_lat),
        **_percentiles("alert_", alert_lat),
        "alerts_measured": float(len(alert_lat)),
    }


class _Arrivals:
    """A consumer of the health and alert topics, on its own thread: (topic, key, arrived)."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"lat-{uuid.uuid4().hex}",
                "auto.offset.reset": "latest",
            }
        )
        self._consumer.subscribe([topics.health, topics.alerts])
        while not self._consumer.assignment():
            self._consumer.poll(0.2)
        self._received: list[tuple[str, str, float]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-consumer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            msg = self._consumer.poll(0.05)
            if msg is None or msg.error() or msg.key() is None:
                continue
            self._received.append((msg.topic(), msg.key().decode(), time.perf_counter()))

    def stop(self) -> list[tuple[str, str, float]]:
        self._stopping.set()
        self._thread.join()
        self._consumer.close()
        return self._received


def _latency_events(i: int, now: float, run: str = "lat") -> list[Event]:
    cid = f"{run}-{i:07d}"
    buy = Purchase(
        f"{run}-p{i}",
        "bench",
        cid,
        now,
        PurchaseKind.ORDER_PLACED,
        f"o{i}",
        4200,
        "EUR",
        Channel.WEB,
        1,
    )
    if i % 5:
        return [buy]
    angry = Feedback(
        f"{run}-f{i}",
        "bench",
        cid,
        now + 0.001,
        FeedbackKind.NPS,
        1,
        Touchpoint.AFTER_PURCHASE,
        Channel.SOCIAL,
        True,
        comment="never again",
    )
    return [buy, angry]


def _percentiles(prefix: str, values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {f"{prefix}p50_ms": float("nan"), f"{prefix}p99_ms": float("nan")}
    cuts = statistics.quantiles(values, n=100)
    return {f"{prefix}p50_ms": cuts[49] * 1000, f"{prefix}p99_ms": cuts[98] * 1000}
