"""Customer states written by the changelog writer (agents/worker/changelog.py) through real
librdkafka to a real broker: acknowledged, the writer's store has them with its restore point
at the last record, and another worker's store restored from that changelog holds the newest
state of every customer (real RocksDB stores, the worker's librdkafka restore read)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
from confluent_kafka.admin import AdminClient, NewTopic
from faust.types import TP

from agents.settings import KafkaSettings
from agents.worker import fast_restore, table_store
from agents.worker.changelog import librdkafka_writer
from agents.worker.tables import FaustStates, create_tables
from tests.unit.agents.worker.test_batch_fold import TOPICS, Rec


def customers_table(app_id: str, data_dir: Path) -> tuple[Any, Any]:
    table_store.register()
    app = faust.App(app_id, store=table_store.store_url("rocksdb://"), datadir=str(data_dir))
    customers, _ = create_tables(app, 2, 8)
    return app, customers


def test_written_states_are_acknowledged_and_restore_as_the_newest_per_customer(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    app_id = f"{unique_prefix}app"
    _, table = customers_table(app_id, tmp_path / "writer")
    topic = table.changelog_topic.get_topic_name()
    admin = AdminClient(kafka.confluent())
    admin.create_topics([NewTopic(topic, 2, 1, config={"cleanup.policy": "compact"})])[
        topic
    ].result(30)
    writer = librdkafka_writer(table, kafka)
    states = FaustStates(table, writer=writer)
    newest: dict[str, tuple[int, bytes]] = {}
    for n in range(300):  # 30 customers, ten states each, on both partitions
        cid, partition = f"c{n % 30}", n % 30 % 2
        value = f"{cid}@{n}".encode()
        states.put(cid, None, value, Rec(TOPICS.purchases, partition, n, cid.encode(), b""))
        newest[cid] = (partition, value)

    asyncio.run(writer.flush())

    for partition in (0, 1):
        assert table.data.persisted_offset(TP(topic, partition)) == 149, "all 150 acknowledged"
    app, restored = customers_table(app_id, tmp_path / "next-owner")
    recovery = app.tables.recovery
    for partition in (0, 1):
        recovery.add_active(restored, TP(topic, partition))
    conf = fast_restore.consumer_conf(kafka, app_id)
    done = asyncio.run(fast_restore.restore_ahead(recovery, conf, budget_s=60))
    assert done.finished and done.records == 300
    for cid, (partition, value) in newest.items():
        assert restored.data._db_for_partition(partition)[cid.encode()] == value
