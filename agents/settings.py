"""Settings: connections (from the environment; flags override them) and a worker's options.

One place turns them into confluent-kafka, aiokafka/Faust, schema-registry and Redis options,
so SASL/SSL, Redis passwords/TLS and the producer configuration work the same for the worker,
every CLI command, the demo and the benchmarks. :class:`WorkerOptions` holds every worker
default; the ``cxstream worker`` flags read theirs from :data:`WORKER_DEFAULTS`.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from streams.contracts import LIVE_WINDOW, ConfluentRegistry, EventTimeWindow
from streams.errors import ConfigError
from streams.topics import Topics

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LIBRDKAFKA_LOG = logging.getLogger("cxstream.librdkafka")  # see agents.worker.log_limits

#: librdkafka settings of every cxstream producer (callers may add to them, e.g. ``linger.ms``).
#: Faust routes table lookups (``GET /customers/{id}``) with Java's murmur2 partitioner, and
#: librdkafka defaults to CRC32: a producer using the default would put a customer's events on
#: a partition whose worker does not answer for that customer.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "partitioner": "murmur2_random",  # Java-compatible: Faust's table router agrees
    "enable.idempotence": True,  # retries never duplicate or reorder a customer's events
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "compression.type": "lz4",
}


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol!r}: expected one of "
                + ", ".join(SECURITY_PROTOCOLS)
            )
        if self.sasl_mechanism and self.sasl_mechanism not in SASL_MECHANISMS:
            raise ConfigError(
                f"KAFKA_SASL_MECHANISM={self.sasl_mechanism!r}: expected one of "
                + ", ".join(SASL_MECHANISMS)
            )
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_username and self.sasl_password
        ):
            raise ConfigError("SASL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")

    def confluent(self, **extra: Any) -> dict[str, Any]:
        """librdkafka configuration for confluent-kafka clients."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        optional = {
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password,
            "ssl.ca.location": self.ssl_cafile,
            "ssl.certificate.location": self.ssl_certfile,
            "ssl.key.location": self.ssl_keyfile,
        }
        conf.update({k: v for k, v in optional.items() if v})
        conf["logger"] = LIBRDKAFKA_LOG  # through logging, so a worker rate-limits outage noise
        conf.update(extra)
        return conf

    def producer(self, **extra: Any) -> dict[str, Any]:
        """librdkafka configuration of a producer: :data:`PRODUCER_DEFAULTS` plus ``extra``."""
        return self.confluent(**{**PRODUCER_DEFAULTS, **extra})

    def ssl_context(self) -> ssl.SSLContext | None:
        """An SSL context for aiokafka (Faust) when the protocol uses TLS."""
        if not self.security_protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context


