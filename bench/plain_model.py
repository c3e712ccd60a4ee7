"""Peer row: a plain confluent-kafka consume → model → produce loop with dict state.

What a hand-written single-process consumer reaches with the worker's model and nothing else:
batches from librdkafka, each record through :func:`bench.peer_fold.fold_record`, state as
Python objects in a dict (no codec, no changelog, no durability), outputs through a librdkafka
producer. Records arrive in librdkafka's order (no timestamp alignment across topics).
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Producer

from bench.peer_fold import PEER_PRODUCER, PeerFold, fold_record
from streams.model import CustomerState


def plain_model_rate(bootstrap: str, prefix: str, expected: int, limit: float = 1200.0) -> float:
    """Events/s from the first record consumed until ``expected`` are folded and flushed."""
    fold = PeerFold.default(prefix)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"plain-model-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
    )
    producer = Producer({**PEER_PRODUCER, "bootstrap.servers": bootstrap})
    consumer.subscribe(list(fold.topics.inputs))
    states: dict[bytes, CustomerState] = {}
    seen, started = 0, 0.0
    deadline = time.monotonic() + limit
    while seen < expected:
        assert time.monotonic() < deadline, f"plain loop stalled at {seen}/{expected}"
        for msg in consumer.consume(1000, 1.0):
            if msg.error():
                continue
            started = started or time.perf_counter()
            key = msg.key()
            topic = msg.topic()
            assert key is not None and topic is not None
            state, outputs = fold_record(
                fold,
                fold.kind(topic),
                key,
                msg.value(),
                msg.headers(),
                msg.timestamp()[1],
                states.get(key),
            )
            if state is not None:
                states[key] = state
            for out_topic, out_key, value, headers in outputs:
                while True:
                    try:
                        producer.produce(out_topic, value, out_key, headers=headers)
                        break
                    except BufferError:
                        producer.poll(0.01)
            seen += 1
        producer.poll(0)
    assert producer.flush(60) == 0
    elapsed = time.perf_counter() - started
    consumer.close()
    return expected / elapsed
