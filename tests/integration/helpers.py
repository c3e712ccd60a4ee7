"""Helpers shared by the integration tests that read what landed on the real broker."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from streams.topics import INPUT_PARTITIONS, Topics


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


def input_high_watermarks(bootstrap: str, topics: Topics) -> int:
    """Records in the input topics (retried: new partitions need a moment to get a leader)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "watermarks"})
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                return sum(
                    consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for topic in topics.inputs
                    for p in range(INPUT_PARTITIONS)
                )
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()
