"""The worker creates its tables' changelogs before Faust starts: compacted, co-partitioned
(the alert budget's table, like the topic it follows, has one partition)."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, ConfigResource

from agents.settings import KafkaSettings
from agents.worker.topic_admin import budget_changelog, ensure_changelogs, faust_changelogs
from streams.topics import INPUT_PARTITIONS


def test_changelogs_are_created_compacted_with_the_input_partitions_once(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    app_id = f"{unique_prefix}app"
    first = ensure_changelogs(kafka, app_id)
    again = ensure_changelogs(kafka, app_id)
    names = [*faust_changelogs(app_id), budget_changelog(app_id)]
    assert first == dict.fromkeys(names, "created") and again == dict.fromkeys(names, "exists")

    admin = AdminClient(kafka.confluent())
    metadata = admin.list_topics(timeout=10).topics
    sizes = [len(metadata[name].partitions) for name in names]
    assert sizes == [INPUT_PARTITIONS] * (len(names) - 1) + [1]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in names]
    for future in admin.describe_configs(resources).values():
        assert future.result(10)["cleanup.policy"].value == "compact"
