"""Changelog records Faust clears from its queue on a rebalance are read again (defect 13).

Faust hands changelog records (standby replicas, recovery) to its recovery through one queue,
which it clears whenever partitions are revoked (``clear_on_resume``). The records in it were
fetched and the consumer's position has moved past them, but nothing applied them; a record of
the same partition delivered after the clear is applied, and the recovery then ignores the
cleared ones for good (it applies only offsets above the highest it saw). A standby skipped
them that way and later took over without them (docs/reliability.md, defect 13).

Here a clear notes the lowest cleared offset of each partition for the fetch guard, which reads
the partition again from there (or from where recovery seeks it next), and until then no record
of that partition enters the queue.
"""

from __future__ import annotations

from typing import Any

from agents.worker.fetch_ledger import FetchLedger, lowest_offsets


def guard_changelog_queue(app: Any) -> None:
    """Wrap ``app``'s changelog queue (its guarded consumer must exist: ``install_guard``)."""
    queue = app.tables.changelog_queue
    clear, put = queue.clear, queue._put
    found: list[FetchLedger] = []  # the consumer's, looked up once (every record is put)

    def ledger() -> FetchLedger:
        if not found:
            found.append(app.consumer.ledger)
        return found[0]

    def clear_noting_offsets() -> None:
        lowest = lowest_offsets(list(queue._queue), lambda tp: True)
        clear()
        if lowest:
            ledger().not_delivered(lowest)

    def put_unless_cleared(event: Any) -> None:
        if event.message.tp not in ledger().discarded:
            put(event)

    queue.clear = clear_noting_offsets
    queue._put = put_unless_cleared
