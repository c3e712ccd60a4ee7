"""Input records Faust clears from its stream buffers are read again (defect 16).

Faust clears every stream buffer whenever its flow control resumes (``clear_on_resume``), to
drop what was fetched before a rebalance. But after a rebalance its recovery resumes the flow
twice: once when it finds nothing to restore, which restarts the fetcher, and once more after
seeking the input partitions to their committed offsets. Records fetched from those offsets in
between are delivered into the buffers (Faust's read offset moves past them) and cleared by
the second resume before the agent takes them. Nothing acknowledged them, yet Faust commits the
first consecutive run of acknowledged offsets, so the next records' acknowledgements commit past
them: a full chaos soak (docs/reliability.md, run 48) lost a produce round's records on both
partitions of one worker that way, one record re-delivered after the seek and then the records
after the round.

Here a clear notes the lowest cleared offset of each input partition for the fetch guard, which
seeks the partition back there before the next fetch (dropping what the merge still holds of
it): the cleared records are delivered again, in order. The changelog queue has its own guard
(``changelog_queue``).
"""

from __future__ import annotations

from typing import Any

from agents.worker.fetch_ledger import lowest_offsets


def guard_input_clears(app: Any) -> None:
    """Wrap ``app``'s flow control (its guarded consumer must exist: ``install_guard``)."""
    flow = app.flow_control
    clear = flow.clear

    def clear_noting_inputs() -> None:
        is_input = app.topics.acks_enabled_for
        changelog = app.tables.changelog_queue
        queued = [e for q in list(flow._queues) if q is not changelog for e in list(q._queue)]
        lowest = lowest_offsets(queued, lambda tp: is_input(tp.topic))
        clear()
        if lowest:
            app.consumer.ledger.not_taken(lowest)

    flow.clear = clear_noting_inputs
