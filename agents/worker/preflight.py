"""Check the Kafka connection, credentials and ACLs before Faust starts, and say what to fix.

Without this, a wrong SCRAM password ends 30 s later in Faust's "Failed while waiting for
controller", and a missing ACL in a retry loop deep inside aiokafka. confluent-kafka's
AdminClient reports the real cause within seconds: librdkafka's error callback carries the
authentication or TLS failure, and ``include_authorized_operations`` lists what the broker
lets this principal do on each topic, group and the cluster. Messages never hold a password.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient, NewTopic

from agents.settings import KafkaSettings, WorkerOptions
from agents.worker.partitions import agreed_partitions, copartitioned, partition_counts
from agents.worker.topic_admin import (
    budget_changelog,
    ensure_changelogs,
    ensure_topics,
    faust_changelogs,
    topic_specs,
)
from streams.errors import StackError
from streams.topics import DEFAULT_PARTITIONS, Topics

DOCS = "see docs/security.md"
R, W, D = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE
_AUTH_CODES = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
_quiet = logging.getLogger("cxstream.preflight.librdkafka")
_quiet.propagate = False  # librdkafka's own lines would repeat what the error message says
_quiet.addHandler(logging.NullHandler())


def preflight(options: WorkerOptions) -> int:
    """Fail within seconds, naming the fix, when the broker refuses us; create what is missing.

    Returns the input topics' partition count, which sizes the tables and their changelogs.
    """
    kafka, topics = options.settings.kafka, options.settings.topics
    admin = check_connection(kafka)
    absent = missing_topics(admin, topics)
    names = copartitioned(topics)
    if absent:  # topics made by an admin beforehand need no CREATE grant for the worker
        existing = set(partition_counts(admin, names, 10.0).values())
        size = options.partitions or (existing.pop() if len(existing) == 1 else DEFAULT_PARTITIONS)
        ensure_topics_or_explain(kafka, topics, absent, size)
    check_access(
        admin,
        topics,
        options.app_id,
        redis=options.redis_projection and bool(options.settings.redis_url),
        webhooks=bool(options.webhook_url or options.webhook_routes),
    )
    partitions = agreed_partitions(
        partition_counts(admin, names, 10.0, settle=10.0),
        options.partitions,
        partition_counts(admin, faust_changelogs(options.app_id), 10.0),
    )
    ensure_changelogs(kafka, options.app_id, partitions)
    return partitions


class PreflightError(StackError):
    """The worker cannot run with this configuration; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Need:
    kind: str  # "topic" or "group"
    name: str
    operations: tuple[AclOperation, ...]


def needs(topics: Topics, app_id: str, redis: bool = True, webhooks: bool = False) -> list[Need]:
    """What a worker's principal must be allowed, as docs/security.md lists it."""
    wanted = [Need("topic", t, (R, D)) for t in topics.inputs]
    # alert actions are folded like events and written by POST /alerts/{id}/actions
    wanted += [Need("topic", topics.alert_actions, (R, W, D))]
    wanted += [Need("topic", t, (R, W, D)) for t in (topics.alerts, topics.health, topics.ticks)]
    # the alert budget (loss.alert_budget_per_day): its internal topic and what it admits
    wanted += [Need("topic", t, (R, W, D)) for t in (topics.alert_budget, topics.alerts_admitted)]
    wanted += [Need("topic", t, (W, D)) for t in (topics.dead_letter, topics.delivery_dead_letter)]
    groups = (
        [app_id] + [f"{app_id}-redis-read-model"] * redis + [f"{app_id}-alert-delivery"] * webhooks
    )
    wanted += [Need("group", g, (R, D)) for g in groups]
    return wanted


def faust_internal_topics(app_id: str) -> list[str]:
    """Topics Faust uses under the app id (changelogs, leader election)."""
    return [*faust_changelogs(app_id), budget_changelog(app_id), f"{app_id}-__assignor-__leader"]


def _admin(kafka: KafkaSettings, errors: list[KafkaError]) -> AdminClient:
    return AdminClient(
        kafka.confluent(
            error_cb=errors.append,
            logger=_quiet,
            **{"socket.connection.setup.timeout.ms": 5000, "reconnect.backoff.max.ms": 1000},
        )
    )


def _who(kafka: KafkaSettings) -> str:
    if kafka.security_protocol.startswith("SASL"):
        mechanism = kafka.sasl_mechanism or "PLAIN"
        return f"user {kafka.sasl_username} ({mechanism} on {kafka.bootstrap_servers})"
    return f"{kafka.bootstrap_servers} ({kafka.security_protocol})"


def check_connection(kafka: KafkaSettings, timeout: float = 10.0) -> AdminClient:
    """Connect and authenticate within ``timeout`` s, or raise :class:`PreflightError`."""
    errors: list[KafkaError] = []
    admin = _admin(kafka, errors)
    future = admin.describe_cluster(request_timeout=timeout)
    deadline = time.monotonic() + timeout
    while not future.done():
        admin.poll(0.1)
        _raise_for_connection_errors(kafka, errors, final=time.monotonic() > deadline)
    try:
        future.result()
    except KafkaException as exc:
        _raise_for_connection_errors(kafka, [*errors, exc.args[0]], final=True)
    return admin


