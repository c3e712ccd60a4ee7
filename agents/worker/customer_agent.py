"""The customer agent on a Faust app: its inputs, its batches, inactivity ticks, rebalances.

Data flow (all keyed by customer id unless said otherwise):

    purchases, support-tickets, customer-profiles, alert-actions ┐
    feedback (weighed by the survey-integrity table) ───────────┤→ customer agent
    timer (deadline index) → internal.ticks ────────────────────┘   (customers table)
    customer agent → alerts, customer-health (compacted), alert-outcomes (compacted),
                     dead-letter; with an alert budget also internal.alert-budget (churn
                     openings and marks; see budget_feed)

Each batch runs through :class:`~agents.worker.batch_cycle.BatchCycle`; this module only
wires it to Faust: the agent, the timer that sends ticks, and the rebalance handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from functools import partial
from typing import Any

import faust

from agents.settings import WorkerOptions
from agents.worker import metrics
from agents.worker.batch_cycle import BatchCycle
from agents.worker.faust_internals import assigned_partitions, in_recovery, records_unread
from agents.worker.fold_ahead import FoldAhead
from agents.worker.merge import EventTimeMerge
from agents.worker.model_params import ModelParameters
from agents.worker.overlapped_take import take_overlapped
from agents.worker.table_store import stored_states
from agents.worker.take_window import adapt_take_window, backlog_fills_a_batch
from streams.model import ModelConfig


def register_customer_agent(
    app: faust.App,
    cycle: BatchCycle,
    customers: Any,
    params: ModelParameters,
    options: WorkerOptions,
) -> None:
    """The agent folding every input batch, the inactivity-tick timer and rebalance handlers."""
    topics = options.settings.topics
    inputs = app.topic(*topics.customer_inputs, topics.ticks)
    stored = stored_states(customers)
    process = cycle.fold_process
    ahead = FoldAhead(cycle, process) if process is not None and options.fold_ahead else None

    @app.agent(inputs, name="customers")
    async def customer_agent(stream: Any) -> None:
        adapt_take_window(
            stream,
            options.batch_within,
            options.batch_within_caught_up,
            behind=lambda: backlog_fills_a_batch(
                records_unread(app, app.topics.acks_enabled_for), options.batch_size
            ),
        )
        if ahead is not None:
            try:
                async for events in take_overlapped(
                    stream, options.batch_size, options.batch_within, acknowledge=False
                ):
                    await params.ready()
                    await ahead.submit([e.message for e in events], partial(_ack, stream, events))
            finally:  # a shutdown: let the batches in flight finish and acknowledge
                await ahead.drain(grace=30.0)
            return
        take = take_overlapped if process is not None else faust.Stream.take_events
        async for events in take(stream, options.batch_size, options.batch_within):
            await params.ready()  # the parameters to judge with (pinned: until they arrive)
            await finish_before_ack(cycle.handle_safely([event.message for event in events]))

    def use(config: ModelConfig) -> None:  # between batches: a fold never mixes two configs
        cycle.fold.use(config)
        cycle.indexed = None  # deadlines were planned with the old parameters: re-plan them

    params.listeners.append(use)

    @app.on_rebalance_complete.connect
    async def mark_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        cycle.has_assignment = True

    @app.on_partitions_revoked.connect
    async def forget_cached_states(sender: Any, *args: Any, **kwargs: Any) -> None:
        cycle.states.forget()
        if ahead is not None:
            ahead.forget()
        scheduler: Any = getattr(app.consumer, "scheduler", None)
        if isinstance(scheduler, EventTimeMerge):
            scheduler.forget_all()

    def settled() -> bool:
        """No rebalance or table recovery under way."""
        return not (app.rebalancing or in_recovery(app))

    @app.timer(options.tick_interval, name="inactivity-ticks")
    async def inactivity_ticks() -> None:
        if not settled():
            return
        assigned = assigned_partitions(app, topics.purchases)
        if assigned != cycle.indexed:

            def still_valid() -> bool:
                return settled() and assigned_partitions(app, topics.purchases) == assigned

            if await cycle.rebuild(stored, assigned, still_valid) is None:
                return  # cut short: the next run rebuilds for the new assignment or parameters
            if cycle.budget is not None:
                cycle.budget.forget(assigned)
        await cycle.send_ticks()
        if cycle.budget is not None:  # after the ticks: their deadlines hold the marks back
            await cycle.budget.send_marks(cycle.deadlines, sorted(assigned))
        for partition, stream_time in cycle.deadlines.stream_times().items():
            metrics.STREAM_TIME_LAG.labels(str(partition)).set(max(0.0, time.time() - stream_time))


async def _ack(stream: Any, events: list[Any]) -> None:
    for event in events:
        await stream.ack(event)


async def finish_before_ack(batch: Coroutine[Any, Any, None], grace: float = 30.0) -> None:
    """Run a batch to its end even if the agent is cancelled (a shutdown) meanwhile.

    Faust acknowledges the batch's records as soon as the agent's loop is left, cancelled or
    not, and commits them on shutdown: a batch cut short there would be lost. So the batch runs
    shielded, and a cancellation waits up to ``grace`` seconds for it before going on.
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), grace)
        raise
