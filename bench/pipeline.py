"""Benchmark: cxstream's worker against a bare confluent-kafka loop, on the real local broker.

    python -m bench.pipeline [--customers 20000 --days 365 --rate 2000 --write-docs]

Reports, from one run on one machine: the worker's sustained events/s catching up on a
backlog; a bare consume→produce loop's events/s on the same records; their ratio; produce→emit
latency percentiles at a fixed offered rate; the worker's RSS growth per new customer (after
the backlog warmed it up) scaled to a million customers. ``--write-docs`` puts the table
into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

from agents.settings import KafkaSettings
from agents.topic_admin import KEEP_FOREVER, ensure_topics
from bench.loads import (
    bare_loop_rate,
    encoded_population,
    faust_loop_rate,
    group_rate,
    latency_at_rate,
    new_customers,
    produce_backlog,
    rss_bytes,
    rss_slope_mb_per_million,
    wait_processed,
)
from streams.topics import Topics
from tests.e2e.harness import Worker
from tests.stack import start_stack, stop_stack

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def run(args: argparse.Namespace) -> dict[str, float]:
    stack = start_stack()
    try:
        topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
        ensure_topics(  # the simulated history is dated in the past: keep it
            KafkaSettings(bootstrap_servers=stack.kafka_bootstrap),
            topics,
            retention_ms=KEEP_FOREVER,
        )
        records = encoded_population(args.customers, args.days, args.seed)
        produce_backlog(stack.kafka_bootstrap, topics, records)
        bare = bare_loop_rate(stack.kafka_bootstrap, topics, len(records))
        faust_only = faust_loop_rate(stack.kafka_bootstrap, topics, len(records))
        scratch = Path(tempfile.mkdtemp(prefix="cxbench-"))
        pair = [
            Worker(stack.kafka_bootstrap, topics, f"{topics.prefix}pair", scratch / f"p{i}")
            for i in (1, 2)
        ]
        two_workers = group_rate(pair, len(records))
        worker = Worker(stack.kafka_bootstrap, topics, f"{topics.prefix}app", scratch / "w1")
        worker.start()
        rss_before = rss_bytes(worker)
        started = time.perf_counter()
        wait_processed(worker, len(records))
        elapsed = time.perf_counter() - started
        rss_loaded = rss_bytes(worker)
        last_event_time = max(r[4] for r in records) / 1000
        wave = new_customers(args.memory_customers, last_event_time)
        rss_slope = rss_slope_mb_per_million(
            worker, stack.kafka_bootstrap, topics, len(records), wave
        )
        lat = latency_at_rate(
            stack.kafka_bootstrap, topics, args.rate, args.seconds, wave[-1][4] / 1000
        )
        worker.kill()
    finally:
        stop_stack(stack)
    rate = len(records) / elapsed
    return {
        "events": len(records),
        "customers": args.customers,
        "cxstream_eps": rate,
        "bare_eps": bare,
        "ratio": rate / bare,
        "faust_eps": faust_only,
        "two_workers_eps": two_workers,
        "rss_loaded_mb": rss_loaded / 2**20,
        "rss_start_mb": rss_before / 2**20,
        "memory_customers": args.memory_customers,
        "rss_per_million_mb": rss_slope,
        **lat,
    }


def markdown(figures: dict[str, float], command: str) -> str:
    f = figures
    return "\n".join(
        [
            f"Command: `{command}`  ",
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; Kafka 4.1 (local KRaft), one worker.",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| events in the backlog | {f['events']:,.0f} ({f['customers']:,.0f} customers) |",
            f"| cxstream worker, sustained (catch-up) | {f['cxstream_eps']:,.0f} events/s |",
            f"| bare confluent-kafka consume→produce loop | {f['bare_eps']:,.0f} events/s |",
            f"| ratio cxstream ÷ bare | {f['ratio']:.2f} |",
            f"| Faust agent that only counts (framework ceiling) | "
            f"{f['faust_eps']:,.0f} events/s |",
            f"| ratio cxstream ÷ Faust-only | {f['cxstream_eps'] / f['faust_eps']:.2f} |",
            f"| two workers in one group (one per core, same broker) | "
            f"{f['two_workers_eps']:,.0f} events/s ({f['two_workers_eps'] / f['bare_eps']:.2f} "
            "of bare) |",
            f"| offered rate for latency | {f['offered_rate']:,.0f} events/s |",
            f"| produce → health snapshot, p50 / p99 | "
            f"{f['p50_ms']:.0f} ms / {f['p99_ms']:.0f} ms |",
            f"| produce → alert, p50 / p99 ({f['alerts_measured']:.0f} alerts) | "
            f"{f['alert_p50_ms']:.0f} ms / {f['alert_p99_ms']:.0f} ms |",
            f"| worker RSS at start / after the backlog | {f['rss_start_mb']:,.0f} MB / "
            f"{f['rss_loaded_mb']:,.0f} MB |",
            f"| RSS per million customers (slope, 2nd half of {f['memory_customers']:,.0f} new) | "
            f"{f['rss_per_million_mb']:,.0f} MB |",
        ]
    )


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=500.0, help="offered events/s for latency")
    parser.add_argument("--seconds", type=float, default=15.0, help="latency phase length")
    parser.add_argument(
        "--memory-customers", type=int, default=50_000, help="new customers for the RSS slope"
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args)
    command = "python -m bench.pipeline " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write-docs"
    )
    text = markdown(figures, command.strip())
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
