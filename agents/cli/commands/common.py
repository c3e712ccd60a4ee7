"""Connection flags every command shares; flags override the environment."""

from __future__ import annotations

import argparse
import os
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from agents.settings import KafkaSettings, Settings, settings_from_env
from streams.errors import ConfigError

TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/=")
MIN_TOKEN_LENGTH = 16


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connections (flags override the environment)")
    group.add_argument(
        "--bootstrap-servers", help="Kafka bootstrap servers [KAFKA_BOOTSTRAP_SERVERS]"
    )
    group.add_argument(
        "--security-protocol",
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
        help="Kafka security protocol [KAFKA_SECURITY_PROTOCOL]",
    )
    group.add_argument(
        "--sasl-mechanism", help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 [KAFKA_SASL_MECHANISM]"
    )
    group.add_argument("--sasl-username", help="[KAFKA_SASL_USERNAME]")
    group.add_argument("--sasl-password", help="[KAFKA_SASL_PASSWORD] (prefer the environment)")
    group.add_argument("--ssl-cafile", help="CA bundle for TLS [KAFKA_SSL_CAFILE]")
    group.add_argument(
        "--redis-url",
        help="Redis URL, e.g. rediss://:password@host:6380/0 for TLS + password [REDIS_URL]",
    )
    group.add_argument(
        "--schema-registry-url", help="Confluent Schema Registry [SCHEMA_REGISTRY_URL]"
    )
    group.add_argument(
        "--topic-prefix", help="prefix of every topic name, default 'cx.' [CX_TOPIC_PREFIX]"
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    base = settings_from_env()
    kafka = base.kafka
    kafka = KafkaSettings(
        bootstrap_servers=args.bootstrap_servers or kafka.bootstrap_servers,
        security_protocol=args.security_protocol or kafka.security_protocol,
        sasl_mechanism=args.sasl_mechanism or kafka.sasl_mechanism,
        sasl_username=args.sasl_username or kafka.sasl_username,
        sasl_password=args.sasl_password or kafka.sasl_password,
        ssl_cafile=args.ssl_cafile or kafka.ssl_cafile,
        ssl_certfile=kafka.ssl_certfile,
        ssl_keyfile=kafka.ssl_keyfile,
    )
    return base.with_overrides(
        kafka=kafka,
        redis_url=args.redis_url,
        schema_registry_url=args.schema_registry_url,
        topic_prefix=args.topic_prefix,
    )


def refuse_expiring_history(command: str, oldest: float, problems: list[str], fix: str) -> None:
    """Say which input topics would delete a history by event time, and how to keep it."""
    since = datetime.fromtimestamp(oldest, UTC).date().isoformat()
    Console(stderr=True).print(
        f"cxstream {command}: the history starts {since}, but the broker deletes records older "
        "than their topic's retention (by event time), within minutes:\n  "
        + "\n  ".join(problems)
        + f"\nCreate the topics with `cxstream topics create --retention-ms -1`, {fix}, or "
        "pass --ignore-retention.",
        style="red",
        highlight=False,
        soft_wrap=True,  # one problem per line, whatever the terminal width
    )


def add_api_token_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--api-token-file``; the token itself is never a flag (flags show up in ``ps``)."""
    parser.add_argument(
        "--api-token-file",
        type=Path,
        metavar="PATH",
        help="file holding the HTTP API bearer token [CX_API_TOKEN_FILE, or the token "
        "itself in CX_API_TOKEN]; make one with `openssl rand -hex 32 > PATH`",
    )


def api_token_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> str | None:
    """The API token from ``--api-token-file``, ``CX_API_TOKEN_FILE`` or ``CX_API_TOKEN``."""
    env = os.environ if env is None else env
    path: Path | None = getattr(args, "api_token_file", None)
    setting = "--api-token-file"
    if path is None and env.get("CX_API_TOKEN_FILE"):
        path, setting = Path(env["CX_API_TOKEN_FILE"]), "CX_API_TOKEN_FILE"
    if path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{setting} {path}: cannot read the API token ({type(exc).__name__})"
            ) from None
        return _checked_token(token, f"{setting} {path}")
    if env.get("CX_API_TOKEN"):
        return _checked_token(env["CX_API_TOKEN"].strip(), "CX_API_TOKEN")
    return None


def _checked_token(token: str, where: str) -> str:
    """Reject tokens that cannot travel in a header or are guessable; never echo them."""
    if not token:
        raise ConfigError(f"{where}: the API token is empty; write one with `openssl rand -hex 32`")
    if not set(token) <= TOKEN_CHARS:
        raise ConfigError(
            f"{where}: the API token may hold only letters, digits and -._~+/= (one line); "
            "make one with `openssl rand -hex 32`"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{where}: the API token has {len(token)} characters, fewer than "
            f"{MIN_TOKEN_LENGTH} is guessable; make one with `openssl rand -hex 32`"
        )
    return token
