"""Fold each batch's customers in a second process, so a worker uses both of a machine's cores.

A worker's catch-up spends about half of its CPU in the per-customer fold (the model,
snapshots, encoding outputs and states) and the rest in Faust fetching and delivering records,
decoding, and writing tables (docs/benchmarks.md). Python runs one of them at a time. With
``--fold-process`` (the default) the main process decodes, weighs and groups a batch, then hands
its customers (stored state bytes, decoded events) to a child process and awaits the result:
meanwhile the event loop goes on fetching and delivering the next batch's records.

Nothing about ordering or delivery changes: the batch cycle awaits the batch's outputs as it
awaited the in-process fold, publishes them, and writes states only once the broker has them.
The child holds nothing that matters: every job carries each customer's stored bytes (or names
the job just before it, below), and the child's decoded copies are reused only for identical
bytes, so a rebalance, a restore or a restarted child cannot make it fold a stale state. The
child dies with the worker (Linux's parent-death signal). If the child dies first (killed, out
of memory), that batch is folded in the worker's own process and a new child serves the next
one; a job the child cannot read or answer is folded in the worker's own process too. The
child's side (the jobs, and how it folds them) is :mod:`agents.worker.fold_child`.

A job may be sent before the answer to the one before it is back (``send`` with ``after``, as
folding ahead does): its customers that the earlier job folds then start from the states the
child produced for them. The child folds jobs in order and keeps only the last one's states; a
job that starts from any other (the child restarted, or the earlier job failed there) is refused
(``StaleJob``) and folded in the worker's own process, from states the worker has by then.

Jobs and results cross as pickles made here, not by the pool: a value that fails to pickle or
unpickle is then an ordinary error of one batch, not a dead child (how the model's values
pickle: ``fold_wire``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields

from agents.worker import metrics
from agents.worker.batch_fold import BatchFold, PreparedBatch
from agents.worker.customer_fold import Record
from agents.worker.fold_child import FoldedJob, FoldJob, StaleJob, fold_job, init_child, ping
from agents.worker.fold_ports import FULL_WEIGHT, BatchOutput, IntegrityAccess, RawStateAccess
from agents.worker.fold_wire import wire_items
from streams.compiled_model import ENV as COMPILED_ENV
from streams.compiled_model import in_use as model_compiled
from streams.model import ModelConfig

log = logging.getLogger(__name__)


@dataclass(eq=False, slots=True)
class SentJob:
    """A job handed to the child, not answered yet."""

    seq: int = 0
    customers: Mapping[str, object] = field(default_factory=dict)  # whose states it produces
    answer: asyncio.Future[bytes] | None = None
    failed: BaseException | None = None  # building or sending it failed: fold it here
    unreadable: BaseException | None = None  # reading a stored state failed: raised
    after: SentJob | None = None  # the job it starts from, until it is answered
    by_child: bool | None = None  # once answered: folded by the child (False: here)

    def chainable(self) -> bool:
        """A job sent now may start from this one's states: the child will fold this one
        (it is with the child, and the job it starts from was not folded here instead)."""
        after = self.after
        return self.answer is not None and (after is None or after.by_child is not False)


class FoldProcess:
    """The batch fold with its per-customer work in a child process (see the module doc)."""

    def __init__(self, fold: BatchFold) -> None:
        self.fold = fold
        self._pool: ProcessPoolExecutor | None = None
        self._config: ModelConfig | None = None
        self._config_bytes = b""
        self._seq = 0  # the last job's number

    def start(self) -> None:
        """Start the child now rather than at the first batch (it imports the model)."""
        self._executor().submit(ping)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def process(
        self,
        records: Sequence[Record],
        states: RawStateAccess,
        integrity: IntegrityAccess = FULL_WEIGHT,
    ) -> BatchOutput:
        """What ``BatchFold.process`` returns, with ``states``' envelopes left None."""
        return await self.fold_prepared(self.prepare(records, integrity), states)

    def prepare(self, records: Sequence[Record], integrity: IntegrityAccess) -> PreparedBatch:
        """Decode, weigh and group a batch here (``BatchFold.prepare``), ready for the child."""
        return self.fold.prepare(records, integrity)

    async def fold_prepared(self, batch: PreparedBatch, states: RawStateAccess) -> BatchOutput:
        """Fold a prepared batch in the child, or here if the child fails it."""
        return await self.receive(self.send(batch, states), batch, states)

    def send(
        self, batch: PreparedBatch, states: RawStateAccess, after: SentJob | None = None
    ) -> SentJob:
        """Hand a prepared batch to the child now, without waiting for it (never raises).

        With ``after`` (a job the child has not answered yet), the customers that job folds
        start from the states it produces: the child folds jobs in order and keeps the last
        one's states, so it need not wait for this process to read them back first. If the
        child cannot (it restarted meanwhile), :meth:`receive` folds the batch here, from
        ``states``, which must hold ``after``'s states by then.
        """
        if not batch.groups:
            return SentJob()
        self._seq += 1
        sent = SentJob(self._seq, batch.groups, after=after)
        try:
            job = self._job(batch, states, after)
        except Exception as exc:  # a table error: raised by ``receive``, the batch is retried
            sent.unreadable = exc
            return sent
        try:
            pickled = pickle.dumps(job, protocol=5)
            loop = asyncio.get_running_loop()
            sent.answer = loop.run_in_executor(self._executor(), fold_job, pickled)
        except Exception as exc:
            sent.failed = exc
        return sent

    async def receive(
        self, sent: SentJob, batch: PreparedBatch, states: RawStateAccess
    ) -> BatchOutput:
        """The child's answer to a sent job, or the batch folded here if the child failed it."""
        if not batch.groups:
            return batch.out
        try:
            return await self._received(sent, batch, states)
        finally:
            sent.by_child = sent.by_child is True
            sent.after, sent.customers = None, {}  # nothing is sent after it from here on

    async def _received(
        self, sent: SentJob, batch: PreparedBatch, states: RawStateAccess
    ) -> BatchOutput:
        if sent.unreadable is not None:
            raise sent.unreadable
        try:
            if sent.failed is not None or sent.answer is None:
                raise sent.failed or RuntimeError("the job was not sent")
            folded: FoldedJob = pickle.loads(await sent.answer)
        except BrokenProcessPool:
            metrics.FOLD_PROCESS_FALLBACKS.labels("died").inc()
            log.error("the fold process died: folding this batch here; a new one starts")
            self._pool = None
            return self.fold.fold_prepared(batch, states)
        except StaleJob as exc:
            metrics.FOLD_PROCESS_FALLBACKS.labels("stale").inc()
            log.info("folding a batch here: %s", exc)
            return self.fold.fold_prepared(batch, states)
        except Exception:
            metrics.FOLD_PROCESS_FALLBACKS.labels("error").inc()
            log.exception("the fold process failed a batch: folding it here")
            return self.fold.fold_prepared(batch, states)
        sent.by_child = True
        return _merged(batch, folded)

    def _job(self, batch: PreparedBatch, states: RawStateAccess, after: SentJob | None) -> FoldJob:
        config = self.fold.config
        if config is not self._config:
            self._config, self._config_bytes = config, pickle.dumps(config, protocol=5)
        folding = after.customers if after is not None else {}  # emptied once it is answered
        from_after = frozenset(c for c in batch.groups if c in folding)
        customers = [
            (
                customer_id,
                None if customer_id in from_after else states.get_raw(customer_id, items[0].record),
                wire_items(items),
            )
            for customer_id, items in batch.groups.items()
        ]
        return FoldJob(
            self.fold.topics.prefix,
            self._config_bytes,
            batch.now,
            customers,
            self._seq,
            after.seq if from_after and after is not None else 0,
            from_after,
        )

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # The child loads the same model build as this process (its start-up hook reads it).
            os.environ[COMPILED_ENV] = "1" if model_compiled() else "0"
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_child,
                initargs=(os.getpid(), logging.getLogger().level),
            )
        return self._pool


#: What the child adds to a batch's output; the stream times and the first record's time are
#: the decoding's, and the states come back as bytes (``FoldedJob.stored``).
_FOLDED_LISTS = tuple(
    f.name
    for f in fields(BatchOutput)
    if f.name not in ("states", "stream_times", "first_consumed")
)


def _merged(batch: PreparedBatch, folded: FoldedJob) -> BatchOutput:
    """The child's outputs after the decoding's own (the order ``BatchFold.process`` gives)."""
    out, theirs = batch.out, folded.out
    for name in _FOLDED_LISTS:
        getattr(out, name).extend(getattr(theirs, name))
    groups = batch.groups
    out.states += [(cid, None, raw, groups[cid][-1].record) for cid, raw in folded.stored]
    return out
