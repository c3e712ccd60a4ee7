"""Grant ACLs on, run ``cxstream worker`` against, and read from :mod:`tests.secure_stack`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from agents.demo.stack import free_port
from agents.sinks.side_consumer import message_headers
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.contracts import decode_snapshot, encode_event, record_timestamp
from streams.domain import HealthSnapshot
from streams.topics import Topics
from tests.secure_stack import ADMIN, WORKER, SecureStack
from tests.unit.contracts import samples

CLI = [sys.executable, "-m", "agents.cli", "worker"]
ALLOW = AclPermissionType.ALLOW


@dataclass(frozen=True)
class Tenant:
    """A topic prefix and app id of its own, with topics created and the worker's ACLs granted."""

    topics: Topics
    app_id: str


def tenant(stack: SecureStack, user: str = WORKER[0], create_topics: bool = True) -> Tenant:
    tag = uuid.uuid4().hex[:8]
    topics, app_id = Topics(f"t{tag}."), f"t{tag}-app"
    if create_topics:  # as an administrator: the worker's principal may not create them
        ensure_topics(stack.kafka_settings(ADMIN), topics, retention_ms=KEEP_FOREVER)
    create_acls(stack, worker_acls(user, topics.prefix, app_id))
    return Tenant(topics, app_id)


def worker_args(
    t: Tenant, data_dir: Path, web_port: int, redis_url: str | None, log_level: str = "warning"
) -> list[str]:
    return [
        *CLI,
        *("--topic-prefix", t.topics.prefix, "--app-id", t.app_id),
        *("--data-dir", str(data_dir), "--web-port", str(web_port)),
        *("--idle-wall-clock-after", "0", "--session-timeout", "6", "--standby-replicas", "0"),
        *(["--redis-url", redis_url] if redis_url else ["--no-redis"]),
        *("--log-level", log_level),
    ]


def run_worker(
    stack: SecureStack,
    user: tuple[str, str],
    t: Tenant,
    tmp: Path,
    redis_url: str | None = None,
    wait: float | None = None,
    log_level: str = "warning",
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """Start a worker as ``user``; with ``wait``, wait for it to exit (and kill it if it won't)."""
    port, log = free_port(), tmp / f"worker-{uuid.uuid4().hex[:6]}.log"
    env = {**os.environ, **stack.kafka_env(user)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            worker_args(t, tmp / f"data-{port}", port, redis_url, log_level),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    if wait is not None:
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            stop(proc)
    return proc, port, log


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def produce_purchase(stack: SecureStack, t: Tenant, customer_id: str) -> None:
    """One purchase, produced as the admin (producers have their own principals)."""
    event = samples.purchase(
        customer_id=customer_id, event_id=f"p-{customer_id}", occurred_at=time.time() - 60
    )
    key, value, headers = encode_event(event)
    producer = Producer(stack.kafka_settings(ADMIN).confluent(partitioner="murmur2_random"))
    producer.produce(
        t.topics.purchases,
        key=key,
        value=value,
        headers=headers,
        timestamp=record_timestamp(event.occurred_at),
    )
    assert producer.flush(30) == 0, "the purchase was not acknowledged by the secure broker"


def wait_snapshot(stack: SecureStack, t: Tenant, customer_id: str, limit: float) -> HealthSnapshot:
    """The first health snapshot of ``customer_id`` on the health topic (read as the admin)."""
    consumer = Consumer(
        stack.kafka_settings(ADMIN).confluent(
            **{"group.id": f"reader-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([t.topics.health])
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            snap = decode_snapshot(msg.value(), message_headers(msg))
            if isinstance(snap, HealthSnapshot) and snap.customer_id == customer_id:
                return snap
    finally:
        consumer.close()
    raise AssertionError(f"no health snapshot for {customer_id} within {limit}s")


def worker_acls(user: str, topic_prefix: str, app_id: str) -> list[AclBinding]:
    """Exactly the grants docs/security.md lists for a worker's principal, by prefix.

    No CREATE on cxstream's topics (an administrator creates them), no cluster-level grant:
    the idempotent producer needs only WRITE on its topics since Kafka 3.0 (KIP-679).
    """
    principal = f"User:{user}"
    prefixed = ResourcePatternType.PREFIXED
    read_write = (AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE)
    grants = [
        (ResourceType.TOPIC, topic_prefix, read_write),
        (ResourceType.TOPIC, f"{app_id}-", (*read_write, AclOperation.CREATE)),  # Faust's own
        (ResourceType.GROUP, app_id, (AclOperation.READ, AclOperation.DESCRIBE)),
    ]
    return [
        AclBinding(kind, name, prefixed, principal, "*", op, ALLOW)
        for kind, name, operations in grants
        for op in operations
    ]


def deny(user: str, topic: str, operation: AclOperation) -> AclBinding:
    return AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        f"User:{user}",
        "*",
        operation,
        AclPermissionType.DENY,
    )


def create_acls(stack: SecureStack, bindings: list[AclBinding]) -> None:
    """Create ACLs as the admin (a super user) through confluent-kafka's AdminClient."""
    admin = AdminClient(stack.kafka_settings(ADMIN).confluent())
    for future in admin.create_acls(bindings, request_timeout=15).values():
        future.result()
