"""What the customer agent publishes goes through librdkafka, not through Faust's producer.

A worker publishes about one health snapshot per input event. confluent-kafka's ``produce``
costs a few microseconds per message where aiokafka's ``send`` costs tens, so outputs
(alerts, snapshots, dead letters, timer ticks) use a confluent-kafka producer; Faust keeps its
own producer for table changelogs. ``flush`` waits until the broker acknowledged every message
produced so far and re-sends any that failed, so a batch's outputs are durable before the
batch's states are written and its offsets committed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from agents.settings import KafkaSettings

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]] | list[tuple[str, bytes | None]] | None


@dataclass(frozen=True, slots=True)
class _Pending:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    partition: int
    timestamp: int


class OutputProducer:
    def __init__(self, kafka: KafkaSettings, *, max_backoff: float = 10.0) -> None:
        self._producer = Producer(
            kafka.confluent(
                **{
                    "enable.idempotence": True,  # retries keep per-key order, no duplicates
                    "acks": "all",
                    "linger.ms": 2,
                    "partitioner": "murmur2_random",  # the same partitions as Java producers
                    "compression.type": "lz4",
                }
            )
        )
        self._failed: list[_Pending] = []
        self._max_backoff = max_backoff

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = None,
        *,
        partition: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        self._produce(
            _Pending(
                topic,
                key,
                value,
                headers,
                -1 if partition is None else partition,
                0 if timestamp is None else round(timestamp * 1000),
            )
        )

    def _produce(self, msg: _Pending) -> None:
        def on_delivery(err: KafkaError | None, _: Any) -> None:
            if err is not None:
                log.warning("output to %s failed (%s); will re-send", msg.topic, err)
                self._failed.append(msg)

        while True:
            try:
                self._producer.produce(
                    msg.topic,
                    msg.value,
                    msg.key,
                    partition=msg.partition,
                    headers=msg.headers,
                    timestamp=msg.timestamp,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # local queue full: let librdkafka drain some
                self._producer.poll(0.05)

    async def flush(self) -> None:
        """Return once every message produced so far is acknowledged by the broker."""
        delay = 0.1
        while True:
            remaining = await asyncio.to_thread(self._producer.flush, 30.0)
            if remaining == 0 and not self._failed:
                return
            failed, self._failed = self._failed, []
            for msg in failed:
                self._produce(msg)
            await asyncio.sleep(delay)
            delay = min(self._max_backoff, delay * 2)

    def poll(self) -> None:
        """Serve delivery callbacks without waiting (cheap; call once per batch)."""
        self._producer.poll(0)
