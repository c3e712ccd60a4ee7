"""Benchmark: cxstream's worker against its peers, on the real local broker, in one run.

    python -m bench.pipeline [--customers 5000 --days 365 --seconds 10 --write-docs]

Reports, from one run on one machine, over the same backlog: a bare confluent-kafka
consume→produce loop, a Faust agent that only counts, a plain confluent-kafka loop with the
worker's model and dict state, a Quix Streams pipeline with the same model (RocksDB state,
changelog, timestamp-aligned topics; needs the ``bench`` extra in ``.venv-bench``, see
bench/peers.py), the cxstream worker (pure-Python and compiled model, and with Faust unchanged:
``--no-faust-fast-path``), the counting agent with the worker's Faust overrides, two workers;
produce→alert and produce→snapshot latency at a fixed offered rate; RSS growth per new
customer; changelog restore time and RSS for ``--restore-customers``; and the model's
in-process cost, pure and compiled. ``--write-docs`` puts the table into docs/benchmarks.md.
It installs nothing: a missing peer stops it first, naming the command that installs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from bench.faust_baseline import faust_rate
from bench.latency import latency_at_rate
from bench.loads import (
    bare_loop_rate,
    encoded_population,
    group_rate,
    new_customers,
    produce_backlog,
    rss_slope_mb_per_million,
    sustained_rate,
)
from bench.peers import PeerMissing, quix_python, quix_rate
from bench.plain_model import plain_model_rate
from bench.report import catch_up, compiled_catch_up, markdown, model_speeds
from bench.restore import restore_rows, wait_index_rebuilt
from bench.rss import rss_bytes
from streams.compiled_model import ENV, build_dir
from streams.topics import Topics
from tests.e2e.harness import Worker
from tests.stack import start_stack, stop_stack

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
FAUST_OVERRIDES = ["--overrides", "--buffer", "16384"]  # the worker's overrides and buffer
STOCK = ["--no-faust-fast-path"]  # the worker with Faust unchanged
FAST = ["--faust-fast-path"]  # the worker with the Faust overrides (the default)
ONE_PROCESS = [*FAST, "--no-fold-process"]  # the worker folding in its own process
NOT_AHEAD = [*FAST, "--no-fold-ahead"]  # the fold process, each batch stored before the next
FAUST_CHANGELOG = [*FAST, "--no-fast-changelog"]  # states to the changelog via Faust's producer
# Released after 0.05 s of quiet and folded after 5 ms, not 0.75 s and 0.25 s (docs/benchmarks.md)
LOW_LATENCY = ["--max-task-idle", "0.05", "--batch-within", "0.005"]


def run(args: argparse.Namespace) -> dict[str, float]:
    quix_py = quix_python()  # before anything starts: a missing peer names its install command
    # The worker rows run the model's Python source, as the peers do (a worker otherwise uses
    # a current compiled build by default); the compiled row sets its own (bench.report).
    os.environ[ENV] = "0"
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
        n, boot = len(records), stack.kafka_bootstrap
        bare = bare_loop_rate(boot, topics, n)
        faust_only = faust_rate(boot, topics.prefix, n)
        faust_fast = faust_rate(boot, topics.prefix, n, FAUST_OVERRIDES)
        plain = plain_model_rate(boot, topics.prefix, n)
        scratch = Path(tempfile.mkdtemp(prefix="cxbench-"))
        quix = quix_rate(quix_py, boot, topics.prefix, n, scratch / "quix-state")
        quix_compiled = quix_rate(  # the same model as the compiled worker row
            quix_py, boot, topics.prefix, n, scratch / "quix-compiled", compiled_dir=build_dir()
        )
        pair = [
            Worker(boot, topics, f"{topics.prefix}pair", scratch / f"p{i}", extra_args=FAST)
            for i in (1, 2)
        ]
        two_workers = group_rate(pair, n)
        compiled = compiled_catch_up(boot, topics, scratch, n)
        stock = catch_up(
            Worker(boot, topics, f"{topics.prefix}stock", scratch / "ws", extra_args=STOCK), n
        )
        in_process = catch_up(
            Worker(boot, topics, f"{topics.prefix}one", scratch / "wi", extra_args=ONE_PROCESS), n
        )
        not_ahead = catch_up(
            Worker(boot, topics, f"{topics.prefix}behind", scratch / "wb", extra_args=NOT_AHEAD), n
        )
        faust_changelog = catch_up(
            Worker(boot, topics, f"{topics.prefix}fc", scratch / "wf", extra_args=FAUST_CHANGELOG),
            n,
        )
        worker = Worker(boot, topics, f"{topics.prefix}app", scratch / "w1", extra_args=FAST)
        worker.start()
        rss_before = rss_bytes(worker)
        rate = sustained_rate([worker], n)
        rss_loaded = rss_bytes(worker)
        last_event_time = max(r[4] for r in records) / 1000
        wave = new_customers(args.memory_customers, last_event_time)
        rss_slope = rss_slope_mb_per_million(worker, boot, topics, n, wave)
        # right after the wave (a burst), then again once the worker has settled
        after_wave = wave[-1][4] / 1000
        burst = latency_at_rate(boot, topics, args.rate, args.seconds, after_wave, run="burst")
        steady_from = after_wave + args.seconds + 15  # event time goes on after each run
        lat = latency_at_rate(boot, topics, args.rate, args.seconds, steady_from)
        worker.kill()
        # the same worker (group, tables) restarted with the low-latency setting
        low = Worker(boot, topics, worker.app_id, worker.data_dir, extra_args=FAST + LOW_LATENCY)
        low.start()
        wait_index_rebuilt(low)  # not the restart's one-off rebuild, but the steady state
        later = steady_from + args.seconds + 15
        low_lat = latency_at_rate(boot, topics, args.rate, args.seconds, later, run="low")
        low.kill()
        restore: dict[str, float] = {}
        if args.restore_customers:
            restore = restore_rows(boot, topics, args.restore_customers, scratch)
    finally:
        stop_stack(stack)
    return {
        "events": n,
        "customers": args.customers,
        "cxstream_eps": rate,
        "bare_eps": bare,
        "faust_eps": faust_only,
        "faust_fast_eps": faust_fast,
        "stock_eps": stock,
        "in_process_eps": in_process,
        "not_ahead_eps": not_ahead,
        "faust_changelog_eps": faust_changelog,
        "plain_eps": plain,
        "quix_eps": quix,
        "quix_compiled_eps": quix_compiled,
        "compiled_eps": compiled,
        "two_workers_eps": two_workers,
        "rss_loaded_mb": rss_loaded / 2**20,
        "rss_start_mb": rss_before / 2**20,
        "memory_customers": args.memory_customers,
        "rss_per_million_mb": rss_slope,
        **lat,
        **{f"burst_{k}": v for k, v in burst.items()},
        **{f"low_{k}": v for k, v in low_lat.items()},
        **restore,
        **model_speeds(args.speed_customers),  # in process, after the stack is down
    }


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=500.0, help="offered events/s for latency")
    parser.add_argument("--seconds", type=float, default=15.0, help="latency phase length")
    parser.add_argument(
        "--memory-customers", type=int, default=50_000, help="new customers for the RSS slope"
    )
    parser.add_argument(
        "--restore-customers",
        type=int,
        default=1_000_000,
        help="customers in the changelog for the restore and memory rows (0: skip them)",
    )
    parser.add_argument(
        "--speed-customers", type=int, default=1500, help="population of the in-process rows"
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    try:
        figures = run(args)
    except PeerMissing as exc:
        print(f"bench.pipeline: {exc}", file=sys.stderr)
        return 2
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
