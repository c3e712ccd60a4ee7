"""Deliver co-partitioned input records in timestamp order, like a Kafka Streams task.

A customer's purchases, tickets, feedback and profile changes arrive on four topics. Faust's
default scheduler hands records over round-robin by topic, so during a replay or catch-up one
topic can run days of event time ahead of another, and the model would see a customer's
history out of order. This scheduler holds each fetched input record until every other input
topic of the same partition number has either delivered a record at least as new, or has
nothing more to fetch (caught up to its high watermark); then it releases records
oldest-first. Held records are not yet acknowledged, so offsets are never committed past them.
A record held longer than ``max_idle`` seconds is released anyway, so a stalled topic delays
the others by at most that much.

Record timestamps are Kafka's (CreateTime by default): cxstream's producers set them to the
event time; a producer that leaves the publish time still gets a replay identical to live.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from faust.transport.utils import DefaultSchedulingStrategy
from faust.types import TP

Caught = Callable[[TP, int | None], bool]


class EventTimeMerge(DefaultSchedulingStrategy):
    """Faust ``ConsumerScheduler``; configure with :func:`merge_scheduler`."""

    merge_topics: frozenset[str] = frozenset()
    max_idle: float = 2.0
    caught_up: Caught = staticmethod(lambda tp, next_offset: False)  # type: ignore[assignment]

    def __init__(self) -> None:
        self._held: dict[int, list[tuple[int, int, float, TP, Any]]] = {}
        self._newest: dict[TP, int] = {}  # newest timestamp fetched per input partition
        self._next_offset: dict[TP, int] = {}
        self._seq = itertools.count()

    def iterate(self, records: Mapping[TP, list[Any]]) -> Iterator[tuple[TP, Any]]:
        passthrough: dict[TP, list[Any]] = {}
        now = time.monotonic()
        for tp, batch in records.items():
            if tp.topic not in self.merge_topics:
                passthrough[tp] = batch
                continue
            heap = self._held.setdefault(tp.partition, [])
            for record in batch:
                heapq.heappush(heap, (record.timestamp, next(self._seq), now, tp, record))
            if batch:
                self._newest[tp] = max(self._newest.get(tp, 0), batch[-1].timestamp)
                self._next_offset[tp] = batch[-1].offset + 1
        if passthrough:
            yield from super().iterate(passthrough)
        for partition, heap in self._held.items():
            yield from self._release(partition, heap, now)

    def _release(
        self, partition: int, heap: list[tuple[int, int, float, TP, Any]], now: float
    ) -> Iterator[tuple[TP, Any]]:
        others = [TP(t, partition) for t in self.merge_topics]
        while heap:
            timestamp, _, held_since, tp, record = heap[0]
            ready = now - held_since >= self.max_idle or all(
                self._passed(other, timestamp) for other in others if other != tp
            )
            if not ready:
                return
            heapq.heappop(heap)
            yield tp, record

    def _passed(self, tp: TP, timestamp: int) -> bool:
        if self._newest.get(tp, -1) >= timestamp:
            return True
        return self.caught_up(tp, self._next_offset.get(tp))

    def forget(self, partitions: Sequence[TP]) -> None:
        for tp in partitions:
            self._held.pop(tp.partition, None)
            self._newest.pop(tp, None)
            self._next_offset.pop(tp, None)


def merge_scheduler(topics: Sequence[str], app_ref: Callable[[], Any]) -> type[EventTimeMerge]:
    """A scheduler class bound to these input topics and the app's consumer."""

    def caught_up(tp: TP, next_offset: int | None) -> bool:
        consumer = app_ref().consumer
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not assigned (yet): nothing of it can be waited for
            return True
        if highwater is None:
            return False
        committed = consumer._committed_offset.get(tp)
        position = max(next_offset or 0, committed or 0)
        return bool(position >= highwater)

    return type(
        "BoundEventTimeMerge",
        (EventTimeMerge,),
        {"merge_topics": frozenset(topics), "caught_up": staticmethod(caught_up)},
    )
