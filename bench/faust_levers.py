"""The Faust overrides' share (issue 12): each lever on, in turn, on the same backlog.

    python -m bench.faust_levers [--customers 5000 --days 365 --repeats 2]

Starts a private stack, produces the bench's backlog once, then measures, alternating the
order between repeats so a change in the machine's load hits every row alike: the counting
Faust agent (bench.faust_baseline) and the cxstream worker's catch-up, each with Faust
unchanged, with the delivery fast path only, with the fetch wait too, and with all three
overrides (agents/worker/faust_overrides.py). Prints one Markdown table of events/s (every
repeat, and the median).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from bench.faust_baseline import faust_rate
from bench.loads import encoded_population, produce_backlog, wait_processed
from streams.topics import Topics
from tests.e2e.harness import Worker
from tests.stack import start_stack, stop_stack

STOCK_WAITS = ["--fetch-max-wait", "1.5", "--paused-fetch-wait", "1.0"]  # Faust's own values
FAST = ["--faust-fast-path"]  # the worker's default, spelled out
#: (row, flags of bench.faust_baseline, flags of `cxstream worker`)
LEVERS: list[tuple[str, list[str] | None, list[str] | None]] = [
    ("Faust unchanged", [], ["--no-faust-fast-path"]),
    ("+ delivery fast path (2)", ["--overrides", *STOCK_WAITS], [*FAST, *STOCK_WAITS]),
    (
        "+ fetch wait 0.1 s (1)",
        ["--overrides", "--paused-fetch-wait", "1.0"],
        [*FAST, "--paused-fetch-wait", "1.0"],
    ),
    ("+ paused wait 0.05 s (3): all three", ["--overrides"], FAST),
    ("all three + 64k stream buffer", ["--overrides", "--buffer", "65536"], None),
]


def worker_rate(boot: str, topics: Topics, expected: int, flags: list[str], scratch: Path) -> float:
    name = uuid.uuid4().hex[:6]
    worker = Worker(boot, topics, f"{topics.prefix}{name}", scratch / name, extra_args=flags)
    worker.start()
    try:
        started = time.perf_counter()
        return expected / (wait_processed(worker, expected) - started)
    finally:
        worker.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-worker", action="store_true", help="the counting agent only")
    args = parser.parse_args(argv)
    rates: dict[tuple[str, str], list[float]] = {}
    stack = start_stack(private=True)
    try:
        topics = Topics(f"levers{uuid.uuid4().hex[:6]}.")
        boot = stack.kafka_bootstrap
        ensure_topics(KafkaSettings(bootstrap_servers=boot), topics, retention_ms=KEEP_FOREVER)
        records = encoded_population(args.customers, args.days, args.seed)
        produce_backlog(boot, topics, records)
        n = len(records)
        scratch = Path(tempfile.mkdtemp(prefix="cxlevers-"))
        for repeat in range(args.repeats):
            order = LEVERS if repeat % 2 == 0 else LEVERS[::-1]
            for row, faust_flags, worker_flags in order:
                if faust_flags is not None:
                    rate = faust_rate(boot, topics.prefix, n, faust_flags)
                    rates.setdefault((row, "faust"), []).append(rate)
                    print(f"faust  {row}: {rate:,.0f}", file=sys.stderr, flush=True)
                if worker_flags is not None and not args.no_worker:
                    rate = worker_rate(boot, topics, n, worker_flags, scratch)
                    rates.setdefault((row, "worker"), []).append(rate)
                    print(f"worker {row}: {rate:,.0f}", file=sys.stderr, flush=True)
    finally:
        stop_stack(stack)
    print(f"{n:,} events, {args.customers:,} customers, {args.repeats} repeats (events/s)\n")
    print("| overrides | counting Faust agent | cxstream worker |\n|---|---|---|")
    for row, _, _ in LEVERS:
        cells = [_cell(rates.get((row, kind), [])) for kind in ("faust", "worker")]
        print(f"| {row} | {cells[0]} | {cells[1]} |")
    return 0


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    each = " / ".join(f"{v:,.0f}" for v in values)
    return f"{statistics.median(values):,.0f} ({each})"


if __name__ == "__main__":
    sys.exit(main())
