"""Overrides of Faust's record path (issue 12), for one app, on unless the worker runs with
``--no-faust-fast-path``: the three below, and three more in :mod:`agents.worker.faust_lean`
(per-record bookkeeping nobody reads). Their consumer includes
:mod:`agents.worker.fetch_guard`, which the worker installs in any case.

Each replaces a private piece of faust-streaming 0.15.3 / aiokafka 0.14.0 / mode-streaming
0.7.1; :data:`RELIES_ON` pins each piece by the SHA-256 of its source and
``tests/unit/agents/worker/test_faust_overrides.py`` fails, naming the piece and what to
re-check, when an upgrade moves one. They are installed on one app (its own transport, see
:func:`install`), never patched into Faust's classes, so other apps in the process keep
Faust's behaviour.

1. **Fetch wait** (``--fetch-max-wait``, 0.1 s): Faust's
   ``AIOKafkaConsumerThread._create_worker_consumer`` hard-codes aiokafka's
   ``fetch_max_wait_ms=1500``. aiokafka keeps one fetch in flight per broker, for the
   partitions with nothing buffered; when those are caught up the broker holds it the full
   wait, and a partition whose buffer was just consumed is fetched again only after it: the
   main thread idled ~35% of a catch-up. Relies on ``AIOKafkaConsumer.start`` building its
   fetcher from ``_fetch_max_wait_ms``.
2. **Delivery fast path**: ``Consumer._drain_messages`` delivers every record through
   ``self.wait_first(callback(message), self.suspend_flow.wait())``, four tasks and an
   ``asyncio.wait`` per record (about half of Faust's CPU per record). Here the delivery's
   first step runs inline, in a copy of the context as a task would; when it finishes without
   suspending (the stream's buffer had room, flow control open) that was the whole delivery.
   When it suspends, the rest runs under the same ``wait_first`` as before, so a rebalance
   (``suspend_flow``) or a stop interrupts it as it would have. The rest of the loop is
   Faust's, copied unchanged: records in order, the read offset set after each delivery.
3. **Paused wait** (``--paused-fetch-wait``, 0.05 s): when flow control took full partitions
   out of the fetch (``_buffered_partitions``, or paused ones), Faust's ``getmany`` still
   waits up to 1 s for records of the others, and a partition whose buffer drained meanwhile
   is not fetched until that wait ends.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, cast

import faust
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka

from agents.worker.faust_lean import LeanProducer, install_lean
from agents.worker.fetch_guard import GuardedConsumer, GuardedTransport, install_guard
from streams.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FaustLevers:
    """Seconds for overrides 1 and 3 (1.5 and 1.0 are Faust's own values)."""

    fetch_max_wait: float = 0.1
    paused_fetch_wait: float = 0.05

    def __post_init__(self) -> None:
        for name in ("fetch_max_wait", "paused_fetch_wait"):
            value = getattr(self, name)
            if not 0 < value <= 30:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} {value!r}: expected seconds above 0, at most 30")


_DONE = object()


class _Rest:
    """Awaiting this is awaiting the rest of a delivery that suspended on ``pending``."""

    __slots__ = ("context", "delivery", "pending")

    def __init__(self, delivery: Coroutine[Any, Any, None], pending: Any, context: Any) -> None:
        self.delivery, self.pending, self.context = delivery, pending, context

    def __await__(self) -> Generator[Any, Any, None]:
        delivery, run, pending = self.delivery, self.context.run, self.pending
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                delivery.close()
                raise
            except BaseException as exc:  # a cancellation goes into the delivery, as in a task
                try:
                    pending = run(delivery.throw, exc)
                except StopIteration:
                    return
            else:
                try:
                    pending = run(delivery.send, sent)
                except StopIteration:
                    return


async def _finish(rest: _Rest) -> None:
    await rest


def first_step(delivery: Coroutine[Any, Any, None]) -> _Rest | None:
    """Run ``delivery`` until it suspends: None when it finished, else what remains of it."""
    context = contextvars.copy_context()
    try:
        pending = context.run(delivery.send, None)
    except StopIteration:
        return None
    return _Rest(delivery, pending, context)


class FastConsumer(GuardedConsumer):
    """The guarded consumer with overrides 2 and 3 (its thread has override 1)."""

    _n_acked: int

    def _new_consumer_thread(self) -> Any:
        return FastConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        if self._buffered_partitions or self._paused_partitions:
            timeout = min(timeout, _levers(self.transport).paused_fetch_wait)
        return await super()._getmany(active_partitions, timeout)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover (e2e)
        # Faust 0.15.3's loop (see RELIES_ON); only the delivery differs, marked below.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            # The override: no tasks when the delivery does not suspend.
                            rest = first_step(callback(message))
                            if rest is not None:
                                await self.wait_first(_finish(rest), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r", offset)
                    unset_flag(flag_consumer_fetching)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class FastConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]
    """Override 1: the fetch wait is a setting, not Faust's 1.5 s."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = int(_levers(transport).fetch_max_wait * 1000)
        return consumer


class FastTransport(GuardedTransport):
    Consumer = FastConsumer
    Producer = LeanProducer
    cx_levers: FaustLevers = FaustLevers()


def _levers(transport: Any) -> FaustLevers:
    return cast(FaustLevers, transport.cx_levers)


def install(app: faust.App, levers: FaustLevers) -> None:
    """Give ``app`` the overridden consumer, right after creating it (see ``install_guard``)."""
    transport = cast(FastTransport, install_guard(app, FastTransport))
    transport.cx_levers = levers  # read when the consumer starts
    install_lean(app)
