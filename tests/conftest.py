"""Fixtures shared by all tests: the real local stack and per-test topic/key namespaces.

The stack starts lazily, the first time an integration test asks for it, and stops at the end
of the session. If it cannot start, every test that needs it fails and says why: no skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.topics import Topics
from tests.stack import RunningStack, start_stack, stop_stack

_stack_error: list[str] = []


@pytest.fixture(scope="session")
def stack() -> Iterator[RunningStack]:
    if _stack_error:
        pytest.fail(_stack_error[0])
    try:
        running = start_stack()
    except RuntimeError as exc:
        _stack_error.append(str(exc))
        pytest.fail(str(exc))
    try:
        yield running
    finally:
        stop_stack(running)


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: RunningStack) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(stack: RunningStack) -> str:
    return stack.redis_url


@pytest.fixture
def unique_prefix() -> str:
    """A prefix for topics, consumer groups and Redis keys that no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def topics(kafka_bootstrap: str, unique_prefix: str) -> Topics:
    """All of cxstream's topics under a fresh prefix, already created on the broker."""
    names = Topics(unique_prefix)
    # Scenarios are dated in the past: with time retention the broker would delete them.
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), names, retention_ms=KEEP_FOREVER
    )
    return names


@pytest.fixture
def make_producer(kafka_bootstrap: str) -> Iterator[Callable[..., Producer]]:
    made: list[Producer] = []

    def factory(**conf: Any) -> Producer:
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5, **conf})
        made.append(producer)
        return producer

    yield factory
    for producer in made:
        producer.flush(10)


@pytest.fixture
def make_consumer(kafka_bootstrap: str, unique_prefix: str) -> Iterator[Callable[..., Consumer]]:
    made: list[Consumer] = []

    def factory(group: str | None = None, **conf: Any) -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": kafka_bootstrap,
                "group.id": group or f"{unique_prefix}{uuid.uuid4().hex[:6]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                **conf,
            }
        )
        made.append(consumer)
        return consumer

    yield factory
    for consumer in made:
        consumer.close()
