"""``cxstream simulate`` on the real broker: every event arrives, decodes, on Faust's partition."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import Consumer

from agents.cli.main import main
from agents.settings import KafkaSettings
from agents.worker.topic_admin import ensure_topics
from streams.contracts import JSON, Decoded, decode_message
from streams.domain import Event
from streams.simulator import iter_events
from streams.topics import INPUT_PARTITIONS, Topics
from tests.integration.helpers import drain, input_high_watermarks, producer_argv

pytestmark = pytest.mark.integration

KINDS = ("purchases", "tickets", "feedback", "profiles")


def argv(topics: Topics, bootstrap: str, *extra: str) -> list[str]:
    return producer_argv("simulate", topics, bootstrap, *extra)


def _kind_of(topics: Topics) -> dict[str, str]:
    return dict(zip(topics.inputs, KINDS, strict=True))


def test_simulate_produces_every_event_to_its_murmur2_partition(
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = list(iter_events(25, 30, 11))
    extra = ("--customers", "25", "--days", "30", "--seed", "11")
    assert main(argv(topics, kafka_bootstrap, *extra)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_sent"] == len(expected) and summary["total_failed"] == 0

    consumer = make_consumer()
    consumer.subscribe(list(topics.inputs))
    received = drain(consumer, len(expected))
    assert len(received) == len(expected)
    kind_of = _kind_of(topics)
    faust_partition = DefaultPartitioner()
    all_partitions = list(range(INPUT_PARTITIONS))
    decoded = []
    for msg in received:
        result = decode_message(msg, kind_of[msg.topic()], now=time.time())
        assert isinstance(result, Decoded), result
        decoded.append(result.event)
        # the Java/Faust murmur2 partition, or table lookups would ask the wrong worker
        assert msg.partition() == faust_partition(msg.key(), all_partitions, all_partitions)
    assert sorted(map(identity, decoded)) == sorted(map(identity, expected))


def identity(event: Event) -> tuple[str, str, str, str, int]:
    """What must survive the trip (times travel as whole milliseconds)."""
    return (
        type(event).__name__,
        event.source,
        event.event_id,
        event.customer_id,
        round(event.occurred_at * 1000),
    )


def test_json_format_and_rate_limit(
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    count = len(list(iter_events(3, 10, 2)))
    rate = 20.0
    started = time.monotonic()
    extra = ("--customers", "3", "--days", "10", "--seed", "2", "--format", "json")
    assert main(argv(topics, kafka_bootstrap, *extra, "--rate", str(rate))) == 0
    elapsed = time.monotonic() - started
    assert json.loads(capsys.readouterr().out)["total_sent"] == count
    assert elapsed >= (count - 1) / rate * 0.95

    consumer = make_consumer()
    consumer.subscribe(list(topics.inputs))
    received = drain(consumer, count)
    assert len(received) == count
    assert all(("content-type", JSON.encode()) in (m.headers() or []) for m in received)


def test_a_history_older_than_the_topics_retention_is_refused_before_producing(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = Topics(unique_prefix)
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), names)  # 4-week retention
    extra = ("--customers", "3", "--days", "10", "--seed", "2")  # dated 2024 by default

    assert main(argv(names, kafka_bootstrap, *extra)) == 2
    refusal = capsys.readouterr().err
    assert f"{names.purchases} keeps records 28 days" in refusal
    assert "--retention-ms -1" in refusal
    assert input_high_watermarks(kafka_bootstrap, names) == 0  # nothing was produced

    assert main(argv(names, kafka_bootstrap, *extra, "--start", "now")) == 0
    sent = json.loads(capsys.readouterr().out)["total_sent"]
    assert sent == len(list(iter_events(3, 10, 2)))
    assert input_high_watermarks(kafka_bootstrap, names) == sent


def test_missing_topics_are_judged_by_the_brokers_default_retention(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = Topics(unique_prefix)  # not created: producing would auto-create them (7 days)
    extra = ("--customers", "2", "--days", "30", "--seed", "3", "--start", "now")

    assert main(argv(names, kafka_bootstrap, *extra)) == 2
    refusal = capsys.readouterr().err
    assert f"{names.tickets} does not exist; auto-created, it would keep records 7 days" in refusal

    assert main(argv(names, kafka_bootstrap, *extra, "--ignore-retention")) == 0
    assert json.loads(capsys.readouterr().out)["total_failed"] == 0
