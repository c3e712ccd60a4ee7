"""Fixtures for end-to-end runs: a scenario population and worker factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.domain import Event
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import Worker


@pytest.fixture(scope="session")
def scenario() -> list[Event]:
    """A scripted scenario: every persona, a few dozen customers, eight months."""
    return simulate(customers=40, days=240, seed=11).events


@pytest.fixture
def make_worker(
    kafka_bootstrap: str, topics: Topics, unique_prefix: str, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def factory(
        name: str = "w1",
        app_id: str | None = None,
        redis_url: str | None = None,
        webhook_url: str | None = None,
    ) -> Worker:
        worker = Worker(
            kafka_bootstrap,
            topics,
            app_id or f"{unique_prefix}app",
            tmp_path / name,
            redis_url,
            webhook_url,
        )
        started.append(worker)
        return worker

    yield factory
    for worker in started:
        worker.kill()
