"""``cxstream fit --from-health``: customers' statistics from the compacted health topic.

Every health snapshot carries the customer's purchase statistics (purchase days, first and
latest order, orders, net spend). The topic is compacted by customer, so reading it to its end
gives every customer's latest snapshot: the BG/NBD statistics at ``as_of`` (default: the newest
snapshot's time) without reading any order history. Dormancy is not learned this way (it needs
order dates), as with ``--stats``.
"""

from __future__ import annotations

import time

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from agents.settings import Settings
from agents.sinks.side_consumer import message_headers
from streams.contracts import decode_snapshot
from streams.domain import HealthSnapshot
from streams.errors import CxStreamError
from streams.fitting import CustomerStats
from streams.fitting.nbd import Array

WEEK_S = 7 * 86400.0


def latest_snapshots(settings: Settings, timeout: float = 120.0) -> dict[str, HealthSnapshot]:
    """Each customer's newest snapshot on the health topic, read from the beginning to its end."""
    topic = settings.topics.health
    consumer = Consumer(
        settings.kafka.confluent(
            **{
                "group.id": f"cxstream-fit-{time.time_ns()}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
    )
    try:
        meta = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise CxStreamError(f"topic {topic} not found: run a worker first (or use FILE)")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        pending, latest = set(meta.partitions), dict[str, HealthSnapshot]()
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise CxStreamError(f"{topic}: not read to its end within {timeout:g}s")
            for msg in consumer.consume(1000, 0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                    continue
                snap = decode_snapshot(msg.value(), message_headers(msg))
                if isinstance(snap, HealthSnapshot):
                    old = latest.get(snap.customer_id)
                    if old is None or old.as_of <= snap.as_of:
                        latest[snap.customer_id] = snap
        return latest
    finally:
        consumer.close()


def stats_from_snapshots(
    snapshots: dict[str, HealthSnapshot], as_of: float | None = None
) -> tuple[CustomerStats, Array, Array, float]:
    """(statistics in weeks, orders, mean order value in minor units, as_of) of the customers
    with at least one purchase."""
    buyers = [
        s
        for s in snapshots.values()
        if s.purchase_days > 0 and s.first_purchase_at is not None and s.last_purchase_at
    ]
    if not buyers:
        raise CxStreamError("no snapshot with a purchase on the health topic: nothing to fit")
    at = as_of if as_of is not None else max(s.as_of for s in buyers)
    first = np.array([s.first_purchase_at for s in buyers], dtype=np.float64)
    last = np.array([s.last_purchase_at for s in buyers], dtype=np.float64)
    x = np.array([s.purchase_days - 1 for s in buyers], dtype=np.float64)
    t_x = (last - first) / WEEK_S
    big_t = np.maximum(at - first, last - first) / WEEK_S
    orders = np.array([s.orders for s in buyers], dtype=np.float64)
    spend = np.array([s.net_spend_minor for s in buyers], dtype=np.float64)
    mean_value = np.where(orders > 0, spend / np.maximum(orders, 1.0), 0.0)
    return CustomerStats(x, t_x, big_t), orders, mean_value, at
