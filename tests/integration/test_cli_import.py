"""``cxstream import`` on the real broker: each row of a messy export produced or reported."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from agents.cli.main import main
from agents.settings import KafkaSettings
from agents.worker.topic_admin import ensure_topics
from streams.domain import Purchase, PurchaseKind
from streams.topics import INPUT_PARTITIONS, Topics
from tests.integration.helpers import drain, input_high_watermarks, producer_argv
from tests.integration.test_cli_replay import decoded

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"
CSV_ARGS = [
    "--kind", "purchases",
    "--map", "customer=customer_id",
    "--map", "order_date=occurred_at",
    "--map", "total=amount",
    "--timezone", "Europe/Berlin",
    "--currency", "EUR",
]  # fmt: skip


def run_import(
    topics: Topics, bootstrap: str, path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, Any]:
    code = main(producer_argv("import", topics, bootstrap, str(path), *args))
    return code, json.loads(capsys.readouterr().out)


def read_purchases(consumer: Consumer, topics: Topics, n: int) -> list[tuple[Message, Purchase]]:
    """The purchases topic from the start (assigned: no group join to wait for)."""
    consumer.assign(
        [TopicPartition(topics.purchases, p, OFFSET_BEGINNING) for p in range(INPUT_PARTITIONS)]
    )
    messages = drain(consumer, n)
    assert len(messages) == n, f"{len(messages)} of {n} events arrived"
    return list(zip(messages, decoded(topics, messages), strict=True))


def at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def test_messy_csv_each_row_produced_or_rejected_and_reimport_repeats_the_same_ids(
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    messy = DATA / "import_orders_messy.csv"
    code, report = run_import(topics, kafka_bootstrap, messy, capsys, *CSV_ARGS)
    assert code == 1  # rows were rejected; everything valid was delivered
    assert [(r["row"], r["field"], r["reason"]) for r in report["rejected"]] == [
        (6, "customer_id", "empty_customer_id"),
        (9, "occurred_at", "invalid_time"),
        (10, "amount", "invalid_amount"),
        (12, "occurred_at", "nonexistent_local_time"),
        (13, "currency", "currency_mismatch"),
        (14, "amount", "invalid_amount"),
        (15, "-", "wrong_column_count"),
    ]
    assert report["summary"]["read"] == 14 and report["summary"]["blank_skipped"] == 2
    assert report["summary"]["produced"] == 7 and report["delivery"]["total_failed"] == 0

    got = read_purchases(make_consumer(), topics, 7)
    by_order = {event.order_id: event for _, event in got}
    expected = {  # order: (customer, event time, kind, amount in cents)
        "A-1001": ("c-001", at("2024-03-05T14:22+01:00"), PurchaseKind.ORDER_PLACED, 123450),
        "A-1002": ("c-002", at("2024-03-07T00:00+01:00"), PurchaseKind.ORDER_PLACED, 4500),
        "A-1003": ("c-001", at("2024-03-09T00:00+01:00"), PurchaseKind.ORDER_PLACED, 1250),
        "A-1003-R": ("c-001", at("2024-03-15T10:00+01:00"), PurchaseKind.REFUND, -1250),
        "A-1005": ("c-003", 1710928800.0, PurchaseKind.ORDER_PLACED, 200000),
        "A-1008": ("c-002", 1711101600.0, PurchaseKind.ORDER_PLACED, 9999),
        "A-1013": ("c-009", at("2024-03-25T09:00+01:00"), PurchaseKind.ORDER_PLACED, 350000),
    }
    assert {
        order: (e.customer_id, e.occurred_at, e.kind, e.amount_minor)
        for order, e in by_order.items()
    } == expected
    assert {e.currency for e in by_order.values()} == {"EUR"}
    # the one rule: the Kafka timestamp is the event time; produced oldest first
    by_partition: dict[int, list[int]] = defaultdict(list)
    for message, event in got:
        assert message.timestamp()[1] == round(event.occurred_at * 1000)
        assert message.key() == event.customer_id.encode()
        by_partition[message.partition()].append(message.timestamp()[1])
    assert all(times == sorted(times) for times in by_partition.values())

    # importing the same export again repeats the same event ids: the worker skips them
    assert run_import(topics, kafka_bootstrap, messy, capsys, *CSV_ARGS)[0] == 1
    again = read_purchases(make_consumer(), topics, 14)
    ids = sorted(event.event_id for _, event in again)
    assert ids == sorted([event.event_id for event in by_order.values()] * 2)


def test_parquet_and_json_lines_exports(
    tmp_path: Path,
    kafka_bootstrap: str,
    topics: Topics,
    make_consumer: Callable[..., Consumer],
    capsys: pytest.CaptureFixture[str],
) -> None:
    parquet = tmp_path / "orders.parquet"
    pq.write_table(
        pa.table(
            {
                "order_no": ["P-1", "P-2", "P-3"],
                "client": pa.array([7, 8, None], pa.int64()),  # typed ids, one missing
                "ts": pa.array(
                    [
                        datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
                        datetime(2024, 5, 2, 9, 30, tzinfo=UTC),
                        datetime(2024, 5, 3, tzinfo=UTC),
                    ],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "revenue": [49.9, -9.95, 5.0],
            }
        ),
        parquet,
    )
    code, report = run_import(
        topics, kafka_bootstrap, parquet, capsys,
        "--kind", "purchases", "--map", "order_no=order_id", "--map", "client=customer_id",
        "--map", "ts=occurred_at", "--map", "revenue=amount", "--currency", "EUR",
    )  # fmt: skip
    assert code == 1
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [(3, "empty_customer_id")]
    assert report["summary"]["produced"] == 2

    code, report = run_import(
        topics, kafka_bootstrap, DATA / "import_orders.jsonl", capsys,
        "--kind", "purchases", "--map", "customer=customer_id", "--map", "placed=occurred_at",
        "--map", "total=amount", "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert code == 1
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [
        (5, "invalid_json"),
        (6, "empty_customer_id"),
    ]
    assert report["summary"]["produced"] == 4

    got = {e.order_id: e for _, e in read_purchases(make_consumer(), topics, 6)}
    assert {k: (e.customer_id, e.amount_minor, e.kind.value) for k, e in got.items()} == {
        "P-1": ("7", 4990, "order_placed"),
        "P-2": ("8", -995, "refund"),
        "J-1": ("c-101", 1999, "order_placed"),
        "J-2": ("102", 125000, "order_placed"),
        "J-3": ("c-101", -1999, "refund"),
        "J-6": ("c-104", 700, "order_placed"),
    }
    assert got["P-2"].occurred_at == at("2024-05-02T09:30+00:00")
    assert got["J-1"].occurred_at == at("2024-04-02T09:15+02:00")


def test_history_older_than_the_topics_retention_is_refused_before_producing(
    kafka_bootstrap: str, unique_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    names = Topics(unique_prefix)
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap), names)  # 4-week retention
    messy = DATA / "import_orders_messy.csv"
    assert main(producer_argv("import", names, kafka_bootstrap, str(messy), *CSV_ARGS)) == 2
    refusal = " ".join(capsys.readouterr().err.split())
    assert "cxstream import: the history starts 2024-03-05" in refusal
    assert f"{names.purchases} keeps records 28 days" in refusal
    assert input_high_watermarks(kafka_bootstrap, names) == 0  # nothing was produced
