"""A sink's side consumer commits a batch only after its sink took it, and retries until then.

confluent-kafka's ``Consumer`` is replaced by a scripted one (the real one is exercised by the
integration tests of the Redis read model and webhook delivery): what is tested is the order
of handling, retrying and committing that keeps a sink from losing or skipping records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from agents.settings import KafkaSettings
from agents.sinks import side_consumer
from agents.sinks.side_consumer import SideConsumer, message_headers


class Msg:
    def __init__(self, value: bytes, error: object = None) -> None:
        self._value, self._error = value, error

    def value(self) -> bytes:
        return self._value

    def error(self) -> object:
        return self._error

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return [("content-type", b"application/json"), ("empty", None)]


class ScriptedConsumer:
    """Hands out the scripted batches, then nothing; records what the side consumer does."""

    script: list[list[Msg]] = []
    log: list[str] = []

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        type(self).log.append(f"group={conf['group.id']} commit={conf['enable.auto.commit']}")

    def subscribe(self, topics: Sequence[str]) -> None:
        self.log.append(f"subscribe {','.join(topics)}")

    def consume(self, num: int, timeout: float) -> list[Msg]:
        return self.script.pop(0) if self.script else []

    def commit(self, asynchronous: bool = True) -> None:
        self.log.append(f"commit sync={not asynchronous}")

    def close(self) -> None:
        self.log.append("close")


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedConsumer]:
    monkeypatch.setattr(side_consumer, "Consumer", ScriptedConsumer)
    ScriptedConsumer.log = []
    return ScriptedConsumer


async def run_until(sink: SideConsumer, done: Any, timeout: float = 10.0) -> None:
    task = asyncio.create_task(sink.run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not done():
        assert asyncio.get_running_loop().time() < deadline, "the side consumer got stuck"
        await asyncio.sleep(0.01)
    sink.stop()
    await asyncio.wait_for(task, timeout)


async def test_a_failing_batch_is_retried_and_committed_only_once_the_sink_took_it(
    scripted: type[ScriptedConsumer],
) -> None:
    scripted.script = [[Msg(b"a"), Msg(b"broken", error="partition EOF"), Msg(b"b")]]
    attempts: list[list[bytes]] = []
    failures: list[Exception] = []
    successes: list[bool] = []

    async def sink(batch: Sequence[Any]) -> None:
        attempts.append([m.value() for m in batch])
        scripted.log.append("handled")
        if len(attempts) < 3:
            raise ConnectionError("sink down")

    consumer = SideConsumer(
        KafkaSettings(),
        "g1",
        ["t.alerts"],
        sink,
        max_backoff=0.01,
        on_failure=failures.append,
        on_success=lambda: successes.append(True),
    )
    await run_until(consumer, lambda: "commit sync=True" in scripted.log)
    assert attempts == [[b"a", b"b"]] * 3, "the same batch, without the errored message"
    assert [str(f) for f in failures] == ["sink down", "sink down"] and successes == [True]
    assert scripted.log == [
        "group=g1 commit=False",
        "subscribe t.alerts",
        "handled",
        "handled",
        "handled",
        "commit sync=True",
        "close",
    ]


async def test_a_probe_reports_a_broken_sink_before_any_record_and_its_recovery(
    scripted: type[ScriptedConsumer],
) -> None:
    scripted.script = []
    health: list[str] = []
    checks = 0

    async def probe() -> None:
        nonlocal checks
        checks += 1
        if checks == 1:
            raise PermissionError("WRONGPASS")

    async def sink(batch: Sequence[Any]) -> None:
        raise AssertionError("no records were scripted")

    consumer = SideConsumer(
        KafkaSettings(),
        "g2",
        ["t.health"],
        sink,
        poll_timeout=0.0,
        on_failure=lambda exc: health.append(f"failing: {exc}"),
        on_success=lambda: health.append("ok"),
        probe=probe,
        probe_interval=0.0,
    )
    await run_until(consumer, lambda: "ok" in health)
    assert health[:2] == ["failing: WRONGPASS", "ok"], "checked while failing, with no records"


def test_headers_without_a_value_read_as_empty() -> None:
    assert message_headers(Msg(b"x")) == [("content-type", b"application/json"), ("empty", b"")]
