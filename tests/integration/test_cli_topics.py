"""``cxstream topics`` on the real broker: idempotent creation, compaction, honest listing."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from agents.cli.main import main
from streams.topics import DEFAULT_PARTITIONS, Topics

pytestmark = pytest.mark.integration


def _args(action: str, bootstrap: str, prefix: str, *extra: str) -> list[str]:
    return [
        "topics",
        action,
        "--bootstrap-servers",
        bootstrap,
        "--topic-prefix",
        prefix,
        "--json",
        *extra,
    ]


def _broker_config(bootstrap: str, names: list[str], key: str) -> dict[str, str]:
    """What the broker itself says of ``key`` for each topic."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    found = admin.describe_configs(resources, request_timeout=30)
    return {r.name: f.result()[key].value for r, f in found.items()}


def test_create_twice_reports_created_then_exists_with_compaction(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args("create", kafka_bootstrap, unique_prefix)) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(_args("create", kafka_bootstrap, unique_prefix)) == 0
    second = json.loads(capsys.readouterr().out)

    names = Topics(unique_prefix)
    assert {r["status"] for r in first} == {"created"}
    assert {r["status"] for r in second} == {"exists"}
    assert {r["topic"] for r in first} >= {*names.inputs, names.alerts, names.health}
    by_name = {r["topic"]: r for r in second}
    for topic in names.inputs:
        assert by_name[topic]["partitions"] == DEFAULT_PARTITIONS  # a dozen workers
    assert by_name[names.profiles]["config"]["cleanup.policy"] == "delete"  # inputs: never
    assert by_name[names.purchases]["config"]["cleanup.policy"] == "delete"
    # what the broker itself says, independently of the command's own description
    policies = _broker_config(
        kafka_bootstrap, [names.profiles, names.health, names.alerts], "cleanup.policy"
    )
    assert policies == {names.profiles: "delete", names.health: "compact", names.alerts: "delete"}


def test_list_flags_missing_topics_and_other_partition_counts(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args("list", kafka_bootstrap, unique_prefix)) == 1
    missing = json.loads(capsys.readouterr().out)
    assert all(r["partitions"] is None for r in missing)

    assert main(_args("create", kafka_bootstrap, unique_prefix, "--partitions", "2")) == 0
    capsys.readouterr()
    assert main(_args("list", kafka_bootstrap, unique_prefix)) == 1  # expects DEFAULT_PARTITIONS
    listed = {r["topic"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[Topics(unique_prefix).purchases]["partitions"] == 2
    assert main(_args("list", kafka_bootstrap, unique_prefix, "--partitions", "2")) == 0


def test_table_output_for_people(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a for a in _args("create", kafka_bootstrap, unique_prefix) if a != "--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{unique_prefix}purchases" in out and "created" in out and "compact" in out


def test_create_with_retention_keeps_histories_that_are_older_than_the_default(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args("create", kafka_bootstrap, unique_prefix, "--retention-ms", "-1")) == 0
    capsys.readouterr()
    names = Topics(unique_prefix)
    wanted = [names.purchases, names.ticks, names.alerts, names.profiles, names.health]
    retention = _broker_config(kafka_bootstrap, wanted, "retention.ms")
    assert retention[names.purchases] == retention[names.ticks] == retention[names.alerts] == "-1"
    assert retention[names.profiles] == "-1"
    assert retention[names.health] != "-1"  # compacted topics keep their own settings
