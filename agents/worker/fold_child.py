"""The fold process's side of :mod:`agents.worker.fold_process`: the jobs it is handed, and
how it folds them.

A job carries each customer's stored state bytes and decoded events; the child answers with the
batch's outputs and the new state bytes. It keeps decoded copies of the states it produced
(reused only for identical bytes) and the states of the last job it folded whole, which the
next job may start from (``FoldJob.after``) when it was sent before that one's answer was back.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import pickle
import signal
from collections import OrderedDict
from dataclasses import dataclass, field

from agents.worker.batch_fold import BatchFold
from agents.worker.customer_fold import Item
from agents.worker.fold_ports import BatchOutput
from agents.worker.fold_wire import WireItem, WireRecord
from streams.envelope import Envelope, decode_envelope
from streams.model import ModelConfig
from streams.topics import Topics

#: Decoded states the child keeps, each with the bytes it was decoded from (see tables.py).
CHILD_CACHE_SIZE = 2_000
_PR_SET_PDEATHSIG = 1


@dataclass(slots=True)
class FoldJob:
    topics_prefix: str
    config: bytes  # the pickled ModelConfig (re-read by the child only when it changes)
    now: float
    customers: list[tuple[str, bytes | None, list[WireItem]]]
    seq: int = 0  # jobs are numbered; the child folds them in that order
    after: int = 0  # the job whose states ``from_after`` customers start from (0: none)
    from_after: frozenset[str] = frozenset()  # their bytes are not in ``customers``


class StaleJob(Exception):
    """The child did not fold the job this one starts from (it restarted, or that job failed or
    was not the last it folded): the worker folds this one itself."""


@dataclass(slots=True)
class FoldedJob:
    out: BatchOutput  # ``states`` left empty: see ``stored``
    stored: list[tuple[str, bytes]] = field(default_factory=list)  # customer id, state bytes


class _Child:
    fold: BatchFold | None = None
    config_bytes = b""
    cache: OrderedDict[str, tuple[bytes, Envelope]] = OrderedDict()
    done = 0  # the last job folded whole (0: none, or the last one failed)
    last: dict[str, bytes | None] = {}  # that job's customers' states after it


def init_child(parent: int, log_level: int) -> None:
    """Die with the worker; log like it; collect garbage as rarely as it does."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the signal was armed
        os._exit(0)
    logging.basicConfig(level=log_level, format="%(levelname)s fold process: %(message)s")
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def ping() -> int:
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
    if job.after and job.after != _Child.done:
        last_folded = f"job {_Child.done}" if _Child.done else "no job whole"
        _Child.done = 0
        raise StaleJob(
            f"job {job.seq} starts from job {job.after}'s states; the fold process last "
            f"folded {last_folded}"
        )
    before, _Child.done, _Child.last = _Child.last, 0, {}
    out = BatchOutput()
    stored: list[tuple[str, bytes]] = []
    cache = _Child.cache
    last: dict[str, bytes | None] = {}
    for customer_id, raw, wired in job.customers:
        if customer_id in job.from_after:
            raw = before[customer_id]
        last[customer_id] = raw
        items = [
            Item(WireRecord(*record), kind, record[2], record[1], event, until, weight)
            for record, kind, event, until, weight in wired
        ]
        fold.fold_customer(customer_id, _decoded(cache, customer_id, raw), items, out, job.now)
    for customer_id, envelope, state_bytes, _ in out.states:
        stored.append((customer_id, state_bytes))
        last[customer_id] = state_bytes
        if envelope is not None:
            cache[customer_id] = state_bytes, envelope
            cache.move_to_end(customer_id)
    while len(cache) > CHILD_CACHE_SIZE:
        cache.popitem(last=False)
    out.states = []
    _Child.last, _Child.done = last, job.seq
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
