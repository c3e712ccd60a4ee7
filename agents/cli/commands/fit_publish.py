"""``cxstream fit --publish``: put the parameter records on the compacted topic workers read.

One message per record, key = segment ("all" is what workers use), value = the record's JSON
(``content-type: application/json``). The topic is created compacted if it is missing; a
compacted topic keeps the latest record per segment, and workers read it from the beginning.
"""

from __future__ import annotations

import json

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from agents.settings import Settings
from agents.worker.topic_admin import COMPACTED
from streams.errors import CxStreamError
from streams.fitting import ParamRecord


def _ensure_topic(settings: Settings, timeout: float) -> None:
    topic = settings.topics.model_parameters
    admin = AdminClient(settings.kafka.confluent())
    futures = admin.create_topics(
        [NewTopic(topic, 1, 1, config=COMPACTED)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[topic].result()
    except KafkaException as exc:
        error = exc.args[0]
        if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise CxStreamError(
                f"could not create topic {topic}: {error} (create it with `cxstream topics "
                "create`, or ask for CREATE on it)"
            ) from exc


def publish(settings: Settings, records: dict[str, ParamRecord], timeout: float = 30.0) -> str:
    """Produce every record; returns the topic. Raises CxStreamError naming what failed."""
    _ensure_topic(settings, timeout)
    topic = settings.topics.model_parameters
    producer = Producer(settings.kafka.confluent(**{"acks": "all", "enable.idempotence": True}))
    failures: list[str] = []

    def delivered(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for segment, rec in records.items():
        producer.produce(
            topic,
            key=segment.encode(),
            value=json.dumps(rec.to_dict(), sort_keys=True).encode(),
            headers=[("content-type", b"application/json")],
            on_delivery=delivered,
        )
    left = producer.flush(timeout)
    if left or failures:
        why = "; ".join(failures) or f"{left} record(s) not acknowledged within {timeout:g}s"
        raise CxStreamError(f"publishing to {topic} failed: {why}")
    return topic
