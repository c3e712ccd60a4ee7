"""Crashes, failover and replays change nothing a user can see, beyond repeating an alert."""

from __future__ import annotations

import time
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
    produce,
    read_outputs,
    reference_run,
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
        assert api_state(worker, customer_id)["state"] == jsonable_state(state), customer_id


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
