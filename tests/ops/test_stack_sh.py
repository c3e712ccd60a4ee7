"""``ops/stack.sh`` restarts one service at a time and keeps its data; ``down`` leaves no
process, and a test session's teardown leaves no stack dir."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer

from tests.stack import RunningStack, stack_command, start_stack, stop_stack


@pytest.fixture
def private_stack() -> Iterator[RunningStack]:
    stack = start_stack(private=True)
    try:
        yield stack
    finally:
        stop_stack(stack)


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    return True


def _read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "stack-test", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        got: list[bytes] = []
        for _ in range(40):
            got += [m.value() or b"" for m in consumer.consume(10, 0.5) if not m.error()]
            if got:
                return got
        return got
    finally:
        consumer.close()


def test_killed_and_restarted_services_keep_their_data_ports_and_down_stops_them(
    private_stack: RunningStack,
) -> None:
    assert private_stack.stack_dir is not None
    stack_dir = private_stack.stack_dir
    producer = Producer({"bootstrap.servers": private_stack.kafka_bootstrap, "acks": "all"})
    producer.produce("kept", b"before the crash")
    assert producer.flush(30) == 0
    store = redis.Redis.from_url(private_stack.redis_url)
    store.set("kept", "yes")

    stack_command(stack_dir, "kill", "kafka")  # SIGKILL: no clean shutdown
    stack_command(stack_dir, "kill", "redis")
    assert not _alive(stack_dir / "kafka.pid") and not _alive(stack_dir / "redis.pid")
    stack_command(stack_dir, "start", "kafka")
    stack_command(stack_dir, "restart", "redis")

    env = stack_command(stack_dir, "env")  # same addresses as before
    assert f"KAFKA_BOOTSTRAP_SERVERS={private_stack.kafka_bootstrap}" in env
    assert f"REDIS_URL={private_stack.redis_url}" in env
    assert _read_all(private_stack.kafka_bootstrap, "kept") == [b"before the crash"]
    assert store.get("kept") == b"yes"

    pids = [int((stack_dir / f"{name}.pid").read_text()) for name in ("kafka", "redis")]
    stack_command(stack_dir, "down")
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    stop_stack(private_stack)  # what every session's teardown does: the broker's data goes too
    assert not stack_dir.exists()