def _raise_for_connection_errors(
    kafka: KafkaSettings, errors: list[KafkaError], final: bool
) -> None:
    for err in errors:
        if err.code() in _AUTH_CODES:
            raise PreflightError(
                f"authentication failed for {_who(kafka)}: check KAFKA_SASL_USERNAME/"
                "KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM"
            )
        if err.code() == KafkaError._SSL:
            raise PreflightError(
                f"TLS handshake with {kafka.bootstrap_servers} failed ({err.str()}): check "
                "KAFKA_SSL_CAFILE (the CA that signed the broker's certificate), that the "
                "broker's certificate names this host, and that the listener speaks TLS "
                "(KAFKA_SECURITY_PROTOCOL)"
            )
    if final:
        last = errors[-1].str() if errors else "no answer"
        raise PreflightError(
            f"cannot reach Kafka at {_who(kafka)}: {last}; check KAFKA_BOOTSTRAP_SERVERS and "
            "KAFKA_SECURITY_PROTOCOL (the listener's protocol must match)"
        )


def missing_topics(admin: AdminClient, topics: Topics, timeout: float = 10.0) -> list[str]:
    """cxstream's topics this principal cannot see: absent, or not even DESCRIBE allowed."""
    names = [spec.name for spec in topic_specs(topics)]
    seen = _topic_operations(admin, names, timeout)
    return [n for n in names if not seen.get(n)]


def ensure_topics_or_explain(
    kafka: KafkaSettings, topics: Topics, absent: list[str], partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create missing topics; a principal without CREATE learns how to get them created."""
    try:
        ensure_topics(kafka, topics, partitions)
    except StackError as exc:
        if "AUTHORIZATION" not in str(exc).upper():
            raise
        raise PreflightError(
            f"topics missing and {_who(kafka)} may not create them: {', '.join(absent)}. "
            "Create them once as an administrator (`cxstream topics create` with admin "
            f"credentials), or grant CREATE on topics with prefix {topics.prefix} ({DOCS})"
        ) from exc


def check_access(
    admin: AdminClient,
    topics: Topics,
    app_id: str,
    redis: bool = True,
    webhooks: bool = False,
    timeout: float = 10.0,
) -> None:
    """Raise :class:`PreflightError` naming every missing permission (topic/group, operation)."""
    wanted = needs(topics, app_id, redis, webhooks)
    missing: list[str] = []
    allowed = _topic_operations(admin, [n.name for n in wanted if n.kind == "topic"], timeout)
    allowed.update(_group_operations(admin, [n.name for n in wanted if n.kind == "group"], timeout))
    for need in wanted:
        have = allowed.get(need.name)
        if have is None:
            continue  # a missing topic: ensure_topics creates it or says why it cannot
        lacking = [op.name for op in need.operations if op not in have]
        if lacking:
            ops = ", ".join(lacking)
            missing.append(f"not authorized to {ops} {need.kind} {need.name}: grant {ops} on it")
    missing += _internal_topic_problems(admin, app_id, timeout)
    if missing:
        raise PreflightError(
            "the broker refuses this worker's principal:\n  "
            + "\n  ".join(missing)
            + f"\n({DOCS} for the ACLs a worker needs, by topic and group prefix)"
        )


def _topic_operations(
    admin: AdminClient, names: Iterable[str], timeout: float
) -> dict[str, set[AclOperation]]:
    futures = admin.describe_topics(
        TopicCollection(list(names)),
        include_authorized_operations=True,
        request_timeout=timeout,
    )
    found: dict[str, set[AclOperation]] = {}
    for name, future in futures.items():
        try:
            operations = future.result().authorized_operations
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                found[name] = set()  # not even DESCRIBE
            # else absent (UNKNOWN_TOPIC_OR_PART) or no answer: no verdict, left out
        else:
            _note(found, name, operations)
    return found


def _note(found: dict[str, set[AclOperation]], name: str, operations: Any) -> None:
    """Record what the broker allows; a broker that does not say (None) gives no verdict."""
    if operations is not None:
        found[name] = set(operations)


def _group_operations(
    admin: AdminClient, groups: list[str], timeout: float
) -> dict[str, set[AclOperation]]:
    """Authorized operations per group; a group the broker cannot answer for is left out.

    Right after a broker starts, the group coordinator answers "load in progress" and
    librdkafka's retried describe can then hang until its timeout: short attempts, repeated
    until ``timeout``, and no verdict (rather than a false refusal) if none is answered.
    """
    found: dict[str, set[AclOperation]] = {}
    deadline = time.monotonic() + timeout
    pending = list(groups)
    while pending and time.monotonic() < deadline:
        futures = admin.describe_consumer_groups(
            pending, include_authorized_operations=True, request_timeout=2.0
        )
        pending = []
        for name, future in futures.items():
            try:
                _note(found, name, future.result().authorized_operations)
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
                    found[name] = set()
                else:  # coordinator loading, a timeout: ask again
                    pending.append(name)
        if pending:
            time.sleep(0.3)
    return found


def _internal_topic_problems(admin: AdminClient, app_id: str, timeout: float) -> list[str]:
    """Faust creates these itself: existing ones need READ/WRITE, missing ones CREATE."""
    names = faust_internal_topics(app_id)
    problems: list[str] = []
    fix = f"grant CREATE, READ, WRITE, DESCRIBE on topics with prefix {app_id}-"
    existing = _topic_operations(admin, names, timeout)
    for name, have in existing.items():
        lacking = [op.name for op in (R, W, D) if op not in have]
        if lacking:
            problems.append(f"not authorized to {', '.join(lacking)} topic {name}: {fix}")
    absent = [n for n in names if n not in existing]
    if absent:  # validate_only: the broker checks CREATE without creating anything
        futures = admin.create_topics(
            [NewTopic(n, 1, 1) for n in absent], validate_only=True, request_timeout=timeout
        )
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                    problems.append(f"not authorized to CREATE topic {name} (Faust's own): {fix}")
    return problems
