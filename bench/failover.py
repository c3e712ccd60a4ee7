"""Failover with and without table standbys: how long a worker takes to serve a dead one's share.

    python -m bench.failover [--customers 400000] [--standbys 0 1]

Per setting: the customers table's changelog is filled with N real envelopes (as
``bench.restore`` does), two workers with ``--standby-replicas S`` share the group, each
restores its half and (S = 1) keeps a warm copy of the other's. Once both stand still (their
data directories stop growing), one is SIGKILLed; measured is the time from the kill until
the survivor's ``/healthz`` answers 200 with every partition assigned: the session timeout
(6 s, the harness's), the rebalance, and the recovery of the dead worker's partitions: a full
replay of their changelog without a standby, only what the standby has not read with one.
It starts its own broker, like the tests, and stops it and every worker at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics, faust_changelogs
from bench.restore import fill_changelog, health_of, template_states
from streams.topics import INPUT_PARTITIONS, Topics
from tests.e2e.harness import Worker
from tests.stack import start_stack, stop_stack

ALL_PARTITIONS = list(range(INPUT_PARTITIONS))


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def wait_still(workers: list[Worker], quiet: float = 10.0, limit: float = 900.0) -> None:
    """Until no worker's data directory has grown for ``quiet`` seconds (restores and standby
    copies done: the changelog is not written meanwhile)."""
    deadline = time.monotonic() + limit
    sizes = [-1 for _ in workers]
    still_since = time.monotonic()
    while time.monotonic() - still_since < quiet:
        assert time.monotonic() < deadline, "the workers' tables never stood still"
        now = [_dir_bytes(w.data_dir) for w in workers]
        if now != sizes:
            sizes, still_since = now, time.monotonic()
        time.sleep(1.0)


def wait_owner_of_all(worker: Worker, limit: float = 900.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        assert time.monotonic() < deadline, f"never took over: {worker.log_tail()}"
        assert worker.process and worker.process.poll() is None, worker.log_tail()
        status, body = health_of(worker)
        if status == 200 and body.get("assigned_partitions") == ALL_PARTITIONS:
            return
        time.sleep(0.1)


def takeover_seconds(
    bootstrap: str, topics: Topics, customers: int, standbys: int, scratch: Path
) -> float:
    app_id = f"{topics.prefix}failover{standbys}"
    fill_changelog(bootstrap, faust_changelogs(app_id)[0], template_states(2000, 365, 7), customers)
    flags = ["--standby-replicas", str(standbys)]
    workers = [
        Worker(bootstrap, topics, app_id, scratch / f"s{standbys}w{i}", extra_args=flags)
        for i in range(2)
    ]
    try:
        for worker in workers:
            worker.data_dir.mkdir(parents=True, exist_ok=True)
            worker.start(900.0)
        survivor, victim = workers
        wait_still(workers)
        status, body = health_of(survivor)
        assert status == 200 and body["assigned_partitions"] != ALL_PARTITIONS, body
        killed = time.perf_counter()
        victim.kill()
        wait_owner_of_all(survivor)
        return time.perf_counter() - killed
    finally:
        for worker in workers:
            worker.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400_000)
    parser.add_argument("--standbys", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    stack = start_stack()
    try:
        topics = Topics(f"fo{uuid.uuid4().hex[:6]}.")
        kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
        ensure_topics(kafka, topics, retention_ms=KEEP_FOREVER)
        scratch = Path(tempfile.mkdtemp(prefix="cxfailover-"))
        rows = {
            f"takeover_s_standbys_{s}": takeover_seconds(
                stack.kafka_bootstrap, topics, args.customers, s, scratch
            )
            for s in args.standbys
        }
    finally:
        stop_stack(stack)
    print(json.dumps({"customers": args.customers, **{k: round(v, 1) for k, v in rows.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
