"""The one composition root: build a worker's Faust app from its options, and run it.

Everything a worker is made of is created here and handed to the part that needs it: the
model configuration (loaded once), the health board, the tables, the batch cycle, the agent,
the HTTP views and the sinks. A factory rather than a module-level app, so tests and the CLI
can run workers with their own topic prefix, ports and data directories.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

import faust

from agents.settings import KafkaSettings, WorkerOptions
from agents.sinks.services import register_sinks
from agents.worker import fast_restore, metrics, table_store
from agents.worker.action_api import register_action_view
from agents.worker.api_security import ApiGuard
from agents.worker.batch_cycle import BatchCycle
from agents.worker.batch_fold import BatchFold
from agents.worker.budget_agent import register_budget
from agents.worker.changelog import flush_with_faust, librdkafka_writer
from agents.worker.changelog_queue import guard_changelog_queue
from agents.worker.cleared_inputs import guard_input_clears
from agents.worker.consumer_lag import register_consumer_lag
from agents.worker.customer_agent import register_customer_agent
from agents.worker.faust_internals import CxWorker
from agents.worker.faust_overrides import FaustLevers
from agents.worker.faust_overrides import install as install_overrides
from agents.worker.faust_pins import check_pinned
from agents.worker.fetch_guard import install_guard
from agents.worker.fold_process import FoldProcess
from agents.worker.health import HealthBoard
from agents.worker.merge_probes import worker_merge
from agents.worker.model_params import ModelParameters, register_parameters_reader
from agents.worker.outputs import OutputProducer
from agents.worker.preflight import preflight
from agents.worker.tables import FaustIntegrity, create_tables
from agents.worker.web import register_views
from agents.worker.web_router import GuardedRouter
from agents.worker.web_settings import advertised_url, peer_ssl_context, server_ssl_context
from streams.compiled_model import in_use as model_compiled
from streams.deadline_index import DeadlineIndex
from streams.model import ModelConfig, load_config

log = logging.getLogger(__name__)


def broker_urls(kafka: KafkaSettings) -> str:
    hosts = [h.strip() for h in kafka.bootstrap_servers.split(",") if h.strip()]
    return ";".join(f"kafka://{h}" for h in hosts)


def broker_credentials(kafka: KafkaSettings) -> Any:
    """Faust/aiokafka credentials matching the confluent-kafka settings."""
    ssl_context = kafka.ssl_context()
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=ssl_context,
        )
    if ssl_context is not None:
        return faust.SSLCredentials(ssl_context)
    return None


def faust_app(options: WorkerOptions, guard: ApiGuard, partitions: int) -> faust.App:
    """A Faust app configured for cxstream, with nothing registered on it yet; ``partitions``
    is the input topics' count (its tables and changelogs get as many)."""
    holder: list[faust.App] = []
    tls = options.web_tls_cert is not None
    table_store.register()  # rocksdb:// tables trust their persisted offset only contiguously
    app = faust.App(
        options.app_id,
        broker=broker_urls(options.settings.kafka),
        broker_credentials=broker_credentials(options.settings.kafka),
        store=table_store.store_url(options.store),
        datadir=str(options.data_dir),
        web_bind=options.web_host,
        web_host=options.web_host,
        web_port=options.web_port,
        web_enabled=True,
        web_ssl_context=server_ssl_context(options.web_tls_cert, options.web_tls_key),
        web_application_options={"middlewares": [guard.middleware]},
        # Faust's /table and /router views would serve raw table values: only ours are served.
        web_tables_enabled=False,
        web_router_enabled=False,
        Router=GuardedRouter,
        canonical_url=advertised_url(
            options.advertised_url, options.web_host, options.web_port, tls
        ),
        topic_partitions=partitions,
        topic_allow_declare=True,
        table_standby_replicas=options.standby_replicas,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        broker_commit_interval=1.0,
        broker_session_timeout=options.session_timeout,
        broker_heartbeat_interval=max(1.0, options.session_timeout / 10),
        producer_linger=0.005,
        stream_buffer_maxsize=max(16_384, options.batch_size * 8),
        # Every partition aiokafka has fetched is handed over in one poll. With a cap, aiokafka
        # hands over partitions one at a time in the order their fetches arrived, so a
        # partition fetched again waited behind every other one's backlog, and the merge
        # released its co-partitions out of timestamp order meanwhile (docs/reliability.md,
        # defect 18: 3,681 purchases dead-lettered as late in one catch-up).
        broker_max_poll_records=None,
        producer_max_batch_size=16_384,
        autodiscover=False,
        loghandlers=[],
        ConsumerScheduler=worker_merge(
            options.settings.topics,
            lambda: holder[0],
            options.max_task_idle,
            options.merge_max_wait,
        ),
    )
    holder.append(app)
    if options.faust_fast_path:  # before anything makes Faust create its transport
        install_overrides(app, FaustLevers(options.fetch_max_wait, options.paused_fetch_wait))
    else:
        install_guard(app)  # the overrides' consumer includes it
    guard_changelog_queue(app)
    guard_input_clears(app)
    if options.fast_restore:
        conf = fast_restore.consumer_conf(options.settings.kafka, options.app_id)
        fast_restore.install(app, conf)
    app.cx_api_guard = guard  # type: ignore[attr-defined]  # read by GuardedRouter
    app.cx_peer_ssl = peer_ssl_context(options.web_tls_cert, options.web_tls_ca)  # type: ignore[attr-defined]
    return app


