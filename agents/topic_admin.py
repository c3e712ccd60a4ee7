"""Create cxstream's topics with the right partitions, compaction and retention (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from agents.settings import KafkaSettings
from streams.errors import StackError
from streams.topics import INPUT_PARTITIONS, Topics

WEEK_MS = 7 * 24 * 3600 * 1000
KEEP_FOREVER = -1
"""``retention.ms`` for histories: Kafka deletes records by their *timestamps*, and cxstream's
records carry event time, so a replayed or simulated history older than the retention is
deleted at the broker's next retention check (within minutes), before a worker can read it."""
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(
    topics: Topics, partitions: int = INPUT_PARTITIONS, retention_ms: int | None = None
) -> list[TopicSpec]:
    """Every topic cxstream uses; inputs share a partition count so they stay co-partitioned.

    ``retention_ms`` overrides the retention of every non-compacted topic (``KEEP_FOREVER``
    for histories with old event times); by default events keep 4 weeks, ticks 1 week.
    """
    retained = {"retention.ms": str(retention_ms or 4 * WEEK_MS)}
    ticks = {"retention.ms": str(retention_ms or WEEK_MS)}
    return [
        TopicSpec(topics.purchases, partitions, retained),
        TopicSpec(topics.tickets, partitions, retained),
        TopicSpec(topics.feedback, partitions, retained),
        TopicSpec(topics.profiles, partitions, COMPACTED),
        TopicSpec(topics.alerts, partitions, retained),
        TopicSpec(topics.health, partitions, COMPACTED),
        TopicSpec(topics.ticks, partitions, ticks),
        TopicSpec(topics.dead_letter, 1, retained),
        TopicSpec(topics.delivery_dead_letter, 1, retained),
    ]


def ensure_topics(
    kafka: KafkaSettings,
    topics: Topics,
    partitions: int = INPUT_PARTITIONS,
    replication_factor: int = 1,
    timeout: float = 30.0,
    retention_ms: int | None = None,
) -> dict[str, str]:
    """Create missing topics; return {name: "created" | "exists"}. Raises StackError otherwise."""
    admin = AdminClient(kafka.confluent())
    specs = topic_specs(topics, partitions, retention_ms)
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, replication_factor, config=s.config) for s in specs],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    outcome: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result()
            outcome[name] = "created"
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                outcome[name] = "exists"
            else:
                raise StackError(f"could not create topic {name}: {error}") from exc
    return outcome
