"""``cxstream replay`` on the real broker: good records sent with their times, bad ones named."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import Consumer, Message

import schemas
from agents.cli.main import main
from agents.settings import KafkaSettings
from agents.worker.topic_admin import ensure_topics
from streams.contracts import Decoded, decode_message
from streams.contracts.mapping import event_to_record
from streams.domain import Event
from streams.topics import Topics
from tests.integration.helpers import drain, input_high_watermarks, producer_argv
from tests.unit.contracts import samples

pytestmark = pytest.mark.integration

KIND_OF_TOPIC = {
    "purchases": "purchases",
    "support-tickets": "tickets",
    "feedback": "feedback",
    "customer-profiles": "profiles",
}


def decoded(topics: Topics, messages: list[Message]) -> list[Any]:
    out = []
    for msg in messages:
        kind = KIND_OF_TOPIC[msg.topic().removeprefix(topics.prefix)]
        result = decode_message(msg, kind, now=time.time())
        assert isinstance(result, Decoded), result
        out.append(result.event)
    return out


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def argv(topics: Topics, bootstrap: str, *extra: str) -> list[str]:
    return producer_argv("replay", topics, bootstrap, *extra)


def test_good_lines_are_sent_with_their_event_times_and_bad_ones_reported(
    tmp_path: Path,
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    good: list[Event] = [
        samples.purchase(event_id="r1"),
        samples.ticket(event_id="r2"),
        samples.feedback(event_id="r3", customer_id="cust-2"),
    ]
    path = write_jsonl(
        tmp_path / "recorded.jsonl",
        [
            {"event_kind": "purchases", **event_to_record(good[0])},
            "{oops",
            {"kind": "tickets", **event_to_record(good[1])},
            {
                "event_kind": "purchases",
                **event_to_record(samples.purchase(event_id="x", amount_minor=-1)),
            },
            {"kind": "feedback", "event": event_to_record(good[2])},
            {
                "event_kind": "purchases",  # seconds sent as milliseconds: January 1970
                **event_to_record(samples.purchase(event_id="s", occurred_at=samples.T / 1e3)),
            },
        ],
    )
    assert main(argv(topics, kafka_bootstrap, str(path))) == 1  # something was rejected
    report = json.loads(capsys.readouterr().out)
    assert [(r["line"], r["reason"]) for r in report["rejected"]] == [
        (2, "invalid_json"),
        (4, "negative_amount"),
        (6, "event_time_out_of_range"),
    ]
    assert "look like seconds sent as milliseconds" in report["warnings"][0]
    assert report["delivery"]["total_sent"] == 3 and report["delivery"]["total_failed"] == 0

    consumer = make_consumer()
    consumer.subscribe(list(topics.inputs))
    messages = drain(consumer, 3)
    events = decoded(topics, messages)  # judged against their record timestamps, as live
    assert sorted(events, key=lambda e: e.event_id) == good  # times and ids unchanged
    # the one rule: each record's Kafka timestamp is its event time
    assert [m.timestamp()[1] for m in messages] == [round(e.occurred_at * 1000) for e in events]


def test_dry_run_sends_nothing(
    tmp_path: Path,
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dry = write_jsonl(
        tmp_path / "dry.jsonl",
        [
            {"event_kind": "purchases", **event_to_record(samples.purchase(event_id=f"d{i}"))}
            for i in range(5)
        ],
    )
    assert main(argv(topics, kafka_bootstrap, "--dry-run", str(dry))) == 0
    assert json.loads(capsys.readouterr().out)["valid"] == {"purchases": 5}
    # a real replay afterwards: the only thing on the topics must be its one event
    marker = write_jsonl(
        tmp_path / "marker.jsonl",
        [{"event_kind": "purchases", **event_to_record(samples.purchase(event_id="marker"))}],
    )
    assert main(argv(topics, kafka_bootstrap, str(marker))) == 0
    consumer = make_consumer()
    consumer.subscribe(list(topics.inputs))
    received = drain(consumer, 1)
    received += drain(consumer, 1, timeout=3.0)  # anything more would be a dry-run leak
    assert [e.event_id for e in decoded(topics, received)] == ["marker"]


def test_avro_container_file_is_replayed_by_its_schema_kind(
    tmp_path: Path,
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    profiles = [samples.profile(event_id=f"pr{i}", customer_id=f"cust-{i}") for i in range(3)]
    path = tmp_path / "profiles.avro"
    with path.open("wb") as fh:
        schema = fastavro.parse_schema(schemas.load_schema("profiles"))
        fastavro.writer(fh, schema, [event_to_record(p) for p in profiles])
    assert main(argv(topics, kafka_bootstrap, str(path))) == 0
    assert json.loads(capsys.readouterr().out)["valid"] == {"profiles": 3}
    consumer = make_consumer()
    consumer.subscribe([topics.profiles])
    assert sorted(decoded(topics, drain(consumer, 3)), key=lambda e: e.event_id) == profiles


def test_events_older_than_the_topics_retention_are_refused_before_producing(
    tmp_path: Path, kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = Topics(unique_prefix)
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), names)  # 4-week retention
    an_hour_ago = samples.purchase(event_id="new", occurred_at=round(time.time()) - 3600.0)
    recent = {"event_kind": "purchases", **event_to_record(an_hour_ago)}
    old = samples.purchase(event_id="old", occurred_at=1_704_067_200.0)  # 2024-01-01
    mixed = write_jsonl(
        tmp_path / "mixed.jsonl", [recent, {"event_kind": "purchases", **event_to_record(old)}]
    )

    assert main(argv(names, kafka_bootstrap, str(mixed))) == 2
    refusal = capsys.readouterr().err
    assert "history starts 2024-01-01" in refusal
    assert f"{names.purchases} keeps records 28 days" in refusal
    assert input_high_watermarks(kafka_bootstrap, names) == 0  # nothing was produced

    only_recent = write_jsonl(tmp_path / "recent.jsonl", [recent])
    assert main(argv(names, kafka_bootstrap, str(only_recent))) == 0
    assert main(argv(names, kafka_bootstrap, "--ignore-retention", str(mixed))) == 0
    assert input_high_watermarks(kafka_bootstrap, names) == 3
