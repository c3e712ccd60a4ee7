"""The agent's batch window: long while input is waiting on the broker, short once it is not.

Faust's ``Stream.take_events(max_, within)`` hands the agent a batch when ``max_`` records
are buffered or ``within`` seconds have passed since the last batch. A long window makes
full batches during a catch-up (each batch's flush and commit are paid once per batch); a
short one makes a live record wait less for its batch. Faust fixes ``within`` for the
stream's life. This keeps Faust's loop and changes only the wait it starts each batch with:
``--batch-within`` while a full batch (``--batch-size`` records) or more is not yet handed to
the agent, ``--batch-within-caught-up`` otherwise. Live traffic always has a few records on
the broker, so "any record unfetched" held live records for the long window (at 500 events/s
on a slow day p50 went from 0.26-0.79 s to 3.7-4.5 s); and a catch-up's fetcher runs far
ahead of the agent, so "a batch unfetched" lost the catch-up's long window. Counting what is
not yet read (broker, fetch buffers, the merge) tells the two apart. docs/benchmarks.md has
the measurements behind both windows.

Relies on ``Stream.take_events`` waiting with ``self.wait_for_stopped(buffer_full,
timeout=within)`` (pinned in :data:`agents.worker.faust_pins.RELIES_ON`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.worker.metrics import BATCH_WINDOW_SHORT


def backlog_fills_a_batch(unread: int | None, batch_size: int) -> bool:
    """A catch-up, not live traffic: a batch's worth is waiting (or the position is unknown,
    as at start-up, when the whole backlog may be ahead)."""
    return unread is None or unread >= batch_size


def adapt_take_window(
    stream: Any, within: float, caught_up: float, behind: Callable[[], bool]
) -> None:
    """Make ``stream``'s take window ``within`` while ``behind()``, else ``caught_up``.

    Only the take loop's wait (its timeout is ``within``) changes; any other wait of the
    stream keeps its own timeout."""
    if caught_up >= within:
        return  # nothing to shorten
    wait = stream.wait_for_stopped

    async def wait_for_batch(*coros: Any, timeout: Any = None) -> bool:
        if timeout == within and not behind():
            BATCH_WINDOW_SHORT.inc()
            timeout = caught_up
        result: bool = await wait(*coros, timeout=timeout)
        return result

    stream.wait_for_stopped = wait_for_batch