def create_app(options: WorkerOptions, config: ModelConfig, partitions: int) -> faust.App:
    """A configured Faust app with every part of a worker registered on it."""
    settings, topics = options.settings, options.settings.topics
    health = HealthBoard()  # what makes this worker unhealthy; /healthz reads it
    app = faust_app(options, ApiGuard(options.api_access), partitions)
    customers, integrity = create_tables(app, partitions, options.table_cache_mb)
    params = ModelParameters(config, options.params_version)
    changelog = None
    if options.fast_changelog:
        changelog = librdkafka_writer(customers, settings.kafka)
        flush_with_faust(app, changelog.flush)  # acknowledged before Faust commits past them
    cycle = BatchCycle(
        OutputProducer(settings.kafka),
        customers,
        topics,
        BatchFold(
            topics, config, registry=settings.schema_registry(), window=options.event_time_window
        ),
        DeadlineIndex(time.time, options.idle_wall_clock_after, options.allowed_lateness),
        FaustIntegrity(integrity, config),
        health=health,
        changelog=changelog,
    )
    if options.fold_process:
        cycle.fold_process = FoldProcess(cycle.fold)
        cycle.fold_process.start()
    app.cx_fold_process = cycle.fold_process  # type: ignore[attr-defined]  # stopped by run_worker
    register_parameters_reader(app, options, params)
    register_customer_agent(app, cycle, customers, params, options)
    budget = register_budget(app, cycle, config, settings.kafka, topics, partitions)
    register_views(app, customers, cycle, health)
    register_action_view(
        app, customers, OutputProducer(settings.kafka), topics, options.event_time_window
    )
    register_sinks(app, options, health, budget=budget)
    register_consumer_lag(app, options, health)
    return app


def run_worker(options: WorkerOptions, log_level: str = "info") -> int:
    """Check the broker, make sure the topics exist, build the app and run it until stopped."""
    check_pinned(options.allow_unpinned_faust)  # a Faust the guards were not checked against
    config = load_config(options.model_config_path)  # a bad file fails before Kafka is asked
    partitions = preflight(options)  # the input topics' partition count, as the cluster has it
    if options.standby_replicas:
        log.warning(
            "--standby-replicas %d: standbys have fewer chaos soaks behind them than "
            "restores (docs/reliability.md, defects 7 and 13); 0 restores moved partitions",
            options.standby_replicas,
        )
    metrics.MODEL_COMPILED.set(1 if model_compiled() else 0)
    app = create_app(options, config, partitions)
    # The hot path allocates many short-lived objects and few cycles: a larger first
    # generation and freezing start-up objects cut the collector's share of CPU time.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    worker = CxWorker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns when SIGINT/SIGTERM stops the worker
    if app.cx_fold_process is not None:  # type: ignore[attr-defined]
        app.cx_fold_process.stop()  # type: ignore[attr-defined]
    return 0
