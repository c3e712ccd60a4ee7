"""Connection settings for a real deployment, from the environment (flags override them).

One place turns them into confluent-kafka, aiokafka/Faust and Redis options, so SASL/SSL and
Redis passwords/TLS work the same for the worker and every CLI command.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from streams.errors import ConfigError
from streams.topics import Topics

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LIBRDKAFKA_LOG = logging.getLogger("cxstream.librdkafka")  # see agents.log_limits


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
