"""The merge's idle wait (``--max-task-idle``): latency against out-of-order releases.

For each value, a fresh worker on fresh topics takes live traffic at a fixed offered rate
(bench.latency.latency_at_rate: fresh customers, a purchase and for every fifth one a feedback
on another topic a millisecond later) and reports produce→snapshot/alert p50/p99 and how many
input records reached the merge older than one it had already released on their partition
(``cxstream_merge_out_of_order_total``). ``python -m bench.merge_idle 0.05 0.2 0.75``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from agents.settings import KafkaSettings
from agents.worker.topic_admin import ensure_topics
from bench.latency import latency_at_rate
from streams.topics import Topics
from tests.e2e.harness import Worker, metric
from tests.stack import start_stack, stop_stack


def measure(bootstrap: str, idle: float, rate: float, seconds: float, scratch: Path) -> str:
    topics = Topics(f"idle{uuid.uuid4().hex[:6]}.")
    ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), topics)
    worker = Worker(bootstrap, topics, f"{topics.prefix}app", scratch / topics.prefix)
    worker.extra_args = ["--max-task-idle", str(idle)]
    worker.start()
    try:
        lat = latency_at_rate(bootstrap, topics, rate, seconds, time.time())
        late = metric(worker, "cxstream_merge_out_of_order_total")
        events = metric(worker, "cxstream_events_total", 'outcome="processed"')
    finally:
        worker.kill()
    return (
        f"| {idle:g} s | {lat['p50_ms']:.0f} / {lat['p99_ms']:.0f} ms | "
        f"{lat['alert_p50_ms']:.0f} / {lat['alert_p99_ms']:.0f} ms | "
        f"{late:.0f} of {events:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("values", type=float, nargs="+", help="--max-task-idle values (s)")
    parser.add_argument("--rate", type=float, default=500.0, help="offered events/s")
    parser.add_argument("--seconds", type=float, default=15.0, help="traffic per value")
    args = parser.parse_args(argv)
    stack = start_stack()
    scratch = Path(tempfile.mkdtemp(prefix="cxidle-"))
    rows = [
        "| --max-task-idle | produce→snapshot p50 / p99 | produce→alert p50 / p99 | "
        "out of order / events |",
        "|---|---|---|---|",
    ]
    try:
        for idle in args.values:
            rows.append(measure(stack.kafka_bootstrap, idle, args.rate, args.seconds, scratch))
            print(rows[-1], flush=True)
    finally:
        stop_stack(stack)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
