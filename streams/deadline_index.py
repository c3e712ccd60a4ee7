"""Inactivity deadlines and stream time: who needs a ``tick`` and when.

Each partition keeps its stream time (the highest event time seen on it) and a min-heap of
customers' next deadlines, so a timer finds the customers due without scanning them all.
Stale heap entries (a customer whose deadline moved) are dropped lazily; a duplicate tick is
harmless because ticks are idempotent. A tick runs up to the partition's *watermark* (stream
time minus the allowed lateness), never beyond: an event that arrives a little late still
lands before any tick past its own time, so live runs and replays agree. When a partition has
been idle for a while its stream time may follow the wall clock (live operation), so silence
is noticed without new events.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _PartitionClock:
    stream_time: float = 0.0
    last_event_wall: float = 0.0
    heap: list[tuple[float, str]] = field(default_factory=list)
    deadline_of: dict[str, float] = field(default_factory=dict)


class DeadlineIndex:
    def __init__(
        self,
        clock: Callable[[], float],
        idle_wall_clock_after: float | None,
        allowed_lateness: float = 300.0,
    ) -> None:
        self._clock = clock
        self._idle_after = idle_wall_clock_after
        self._lateness = allowed_lateness
        self._partitions: dict[int, _PartitionClock] = {}

    def _part(self, partition: int) -> _PartitionClock:
        part = self._partitions.get(partition)
        if part is None:
            part = self._partitions[partition] = _PartitionClock()
        return part

    def observe(self, stream_times: dict[int, float]) -> None:
        now = self._clock()
        for partition, event_time in stream_times.items():
            part = self._part(partition)
            part.stream_time = max(part.stream_time, event_time)
            part.last_event_wall = now

    def schedule(self, entries: Iterable[tuple[str, int, float]]) -> None:
        for customer_id, partition, deadline in entries:
            part = self._part(partition)
            if part.deadline_of.get(customer_id) == deadline:
                continue
            part.deadline_of[customer_id] = deadline
            heapq.heappush(part.heap, (deadline, customer_id))
            if len(part.heap) > 2 * len(part.deadline_of) + 1024:
                part.heap = [(d, c) for c, d in part.deadline_of.items()]
                heapq.heapify(part.heap)

    def deadline(self, partition: int, customer_id: str) -> float | None:
        """The customer's next deadline, if it has one."""
        part = self._partitions.get(partition)
        return None if part is None else part.deadline_of.get(customer_id)

    def stream_time(self, partition: int) -> float:
        part = self._part(partition)
        if self._idle_after is not None and part.last_event_wall:
            wall = self._clock()
            if wall - part.last_event_wall >= self._idle_after:
                return max(part.stream_time, wall)
        return part.stream_time

    def stream_times(self) -> dict[int, float]:
        return {p: self.stream_time(p) for p in self._partitions}

    def watermark(self, partition: int) -> float:
        return self.stream_time(partition) - self._lateness

    def due(self, limit: int = 10_000) -> list[tuple[str, int, float]]:
        """Pop customers whose deadline passed their partition's watermark.

        Returns ``(customer_id, partition, tick_until)`` with ``tick_until`` the watermark, so
        one tick also runs any further deadlines that fell due before it.
        """
        out: list[tuple[str, int, float]] = []
        for partition, part in self._partitions.items():
            until = self.watermark(partition)
            while part.heap and part.heap[0][0] <= until and len(out) < limit:
                deadline, customer_id = heapq.heappop(part.heap)
                if part.deadline_of.get(customer_id) == deadline:
                    del part.deadline_of[customer_id]
                    out.append((customer_id, partition, until))
        return out

    def forget_partitions(self, keep: set[int]) -> None:
        for partition in list(self._partitions):
            if partition not in keep:
                del self._partitions[partition]

    def pending(self) -> int:
        return sum(len(p.deadline_of) for p in self._partitions.values())
