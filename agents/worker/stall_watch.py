"""Notice an owned input partition that has records waiting and stopped moving.

A stalled partition is silent: the worker keeps answering ``/healthz`` and processing its other
partitions, so the pipeline-wide alert (no events at all) stays quiet, and the lag alert waits
for 10,000 records. A full chaos soak (docs/reliability.md, run 47) had two purchases partitions
stop for ten minutes after a rebalance, 70 and 59 records waiting, with ``/healthz`` ok, until
the next rebalance moved them. :class:`StallWatch` reads what the lag probe already measures
(the group's committed offset and the lag per owned partition) and calls a partition stalled
when records wait and its committed offset has not moved for ``after`` seconds.

A rebalance that never finishes stops every partition at once and hides from that watch (lag
is not read while the group rebalances): :class:`RebalanceClock` times it instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Partition = tuple[str, int]

#: Seconds without a commit, records waiting, before an input partition counts as stalled.
#: Above the merge's longest wait in a broker outage (``OUTAGE_LIMIT`` x 30 s is 300 s only
#: while the broker is away, when the lag cannot be read and the watch starts over).
STALL_AFTER = 180.0


@dataclass(frozen=True, slots=True)
class Stalled:
    partition: Partition
    waiting: int  # records after the committed offset
    seconds: float  # since the committed offset last moved

    def describe(self) -> str:
        topic, number = self.partition
        waiting, seconds = self.waiting, self.seconds
        return f"{topic}[{number}]: {waiting} records waiting, no commit for {seconds:.0f} s"


class StallWatch:
    """Per owned input partition: the committed offset last seen, and since when."""

    def __init__(self, after: float = STALL_AFTER, clock: Callable[[], float] = time.monotonic):
        self.after = after
        self.clock = clock
        self._since: dict[Partition, tuple[int, float]] = {}  # committed offset, first seen at

    def observe(self, readings: Mapping[Partition, tuple[int, int]]) -> list[Stalled]:
        """``readings``: (committed offset, lag) per owned partition; the stalled ones."""
        now = self.clock()
        since = {}
        stalled = []
        for partition, (committed, lag) in readings.items():
            seen, at = self._since.get(partition, (committed, now))
            if seen != committed or lag == 0:
                seen, at = committed, now
            since[partition] = (seen, at)
            if lag > 0 and now - at >= self.after:
                stalled.append(Stalled(partition, lag, now - at))
        self._since = since  # partitions given up are forgotten
        return stalled

    def forget(self) -> None:
        """Start over (the lag could not be read: nothing is known of the time in between)."""
        self._since.clear()


class RebalanceClock:
    """How long the current consumer-group rebalance (Faust's ``app.rebalancing``, which stays
    set through the table recovery that follows) has gone without progress. Restoring changelog
    records is progress: a million customers take minutes to restore, and a worker that is
    restoring must not be called stuck (an orchestrator would restart it, and it would start
    the restore over)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._since: float | None = None
        self._progress: object = None

    def observe(self, rebalancing: bool, progress: object = None) -> float:
        """Seconds since the rebalance under way began or last made ``progress`` (any value
        that changes while it advances, e.g. the changelog records left to restore); 0 when
        no rebalance is under way."""
        if not rebalancing:
            self._since = None
            return 0.0
        now = self.clock()
        if self._since is None or progress != self._progress:
            self._since, self._progress = now, progress
        return now - self._since
