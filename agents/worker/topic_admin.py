"""Create cxstream's topics with the right partitions, compaction and retention (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from agents.settings import KafkaSettings
from streams.errors import StackError
from streams.topics import INPUT_PARTITIONS, Topics

WEEK_MS = 7 * 24 * 3600 * 1000
KEEP_FOREVER = -1
"""``retention.ms`` for histories: Kafka deletes records by their *timestamps*, and every input
record's timestamp is its event time (docs/contracts.md "Record timestamps"), so a replayed or
simulated history older than the retention is deleted at the broker's next retention check
(within minutes), before a worker can read it."""
COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
SHOWN_CONFIGS = ("cleanup.policy", "retention.ms")
_BROKER_RETENTION = (  # Kafka's own precedence: ms, then minutes, then hours
    ("log.retention.ms", 1),
    ("log.retention.minutes", 60_000),
    ("log.retention.hours", 3_600_000),
)


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
        # Inputs are never compacted: compaction keeps a key's last record, so any later record
        # under a customer's key (a malformed one included) would erase their profile before a
        # lagging or replaying consumer read it; profiles are last-writer-wins in the model.
        TopicSpec(topics.profiles, partitions, retained),
        TopicSpec(topics.alert_actions, partitions, retained),
        TopicSpec(topics.alerts, partitions, retained),
        TopicSpec(topics.alerts_admitted, partitions, retained),
        TopicSpec(topics.health, partitions, COMPACTED),
        TopicSpec(topics.alert_outcomes, partitions, COMPACTED),
        TopicSpec(topics.model_parameters, 1, COMPACTED),
        TopicSpec(topics.ticks, partitions, ticks),
        TopicSpec(topics.alert_budget, 1, ticks),
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
    return _outcomes(futures)


#: The worker's Faust tables (agents/worker/tables.py creates them); Faust names their
#: changelogs after them.
FAUST_TABLES = ("customers", "survey-integrity")
BUDGET_TABLE = "alert-budget"  # one partition, like the budget topic it follows


def faust_changelogs(app_id: str) -> list[str]:
    return [f"{app_id}-{table}-changelog" for table in FAUST_TABLES]


def budget_changelog(app_id: str) -> str:
    return f"{app_id}-{BUDGET_TABLE}-changelog"


def ensure_changelogs(
    kafka: KafkaSettings,
    app_id: str,
    partitions: int = INPUT_PARTITIONS,
    replication_factor: int = 1,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create the tables' changelog topics before Faust starts, compacted and co-partitioned.

    Faust declares them itself, but lazily: when several workers start at once, a worker's
    consumer could miss the new topic in its metadata ("Ignoring missing topic") and then
    refuse every table write with PartitionsMismatch (0 partitions) for good.
    """
    admin = AdminClient(kafka.confluent())
    futures = admin.create_topics(
        [
            *(
                NewTopic(name, partitions, replication_factor, config=COMPACTED)
                for name in faust_changelogs(app_id)
            ),
            NewTopic(budget_changelog(app_id), 1, replication_factor, config=COMPACTED),
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    return _outcomes(futures)


def _outcomes(futures: dict[str, Any]) -> dict[str, str]:
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


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    expected_partitions: int
    partitions: int | None  # None: the topic does not exist
    config: dict[str, str]


def describe(kafka: KafkaSettings, specs: list[TopicSpec], timeout: float) -> list[TopicState]:
    """Partition counts and the interesting configs of every spec'd topic, as the broker has it."""
    admin = AdminClient(kafka.confluent(log_level=4))  # no librdkafka info chatter
    try:
        present = admin.list_topics(timeout=timeout).topics
        existing = [s.name for s in specs if s.name in present]
        resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in existing]
        configs: dict[str, dict[str, str]] = {}
        if resources:
            for resource, future in admin.describe_configs(
                resources, request_timeout=timeout
            ).items():
                entries = future.result()
                configs[resource.name] = {
                    k: str(entries[k].value) for k in SHOWN_CONFIGS if k in entries
                }
    except KafkaException as exc:
        raise StackError(f"cannot describe topics on {kafka.bootstrap_servers}: {exc}") from exc
    return [
        TopicState(
            s.name,
            s.partitions,
            len(present[s.name].partitions) if s.name in present else None,
            configs.get(s.name, {}),
        )
        for s in specs
    ]


def broker_retention_ms(kafka: KafkaSettings, timeout: float = 10.0) -> int:
    """The retention a topic the broker auto-creates gets (``log.retention.*``; -1: forever)."""
    admin = AdminClient(kafka.confluent(log_level=4))
    try:
        broker = min(admin.list_topics(timeout=timeout).brokers)
        resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result()
    except (KafkaException, ValueError) as exc:
        raise StackError(f"cannot read broker configs on {kafka.bootstrap_servers}: {exc}") from exc
    for name, unit_ms in _BROKER_RETENTION:
        entry = entries.get(name)
        if entry is not None and entry.value is not None:
            value = int(entry.value)
            return value if value < 0 else value * unit_ms
    return WEEK_MS  # Kafka's documented default (168 hours)


def retention_problems(
    states: list[TopicState], oldest_ms: int, now_ms: int, auto_created_ms: int
) -> list[str]:
    """Why records stamped ``oldest_ms`` (event time) would not survive in these topics.

    Kafka deletes by timestamp: a record older than its topic's ``retention.ms`` goes at the
    next retention check, minutes after it was written. A missing topic would be auto-created
    with the broker's default retention, ``auto_created_ms``. Compacted-only topics keep
    the latest record per key whatever its age.
    """
    problems = []
    for state in states:
        if state.partitions is None:
            retention, what = auto_created_ms, "does not exist; auto-created, it would keep"
        elif "delete" in state.config.get("cleanup.policy", "delete"):
            retention, what = int(state.config.get("retention.ms", auto_created_ms)), "keeps"
        else:
            continue
        if 0 <= retention < now_ms - oldest_ms:
            problems.append(f"{state.name} {what} records {retention / 86_400_000:g} days")
    return problems


def input_retentions(
    kafka: KafkaSettings, topics: Topics, timeout: float = 10.0
) -> tuple[list[TopicState], int]:
    """The input topics as the cluster has them, and the retention a missing one would get."""
    inputs = [s for s in topic_specs(topics) if s.name in topics.inputs]
    states = describe(kafka, inputs, timeout)
    missing = any(s.partitions is None for s in states)
    return states, broker_retention_ms(kafka, timeout) if missing else KEEP_FOREVER


def history_problems(
    kafka: KafkaSettings, topics: Topics, oldest: float, now: float, timeout: float = 10.0
) -> list[str]:
    """:func:`retention_problems` of the input topics as the cluster has them."""
    states, auto_created = input_retentions(kafka, topics, timeout)
    return retention_problems(states, round(oldest * 1000), round(now * 1000), auto_created)
