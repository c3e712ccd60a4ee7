"""Helpers shared by the integration tests that read what landed on the real broker."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message

from streams.topics import Topics


def drain(consumer: Consumer, expected: int, timeout: float = 60.0) -> list[Message]:
    """Poll until ``expected`` good messages arrived or ``timeout`` seconds passed."""
    received: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(received) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            received.append(msg)
    return received


def producer_argv(command: str, topics: Topics, bootstrap: str, *extra: str) -> list[str]:
    """``cxstream simulate|replay`` against the test broker, quiet and machine-readable."""
    return [
        command,
        *extra,
        "--json",
        "--no-progress",
        "--bootstrap-servers",
        bootstrap,
        "--topic-prefix",
        topics.prefix,
    ]
