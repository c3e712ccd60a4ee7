"""The real broker and the real redis-server answer: the ground every other test stands on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from confluent_kafka import Consumer, Producer

from streams.topics import Topics
from tests.integration.helpers import drain

pytestmark = pytest.mark.integration


def test_kafka_round_trip_keeps_key_value_headers_and_partition_order(
    topics: Topics,
    make_producer: Callable[..., Producer],
    make_consumer: Callable[..., Consumer],
) -> None:
    producer = make_producer(**{"enable.idempotence": True})
    sent = [(b"cust-1", f"event-{i}".encode()) for i in range(20)]
    for key, value in sent:
        producer.produce(topics.purchases, key=key, value=value, headers=[("h", value)])
    assert producer.flush(10) == 0

    consumer = make_consumer()
    consumer.subscribe([topics.purchases])
    received = [(m.key(), m.value(), m.headers()) for m in drain(consumer, len(sent), 30)]
    assert [(k, v) for k, v, _ in received] == sent  # one key -> one partition -> in order
    assert all(h == [("h", v)] for _, v, h in received)


def test_topics_are_created_with_compaction_and_copartitioning(
    topics: Topics, make_consumer: Callable[..., Consumer]
) -> None:
    metadata = make_consumer().list_topics(timeout=10)
    counts = {name: len(metadata.topics[name].partitions) for name in topics.inputs}
    assert len(set(counts.values())) == 1, counts


def test_redis_round_trip(redis_url: str, unique_prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"{unique_prefix}smoke"
    client.set(key, "value", ex=60)
    assert client.get(key) == b"value"
    assert client.info("persistence")["rdb_bgsave_in_progress"] == 0
