"""Register cxstream's topics, tables, agents and timers on a Faust app.

Data flow (all keyed by customer id unless said otherwise):

    purchases, support-tickets, customer-profiles, alert-actions ┐
    feedback (weighed by the survey-integrity table) ───────────┤→ customer agent
    timer (deadline index) → internal.ticks ────────────────────┘   (customers table)
    customer agent → alerts, customer-health (compacted), alert-outcomes (compacted),
                     dead-letter
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import faust

from agents import metrics
from agents.action_api import register_action_view
from agents.consumer_lag import register_consumer_lag
from agents.integrity import FaustIntegrity
from agents.merge import EventTimeMerge
from agents.model_params import ModelParameters, ParametersReader
from agents.outputs import OutputProducer
from agents.pipeline import CustomerPipeline
from agents.processor import BatchProcessor
from agents.side_services import register_side_services
from agents.web import register_views
from streams.deadline_index import DeadlineIndex
from streams.topics import INPUT_PARTITIONS

if TYPE_CHECKING:  # avoids an import cycle with agents.app
    from agents.app import WorkerOptions


def _topic(app: faust.App, name: str, partitions: int = INPUT_PARTITIONS) -> Any:
    return app.topic(
        name, key_serializer="raw", value_serializer="raw", partitions=partitions, internal=False
    )


def register(app: faust.App, options: WorkerOptions) -> None:
    topics = options.settings.topics
    params = ModelParameters(options.model_config(), options.params_version)
    config = params.config
    # bytes/bytes: the "raw" codec; cxstream encodes envelopes itself (compact, versioned).
    customers = app.Table(
        "customers", default=None, partitions=INPUT_PARTITIONS, key_type=bytes, value_type=bytes
    )
    integrity_table = app.Table(
        "survey-integrity",
        default=None,
        partitions=INPUT_PARTITIONS,
        key_type=bytes,
        value_type=bytes,
    )
    deadlines = DeadlineIndex(time.time, options.idle_wall_clock_after, options.allowed_lateness)
    pipeline = CustomerPipeline(
        OutputProducer(options.settings.kafka),
        customers,
        topics,
        BatchProcessor(
            topics,
            config,
            registry=options.settings.schema_registry(),
            window=options.event_time_window,
        ),
        deadlines,
        FaustIntegrity(integrity_table, config),
        health=app.cx_health,  # type: ignore[attr-defined]
    )
    app.cx_pipeline = pipeline  # type: ignore[attr-defined]  # for the web views and tests
    _follow_model_parameters(app, options, params, pipeline)
    customer_inputs = app.topic(
        topics.purchases,
        topics.tickets,
        topics.feedback,
        topics.profiles,
        topics.alert_actions,
        topics.ticks,
    )

    @app.agent(customer_inputs, name="customers")
    async def customer_agent(stream: Any) -> None:
        async for events in stream.take_events(options.batch_size, options.batch_within):
            await params.ready()  # the parameters to judge with (pinned: until they arrive)
            await finish_before_ack(pipeline.handle_safely([event.message for event in events]))

    indexed: set[int] | None = None

    def replan(_: Any) -> None:  # deadlines were planned with the old parameters
        nonlocal indexed
        indexed = None  # the next timer run rebuilds the deadline index from the table

    params.listeners.append(replan)

    @app.on_rebalance_complete.connect
    async def mark_assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        pipeline.has_assignment = True

    @app.on_partitions_revoked.connect
    async def forget_cached_states(sender: Any, *args: Any, **kwargs: Any) -> None:
        pipeline.states.forget()
        scheduler: Any = getattr(app.consumer, "scheduler", None)
        if isinstance(scheduler, EventTimeMerge):
            scheduler.forget_all()

    @app.timer(options.tick_interval, name="inactivity-ticks")
    async def inactivity_ticks() -> None:
        nonlocal indexed
        if app.rebalancing or getattr(app, "in_recovery", False):
            return
        assigned = {
            tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topics.purchases
        }
        if assigned != indexed:
            pipeline.rebuild(customers.items(), assigned)
            indexed = assigned
        await pipeline.send_ticks()
        for partition, stream_time in deadlines.stream_times().items():
            metrics.STREAM_TIME_LAG.labels(str(partition)).set(max(0.0, time.time() - stream_time))

    register_views(app, customers, pipeline, config)
    actions_producer = OutputProducer(options.settings.kafka)
    register_action_view(app, customers, actions_producer, topics, options.event_time_window)
    register_side_services(app, options)
    register_consumer_lag(app, options)


def _follow_model_parameters(
    app: faust.App, options: WorkerOptions, params: ModelParameters, pipeline: CustomerPipeline
) -> None:
    """Judge with the latest record on the model-parameters topic (see agents.model_params)."""

    def use(config: Any) -> None:  # between batches: a fold never mixes two configs
        pipeline.processor.config = config
        pipeline.processor.fold.config = config

    params.listeners.append(use)
    reader = ParametersReader(
        options.settings.kafka,
        options.settings.topics.model_parameters,
        f"{options.app_id}-model-parameters",
        params,
    )

    async def model_parameters() -> None:
        await reader.run()

    app.task(model_parameters)

    @app.on_before_shutdown.connect
    async def stop_model_parameters(app: Any, **kwargs: Any) -> None:
        reader.stop()


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
