"""The worker's two Faust tables: customer states and survey integrity.

Both hold bytes (Faust's "raw" codec): cxstream encodes the values itself, compact and
versioned (``streams.envelope`` for customers). Every access runs in the event context of the
record it belongs to (``faust_internals.event_context``), so it reaches that record's
partition and changelog.

Survey integrity: coaching is a pattern per agent or location. The state for one lives under the key
``{partition}|agent:{id}`` (or ``location:{id}``): sharded by the customer partition the
feedback arrived on, so it is read and written in the same event context, changelogged with
that partition, and moves with it on a rebalance. Each shard sees a hash-random share of the
agent's customers, so bursts far above the agent's own baseline still stand out, without an
extra topic hop that would reorder a customer's feedback against their other events. Weights
are computed in record order, before the batch is grouped by customer, so replays agree.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Any

import faust

from agents.worker import table_store
from agents.worker.changelog import ChangelogWriter
from agents.worker.customer_fold import Record, RecordFault
from agents.worker.faust_internals import event_context
from agents.worker.topic_admin import FAUST_TABLES
from streams.domain import Feedback
from streams.envelope import Envelope, decode_envelope
from streams.model import (
    ModelConfig,
    integrity_from_bytes,
    integrity_to_bytes,
    observe_feedback,
)
from streams.processing import integrity_key

_HEADER = struct.Struct(">qd")  # offset of the last feedback folded in, and its weight

#: Decoded customer states kept in memory. Small on purpose: a decoded state is about a dozen
#: objects the garbage collector tracks, and a cache of 100,000 made its collections pause the
#: worker for up to 0.3 s after a wave of new customers (alert p99 250-350 ms). A miss costs a
#: table read and a 7 us decode; catch-up ran no slower with 2,000 (docs/benchmarks.md).
STATE_CACHE_SIZE = 2_000


def create_tables(app: faust.App, partitions: int, block_cache_mb: int) -> tuple[Any, Any]:
    """The ``customers`` and ``survey-integrity`` tables, bytes to bytes, with as many
    partitions as the inputs they are co-partitioned with (``agents.worker.partitions``), and
    RocksDB's memory per partition bounded (:func:`table_store.rocksdb_options`)."""
    customers, integrity = (
        app.Table(
            name,
            default=None,
            partitions=partitions,
            key_type=bytes,
            value_type=bytes,
            options=table_store.rocksdb_options(block_cache_mb),
        )
        for name in FAUST_TABLES
    )
    return customers, integrity


class FaustStates:
    """``StateAccess`` over a Faust table whose values are encoded envelopes.

    Recently active customers stay in a bounded LRU (:data:`STATE_CACHE_SIZE`) as their stored
    bytes and, once someone asked for it, the decoded envelope: a customer active in
    consecutive batches is read from the table, and decoded, once. A fold run in another
    process (``fold_process``) reads the bytes only and hands back no envelope. This worker
    is the only writer of its partitions, so the cache can only go stale across a rebalance:
    :meth:`forget` is called on every revoke.
    """

    def __init__(
        self, table: Any, capacity: int = STATE_CACHE_SIZE, writer: ChangelogWriter | None = None
    ) -> None:
        self.table = table
        self.capacity = capacity
        self.writer = writer  # None: writes go through Faust's producer (--no-fast-changelog)
        self._cache: OrderedDict[str, tuple[bytes, Envelope | None]] = OrderedDict()

    def get(self, customer_id: str, record: Record) -> Envelope | None:
        cached = self._cache.get(customer_id)
        if cached is not None:
            self._cache.move_to_end(customer_id)
            raw, envelope = cached
            if envelope is None:
                envelope = decode_envelope(raw)
                self._cache[customer_id] = raw, envelope
            return envelope
        stored = self._read(customer_id, record)
        return decode_envelope(stored) if stored else None

    def get_raw(self, customer_id: str, record: Record) -> bytes | None:
        """The customer's stored bytes, undecoded (None: a new customer)."""
        cached = self._cache.get(customer_id)
        if cached is not None:
            self._cache.move_to_end(customer_id)
            return cached[0]
        return self._read(customer_id, record)

    def _read(self, customer_id: str, record: Record) -> bytes | None:
        with event_context(record):
            raw: bytes | None = self.table.get(customer_id)
        return raw or None

    def put(self, customer_id: str, envelope: Envelope | None, raw: bytes, record: Record) -> None:
        if self.writer is not None:
            self.writer.put(customer_id, raw, record)
        else:
            with event_context(record):
                self.table[customer_id] = raw  # reassign: reaches changelog
        self._cache[customer_id] = raw, envelope
        self._cache.move_to_end(customer_id)
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        self._cache.clear()


class FaustIntegrity:
    """``IntegrityAccess`` over a Faust table of (offset, weight) headers + integrity state.

    Updates are staged during a batch and written by :meth:`flush` together with the customer
    states, after the batch's alerts were acknowledged: a crash before that point leaves both
    tables as they were, so the redelivered batch recomputes the very same weights.
    """

    def __init__(self, table: Any, config: ModelConfig) -> None:
        self.table = table
        self.config = config
        self._staged: dict[str, tuple[Record, bytes]] = {}

    def weigh(self, feedback: Feedback, record: Record) -> float:
        key = integrity_key(feedback, record.partition)
        if key is None:
            return 1.0
        raw = self._staged[key][1] if key in self._staged else self._read(key, record)
        try:
            state = None
            if raw:
                last_offset, weight = _HEADER.unpack_from(raw)
                if record.offset <= last_offset:  # folded in before a crash: same verdict
                    # Written again, as the batch fold does customer states: the changelog may
                    # never have received it (a crash between the store and the changelog).
                    self._staged.setdefault(key, (record, raw))
                    return float(weight)
                state = integrity_from_bytes(raw[_HEADER.size :])
            state, verdict = observe_feedback(state, feedback, feedback.occurred_at, self.config)
            value = _HEADER.pack(record.offset, verdict.weight) + integrity_to_bytes(state)
        except Exception as exc:  # the table read above is not the record's fault
            raise RecordFault(f"survey integrity of {key}") from exc
        self._staged[key] = (record, value)
        return float(verdict.weight)

    def _read(self, key: str, record: Record) -> bytes | None:
        with event_context(record):
            raw: bytes | None = self.table.get(key)
        return raw

    def flush(self) -> None:
        try:
            for key, (record, value) in self._staged.items():
                with event_context(record):
                    self.table[key] = value
        finally:
            self._staged.clear()

    def discard(self) -> None:
        self._staged.clear()
