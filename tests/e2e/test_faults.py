"""Crashes, failover and replays change nothing a user can see, beyond repeating an alert."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

import pytest

from streams.domain import Event
from streams.model import load_config
from streams.topics import Topics
from tests.e2e.harness import (
    Published,
    Reference,
    Worker,
    alert_actions,
    api_state,
    jsonable_state,
    metric,
    produce,
    read_outputs,
    reference_run,
    same_state,
    wait_drained,
    without_repeats,
)

pytestmark = pytest.mark.e2e


def assert_matches_reference(published: Published, expected: Reference, worker: Worker) -> None:
    got = alert_actions(published.alerts)
    want = alert_actions(a for alerts in expected.alerts.values() for a in alerts)
    got = without_repeats(got)
    differing = [c for c in sorted(set(got) | set(want)) if got.get(c) != want.get(c)]
    assert not differing, (differing[0], got.get(differing[0]), want.get(differing[0]))
    for customer_id, state in expected.states.items():  # nothing counted twice
        same_state(api_state(worker, customer_id)["state"], jsonable_state(state), customer_id)


def wait_for_alerts(bootstrap: str, topics: Topics, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(read_outputs(bootstrap, topics, quiet=0.5, limit=5).alerts) >= at_least:
            return
    raise AssertionError(f"fewer than {at_least} alerts after 60 s")


def test_sigkill_mid_stream_then_restart_equals_an_uninterrupted_run(
    kafka_bootstrap: str, topics: Topics, scenario: list[Event], make_worker: Callable[..., Worker]
) -> None:
    # The whole history is on the topics first: appends racing a running worker across topics
    # are ordered only as well as high watermarks are fresh (Kafka Streams has the same limit),
    # which at this test's compressed event time would be months; this test is about crashes.
    produce(kafka_bootstrap, topics, scenario)
    worker = make_worker().start()
    wait_for_alerts(kafka_bootstrap, topics, at_least=5)
    worker.kill()  # SIGKILL: no clean shutdown, no final commit
    worker.start()
    wait_drained(kafka_bootstrap, topics, worker.app_id)
    assert_matches_reference(
        read_outputs(kafka_bootstrap, topics), reference_run(scenario, load_config()), worker
    )


def assigned(worker: Worker) -> list[int]:
    with urllib.request.urlopen(f"{worker.url}/healthz", timeout=5) as resp:
        partitions: list[int] = json.loads(resp.read())["assigned_partitions"]
    return partitions


def wait_assignment(workers: list[Worker]) -> list[list[int]]:
    """Until the workers between them own every partition, each at least one."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            got = [assigned(w) for w in workers]
        except OSError:
            got = []
        if got and all(got) and sorted(p for ps in got for p in ps) == [0, 1, 2, 3]:
            return got
        time.sleep(0.5)
    raise AssertionError("partitions were not (re)assigned in time")


def test_two_workers_share_partitions_and_one_takes_over_when_the_other_is_killed(
    kafka_bootstrap: str, topics: Topics, scenario: list[Event], make_worker: Callable[..., Worker]
) -> None:
    produce(kafka_bootstrap, topics, scenario)  # see the SIGKILL test on why first
    first = make_worker("w1").start()
    second = make_worker("w2").start()
    wait_assignment([first, second])
    wait_for_alerts(kafka_bootstrap, topics, at_least=5)

    # Either worker answers for any customer: requests are routed to the key's owner.
    for customer_id in sorted({e.customer_id for e in scenario})[:8]:
        assert api_state(first, customer_id) == api_state(second, customer_id)

    first.kill()  # its partitions and their state move to the survivor
    assert wait_assignment([second]) == [[0, 1, 2, 3]]
    wait_drained(kafka_bootstrap, topics, second.app_id)
    # the survivor read the first's tables from their changelogs with librdkafka (fast_restore)
    assert metric(second, "cxstream_table_restore_records_total") > 0
    assert_matches_reference(
        read_outputs(kafka_bootstrap, topics), reference_run(scenario, load_config()), second
    )


def test_replay_from_earliest_with_fresh_state_reproduces_the_same_alerts(
    kafka_bootstrap: str,
    topics: Topics,
    scenario: list[Event],
    make_worker: Callable[..., Worker],
    unique_prefix: str,
) -> None:
    produce(kafka_bootstrap, topics, scenario)
    original = make_worker("original").start()
    wait_drained(kafka_bootstrap, topics, original.app_id)
    first = alert_actions(read_outputs(kafka_bootstrap, topics).alerts)
    original.kill()

    replay = make_worker("replay", app_id=f"{unique_prefix}replay").start()  # fresh state
    wait_drained(kafka_bootstrap, topics, replay.app_id)
    both = alert_actions(read_outputs(kafka_bootstrap, topics).alerts)
    # Each customer's alerts live on one partition: the replay's follow the original's.
    assert {c: items[len(first[c]) :] for c, items in both.items()} == first
