"""The loads and probes behind bench.pipeline: backlog, bare loop, latency, memory."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, Producer

from agents.settings import PRODUCER_DEFAULTS
from bench.rss import rss_bytes
from streams.contracts import encode_event, record_timestamp
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import (
    Channel,
    Purchase,
    PurchaseKind,
)
from streams.simulator import iter_events
from streams.topics import Topics
from tests.e2e.harness import Worker, metric

Record = tuple[type, bytes, bytes, list[tuple[str, bytes]], int]


def encoded_population(customers: int, days: int, seed: int) -> list[Record]:
    """The simulator's events, encoded once (encoding is the producers' cost, not ours)."""
    out: list[Record] = []
    for event in iter_events(customers, days, seed):
        key, value, headers = encode_event(event)
        out.append((type(event), key, value, headers, record_timestamp(event.occurred_at)))
    return out


def topic_for(topics: Topics, kind: type) -> str:
    return topics.topic(EVENT_KINDS[kind])


def produce_backlog(bootstrap: str, topics: Topics, records: Sequence[Record]) -> None:
    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap})
    for kind, key, value, headers, ts in records:
        while True:
            try:
                producer.produce(topic_for(topics, kind), value, key, headers=headers, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0


def bare_loop_rate(bootstrap: str, topics: Topics, expected: int) -> float:
    """A bare consume→produce loop over the same records: the ceiling for any Python worker."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bare-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    consumer.subscribe(list(topics.inputs))
    sink, seen, started = f"{topics.prefix}bare-sink", 0, 0.0
    while seen < expected:
        for msg in consumer.consume(1000, 1.0):
            if msg.error():
                continue
            started = started or time.perf_counter()
            while True:
                try:
                    producer.produce(sink, msg.value(), msg.key(), headers=msg.headers())
                    break
                except BufferError:
                    producer.poll(0.01)
            seen += 1
        producer.poll(0)
    producer.flush(30)
    elapsed = time.perf_counter() - started
    consumer.close()
    return expected / elapsed


def processed(worker: Worker) -> float:
    """Every record the worker has counted, whatever its outcome."""
    return metric(worker, "cxstream_events_total{")


#: Longest pause between two progress scrapes. Every scrape runs the worker's Prometheus
#: exposition on the event loop it measures (a few ms each): scraping every 20 ms cost the
#: worker about a fifth of its main thread, which no peer pays (they time themselves).
SCRAPE_EVERY = 0.5


def next_scrape(remaining: float, rate: float) -> float:
    """Seconds to the next progress scrape: ``SCRAPE_EVERY``, shorter as the end nears (a
    quarter of the time the rest should take at ``rate``), never under 20 ms."""
    if rate <= 0:
        return SCRAPE_EVERY
    return min(SCRAPE_EVERY, max(0.02, remaining / rate / 4))


def crossing(before: tuple[float, float], after: tuple[float, float], target: float) -> float:
    """When the count reached ``target``, interpolated between two (time, count) scrapes."""
    (t0, n0), (t1, n1) = before, after
    if n1 <= n0:
        return t1
    return t0 + (t1 - t0) * (min(target, n1) - n0) / (n1 - n0)


def reached(
    count: Callable[[], float], expected: int, deadline: float, stalled: Callable[[float], str]
) -> float:
    """Poll ``count`` (rarely: :func:`next_scrape`) until it reaches ``expected``; returns the
    interpolated ``time.perf_counter()`` at which it did. Past ``deadline`` (monotonic) the
    assertion says ``stalled(last count)``."""
    first = last = (time.perf_counter(), count())
    while last[1] < expected:
        assert time.monotonic() < deadline, stalled(last[1])
        elapsed = last[0] - first[0]
        rate = (last[1] - first[1]) / elapsed if elapsed > 0 else 0.0
        time.sleep(next_scrape(expected - last[1], rate))
        previous, last = last, (time.perf_counter(), count())
        if last[1] >= expected:
            return crossing(previous, last, expected)
    return last[0]


def wait_processed(worker: Worker, expected: int, limit: float = 1200.0) -> float:
    """Wait until ``worker`` counted ``expected`` records; returns when it did (:func:`reached`)."""
    return reached(
        lambda: processed(worker),
        expected,
        time.monotonic() + limit,
        lambda _: f"worker did not finish: {worker.log_tail()}",
    )


def first_processed(workers: Sequence[Worker]) -> float:
    """Records processed for the first time, summed over workers (re-reads after a rebalance
    are counted as duplicates, not here)."""
    return sum(metric(w, "cxstream_events_total{", 'outcome="processed"') for w in workers)


def sustained_rate(workers: Sequence[Worker], expected: int, limit: float = 1200.0) -> float:
    """Events/s of running workers from their first processed batch until all is processed.

    Every peer row is timed from its first record to its last (start-up, group join and the
    first fetch excluded): the workers are timed the same way, from the first batch they
    report (its records are not counted) to the last.
    """
    deadline = time.monotonic() + limit
    while (done := first_processed(workers)) == 0:
        assert time.monotonic() < deadline, "no worker processed anything"
        time.sleep(0.01)
    started = time.perf_counter()
    ended = reached(
        lambda: first_processed(workers), expected, deadline, lambda n: f"stalled at {n}/{expected}"
    )
    return (expected - done) / (ended - started)


def group_rate(workers: Sequence[Worker], expected: int, limit: float = 1200.0) -> float:
    """Events/s of fresh workers sharing one group (:func:`sustained_rate`).

    The workers are killed afterwards, so they do not compete with what is measured next.
    """
    try:
        for worker in workers:
            worker.launch()
        for worker in workers:
            worker.wait_healthy(90.0)
        return sustained_rate(workers, expected, limit)
    finally:
        for worker in workers:
            worker.kill()


def rss_slope_mb_per_million(
    worker: Worker, bootstrap: str, topics: Topics, backlog: int, wave: Sequence[Record]
) -> float:
    """The worker's RSS growth per new customer over the second half of ``wave``, per million.

    Start-up, RocksDB memtables, Faust buffers and memory the backlog freed (reused by the
    first new customers) are not state, so only the second half of the wave is measured.
    """
    produce_backlog(bootstrap, topics, wave)
    wait_processed(worker, backlog + len(wave) // 2)
    halfway, rss_halfway = processed(worker), rss_bytes(worker)
    wait_processed(worker, backlog + len(wave))
    grown = processed(worker) - halfway
    return max(0, rss_bytes(worker) - rss_halfway) / grown * 1e6 / 2**20


def new_customers(count: int, event_time: float) -> list[Record]:
    """One order each from ``count`` customers the worker has never seen (for memory slope)."""
    out: list[Record] = []
    for i in range(count):
        cid = f"mem-{i:07d}"
        at = event_time + i / 1000
        event = Purchase(
            f"mem-p{i}", "bench", cid, at, PurchaseKind.ORDER_PLACED, f"m{i}", 4200, "EUR",
            Channel.WEB, 1,
        )  # fmt: skip
        key, value, headers = encode_event(event)
        out.append((Purchase, key, value, headers, record_timestamp(at)))
    return out
