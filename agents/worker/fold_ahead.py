"""Fold the next batch while this one is published and stored: the fold process never waits.

With the fold process (``fold_process``) a batch's cycle was: decode it here, fold it in the
child, then publish its outputs, await the broker, store its states and acknowledge it. The child
sat idle for all but the fold, about a third of a catch-up (docs/benchmarks.md). Here each batch
is decoded while the child folds the one before; it goes to the child as soon as that fold is
back, with the states that fold produced, and the batch before is published and stored while
the child folds this one. It does not even wait for that fold to come back: it is sent to the
child right behind it, and the child starts its customers in both from the states it just
produced (``FoldProcess.send``), so the child never waits for this process between two folds.
Batches still finish strictly in order, each exactly as
``BatchCycle.handle`` finishes one: outputs acknowledged by the broker, then states stored,
then the batch's records acknowledged (so Faust never commits a record whose state is not
stored).

A batch folded ahead is a speculation on the batches before it: it read states they have not
stored yet (:class:`PendingStates`). It is kept only if every one of them finished as folded.
When a batch cannot finish as folded (its outputs failed, its fold raised, the partitions were
revoked), it is handled again from the table by ``BatchCycle.handle_safely``, the ordinary
path with its retries and dead letters, and every batch already folded ahead of it is handled
the same way in turn (``cxstream_fold_ahead_redone_total``). The next batch then waits for
those to finish before it is folded ahead again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.worker import metrics
from agents.worker.batch_cycle import BatchCycle
from agents.worker.batch_fold import PreparedBatch
from agents.worker.customer_fold import Record
from agents.worker.fold_ports import BatchOutput
from agents.worker.fold_process import FoldProcess, SentJob
from agents.worker.tables import FaustStates
from streams.envelope import Envelope, decode_envelope

log = logging.getLogger(__name__)


class PendingStates:
    """Customer states as the table will hold them once the batches in flight are stored.

    ``RawStateAccess`` for a fold: a state folded by an earlier batch that is not stored yet
    is read from ``pending``, any other from the table.
    """

    def __init__(self, stored: FaustStates) -> None:
        self.stored = stored
        self.pending: dict[str, bytes] = {}

    def get(self, customer_id: str, record: Record) -> Envelope | None:
        raw = self.pending.get(customer_id)
        return decode_envelope(raw) if raw is not None else self.stored.get(customer_id, record)

    def get_raw(self, customer_id: str, record: Record) -> bytes | None:
        raw = self.pending.get(customer_id)
        return raw if raw is not None else self.stored.get_raw(customer_id, record)

    def put(self, customer_id: str, envelope: Envelope | None, raw: bytes, record: Record) -> None:
        self.stored.put(customer_id, envelope, raw, record)


@dataclass(eq=False)
class _Batch:
    records: Sequence[Record]
    acknowledge: Callable[[], Awaitable[None]]
    epoch: int = 0
    folded: asyncio.Future[BatchOutput] | None = None  # None: handled by the ordinary path
    finished: asyncio.Future[None] | None = None  # set as soon as the batch is submitted
    sent: SentJob | None = None  # its job, as handed to the fold process
    before: asyncio.Future[BatchOutput] | None = None  # the fold before (until it is back)

    def folded_well(self) -> bool:
        folded = self.folded
        if folded is None or not folded.done() or folded.cancelled():
            return False
        return folded.exception() is None


class FoldAhead:
    """The customer agent's batches, each folded while the one before it finishes."""

    def __init__(self, cycle: BatchCycle, process: FoldProcess) -> None:
        self.cycle = cycle
        self.process = process
        self.states = PendingStates(cycle.states)
        self._epoch = 0  # moves on whenever a batch is handled again: speculations before it fail
        self._last: _Batch | None = None

    async def submit(
        self, records: Sequence[Record], acknowledge: Callable[[], Awaitable[None]]
    ) -> None:
        """Start a batch: returns once it is folding; ``acknowledge`` runs once it is stored."""
        batch = _Batch(records, acknowledge)
        try:
            prepared = self.process.prepare(records, self.cycle.integrity)
        except Exception:  # a table or registry error: the ordinary path retries the batch
            log.warning("preparing a batch failed: it is handled on its own", exc_info=True)
            prepared = None
        previous = self._last
        after: SentJob | None = None
        if previous is not None:
            await _settled(previous.before)  # every fold before it is back: states pending
            previous.before = None
            if _in_child(previous) and previous.epoch == self._epoch:
                after = previous.sent  # the child folds this batch right after, from its states
            else:
                await _settled(previous.folded)  # its states are pending from here on
                if not (previous.folded_well() and previous.epoch == self._epoch):
                    await _settled(previous.finished)  # handled again: its states go to the table
        batch.epoch = self._epoch
        if prepared is not None:
            batch.sent = self.process.send(prepared, self.states, after)
            batch.before = previous.folded if previous is not None else None
            batch.folded = asyncio.ensure_future(self._fold(prepared, batch.sent, batch.before))
            batch.folded.add_done_callback(_retrieved)
        batch.finished = asyncio.ensure_future(self._finish(batch, previous))
        batch.finished.add_done_callback(_reported)
        self._last = batch

    async def _fold(
        self,
        prepared: PreparedBatch,
        sent: SentJob,
        before: asyncio.Future[BatchOutput] | None,
    ) -> BatchOutput:
        await _settled(before)  # its states are pending first (a fold here would read them)
        out = await self.process.receive(sent, prepared, self.states)
        pending = self.states.pending
        for customer_id, _, raw, _ in out.states:
            pending[customer_id] = raw
        return out

    async def _finish(self, batch: _Batch, previous: _Batch | None) -> None:
        if previous is not None:
            await _settled(previous.finished)
        if not await self._finish_folded(batch):
            if batch.folded is not None:
                metrics.FOLD_AHEAD_REDONE.inc()
            await self.cycle.handle_safely(batch.records)  # raises on cancellation only
            self._epoch += 1
            self.states.pending.clear()  # every batch folded ahead of this one is handled again
        await batch.acknowledge()  # not on cancellation: the records come again

    async def _finish_folded(self, batch: _Batch) -> bool:
        """Publish and store the batch as folded; False if it must be handled again."""
        if batch.folded is None or batch.epoch != self._epoch:
            return False
        try:
            out = await batch.folded
            await self.cycle.complete(out)
        except Exception:
            log.warning("a batch folded ahead failed: it is handled again", exc_info=True)
            return False
        pending = self.states.pending
        for customer_id, _, raw, _ in out.states:
            if pending.get(customer_id) is raw:  # not folded again by a later batch meanwhile
                del pending[customer_id]
        return True

    def forget(self) -> None:
        """Partitions were revoked: batches in flight are handled again, from the table."""
        self._epoch += 1
        self.states.pending.clear()

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the batches in flight (a shutdown)."""
        last = self._last
        if last is not None and last.finished is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(last.finished), grace)


async def _settled(future: asyncio.Future[Any] | None) -> None:
    """Wait for ``future`` without taking on its outcome."""
    if future is not None:
        await asyncio.wait([future])


def _in_child(batch: _Batch) -> bool:
    """The batch's job is with the fold process, not answered yet, and will be folded there."""
    sent, folded = batch.sent, batch.folded
    return sent is not None and sent.chainable() and folded is not None and not folded.done()


def _reported(future: asyncio.Future[None]) -> None:
    """A batch that could not even be acknowledged stays uncommitted (it comes again after a
    restart; the stall watch reports the partition meanwhile): say so in the log."""
    if not future.cancelled() and future.exception() is not None:
        log.error("a batch could not be finished", exc_info=future.exception())


def _retrieved(future: asyncio.Future[BatchOutput]) -> None:
    """A fold whose batch is handled again may fail unread: that is expected, not a leak."""
    if not future.cancelled():
        future.exception()
