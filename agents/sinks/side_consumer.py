"""A consumer of cxstream's own output topics that commits only after its sink succeeded.

The Redis read model and webhook delivery run on their own consumer groups, outside the Faust
stream: a slow or absent Redis or webhook never holds back the customer pipeline, and when it
comes back the sink catches up from its last committed offset (the topic is the source of
truth). A batch that fails is retried with backoff, never skipped.

A sink can report its health: ``on_failure``/``on_success`` hear every failed and every
successful attempt, and an optional ``probe`` (e.g. a Redis PING) runs at start and, while the
sink is failing and no batch arrives, every ``probe_interval`` seconds, so a wrong password is
noticed before the first record and its recovery even when the topics are quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, Message

from agents.settings import KafkaSettings

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]
Probe = Callable[[], Awaitable[None]]


class SideConsumer:
    def __init__(
        self,
        kafka: KafkaSettings,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        *,
        batch_size: int = 500,
        poll_timeout: float = 0.2,
        max_backoff: float = 10.0,
        on_failure: Callable[[Exception], None] | None = None,
        on_success: Callable[[], None] | None = None,
        probe: Probe | None = None,
        probe_interval: float = 5.0,
        describe: Callable[[Exception], str] = repr,
    ) -> None:
        self._conf = kafka.confluent(
            **{
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._topics = list(topics)
        self._handler = handler
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout
        self._max_backoff = max_backoff
        self._on_failure = on_failure
        self._on_success = on_success
        self._probe = probe
        self._probe_interval = probe_interval
        self._describe = describe
        self._failing = False
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        consumer = Consumer(self._conf)
        consumer.subscribe(self._topics)
        last_probe = await self._run_probe()
        try:
            while not self._stopping.is_set():
                messages = await asyncio.to_thread(
                    consumer.consume, self._batch_size, self._poll_timeout
                )
                batch = [m for m in messages if m.error() is None]
                if batch:
                    await self._handle_until_done(batch)
                    await asyncio.to_thread(consumer.commit, asynchronous=False)
                elif self._failing and loop_time() - last_probe >= self._probe_interval:
                    last_probe = await self._run_probe()
        finally:
            await asyncio.to_thread(consumer.close)

    async def _run_probe(self) -> float:
        if self._probe is not None:
            try:
                await self._probe()
                self._succeeded()
            except Exception as exc:  # reported, never fatal: the loop goes on
                self._failed(exc)
                log.warning("sink check failed: %s", self._describe(exc))
        return loop_time()

    def _succeeded(self) -> None:
        self._failing = False
        if self._on_success:
            self._on_success()

    def _failed(self, exc: Exception) -> None:
        self._failing = True
        if self._on_failure:
            self._on_failure(exc)

    async def _handle_until_done(self, batch: list[Message]) -> None:
        delay = 0.1
        while True:
            try:
                await self._handler(batch)
                self._succeeded()
                return
            except Exception as exc:  # a sink outage: keep the batch, back off, retry
                self._failed(exc)
                log.warning("sink failed (%s); retrying in %.1fs", self._describe(exc), delay)
                if self._stopping.is_set():
                    raise
                await asyncio.sleep(delay)
                delay = min(self._max_backoff, delay * 2)


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def message_headers(message: Any) -> list[tuple[str, bytes]]:
    return [(k, v or b"") for k, v in (message.headers() or [])]
