"""Inactivity deadlines and stream time: who needs a ``tick`` and when.

Each partition keeps its stream time (the highest event time seen on it) and a min-heap of
customers' next deadlines, so a timer finds the customers due without scanning them all.
Stale heap entries (a customer whose deadline moved) are dropped lazily; a duplicate tick is
harmless because ticks are idempotent. A tick runs up to the partition's *watermark* (stream
time minus the allowed lateness), never beyond: an event that arrives a little late still
lands before any tick past its own time, so live runs and replays agree. When a partition has
been idle for a while its stream time may follow the wall clock (live operation), so silence
is noticed without new events.

A partition's *mark* (:meth:`DeadlineIndex.mark`) is the event time before which it will open
no more alerts: its watermark, held back by the earliest deadline still pending and by ticks
sent but not yet folded. The alert budget closes a day only when every partition's mark has
passed it (streams.model.budget).
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
    in_flight: dict[str, tuple[float, float]] = field(default_factory=dict)  # (deadline, sent)


class DeadlineIndex:
    def __init__(
        self,
        clock: Callable[[], float],
        idle_wall_clock_after: float | None,
        allowed_lateness: float = 300.0,
        in_flight_for: float = 300.0,
    ) -> None:
        self._clock = clock
        self._idle_after = idle_wall_clock_after
        self._lateness = allowed_lateness
        self._in_flight_for = in_flight_for  # wall seconds a sent tick holds its mark back
        self._partitions: dict[int, _PartitionClock] = {}

    def _part(self, partition: int) -> _PartitionClock:
        part = self._partitions.get(partition)
        if part is None:  # idle from now on: a partition with no events at all follows too
            part = self._partitions[partition] = _PartitionClock(last_event_wall=self._clock())
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
            part.in_flight.pop(customer_id, None)  # folded (or re-planned) since its tick
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
        wall = self._clock()
        for partition, part in self._partitions.items():
            until = self.watermark(partition)
            while part.heap and part.heap[0][0] <= until and len(out) < limit:
                deadline, customer_id = heapq.heappop(part.heap)
                if part.deadline_of.get(customer_id) == deadline:
                    del part.deadline_of[customer_id]
                    part.in_flight[customer_id] = (deadline, wall)
                    out.append((customer_id, partition, until))
            if len(part.in_flight) > 2 * len(part.deadline_of) + 1024:
                self._expire(part)  # ticks that found no state to fold are never settled
        return out

    def _expire(self, part: _PartitionClock) -> None:
        oldest = self._clock() - self._in_flight_for
        for customer_id, (_, sent) in list(part.in_flight.items()):
            if sent < oldest:
                del part.in_flight[customer_id]

    def settle(self, folded: Iterable[tuple[str, int]]) -> None:
        """``(customer id, partition)`` folded: ticks sent to them before no longer hold back
        their partition's mark (a fold runs every deadline due by its time)."""
        for customer_id, partition in folded:
            part = self._partitions.get(partition)
            if part is not None and part.in_flight:
                part.in_flight.pop(customer_id, None)

    def mark(self, partition: int) -> float:
        """The event time before which ``partition`` opens no more alerts (see the module)."""
        part = self._part(partition)
        found = self.watermark(partition)
        while part.heap and part.deadline_of.get(part.heap[0][1]) != part.heap[0][0]:
            heapq.heappop(part.heap)  # stale: the customer's deadline moved
        if part.heap:
            found = min(found, part.heap[0][0])
        if part.in_flight:
            self._expire(part)  # a tick that found no state to fold (or was lost): let go
            found = min([found, *(deadline for deadline, _ in part.in_flight.values())])
        return found

    def forget_partitions(self, keep: set[int]) -> None:
        for partition in list(self._partitions):
            if partition not in keep:
                del self._partitions[partition]

    def pending(self) -> int:
        return sum(len(p.deadline_of) for p in self._partitions.values())
