"""The agent's batch window: long while input is waiting on the broker, short once it is not.

Faust's ``Stream.take_events(max_, within)`` hands the agent a batch when ``max_`` records
are buffered or ``within`` seconds have passed since the last batch. A long window makes
full batches during a catch-up (each batch's flush and commit are paid once per batch); a
short one makes a live record wait less for its batch. Faust fixes ``within`` for the
stream's life. This keeps Faust's loop and changes only the wait it starts each batch with:
``--batch-within`` while any assigned input partition's fetch position is below its high
watermark (records are waiting, so the batch will fill), ``--batch-within-caught-up``
once every one is at it (what arrives now is live traffic). docs/benchmarks.md has the
measurement behind both.

Relies on ``Stream.take_events`` waiting with ``self.wait_for_stopped(buffer_full,
timeout=within)`` (pinned in :data:`agents.worker.faust_pins.RELIES_ON`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.worker.metrics import BATCH_WINDOW_SHORT


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
