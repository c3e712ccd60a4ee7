"""The worker's event-time merge bound to its Faust consumer: what each check asks of it.

:class:`agents.worker.merge.EventTimeMerge` decides the order from callables (is a partition
caught up, deliverable, delivered, its leader answering...); this module answers them from the
consumer's fetch state (``faust_internals``) and the fetch guard's ledger, so the merge itself
reads no Faust or aiokafka internals and is tested with plain functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from faust.types import TP

from agents.worker.faust_internals import (
    consuming,
    fetch_diagnosis,
    fetch_state,
    leader_answered_within,
    read_offset,
)
from agents.worker.faust_internals import fetch_again as faust_fetch_again
from agents.worker.fetch_ledger import next_expected
from agents.worker.merge import LEADER_SILENCE_S, EventTimeMerge
from streams.topics import Topics


def merge_scheduler(
    topics: Sequence[str],
    app_ref: Callable[[], Any],
    quiet: float = 0.75,
    never_wait: Sequence[str] = (),
    max_idle: float = 30.0,
) -> type[EventTimeMerge]:
    """A scheduler class bound to these input topics and the app's Kafka consumer.

    Records of ``never_wait`` topics take their place in timestamp order among the queued
    records, but an empty queue of theirs holds nothing back.

    A partition counts as caught up when a fetch response received after the held record's
    shows its position at the high watermark, and that watermark has not moved for ``quiet``
    seconds (the worker's ``--max-task-idle``): records appended meanwhile are seen first.
    Freshness alone (0 s) still let 8-10% of a live load's records overtake one appended a few
    milliseconds later on another topic (docs/benchmarks.md).
    """
    caught_since: dict[TP, tuple[int, float]] = {}

    def caught_up(tp: TP, next_offset: int | None, fetched_ms: int | None) -> bool:
        """Nothing more to fetch: a fetch response no older than the held record's put the
        consumer's position at the high watermark, and it has stayed there ``quiet`` s."""
        state = fetch_state(app_ref(), tp)
        if state is None:  # not started or not assigned: nothing of it can be waited for
            return True
        if state.highwater is None or not state.has_valid_position:
            return False
        if fetched_ms is not None and (state.reported_ms or 0) < fetched_ms:
            return False  # its watermark predates the held record: an older record may follow
        received = next_expected(app_ref(), tp)  # the fetch position may be past dropped records
        if received is None:
            received = max(state.position or 0, next_offset or 0)
        if received < state.highwater:
            return False
        now = time.monotonic()
        mark, since = caught_since.get(tp, (-1, now))
        if mark != state.highwater:
            caught_since[tp] = (state.highwater, now)
            since = now
        return now - since >= quiet

    def fetched_at(tp: TP) -> int | None:
        """When the fetch response that brought ``tp``'s newest records was received."""
        state = fetch_state(app_ref(), tp)
        return None if state is None else state.reported_ms

    def deliverable(tp: TP) -> bool:
        """Faust drops records of partitions it is not consuming right now (paused, revoked)."""
        return consuming(app_ref(), tp)

    def delivered(tp: TP, offset: int) -> bool:
        """Faust records the read offset of each message it hands to a stream."""
        read = read_offset(app_ref(), tp)
        return read is not None and read >= offset

    def fetch_again(tp: TP) -> bool:
        """A partition the merge waits for must not stay out of the fetch: flow control puts
        it back only after enough of the stream buffer drained, which other partitions' records
        can keep from happening (no fetch response: never caught up, released after
        ``max_idle`` out of order)."""
        return faust_fetch_again(app_ref(), tp)

    def leader_answering(tp: TP) -> bool:
        """``tp``'s leader broker answered a fetch lately (not down, not unreachable)."""
        return leader_answered_within(app_ref(), tp, LEADER_SILENCE_S)

    def describe(tp: TP) -> str:
        """Why ``tp`` may not look caught up: what the consumer knows of it (for the log)."""
        app = app_ref()
        try:
            known = f"{fetch_state(app, tp)}, expected {next_expected(app, tp)}"
        except Exception as exc:  # a log line must never stop the merge
            known = f"fetch state unknown ({exc!r})"
        return f"{known}, {fetch_diagnosis(app, tp)}"

    return type(
        "BoundEventTimeMerge",
        (EventTimeMerge,),
        {
            "merge_topics": frozenset(topics),
            "never_wait": frozenset(never_wait),
            "max_idle": max_idle,
            "caught_up": staticmethod(caught_up),
            "fetched_at": staticmethod(fetched_at),
            "deliverable": staticmethod(deliverable),
            "delivered": staticmethod(delivered),
            "fetch_again": staticmethod(fetch_again),
            "describe": staticmethod(describe),
            "leader_answering": staticmethod(leader_answering),
        },
    )


def worker_merge(
    topics: Topics, app_ref: Callable[[], Any], max_task_idle: float, max_wait: float
) -> type[EventTimeMerge]:
    """The worker's merge: every input and the ticks in timestamp order per partition, never
    waiting for the ticks.

    Ticks stay in the merge so a tick read back (a restart, a fresh group replaying from
    earliest) is never folded before older inputs. But nothing waits for the ticks topic:
    during a catch-up this worker keeps appending ticks, so that partition never looks caught
    up, and waiting for it made the merge release 42% of a benchmark backlog out of order
    after ``max_idle``. A tick the inputs do not wait for loses nothing: each event runs its
    own due ticks first.
    """
    return merge_scheduler(
        [*topics.customer_inputs, topics.ticks],
        app_ref,
        quiet=max_task_idle,
        never_wait=[topics.ticks],
        max_idle=max_wait,
    )
