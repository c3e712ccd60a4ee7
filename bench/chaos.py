"""Chaos soak: workers, the broker and Redis killed under hostile traffic; nothing may be lost.

    python -m bench.chaos [--workers 3 --kills 20 --broker-kills 2 --hostile 100000
                           --customers N --seconds S --seed N --hostile-kinds a,b --write-docs]

On a private real stack (``ops/stack.sh``): a backlog of simulated customers, then live traffic
(new, purchase-only customers, so one customer's live events share a topic and the cross-topic
race of appends documented in the README cannot reorder them), each with hostile records
interleaved. A seeded schedule SIGKILLs and restarts workers, SIGKILLs and restarts the broker
on the same data and restarts Redis. After the group drained, ``bench.chaos_check`` compares
everything with the pure model. Every process started here is stopped on the way out.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from bench import chaos_check
from bench.chaos_faults import HOSTILE_KINDS, NO_EFFECT_KINDS, HostileMix, fault_schedule
from bench.chaos_report import Report, log_findings, markdown, write_docs
from bench.chaos_traffic import Traffic
from streams.domain import Event
from streams.model import ModelConfig, load_config
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import Worker, metric, reference_run, wait_drained
from tests.stack import RunningStack, stack_command, start_stack, stop_stack


@dataclass
class Group:
    """The workers of one consumer group, restarted whenever one is down."""

    workers: list[Worker]
    kills: int = 0
    unexpected_exits: int = 0
    failed_starts: int = 0
    log: list[str] = field(default_factory=list)

    def start(self, worker: Worker, attempts: int = 4) -> None:
        for _ in range(attempts):
            try:
                worker.start(timeout=180.0)
                return
            except AssertionError as exc:
                self.failed_starts += 1
                self.log.append(f"start failed: {str(exc)[-300:]}")
                worker.kill()
        raise RuntimeError(f"worker would not start:\n{worker.log_tail()}")

    def ensure_running(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is not None:
                self.unexpected_exits += 1
                self.log.append(f"{worker.data_dir.name} exited by itself: {worker.log_tail(5)}")
                self.start(worker)

    def kill_one(self, rng: random.Random) -> None:
        worker = rng.choice(self.workers)
        worker.kill()  # SIGKILL: no clean shutdown, no final commit
        self.kills += 1
        time.sleep(rng.uniform(0.0, 3.0))
        self.start(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()


def _populations(args: argparse.Namespace) -> tuple[list[Event], list[Event]]:
    backlog = simulate(args.customers, args.days, args.seed)
    live = simulate(
        args.live_customers, args.live_days, args.seed + 1, start=backlog.end, purchase_only=True
    )
    renamed = [  # new customers, distinct from the backlog's ids
        dataclasses.replace(e, customer_id=f"live-{e.customer_id}") for e in live.events
    ]
    return backlog.events, renamed


def run(args: argparse.Namespace) -> Report:
    rng = random.Random(args.seed)
    kinds = tuple(HOSTILE_KINDS) if args.hostile_kinds == "all" else args.hostile_kinds.split(",")
    unknown = set(kinds) - set(HOSTILE_KINDS)
    if unknown:
        raise SystemExit(f"unknown --hostile-kinds {sorted(unknown)}; known: {list(HOSTILE_KINDS)}")
    token = secrets.token_hex(32)  # the workers get it in CX_API_TOKEN; the checks send it
    backlog, live = _populations(args)
    config = load_config()  # before the soak: a broken config fails fast
    stack: RunningStack | None = None
    group: Group | None = None
    stop = threading.Event()
    started = time.monotonic()
    try:
        stack = start_stack(private=True)
        assert stack.stack_dir is not None
        topics = Topics(f"chaos{uuid.uuid4().hex[:6]}.")
        ensure_topics(
            KafkaSettings(bootstrap_servers=stack.kafka_bootstrap),
            topics,
            retention_ms=KEEP_FOREVER,
        )
        customers = sorted({e.customer_id for e in backlog})
        big_every = args.hostile // args.big_records if args.big_records else 0
        mix = HostileMix(kinds, rng, big_every)
        traffic = Traffic(stack.kafka_bootstrap, topics, mix, customers)
        traffic.run(backlog, 0, args.hostile // 2)
        scratch = Path(tempfile.mkdtemp(prefix="cxchaos-"))
        app_id = f"{topics.prefix}app"
        group = Group(
            [
                Worker(
                    stack.kafka_bootstrap,
                    topics,
                    app_id,
                    scratch / f"w{i}",
                    stack.redis_url,
                    api_token=token,
                    # the verdict reads every customer
                    extra_args=["--api-rate", "0", *args.worker_flags],
                )
                for i in range(1, args.workers + 1)
            ]
        )
        for worker in group.workers:
            group.start(worker)
        soak_started = time.monotonic()
        live_thread = threading.Thread(
            target=traffic.run,
            args=(live, len(backlog), args.hostile - args.hostile // 2, args.seconds, stop),
            daemon=True,
        )
        live_thread.start()
        schedule = fault_schedule(
            rng, args.seconds, args.kills, args.broker_kills, args.redis_restarts
        )
        counts = {"worker_kill": 0, "broker_kill": 0, "redis_restart": 0}
        for fault in schedule:
            time.sleep(max(0.0, soak_started + fault.at - time.monotonic()))
            group.ensure_running()
            if fault.action == "worker_kill":
                group.kill_one(rng)
            elif fault.action == "broker_kill":
                stack_command(stack.stack_dir, "kill", "kafka")
                time.sleep(rng.uniform(1.0, 5.0))
                stack_command(stack.stack_dir, "start", "kafka")
            else:
                stack_command(stack.stack_dir, "restart", "redis")
            counts[fault.action] += 1
            print(f"[chaos] {time.monotonic() - soak_started:6.1f}s {fault.action}", flush=True)
        live_thread.join()
        group.ensure_running()
        wait_drained(stack.kafka_bootstrap, topics, app_id, limit=args.drain_limit)
        group.ensure_running()
        drained = time.monotonic()
        report = verdict(args, stack, topics, group, traffic, backlog + live, token, config)
        report.kills, report.broker_kills = group.kills, counts["broker_kill"]
        report.redis_restarts = counts["redis_restart"]
        report.kinds = kinds
        report.logged = log_findings(w.data_dir.with_suffix(".log") for w in group.workers)
        report.soak_seconds = drained - soak_started
        report.duration = time.monotonic() - started
        if report.ok and not args.keep_logs:  # logs are worth keeping to study a failure
            group.stop()
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"[chaos] the workers' logs are kept in {scratch}", flush=True)
        return report
    finally:
        stop.set()
        if group is not None:
            group.stop()
        if stack is not None:
            stop_stack(stack)


def verdict(
    args: argparse.Namespace,
    stack: RunningStack,
    topics: Topics,
    group: Group,
    traffic: Traffic,
    events: list[Event],
    token: str,
    config: ModelConfig,
) -> Report:
    accepted = [events[i] for i in sorted(traffic.good)]
    expected = reference_run(accepted, config)
    bootstrap = stack.kafka_bootstrap
    alerts = chaos_check.read_topic(bootstrap, topics.alerts, quiet=6.0)
    health = chaos_check.read_topic(bootstrap, topics.health)
    dead = chaos_check.read_topic(bootstrap, topics.dead_letter)
    good_sources = set(traffic.good.values())
    return Report(
        command=" ".join(["python -m bench.chaos", *args.argv]),
        workers=len(group.workers),
        good=len(accepted),
        hostile=len(traffic.hostile),
        not_acknowledged=sum(traffic.failed.values()),
        unexpected_exits=group.unexpected_exits,
        failed_starts=group.failed_starts,
        dead_letters=chaos_check.check_dead_letters(dead, traffic.hostile, good_sources),
        alerts=chaos_check.check_alerts(alerts, expected),
        states=chaos_check.check_states(group.workers, expected, token),
        health=chaos_check.check_health(
            health, expected, config, stack.redis_url, topics, bootstrap, group.workers[0].app_id
        ),
        no_effect_kinds=tuple(NO_EFFECT_KINDS),
        alert_counter=sum(_alert_counter(w) for w in group.workers),
    )


def _alert_counter(worker: Worker) -> float:
    try:
        return metric(worker, "cxstream_alerts_total")
    except OSError:
        return float("nan")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add: Any = parser.add_argument
    add("--workers", type=int, default=3)
    add("--kills", type=int, default=20, help="worker SIGKILLs (each restarted)")
    add("--broker-kills", type=int, default=2, help="broker SIGKILLs (restarted on its data)")
    add("--redis-restarts", type=int, default=2)
    add("--hostile", type=int, default=100_000, help="hostile records, half in the backlog")
    add("--big-records", type=int, default=20, help="1 MB hostile records among --hostile")
    add("--hostile-kinds", default="all", help="comma-separated: " + ",".join(HOSTILE_KINDS))
    add("--customers", type=int, default=2000, help="backlog customers (full simulator)")
    add("--days", type=int, default=365, help="backlog history")
    add("--live-customers", type=int, default=2000, help="live, purchase-only customers")
    add("--live-days", type=int, default=60, help="event time the live traffic spans")
    add("--seconds", type=float, default=600.0, help="live traffic and fault window")
    add("--drain-limit", type=float, default=900.0, help="seconds to wait for the group")
    add("--seed", type=int, default=1)
    add(
        "--worker-flag",
        dest="worker_flags",
        action="append",
        default=[],
        metavar="FLAG",
        help="an extra `cxstream worker` flag, repeatable (--worker-flag=--faust-fast-path)",
    )
    add("--keep-logs", action="store_true", help="keep the workers' logs even if it passes")
    add("--write-docs", action="store_true", help="write docs/reliability.md")
    args = parser.parse_args(argv)
    args.argv = [a for a in argv if a != "--write-docs"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("[chaos] interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    text = markdown(report)
    print(text)
    if args.write_docs:
        write_docs(text)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
