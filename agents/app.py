"""Build the Faust application: topics, tables, agents, timers and web views, from options.

A factory rather than a module-level app, so tests and the CLI can run workers with their own
topic prefix, ports and data directories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from agents.api_security import ApiAccess, ApiGuard
from agents.health import HealthBoard
from agents.merge import EventTimeMerge, merge_scheduler
from agents.settings import KafkaSettings, Settings
from agents.web_router import GuardedRouter
from agents.web_settings import advertised_url, peer_ssl_context, server_ssl_context
from streams.contracts import LIVE_WINDOW, EventTimeWindow
from streams.model import ModelConfig, load_config
from streams.topics import INPUT_PARTITIONS, Topics


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Everything a worker needs; the CLI fills it from flags and the environment."""

    settings: Settings = field(default_factory=Settings)
    model_config_path: Path | None = None
    params_version: str | None = None  # judge only with this parameter record (waits for it)
    app_id: str = "cxstream"
    data_dir: Path = Path(".cxstream-data")
    store: str = "rocksdb://"
    web_host: str = "127.0.0.1"  # bind address of the HTTP API and metrics
    web_port: int = 6066
    advertised_url: str | None = None  # how peers reach this worker; derived when None
    web_tls_cert: Path | None = None
    web_tls_key: Path | None = None
    web_tls_ca: Path | None = None  # trust for peers' HTTPS when routing
    api_access: ApiAccess = field(default_factory=ApiAccess)  # token hidden from repr
    event_time_window: EventTimeWindow = LIVE_WINDOW  # plausible event times, live
    batch_size: int = 1000
    batch_within: float = 0.05
    tick_interval: float = 1.0
    allowed_lateness: float = 300.0
    idle_wall_clock_after: float | None = 60.0
    standby_replicas: int = 1
    session_timeout: float = 30.0  # seconds before a silent worker's partitions move
    redis_projection: bool = True
    webhook_url: str | None = None
    webhook_routes: dict[str, str] = field(default_factory=dict)
    webhook_escalations: bool = False  # also post escalations of alerts nobody acted on
    customer_url_template: str = "http://127.0.0.1:6066/customers/{customer_id}"

    def model_config(self) -> ModelConfig:
        return load_config(self.model_config_path)


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


def worker_merge(topics: Topics, app_ref: Callable[[], Any]) -> type[EventTimeMerge]:
    """Inputs and ticks in timestamp order per partition, never waiting for the ticks.

    Ticks stay in the merge so a tick read back (a restart, a fresh group replaying from
    earliest) is never folded before older inputs. But nothing waits for the ticks topic:
    during a catch-up this worker keeps appending ticks, so that partition never looks caught
    up, and waiting for it made the merge release 42% of a benchmark backlog out of order
    after ``max_idle``. A tick the inputs do not wait for loses nothing: each event runs its
    own due ticks first.
    """
    return merge_scheduler(
        [*topics.customer_inputs, topics.ticks], app_ref, never_wait=[topics.ticks]
    )


def create_app(options: WorkerOptions) -> faust.App:
    """A configured Faust app with every cxstream agent registered on it."""
    topics = options.settings.topics
    holder: list[faust.App] = []
    scheduler = worker_merge(topics, lambda: holder[0])
    guard = ApiGuard(options.api_access)
    tls = options.web_tls_cert is not None
    app = faust.App(
        options.app_id,
        broker=broker_urls(options.settings.kafka),
        broker_credentials=broker_credentials(options.settings.kafka),
        store=options.store,
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
        topic_partitions=INPUT_PARTITIONS,
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
        broker_max_poll_records=2000,
        producer_max_batch_size=16_384,
        autodiscover=False,
        loghandlers=[],
        ConsumerScheduler=scheduler,
    )
    holder.append(app)
    # What makes this worker unhealthy; /healthz reads it, the parts raise problems on it.
    app.cx_health = HealthBoard()  # type: ignore[attr-defined]
    app.cx_api_guard = guard  # type: ignore[attr-defined]  # read by GuardedRouter
    app.cx_peer_ssl = peer_ssl_context(options.web_tls_cert, options.web_tls_ca)  # type: ignore[attr-defined]
    from agents.wiring import register

    register(app, options)
    return app
