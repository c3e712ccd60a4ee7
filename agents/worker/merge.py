"""Deliver co-partitioned input records in timestamp order, like a Kafka Streams task.

A customer's purchases, tickets, feedback, profile changes and alert actions arrive on five
topics. Faust's default scheduler hands records over round-robin by topic, so during a replay
or catch-up one topic can run days of event time ahead of another, and the model would see a
customer's history out of order. This scheduler keeps one FIFO queue per input partition and,
among the partitions with the same number, always releases the head with the oldest timestamp.
A partition whose queue is empty is waited for unless it has nothing more to fetch (caught up
to its high watermark), exactly Kafka Streams' rule. Records of one partition always leave in
offset order (Faust drops, and commits past, anything delivered behind its read offset), and
held records are not yet acknowledged, so offsets are never committed past them.

A record that cannot be an event (no key, or larger than any event the contract allows) does
not take part in the timestamp order: it leaves as soon as it is at the head of its queue and
will be dead-lettered. Its timestamp is whatever its producer chose, and a partition is only
as ordered as its producers: a 1 MB junk record appended by a second producer ahead of a
bulk producer's older records would otherwise hold that partition back while the other topics
ran ahead, and the older records of every customer behind it would arrive late.

A high watermark is only as fresh as the fetch response that reported it: an empty partition
counts as caught up only on one reported by a response received no earlier than the held
record's, so a record is never released ahead of an older one already appended but not yet
fetched. How long it must then stay there is the worker's ``--max-task-idle`` (Kafka Streams'
``max.task.idle.ms``): the spread allowed between the producers of different topics. Shorter
releases sooner (lower latency); too short releases a record ahead of an older one appended to
another topic a moment later (counted as ``cxstream_merge_out_of_order``). A record held
longer than ``--merge-max-wait`` seconds (``max_idle``) is released regardless, with a
warning: a safety net for a partition whose high watermark is never reported. That clock stops
while the waited-for partition's leader broker answers no fetch at all (an outage: nothing can
be fetched, and records released meanwhile would make the waited-for ones late when it is back),
and restarts when it answers again, or when the merge itself could not run for a while (the
worker blocked on a flush to the absent broker); only an outage longer than ``OUTAGE_LIMIT``
times ``max_idle`` releases out of order (a worker never stalls for good on a silent broker).
docs/benchmarks.md has the measurement behind the defaults.

Record timestamps are the event time, the one rule of docs/contracts.md ("Record timestamps"),
which every cxstream producer follows; a producer that leaves the publish time (CreateTime)
merges in publish order instead.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from faust.transport.utils import DefaultSchedulingStrategy
from faust.types import TP

from agents.worker.metrics import MERGE_OUT_OF_ORDER
from streams.contracts.limits import MAX_EVENT_BYTES

#: (partition, next offset the merge has seen, wall ms the held record's fetch was reported by)
Caught = Callable[[TP, int | None, int | None], bool]
log = logging.getLogger(__name__)

#: A leader broker that answered no fetch for this long is down (or unreachable): the merge's
#: ``max_idle`` clock waits for it (fetch responses come every 0.1-1.5 s while it is up).
LEADER_SILENCE_S = 10.0
#: An outage longer than this many ``max_idle`` releases out of order after all.
OUTAGE_LIMIT = 10


class EventTimeMerge(DefaultSchedulingStrategy):
    """Faust ``ConsumerScheduler``; bound to the consumer by
    :func:`agents.worker.merge_probes.merge_scheduler`."""

    merge_topics: frozenset[str] = frozenset()
    never_wait: frozenset[str] = frozenset()  # merged in order, but nothing waits for them
    max_idle: float = 30.0
    caught_up: Caught = staticmethod(lambda tp, next_offset, fetched_ms: False)  # type: ignore[assignment]
    fetched_at: Callable[[TP], int | None] = staticmethod(lambda tp: None)  # type: ignore[assignment]
    deliverable: Callable[[TP], bool] = staticmethod(lambda tp: True)  # type: ignore[assignment]
    delivered: Callable[[TP, int], bool] = staticmethod(lambda tp, offset: True)  # type: ignore[assignment]
    fetch_again: Callable[[TP], bool] = staticmethod(lambda tp: False)  # type: ignore[assignment]
    describe: Callable[[TP], str] = staticmethod(lambda tp: "")  # type: ignore[assignment]
    leader_answering: Callable[[TP], bool] = staticmethod(lambda tp: True)  # type: ignore[assignment]

    def __init__(self) -> None:
        # partition number -> topic partition -> FIFO of (held since, fetched at (ms), record)
        self._groups: dict[int, dict[TP, deque[tuple[float, int | None, Any]]]] = {}
        self._next_offset: dict[TP, int] = {}
        self._released: dict[int, float] = {}  # partition -> newest timestamp released
        self._silent_at: dict[TP, float] = {}  # when a waited-for partition's leader was silent
        self._ran_at: dict[int, float] = {}  # partition -> when its queues were last looked at
        self._generation = 0  # bumped by forget_all: queues from before a rebalance are void

    def iterate(self, records: Mapping[TP, list[Any]]) -> Iterator[tuple[TP, Any]]:
        generation = self._generation
        passthrough: dict[TP, list[Any]] = {}
        now = time.monotonic()
        for tp, batch in records.items():
            if tp.topic not in self.merge_topics:
                passthrough[tp] = batch
                continue
            group = self._groups.setdefault(tp.partition, {})
            queue = group.setdefault(TP(tp.topic, tp.partition), deque())
            fetched_ms = self.fetched_at(tp)
            queue.extend((now, fetched_ms, record) for record in batch)
            newest = self._released.get(tp.partition)
            if newest is not None and tp.topic not in self.never_wait:  # ticks trail by design
                late = sum(1 for r in batch if -math.inf < _order_time(r) < newest)
                if late:
                    MERGE_OUT_OF_ORDER.inc(late)
            if batch:
                self._next_offset[TP(tp.topic, tp.partition)] = batch[-1].offset + 1
        if passthrough:
            yield from super().iterate(passthrough)
        for partition, group in list(self._groups.items()):
            if self._generation != generation:
                return
            yield from self._release(partition, group, now, generation)

    def _release(
        self,
        partition: int,
        group: dict[TP, deque[tuple[float, int | None, Any]]],
        now: float,
        generation: int,
    ) -> Iterator[tuple[TP, Any]]:
        members = [TP(t, partition) for t in self.merge_topics - self.never_wait]
        last, self._ran_at[partition] = self._ran_at.get(partition), now
        # Not looked at for a while: the worker was blocked (a flush to an absent broker), so
        # nothing was waited for meanwhile, and the members' clocks start over.
        blocked = last is not None and now - last >= LEADER_SILENCE_S
        while self._generation == generation:
            heads = [(_order_time(q[0][2]), tp) for tp, q in group.items() if q]
            if not heads:
                return
            _, tp = min(heads)
            held_since, fetched_ms, record = group[tp][0]
            if not self.deliverable(tp):  # paused by flow control: keep it for later
                return
            waiting = [
                m
                for m in members
                if not group.get(m) and not self.caught_up(m, self._next_offset.get(m), fetched_ms)
            ]
            if waiting:
                for member in waiting:  # what we wait for must be fetched (defect 15)
                    if self.fetch_again(member):
                        log.info("%s: the merge waits for it: fetched again", member)
                held = now - held_since
                if blocked:
                    self._silent_at.update(dict.fromkeys(waiting, now))
                elif held >= min(self.max_idle, LEADER_SILENCE_S):
                    self._note_silence(waiting, now)
                if held < self.max_idle or self._outage(waiting, held, now):
                    return
                log.warning(
                    "releasing %s out of timestamp order after %.0fs: %s not caught up",
                    tp,
                    self.max_idle,
                    ", ".join(f"{m.topic}-{m.partition} ({self.describe(m)})" for m in waiting),
                )
            self._released[partition] = max(
                self._released.get(partition, -math.inf), _order_time(record)
            )
            yield tp, record
            if self._generation != generation:
                # A rebalance ran while the record was out: Faust seeked back to committed
                # offsets. A queued record released now could lie ahead of that position,
                # and its commit would skip the records between (seen in the chaos soak as
                # lost and late events), so everything queued before it is dropped.
                return
            # Faust may skip what it was handed (the partition was not active when the fetch
            # began, or the generation changed): a record stays queued until Faust's read
            # offset shows it was delivered, or Faust would never process nor commit it.
            if not self.delivered(tp, record.offset):
                log.info("%s@%d was not taken: kept for the next fetch", tp, record.offset)
                return
            group[tp].popleft()

    def _note_silence(self, waiting: list[TP], now: float) -> None:
        """Note when each waited-for partition's leader broker was last found silent."""
        for member in waiting:
            if self.leader_answering(member):
                continue
            if now - self._silent_at.get(member, -math.inf) >= self.max_idle:
                log.warning(
                    "%s-%d: its leader broker answers no fetch: partition %d stays in timestamp "
                    "order until it does",
                    member.topic,
                    member.partition,
                    member.partition,
                )
            self._silent_at[member] = now

    def _outage(self, waiting: list[TP], held: float, now: float) -> bool:
        """A waited-for partition's leader was silent less than ``max_idle`` ago: its records
        could not be fetched, so the wait goes on (up to ``OUTAGE_LIMIT`` times ``max_idle``)."""
        if held >= self.max_idle * OUTAGE_LIMIT:
            return False
        return any(now - self._silent_at.get(m, -math.inf) < self.max_idle for m in waiting)

    def drop_held(self, partitions: set[TP]) -> dict[TP, int]:
        """The fetch guard seeks these partitions back: drop what is held of them (read again
        from the seek) and return the oldest offset held per partition."""
        oldest: dict[TP, int] = {}
        for tp in partitions:
            key = TP(tp.topic, tp.partition)
            queue = self._groups.get(tp.partition, {}).pop(key, None)
            self._next_offset.pop(key, None)
            if queue:
                oldest[tp] = queue[0][2].offset
        return oldest

    def forget_all(self) -> None:
        """On a rebalance: Faust seeks back to committed offsets and fetches again.

        Runs while :meth:`iterate` may be suspended at a ``yield``: the generation tells it
        to stop instead of releasing what it still holds.
        """
        self._generation += 1
        self._silent_at.clear()
        self._ran_at.clear()
        self._groups.clear()
        self._next_offset.clear()
        self._released.clear()


def _order_time(record: Any) -> float:
    """The record's timestamp, or -inf for a record that cannot be an event (it goes first)."""
    key, value = record.key, record.value
    if not key or value is None or len(value) > MAX_EVENT_BYTES:
        return float("-inf")
    timestamp: float = record.timestamp
    return timestamp
