"""Why ``cxstream_alerts_total`` read 8,005-10,351 over catch-ups where the model makes 8,018.

    python -m bench.chaos_alerts [--runs 5 --workers 1 --customers 2000 --days 365 --seed 1]

Each run replays the same backlog with a fresh group (``--workers`` started together, no
faults) and reads the workers' summed alert counter twice: when their processed-events
counters reach the backlog (where ``bench.pipeline`` stops the clock) and once the group
drained and the alert topic was quiet.
It also reads what that run appended to the alert topic: records, distinct (id, action, time)
and whether they equal the pure model's. Counter > distinct means re-published alerts (same
ids); distinct ≠ model would mean different alerts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from bench.loads import encoded_population, first_processed, produce_backlog
from streams.contracts import decode_alert
from streams.domain import Alert
from streams.model import load_config
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import (
    Worker,
    alert_actions,
    metric,
    reference_run,
    wait_drained,
    without_repeats,
)
from tests.stack import start_stack, stop_stack


def _ends(bootstrap: str, topic: str) -> dict[int, int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ends-{uuid.uuid4().hex}"})
    try:
        parts = probe.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: probe.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in parts}
    finally:
        probe.close()


def _appended(bootstrap: str, topic: str, since: dict[int, int]) -> list[Alert]:
    """The alert records appended to ``topic`` after the offsets ``since``."""
    until = _ends(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"a-{uuid.uuid4().hex}"})
    consumer.assign([TopicPartition(topic, p, o) for p, o in since.items() if until[p] > o])
    left = {p: until[p] - o for p, o in since.items() if until[p] > o}
    out: list[Alert] = []
    try:
        while any(n > 0 for n in left.values()):
            for msg in consumer.consume(1000, 1.0):
                if msg.error() or msg.offset() >= until[msg.partition()]:
                    continue
                left[msg.partition()] -= 1
                alert = decode_alert(msg.value(), list(msg.headers() or []))
                assert isinstance(alert, Alert), alert
                out.append(alert)
    finally:
        consumer.close()
    return out


def _sum(workers: list[Worker], prefix: str, containing: str = "") -> float:
    return sum(metric(w, prefix, containing) for w in workers)


def run(args: argparse.Namespace) -> list[dict[str, float]]:
    events = simulate(args.customers, args.days, args.seed).events
    want = alert_actions(
        a for items in reference_run(events, load_config()).alerts.values() for a in items
    )
    model = sum(len(v) for v in want.values())
    stack = start_stack(private=True)
    rows: list[dict[str, float]] = []
    try:
        topics = Topics(f"alerts{uuid.uuid4().hex[:6]}.")
        kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
        ensure_topics(kafka, topics, retention_ms=KEEP_FOREVER)
        records = encoded_population(args.customers, args.days, args.seed)
        produce_backlog(stack.kafka_bootstrap, topics, records)
        scratch = Path(tempfile.mkdtemp(prefix="cxalerts-"))
        for i in range(args.runs):
            since = _ends(stack.kafka_bootstrap, topics.alerts)
            app_id = f"{topics.prefix}run{i}"
            workers = [
                Worker(stack.kafka_bootstrap, topics, app_id, scratch / f"r{i}w{w}")
                for w in range(args.workers)
            ]
            try:
                for worker in workers:  # together, as bench.pipeline's pair: a rebalance early on
                    worker.launch()
                for worker in workers:
                    worker.wait_healthy(120.0)
                while first_processed(workers) < len(records):
                    time.sleep(0.1)
                at_processed = _sum(workers, "cxstream_alerts_total")
                wait_drained(stack.kafka_bootstrap, topics, app_id, limit=600)
                time.sleep(args.settle)  # the end-of-stream ticks
                settled = _sum(workers, "cxstream_alerts_total")
                duplicates = _sum(workers, "cxstream_events_total{", 'outcome="duplicate"')
            finally:
                for worker in workers:
                    worker.kill()
            appended = _appended(stack.kafka_bootstrap, topics.alerts, since)
            got = without_repeats(alert_actions(appended))
            distinct = sum(len(v) for v in got.values())
            rows.append(
                {
                    "model": model,
                    "counter_at_processed": at_processed,
                    "counter_settled": settled,
                    "published": len(appended),
                    "distinct": distinct,
                    "equal_to_model": float(got == want),
                    "redelivered_records_skipped": duplicates,
                }
            )
            print(f"[alerts] run {i + 1}: {rows[-1]}", flush=True)
    finally:
        stop_stack(stack)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1, help="workers in each run's group")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after draining")
    args = parser.parse_args(argv)
    rows = run(args)
    print(
        "| run | model | counter when processed | counter settled | published | distinct |", end=""
    )
    print(" = model |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for i, r in enumerate(rows, 1):
        print(
            f"| {i} | {r['model']:,.0f} | {r['counter_at_processed']:,.0f} | "
            f"{r['counter_settled']:,.0f} | {r['published']:,.0f} | {r['distinct']:,.0f} | "
            f"{'yes' if r['equal_to_model'] else 'no'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
