"""Partitions follow the cluster: three workers on six partitions equal the pure model."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.domain import Event
from streams.model import load_config
from streams.topics import Topics
from tests.e2e.harness import (
    Worker,
    alert_actions,
    api_state,
    jsonable_state,
    produce,
    read_outputs,
    reference_run,
    same_state,
    wait_drained,
    without_repeats,
)

pytestmark = pytest.mark.e2e
SIX = 6


@pytest.fixture
def six(kafka_bootstrap: str, unique_prefix: str) -> Topics:
    """Every topic under a fresh prefix with six partitions (the shared fixture makes four)."""
    topics = Topics(f"{unique_prefix}six.")
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    ensure_topics(kafka, topics, partitions=SIX, retention_ms=KEEP_FOREVER)
    return topics


@pytest.fixture
def workers(
    kafka_bootstrap: str, six: Topics, unique_prefix: str, tmp_path: Path
) -> Iterator[list[Worker]]:
    made = [
        Worker(kafka_bootstrap, six, f"{unique_prefix}six-app", tmp_path / f"w{i}")
        for i in range(3)
    ]
    yield made
    for worker in made:
        worker.kill()


def owned(worker: Worker) -> list[int]:
    with urllib.request.urlopen(f"{worker.url}/healthz", timeout=5) as resp:
        partitions: list[int] = json.loads(resp.read())["assigned_partitions"]
    return partitions


def wait_owned_by(workers: list[Worker], limit: float = 90.0) -> None:
    """Until these workers between them own all six partitions, each at least one."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            got = [owned(w) for w in workers]
        except OSError:
            got = []
        if got and all(got) and sorted(p for ps in got for p in ps) == list(range(SIX)):
            return
        time.sleep(0.3)
    raise AssertionError(f"six partitions not shared by {len(workers)} workers in {limit}s")


def test_three_workers_on_six_partitions_equal_the_model_when_one_is_killed(
    kafka_bootstrap: str, six: Topics, scenario: list[Event], workers: list[Worker]
) -> None:
    produce(kafka_bootstrap, six, scenario, partitions=SIX)  # see test_faults on why first
    for worker in workers:
        worker.launch()  # at once: the group forms in one rebalance, not three
    for worker in workers:
        worker.wait_healthy(90)
    wait_owned_by(workers)
    deadline = time.monotonic() + 60  # until the stream is under way
    while not read_outputs(kafka_bootstrap, six, quiet=0.5, limit=5).alerts:
        assert time.monotonic() < deadline, "no alert within 60 s"

    victim, survivors = workers[0], workers[1:]
    victim.kill()  # SIGKILL: its partitions and their tables move to the others
    wait_owned_by(survivors)
    wait_drained(kafka_bootstrap, six, victim.app_id, partitions=SIX)

    expected = reference_run(scenario, load_config(), partitions=SIX)
    want = alert_actions(a for alerts in expected.alerts.values() for a in alerts)
    got = without_repeats(alert_actions(read_outputs(kafka_bootstrap, six, quiet=2.0).alerts))
    differing = [c for c in sorted(set(got) | set(want)) if got.get(c) != want.get(c)]
    assert not differing, (differing[0], got.get(differing[0]), want.get(differing[0]))
    for customer_id, state in expected.states.items():  # any survivor answers, nothing twice
        body = api_state(survivors[hash(customer_id) % 2], customer_id)
        same_state(body["state"], jsonable_state(state), customer_id)
