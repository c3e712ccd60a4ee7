"""Outputs shared by the batch cycle and the deadline timer: each caller hears of its own refused
messages, and a passing failure is re-sent whoever flushes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from agents.settings import KafkaSettings
from agents.worker.batch_cycle import TICKS_OWNER
from agents.worker.outputs import OutputProducer, OutputRejected

Delivery = Callable[[KafkaError | None, Any], None]


class ScriptedBroker:
    """Acknowledges every message on ``flush`` unless its topic has scripted errors left."""

    def __init__(self, errors: dict[str, list[int]]) -> None:
        self.errors = errors
        self.queued: list[tuple[str, Delivery]] = []
        self.sent: list[str] = []
        self.acknowledged: list[str] = []

    def produce(self, topic: str, value: bytes | None, key: bytes | None, **kw: Any) -> None:
        self.queued.append((topic, kw["on_delivery"]))
        self.sent.append(topic)

    def flush(self, timeout: float) -> int:
        queued, self.queued = self.queued, []
        for topic, on_delivery in queued:
            scripted = self.errors.get(topic)
            if scripted:
                on_delivery(KafkaError(scripted.pop(0)), None)
            else:
                self.acknowledged.append(topic)
                on_delivery(None, None)
        return 0

    def poll(self, timeout: float) -> int:
        return 0


def producer(broker: ScriptedBroker) -> OutputProducer:
    return OutputProducer(KafkaSettings(), max_backoff=0.01, client=broker)


def test_a_refused_tick_is_raised_to_the_timer_not_to_the_batch_whoever_flushes() -> None:
    async def scenario(timer_first: bool) -> None:
        broker = ScriptedBroker({"ticks": [KafkaError.TOPIC_AUTHORIZATION_FAILED]})
        outputs = producer(broker)
        outputs.produce("alerts", b"k", b"alert")
        outputs.produce("ticks", b"k", b"tick", owner=TICKS_OWNER)
        flushes = [outputs.flush(TICKS_OWNER), outputs.flush()]
        if not timer_first:
            flushes.reverse()
        results = await asyncio.gather(*flushes, return_exceptions=True)
        timer, batch = results if timer_first else results[::-1]
        assert batch is None, "the batch's own outputs were all acknowledged"
        assert isinstance(timer, OutputRejected) and not timer.caused_by_record
        assert "ticks" in str(timer)

    asyncio.run(scenario(timer_first=True))
    asyncio.run(scenario(timer_first=False))


def test_a_passing_failure_is_re_sent_even_when_another_owner_is_refused() -> None:
    async def scenario() -> None:
        broker = ScriptedBroker(
            {
                "alerts": [KafkaError._MSG_TIMED_OUT],  # a broker restart: sent again
                "ticks": [KafkaError.TOPIC_AUTHORIZATION_FAILED],
            }
        )
        outputs = producer(broker)
        outputs.produce("alerts", b"k", b"alert")
        outputs.produce("ticks", b"k", b"tick", owner=TICKS_OWNER)
        with pytest.raises(OutputRejected):
            await outputs.flush(TICKS_OWNER)
        await outputs.flush()  # the batch's flush returns only once its alert is delivered
        assert broker.acknowledged == ["alerts"]
        assert broker.sent.count("alerts") == 2

    asyncio.run(scenario())


def test_a_refusal_caused_by_the_message_is_raised_to_its_owner_once() -> None:
    async def scenario() -> None:
        broker = ScriptedBroker({"alerts": [KafkaError.MSG_SIZE_TOO_LARGE]})
        outputs = producer(broker)
        outputs.produce("alerts", b"k", b"x" * 10)
        with pytest.raises(OutputRejected) as refused:
            await outputs.flush()
        assert refused.value.caused_by_record
        outputs.produce("alerts", b"k", b"small")
        await outputs.flush()  # the retried batch: nothing left over from the refusal

    asyncio.run(scenario())
