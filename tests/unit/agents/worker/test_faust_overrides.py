"""The Faust overrides (agents/worker/faust_overrides.py): the internals they replace are the
ones pinned, a delivery runs inline only when it does not suspend, and the worker's app gets
them unless started with --no-faust-fast-path."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from pathlib import Path

import aiokafka
import faust
import mode
import pytest

from agents.app import faust_app, run_worker
from agents.cli.commands.worker import options_from_args
from agents.cli.commands.worker_argv import worker_argv
from agents.cli.main import build_parser
from agents.settings import ApiAccess, KafkaSettings, Settings, WorkerOptions
from agents.worker import faust_overrides, faust_pins
from agents.worker.api_security import ApiGuard
from agents.worker.faust_overrides import (
    FastConsumer,
    FastTransport,
    FaustLevers,
    first_step,
    install,
)
from agents.worker.faust_pins import check_pinned, moved_internals
from streams.errors import ConfigError

VERSIONS = (
    f"faust-streaming {faust.__version__}, mode-streaming {mode.__version__}, "
    f"aiokafka {aiokafka.__version__}"
)


def test_the_internals_the_overrides_replace_are_the_pinned_ones() -> None:
    """Fails on a Faust, mode or aiokafka upgrade that changed a piece the overrides copy or
    rely on: re-check each named piece against the module docstring, then re-pin its hash in
    RELIES_ON (or run the worker with --no-faust-fast-path meanwhile)."""
    moved = moved_internals()
    assert not moved, (
        f"Faust internals behind agents/worker/faust_overrides.py moved ({VERSIONS}; pinned: "
        "faust-streaming 0.15.3, mode-streaming 0.7.1, aiokafka 0.14.0):\n" + "\n".join(moved)
    )


def test_a_moved_internal_is_named_with_what_to_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "faust Consumer._drain_messages"
    get, _, recheck = faust_pins.RELIES_ON[name]
    monkeypatch.setitem(faust_pins.RELIES_ON, name, (get, "0" * 16, recheck))
    [line] = moved_internals()
    assert line.startswith(name) and recheck in line


CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="outside")


def test_a_delivery_that_does_not_suspend_is_done_inline() -> None:
    delivered: list[int] = []

    async def deliver() -> None:
        CURRENT.set("inside")  # as in a task: the caller's context is not touched
        delivered.append(1)

    async def main() -> None:
        tasks = len(asyncio.all_tasks())
        assert first_step(deliver()) is None
        assert delivered == [1] and len(asyncio.all_tasks()) == tasks
        assert CURRENT.get() == "outside"

    asyncio.run(main())


def test_a_delivery_that_suspends_finishes_in_order_and_can_be_cancelled() -> None:
    steps: list[str] = []

    async def deliver(gate: asyncio.Event) -> None:
        CURRENT.set("inside")
        steps.append("before")
        try:
            await gate.wait()  # a full stream buffer, or flow control during a rebalance
            steps.append(f"after:{CURRENT.get()}")
        finally:
            steps.append("finally")

    async def main() -> None:
        gate = asyncio.Event()
        rest = first_step(deliver(gate))
        assert rest is not None and steps == ["before"]
        task = asyncio.ensure_future(faust_overrides._finish(rest))
        await asyncio.sleep(0.01)
        assert not task.done()
        gate.set()
        await asyncio.wait_for(task, 5)
        assert steps == ["before", "after:inside", "finally"]

        steps.clear()
        rest = first_step(deliver(asyncio.Event()))
        assert rest is not None
        task = asyncio.ensure_future(faust_overrides._finish(rest))
        await asyncio.sleep(0.01)
        task.cancel()  # a stop: the delivery is cancelled where it waits, as in Faust's task
        with pytest.raises(asyncio.CancelledError):
            await task
        assert steps == ["before", "finally"]

    asyncio.run(main())


def test_a_failing_delivery_raises_to_the_drain_loop() -> None:
    async def deliver() -> None:
        raise ValueError("broken channel")

    with pytest.raises(ValueError, match="broken channel"):
        first_step(deliver())


def options(tmp_path: Path, **changes: object) -> WorkerOptions:
    return WorkerOptions(data_dir=tmp_path, api_access=ApiAccess(insecure=True), **changes)  # type: ignore[arg-type]


def test_the_worker_app_gets_the_overrides_and_its_fetch_wait(tmp_path: Path) -> None:
    async def main() -> None:
        app = faust_app(
            options(tmp_path, faust_fast_path=True, fetch_max_wait=0.25), ApiGuard(ApiAccess()), 4
        )
        assert isinstance(app.transport, FastTransport)
        assert isinstance(app.consumer, FastConsumer)
        kafka_consumer = app.consumer._thread._create_worker_consumer(app.transport)
        assert kafka_consumer._fetch_max_wait_ms == 250
        with pytest.raises(RuntimeError, match="transport exists"):
            install(app, FaustLevers())

        stock = faust_app(options(tmp_path, faust_fast_path=False), ApiGuard(ApiAccess()), 4)
        assert not isinstance(stock.transport, FastTransport)
        kafka_consumer = stock.consumer._thread._create_worker_consumer(stock.transport)
        assert kafka_consumer._fetch_max_wait_ms == 1500  # Faust's own

        default = faust_app(options(tmp_path), ApiGuard(ApiAccess()), 4)
        assert isinstance(default.consumer, FastConsumer)  # on unless --no-faust-fast-path
        assert options_from_args(build_parser().parse_args(["worker"])).faust_fast_path

    asyncio.run(main())


def test_the_flags_reach_the_worker_and_bad_waits_name_the_flag(tmp_path: Path) -> None:
    chosen = options(tmp_path, faust_fast_path=True, fetch_max_wait=0.2, paused_fetch_wait=0.02)
    argv = worker_argv(chosen)
    parsed = options_from_args(build_parser().parse_args(argv[argv.index("worker") :]))
    assert (parsed.faust_fast_path, parsed.fetch_max_wait, parsed.paused_fetch_wait) == (
        True,
        0.2,
        0.02,
    )
    with pytest.raises(ConfigError, match="--fetch-max-wait"):
        FaustLevers(fetch_max_wait=0)
    with pytest.raises(ConfigError, match="--paused-fetch-wait"):
        FaustLevers(paused_fetch_wait=60)
    assert sys.executable in argv


def test_a_worker_refuses_a_faust_whose_pinned_pieces_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An install without constraints.txt is refused before Kafka is asked, naming the moved
    piece and both fixes; --allow-unpinned-faust starts anyway, with a warning."""
    name = "faust Consumer.getmany"
    get, _, recheck = faust_pins.RELIES_ON[name]
    monkeypatch.setitem(faust_pins.RELIES_ON, name, (get, "0" * 16, recheck))
    unreachable = options(tmp_path, settings=Settings(kafka=KafkaSettings("127.0.0.1:9")))
    with pytest.raises(ConfigError) as refused:
        run_worker(unreachable)
    message = str(refused.value)
    assert name in message and f"faust-streaming {faust.__version__}" in message
    assert "constraints.txt" in message and "--allow-unpinned-faust" in message
    with caplog.at_level(logging.WARNING, logger=faust_pins.__name__):
        check_pinned(allow=True)
    assert name in caplog.text and "--allow-unpinned-faust" in caplog.text
    argv = worker_argv(options(tmp_path, allow_unpinned_faust=True))
    parsed = options_from_args(build_parser().parse_args(argv[argv.index("worker") :]))
    assert parsed.allow_unpinned_faust
    assert not options_from_args(build_parser().parse_args(["worker"])).allow_unpinned_faust
