"""Create cxstream's topics with the right partitions, compaction and retention (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from agents.settings import KafkaSettings
from streams.errors import StackError
from streams.topics import INPUT_PARTITIONS, Topics

WEEK_MS = 7 * 24 * 3600 * 1000
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(topics: Topics, partitions: int = INPUT_PARTITIONS) -> list[TopicSpec]:
    """Every topic cxstream uses; inputs share a partition count so they stay co-partitioned."""
    retained = {"retention.ms": str(4 * WEEK_MS)}
    return [
        TopicSpec(topics.purchases, partitions, retained),
        TopicSpec(topics.tickets, partitions, retained),
        TopicSpec(topics.feedback, partitions, retained),
        TopicSpec(topics.profiles, partitions, COMPACTED),
        TopicSpec(topics.alerts, partitions, retained),
        TopicSpec(topics.health, partitions, COMPACTED),
        TopicSpec(topics.ticks, partitions, {"retention.ms": str(WEEK_MS)}),
        TopicSpec(topics.dead_letter, 1, {"retention.ms": str(4 * WEEK_MS)}),
        TopicSpec(topics.delivery_dead_letter, 1, {"retention.ms": str(4 * WEEK_MS)}),
    ]


def ensure_topics(
    kafka: KafkaSettings,
    topics: Topics,
    partitions: int = INPUT_PARTITIONS,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create missing topics; return {name: "created" | "exists"}. Raises StackError otherwise."""
    admin = AdminClient(kafka.confluent())
    specs = topic_specs(topics, partitions)
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
