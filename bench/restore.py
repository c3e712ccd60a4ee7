"""Restore and memory rows: a worker rebuilding N customers from the table's changelog.

The customers table's changelog (``<app id>-customers-changelog``, compacted, one partition
per input partition) is filled with N real envelopes: the states the model reaches for the
simulator's population, each re-keyed to a new customer and put on the partition Kafka's
partitioner gives its key (the envelope records it). A worker with that app id and an empty
data directory then restores the table. Measured: launch → ``/healthz`` ready (Faust's
recovery done), → deadline index rebuilt (the first timer run decodes every envelope), and
the worker's RSS then, per customer.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from agents.worker.topic_admin import faust_changelogs
from bench.loads import encoded_population, topic_for
from bench.peer_fold import PEER_PRODUCER, PeerFold, fold_record
from bench.rss import rss_bytes
from streams.envelope import encode_envelope, new_envelope
from streams.loop_processing import loop_deadline
from streams.model import CustomerState, snapshot
from streams.model.deadline import export_deadline, import_deadline
from streams.topics import INPUT_PARTITIONS, Topics
from tests.e2e.harness import Worker, murmur2_partition


def template_states(customers: int, days: int, seed: int) -> list[CustomerState]:
    """The final states of a simulated population (what a year of history leaves per customer),
    each with its next deadline cached as the worker's fold leaves it (the codec stores it, and
    a rebuild under the same parameters reads it instead of recomputing it)."""
    fold = PeerFold.default("tpl.")
    states: dict[bytes, CustomerState] = {}
    for cls, key, value, headers, ts in encoded_population(customers, days, seed):
        kind = fold.kind(topic_for(fold.topics, cls))
        state, _ = fold_record(fold, kind, key, value, headers, ts, states.get(key))
        if state is not None:
            states[key] = state
    for state in states.values():
        loop_deadline(state, fold.config)
    return list(states.values())


def fill_changelog(bootstrap: str, changelog: str, templates: list[CustomerState], n: int) -> int:
    """N envelopes on the compacted changelog; returns the bytes of values produced."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    spec = NewTopic(changelog, INPUT_PARTITIONS, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([spec])[changelog].result(60)
    producer = Producer({**PEER_PRODUCER, "bootstrap.servers": bootstrap})
    config = PeerFold.default("tpl.").config
    total = 0
    for i in range(n):
        cid = f"r-{i:07d}"
        key = cid.encode()
        partition = murmur2_partition(key)
        template = templates[i % len(templates)]
        state = dataclasses.replace(template, customer_id=cid)
        import_deadline(state, export_deadline(template))  # replace() drops the cached deadline
        snap = snapshot(state, state.as_of, config)
        envelope = new_envelope(partition, state).with_labels(snap.stage, snap.band)
        value = encode_envelope(dataclasses.replace(envelope, event_time=state.watermark))
        total += len(value)
        while True:
            try:
                producer.produce(changelog, value, key, partition=partition)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(120) == 0
    return total


def health_of(worker: Worker) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{worker.url}/healthz", timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (urllib.error.URLError, OSError):
        return 0, {}


def wait_index_rebuilt(worker: Worker, limit: float = 600.0) -> float:
    """Until a (re)started worker has rebuilt its deadline index from its table: the first
    timer run decodes every customer's envelope (a slice at a time, batches go on). Returns
    the slowest ``/healthz`` answer meanwhile: how long the rebuild held the event loop."""
    deadline = time.monotonic() + limit
    slowest = 0.0
    while True:
        assert time.monotonic() < deadline, f"index not rebuilt: {worker.log_tail()}"
        assert worker.process and worker.process.poll() is None, worker.log_tail()
        asked = time.perf_counter()
        status, body = health_of(worker)
        slowest = max(slowest, time.perf_counter() - asked)
        if status == 200 and body.get("deadline_index") == "ready":
            return slowest
        time.sleep(0.5)


def restore_rows(
    bootstrap: str, topics: Topics, customers: int, scratch: Path, limit: float = 1800.0
) -> dict[str, float]:
    app_id = f"{topics.prefix}restore"
    templates = template_states(2000, 365, 7)
    started = time.perf_counter()
    value_bytes = fill_changelog(bootstrap, faust_changelogs(app_id)[0], templates, customers)
    filled_s = time.perf_counter() - started
    worker = Worker(bootstrap, topics, app_id, scratch / "restore")
    worker.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        launched = time.perf_counter()
        worker.launch()
        deadline = time.monotonic() + limit
        worker.wait_healthy(limit)  # /healthz answers 200 once the changelog is restored
        ready_s = time.perf_counter() - launched
        slowest_health_s = wait_index_rebuilt(worker, deadline - time.monotonic())
        index_s = time.perf_counter() - launched
        rss = rss_bytes(worker)
    finally:
        worker.kill()
    return {
        "restore_customers": float(customers),
        "restore_value_bytes": float(value_bytes) / customers,
        "restore_fill_s": filled_s,
        "restore_ready_s": ready_s,
        "restore_index_s": index_s,
        "restore_index_slowest_health_s": slowest_health_s,
        "restore_rss_mb": rss / 2**20,
    }
