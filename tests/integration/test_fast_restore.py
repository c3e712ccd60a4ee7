"""A recovery's changelog read with librdkafka fills the table's RocksDB as Faust's own recovery
would: the newest value per key, tombstones deleted, from the persisted offset on, and the
offset Faust's recovery then starts from (real broker, real RocksDB store, Faust's own
``Recovery`` of an unstarted app)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from faust.types import TP

from agents.settings import KafkaSettings
from agents.worker import fast_restore, table_store


def changelog_table(app_id: str, tmp_path: Path) -> Any:
    table_store.register()
    app = faust.App(app_id, store=table_store.store_url("rocksdb://"), datadir=str(tmp_path))
    return app, app.Table("customers", partitions=2, key_type=bytes, value_type=bytes)


def produce(
    kafka: KafkaSettings, topic: str, records: list[tuple[int, bytes, bytes | None]]
) -> None:
    admin = AdminClient(kafka.confluent())
    spec = NewTopic(topic, 2, 1, config={"cleanup.policy": "compact"})
    admin.create_topics([spec])[topic].result(30)
    producer = Producer(kafka.producer())
    for partition, key, value in records:
        producer.produce(topic, value, key, partition=partition)
    assert producer.flush(30) == 0


def test_the_read_applies_the_changelog_from_the_persisted_offset_on(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    app_id = f"{unique_prefix}app"
    app, table = changelog_table(app_id, tmp_path)
    topic = table.changelog_topic_name
    produce(
        kafka,
        topic,
        [
            (0, b"c1", b"v1"),
            (0, b"c2", b"v2"),
            (0, b"c1", b"v1-newer"),
            (0, b"c3", b"v3"),
            (0, b"c2", None),  # a tombstone: c2 is gone
            (1, b"c4", b"v4"),  # offset 0 of partition 1: already in the store
            (1, b"c5", b"v5"),
        ],
    )
    store = table.data
    store._db_for_partition(1).put(b"c4", b"v4")
    store.set_persisted_offset(TP(topic, 1), 0)
    store._db_for_partition(0).put(b"c2", b"stale")  # written before its tombstone
    recovery = app.tables.recovery
    for partition in (0, 1):
        recovery.add_active(table, TP(topic, partition))  # Faust reads the persisted offsets

    conf = fast_restore.consumer_conf(kafka, app_id)
    done = asyncio.run(fast_restore.restore_ahead(recovery, conf, budget_s=60))

    assert (done.partitions, done.records, done.finished) == (2, 6, True)
    assert dict(store._db_for_partition(0).items()) == {
        b"c1": b"v1-newer",
        b"c3": b"v3",
        store.offset_key: b"4",
    }
    assert store._db_for_partition(1)[b"c5"] == b"v5"
    assert store.persisted_offset(TP(topic, 0)) == 4
    assert store.persisted_offset(TP(topic, 1)) == 1
    assert recovery.active_offsets[TP(topic, 0)] == 4, "Faust's recovery starts after them"
    assert recovery.active_offsets[TP(topic, 1)] == 1

    again = asyncio.run(fast_restore.restore_ahead(recovery, conf, budget_s=60))
    assert (again.partitions, again.records) == (0, 0), "nothing past the persisted offsets"


def test_a_read_cut_short_leaves_faust_the_offsets_to_read_on_from(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """Out of time after its first chunk, the read has applied a prefix of each partition and
    Faust's recovery starts right after it."""
    monkeypatch.setattr(fast_restore, "CHUNK", 3)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    app_id = f"{unique_prefix}app"
    app, table = changelog_table(app_id, tmp_path)
    topic = table.changelog_topic_name
    produce(kafka, topic, [(0, b"c%d" % i, b"v%d" % i) for i in range(10)])
    recovery = app.tables.recovery
    recovery.add_active(table, TP(topic, 0))

    conf = fast_restore.consumer_conf(kafka, app_id)
    done = asyncio.run(fast_restore.restore_ahead(recovery, conf, budget_s=0.0))

    assert not done.finished and 0 < done.records < 10
    persisted = table.data.persisted_offset(TP(topic, 0))
    assert persisted == done.records - 1 == recovery.active_offsets[TP(topic, 0)]
    stored = set(dict(table.data._db_for_partition(0).items())) - {table.data.offset_key}
    assert stored == {b"c%d" % i for i in range(done.records)}, "a prefix, with no hole"