@dataclass(frozen=True, slots=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    redis_url: str | None = "redis://127.0.0.1:6379/0"
    schema_registry_url: str | None = None
    schema_registry_auth: str | None = field(default=None, repr=False)  # "user:password"
    topic_prefix: str = "cx."

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def schema_registry(self) -> ConfluentRegistry | None:
        """The schema registry, when one is configured (the Confluent wire format needs it)."""
        if not self.schema_registry_url:
            return None
        return connect_registry(self.schema_registry_url, self.schema_registry_auth)


#: Seconds a schema-registry request may take (confluent-kafka's client waits forever otherwise).
REGISTRY_TIMEOUT_S = 10


def registry_conf(url: str, auth: str | None = None) -> dict[str, Any]:
    """confluent-kafka's ``SchemaRegistryClient`` configuration (``auth`` = "user:password").

    Its HTTP requests have no timeout by default, so a registry that accepts a connection and
    never answers would hang the caller forever: a request is given up after
    :data:`REGISTRY_TIMEOUT_S` and retried like any other registry outage.
    """
    conf: dict[str, Any] = {"url": url, "timeout": REGISTRY_TIMEOUT_S}
    return {**conf, **({"basic.auth.user.info": auth} if auth else {})}


class RegistryAdapter:
    """confluent-kafka's registry client as the ``RegistryClient`` of streams.contracts."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def schema_str(self, schema_id: int) -> str:
        return str(self.client.get_schema(schema_id).schema_str)

    def register_avro(self, subject: str, schema_json: str) -> int:
        from confluent_kafka.schema_registry import Schema

        return int(self.client.register_schema(subject, Schema(schema_json, "AVRO")))


def connect_registry(url: str, auth: str | None = None) -> ConfluentRegistry:
    """A schema-registry client; ``mock://name`` gives confluent-kafka's in-memory mock."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return ConfluentRegistry(
        RegistryAdapter(SchemaRegistryClient.new_client(registry_conf(url, auth)))
    )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value else None


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``KAFKA_*``, ``REDIS_URL``, ``SCHEMA_REGISTRY_*`` and ``CX_TOPIC_PREFIX``."""
    env = os.environ if env is None else env
    kafka = KafkaSettings(
        bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        security_protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
        sasl_mechanism=_get(env, "KAFKA_SASL_MECHANISM"),
        sasl_username=_get(env, "KAFKA_SASL_USERNAME"),
        sasl_password=_get(env, "KAFKA_SASL_PASSWORD"),
        ssl_cafile=_get(env, "KAFKA_SSL_CAFILE"),
        ssl_certfile=_get(env, "KAFKA_SSL_CERTFILE"),
        ssl_keyfile=_get(env, "KAFKA_SSL_KEYFILE"),
    )
    return Settings(
        kafka=kafka,
        redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0") or None,
        schema_registry_url=_get(env, "SCHEMA_REGISTRY_URL"),
        schema_registry_auth=_get(env, "SCHEMA_REGISTRY_BASIC_AUTH"),
        topic_prefix=env.get("CX_TOPIC_PREFIX", "cx."),
    )


@dataclass(frozen=True, slots=True)
class ApiAccess:
    """The HTTP API's access settings. ``token`` never appears in repr, logs or metrics."""

    token: str | None = field(default=None, repr=False)
    insecure: bool = False  # serve customer data without a token (explicit opt-out)
    rate_per_second: float = 20.0  # per client address; 0 disables the limit
    burst: int = 40


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Everything a worker needs, with every default; the CLI fills it from flags and the
    environment (the flags' defaults are these, see :data:`WORKER_DEFAULTS`)."""

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
    batch_size: int = 4000  # records per batch at most: a catch-up amortises flushes and snapshots
    batch_within: float = 0.25  # the take window while a full batch waits unread (catch-up)
    batch_within_caught_up: float = 0.02  # ... and otherwise (live traffic)
    tick_interval: float = 1.0
    allowed_lateness: float = 300.0
    idle_wall_clock_after: float | None = 60.0
    # Faust's table standbys skipped changelog records Faust dropped (docs/reliability.md,
    # defect 7) and records Faust cleared from its changelog queue (defect 13); both are read
    # again since stop 25, but standbys have two full soaks behind them, so by default a
    # partition that moves is restored from its changelog (10 full soaks in a row pass).
    standby_replicas: int = 0
    partitions: int | None = None  # input partitions; None: read from the cluster
    # The event-time merge (like Kafka Streams' max.task.idle.ms): seconds an empty input
    # partition must sit at a high watermark reported after the held record was fetched before
    # the merge stops waiting for it: the spread between producers of different topics it
    # allows for (docs/benchmarks.md). 0.75 s is what every passing full chaos soak ran with
    # but one; 0.05 s (with --batch-within 0.005) halves the p99, passed a full soak, but lost
    # an alert in a short one, where broker failovers spread a producer's appends further.
    max_task_idle: float = 0.75
    merge_max_wait: float = 30.0
    # RocksDB block cache per table partition (Faust's default, 2 GiB each, kept every restored
    # value in the worker's RSS; agents/worker/table_store.rocksdb_options).
    table_cache_mb: int = 16
    # Faust's record path (faust_overrides.py and faust_lean.py, measured in docs/benchmarks.md):
    # its six overrides on or off, the aiokafka fetch wait (Faust hard-codes 1.5 s) and the
    # wait for records while flow control holds full partitions back (Faust: 1 s).
    # On by default since the fetch guard (agents/worker/fetch_guard.py) fixed the records their
    # timing exposed Faust to skipping (docs/reliability.md, runs 9 to 13).
    faust_fast_path: bool = True
    # Changelog recovery read with librdkafka ahead of Faust's (agents/worker/fast_restore.py).
    fast_restore: bool = True
    # Customer states to their changelog through librdkafka, not Faust's producer
    # (agents/worker/changelog.py).
    fast_changelog: bool = True
    # Start even when Faust, mode or aiokafka differ from the pinned versions in a private piece
    # the worker relies on (agents/worker/faust_pins.py); off: the worker refuses, naming them.
    allow_unpinned_faust: bool = False
    # The per-customer fold in a child process, beside Faust's (agents/worker/fold_process.py).
    fold_process: bool = True
    # With it, each batch folded while the one before is stored (agents/worker/fold_ahead.py).
    fold_ahead: bool = True
    fetch_max_wait: float = 0.1
    paused_fetch_wait: float = 0.05
    session_timeout: float = 30.0  # seconds before a silent worker's partitions move
    redis_projection: bool = True
    webhook_url: str | None = None
    webhook_routes: dict[str, str] = field(default_factory=dict)
    webhook_escalations: bool = False  # also post escalations of alerts nobody acted on
    customer_url_template: str = "http://127.0.0.1:6066/customers/{customer_id}"

    @property
    def local_url(self) -> str:
        """This worker's HTTP API as seen from its own machine."""
        return f"http://{self.web_host}:{self.web_port}"


#: The one source of worker defaults: ``cxstream worker``'s flags and the demo read them here.
WORKER_DEFAULTS = WorkerOptions()
