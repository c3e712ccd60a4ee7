"""Re-derive the deadline index and the stage and band counts from the customers table, a slice
at a time, while batches go on.

After a (re)assignment the worker needs every customer's next deadline, which means decoding
every stored envelope: about 90 µs each, a minute and a half at a million customers. Done in one
go, that held the event loop: no heartbeats (past the session timeout the group evicts the
worker and rebalances again), no batches, no ``/healthz``. Here the work yields to the loop every
:data:`SLICE_S`. A :class:`RebuildLedger` records what batches fold meanwhile, so the result is
what an instant rebuild would give. A customer's deadline comes from the latest of its value as
read and its batches (each schedules its own), and its stage and band count as they are at the
end, not as they were read.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.worker.fold_ports import BatchOutput
from streams.deadline_index import DeadlineIndex
from streams.envelope import decode_envelope
from streams.loop_processing import loop_deadline
from streams.model import ModelConfig

#: Longest stretch of rebuilding between two yields to the event loop (seconds).
SLICE_S = 0.02
#: Keys listed at a time: well under a slice (about 1.5 µs a key from RocksDB on a slow day).
PAGE_KEYS = 512

Labels = tuple[str, str]  # (stage, band)


@dataclass(slots=True)
class RebuildLedger:
    """What batches folded while a rebuild ran (only then: it is emptied with the rebuild)."""

    first_labels: dict[str, Labels | None] = field(default_factory=dict)  # None: a new customer
    labels: dict[str, Labels] = field(default_factory=dict)  # after the latest move
    read: dict[str, Labels] = field(default_factory=dict)  # read after a move

    def batch(self, out: BatchOutput) -> None:
        for customer_id, old_stage, old_band, stage, band in out.stage_moves:
            old = None if old_stage is None or old_band is None else (old_stage, old_band)
            self.first_labels.setdefault(customer_id, old)
            self.labels[customer_id] = (stage, band)

    def corrected(self, counts: Counter[Labels]) -> Counter[Labels]:
        """``counts`` of what the rebuild read, with every moved customer counted as it is now.

        A customer read before its first move was read with its labels from before that move.
        """
        out = Counter(counts)
        for customer_id, now in self.labels.items():
            seen = self.read.get(customer_id, self.first_labels[customer_id])
            if seen is not None:
                out[seen] -= 1
            out[now] += 1
        return +out  # drops zero counts


@dataclass(frozen=True, slots=True)
class Rebuilt:
    scheduled: int  # customers whose deadline the rebuild scheduled
    labels: Counter[Labels]
    unreadable: list[str]  # customers whose stored state failed to decode (skipped)


@dataclass(frozen=True, slots=True)
class KeyPage:
    """Some stored customers' keys, and how to read one of them when its turn comes."""

    keys: list[Any]
    read: Callable[[Any], bytes | None]  # None: no longer stored


class StoredStates(Protocol):
    """The customers table as the rebuild reads it: keys a page at a time.

    No page may hold an iteration open while the rebuild yields between pages: batches add
    customers meanwhile, and a rebalance drops the store's handles (``table_store``).
    """

    def key_pages(self, partitions: set[int], size: int) -> Iterator[KeyPage]: ...


class MappingStates:
    """A mapping's stored states (Faust's ``memory://`` store, tests).

    Its keys are listed in one pass up front: a dict raises when an iteration spans a batch that
    adds a customer, and listing a dict's keys is quick.
    """

    def __init__(self, mapping: Mapping[Any, bytes]) -> None:
        self._mapping = mapping

    def key_pages(self, partitions: set[int], size: int) -> Iterator[KeyPage]:
        keys = list(self._mapping.keys())
        for start in range(0, len(keys), size):
            yield KeyPage(keys[start : start + size], self._mapping.get)


async def rebuild_index(
    table: StoredStates,
    partitions: set[int],
    deadlines: DeadlineIndex,
    config: ModelConfig,
    ledger: RebuildLedger,
    still_valid: Callable[[], bool] = lambda: True,
) -> Rebuilt | None:
    """Deadlines of the customers in ``partitions`` into ``deadlines``; None, with the index
    partly rebuilt, when ``still_valid()`` turns false (a rebalance): the caller rebuilds again
    later.

    The keys come a page at a time (listing a million in one pass held the loop for 12 s on a
    slow day); each value is read when its turn comes, so what a slice schedules is what the
    table held when the slice ran.
    """
    deadlines.forget_partitions(partitions)
    counts: Counter[Labels] = Counter()
    entries: list[tuple[str, int, float]] = []
    stream_times: dict[int, float] = {}
    scheduled = 0
    unreadable: list[str] = []
    slice_ends = time.monotonic() + SLICE_S
    pages = table.key_pages(partitions, PAGE_KEYS)
    for key, read in ((key, page.read) for page in pages for key in page.keys):
        raw = read(key)
        customer_id = key.decode() if isinstance(key, bytes) else str(key)
        try:
            envelope = decode_envelope(raw) if raw else None
            deadline = None if envelope is None else loop_deadline(envelope.state, config)
        except Exception:  # one bad value must not stop every other customer's deadlines
            unreadable.append(customer_id)
            envelope = None
        if envelope is not None and envelope.partition in partitions:
            partition = envelope.partition
            stream_times[partition] = max(stream_times.get(partition, 0.0), envelope.event_time)
            labels = (envelope.stage, envelope.band)
            counts[labels] += 1
            if customer_id in ledger.labels:
                ledger.read[customer_id] = labels
            if deadline is not None:
                entries.append((customer_id, partition, deadline))
        if time.monotonic() >= slice_ends:
            # Scheduled before yielding: no batch ran since these reads. A batch that folds one
            # of these customers later schedules its new deadline over this one.
            deadlines.schedule(entries)
            scheduled += len(entries)
            entries = []
            await asyncio.sleep(0)
            if not still_valid():
                return None
            slice_ends = time.monotonic() + SLICE_S
    deadlines.schedule(entries)
    deadlines.observe(stream_times)
    return Rebuilt(scheduled + len(entries), ledger.corrected(counts), unreadable)
