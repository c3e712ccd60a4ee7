"""Fold each batch's customers in a second process, so a worker uses both of a machine's cores.

A worker's catch-up spends about half of its CPU in the per-customer fold (the model,
snapshots, encoding outputs and states) and the rest in Faust fetching and delivering records,
decoding, and writing tables (docs/benchmarks.md). Python runs one of them at a time. With
``--fold-process`` (the default) the main process decodes, weighs and groups a batch, then hands
its customers (stored state bytes, decoded events) to a child process and awaits the result:
meanwhile the event loop goes on fetching and delivering the next batch's records.

Nothing about ordering or delivery changes: the batch cycle awaits the batch's outputs as it
awaited the in-process fold, publishes them, and writes states only once the broker has them.
The child holds nothing that matters: every job carries each customer's stored bytes, and the
child's decoded copies are reused only for identical bytes, so a rebalance, a restore or a
restarted child cannot make it fold a stale state. The child dies with the worker (Linux's
parent-death signal). If the child dies first (killed, out of memory), that batch is folded in
the worker's own process and a new child serves the next one; a job the child cannot read or
answer is folded in the worker's own process too.

Jobs and results cross as pickles made here, not by the pool: a value that fails to pickle or
unpickle is then an ordinary error of one batch, not a dead child (how the model's values
pickle: ``fold_wire``).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import multiprocessing
import os
import pickle
import signal
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields

from agents.worker import metrics
from agents.worker.batch_fold import BatchFold, PreparedBatch
from agents.worker.customer_fold import Item, Record
from agents.worker.fold_ports import FULL_WEIGHT, BatchOutput, IntegrityAccess, RawStateAccess
from agents.worker.fold_wire import WireItem, WireRecord, wire_items
from streams.compiled_model import ENV as COMPILED_ENV
from streams.compiled_model import in_use as model_compiled
from streams.envelope import Envelope, decode_envelope
from streams.model import ModelConfig
from streams.topics import Topics

log = logging.getLogger(__name__)

#: Decoded states the child keeps, each with the bytes it was decoded from (see tables.py).
CHILD_CACHE_SIZE = 2_000
_PR_SET_PDEATHSIG = 1


@dataclass(slots=True)
class FoldJob:
    topics_prefix: str
    config: bytes  # the pickled ModelConfig (re-read by the child only when it changes)
    now: float
    customers: list[tuple[str, bytes | None, list[WireItem]]]


@dataclass(slots=True)
class FoldedJob:
    out: BatchOutput  # ``states`` left empty: see ``stored``
    stored: list[tuple[str, bytes]] = field(default_factory=list)  # customer id, state bytes


class FoldProcess:
    """The batch fold with its per-customer work in a child process (see the module doc)."""

    def __init__(self, fold: BatchFold) -> None:
        self.fold = fold
        self._pool: ProcessPoolExecutor | None = None
        self._config: ModelConfig | None = None
        self._config_bytes = b""

    def start(self) -> None:
        """Start the child now rather than at the first batch (it imports the model)."""
        self._executor().submit(_ping)

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
        if not batch.groups:
            return batch.out
        job = self._job(batch, states)  # a table error propagates: the batch is retried
        loop = asyncio.get_running_loop()
        try:
            pickled = pickle.dumps(job, protocol=5)
            answer = await loop.run_in_executor(self._executor(), fold_job, pickled)
            folded: FoldedJob = pickle.loads(answer)
        except BrokenProcessPool:
            metrics.FOLD_PROCESS_FALLBACKS.labels("died").inc()
            log.error("the fold process died: folding this batch here; a new one starts")
            self._pool = None
            return self.fold.fold_prepared(batch, states)
        except Exception:
            metrics.FOLD_PROCESS_FALLBACKS.labels("error").inc()
            log.exception("the fold process failed a batch: folding it here")
            return self.fold.fold_prepared(batch, states)
        return _merged(batch, folded)

    def _job(self, batch: PreparedBatch, states: RawStateAccess) -> FoldJob:
        config = self.fold.config
        if config is not self._config:
            self._config, self._config_bytes = config, pickle.dumps(config, protocol=5)
        customers = [
            (customer_id, states.get_raw(customer_id, items[0].record), wire_items(items))
            for customer_id, items in batch.groups.items()
        ]
        return FoldJob(self.fold.topics.prefix, self._config_bytes, batch.now, customers)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # The child loads the same model build as this process (its start-up hook reads it).
            os.environ[COMPILED_ENV] = "1" if model_compiled() else "0"
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_child,
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


# --- the child process -------------------------------------------------------------------


class _Child:
    fold: BatchFold | None = None
    config_bytes = b""
    cache: OrderedDict[str, tuple[bytes, Envelope]] = OrderedDict()


def _init_child(parent: int, log_level: int) -> None:
    """Die with the worker; log like it; collect garbage as rarely as it does."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the signal was armed
        os._exit(0)
    logging.basicConfig(level=log_level, format="%(levelname)s fold process: %(message)s")
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _ping() -> int:
    return os.getpid()


def fold_job(pickled: bytes) -> bytes:
    """Fold every customer of a pickled :class:`FoldJob` into a pickled :class:`FoldedJob`
    (runs in the child; callable in-process in tests)."""
    job: FoldJob = pickle.loads(pickled)
    return pickle.dumps(_folded(job), protocol=5)


def _folded(job: FoldJob) -> FoldedJob:
    fold = _Child.fold
    if fold is None or fold.topics.prefix != job.topics_prefix:
        config: ModelConfig = pickle.loads(job.config)
        fold = _Child.fold = BatchFold(Topics(job.topics_prefix), config)
        _Child.config_bytes = job.config
    elif job.config != _Child.config_bytes:
        fold.use(pickle.loads(job.config))
        _Child.config_bytes = job.config
    out = BatchOutput()
    stored: list[tuple[str, bytes]] = []
    cache = _Child.cache
    for customer_id, raw, wired in job.customers:
        items = [
            Item(WireRecord(*record), kind, record[2], record[1], event, until, weight)
            for record, kind, event, until, weight in wired
        ]
        fold.fold_customer(customer_id, _decoded(cache, customer_id, raw), items, out, job.now)
    for customer_id, envelope, state_bytes, _ in out.states:
        stored.append((customer_id, state_bytes))
        if envelope is not None:
            cache[customer_id] = state_bytes, envelope
            cache.move_to_end(customer_id)
    while len(cache) > CHILD_CACHE_SIZE:
        cache.popitem(last=False)
    out.states = []
    return FoldedJob(out, stored)


def _decoded(
    cache: OrderedDict[str, tuple[bytes, Envelope]], customer_id: str, raw: bytes | None
) -> Envelope | None:
    if not raw:
        return None
    cached = cache.get(customer_id)
    if cached is not None and cached[0] == raw:
        return cached[1]
    return decode_envelope(raw)
