"""``cxstream schemas register``: put cxstream's Avro schemas into a Confluent-compatible registry.

Services that produce with Confluent's ``AvroSerializer`` look schemas up under the
TopicNameStrategy subject ``{topic}-value``; registering them up front, with each subject's
compatibility set, lets the registry refuse a breaking change before any record is written
with it. Registries differ in their default (Confluent: BACKWARD, Apicurio: NONE), so the
level is always set explicitly. Credentials in the URL or ``SCHEMA_REGISTRY_BASIC_AUTH`` are
never printed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from rich.console import Console
from rich.markup import escape
from rich.table import Table

import schemas
from agents.settings import registry_conf, settings_from_env
from streams.contracts.store import make_writer
from streams.errors import ConfigError, ContractError, StackError
from streams.topics import Topics

LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
STRATEGIES = ("topic", "record")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one subject: ``registered``, ``unchanged`` or ``refused``."""

    subject: str
    kind: str
    status: str
    schema_id: int | None = None
    version: int | None = None
    message: str = ""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schemas",
        help="register cxstream's Avro schemas in a schema registry",
        description="Work with a Confluent-compatible schema registry.",
    )
    actions = parser.add_subparsers(dest="schemas_action", metavar="ACTION", required=True)
    register = actions.add_parser(
        "register",
        help="register every input and output schema and set each subject's compatibility",
        description="Set each subject's compatibility level, then register cxstream's current "
        "schema of every input and output topic under it (idempotent: a schema already there "
        "is reported 'unchanged'). Exit status: 0 when all are registered, 1 when the registry "
        "refused a schema (its message is shown), 2 when it cannot be reached or a setting is "
        "wrong.",
    )
    register.add_argument(
        "--registry-url",
        "--schema-registry-url",
        dest="registry_url",
        metavar="URL",
        help="the registry's Confluent-compatible API, e.g. http://127.0.0.1:8081 or, for "
        "Apicurio, http://HOST:PORT/apis/ccompat/v7 [SCHEMA_REGISTRY_URL]; basic auth from "
        "SCHEMA_REGISTRY_BASIC_AUTH=user:password or the URL",
    )
    register.add_argument(
        "--compatibility",
        choices=LEVELS,
        default="BACKWARD",
        type=str.upper,
        help="compatibility level set on every subject (default BACKWARD: consumers on the new "
        "schema read data written with the previous one)",
    )
    register.add_argument(
        "--subject-strategy",
        choices=STRATEGIES,
        default="topic",
        help="topic: '{topic}-value' (TopicNameStrategy, AvroSerializer's default); record: "
        "the record's full name, which cxstream's own --format confluent producers use",
    )
    register.add_argument(
        "--schemas-dir",
        type=Path,
        metavar="DIR",
        help="register the .avsc files in DIR (same names as the package's schemas/) instead "
        "of the installed ones, e.g. to check a proposed change against the registry",
    )
    register.add_argument(
        "--topic-prefix", help="prefix of every topic name, default 'cx.' [CX_TOPIC_PREFIX]"
    )
    register.add_argument("--json", action="store_true", help="machine-readable output")
    register.set_defaults(run=run_register)


def redacted(url: str) -> str:
    """``url`` without its password, for messages (``https://user:***@host/...``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def load_schema_texts(schemas_dir: Path | None) -> dict[str, str]:
    """Kind -> the schema text cxstream's producers register (compact JSON of the .avsc)."""
    texts: dict[str, str] = {}
    for kind, name in schemas.SCHEMA_FILES.items():
        path = (schemas_dir or schemas.SCHEMA_DIR) / name
        try:
            texts[kind] = make_writer(schemas.load_schema_file(path)).schema_json
        except FileNotFoundError:
            raise ConfigError(
                f"--schemas-dir {schemas_dir}: {name} is missing (it needs every file of "
                f"{', '.join(schemas.SCHEMA_FILES.values())})"
            ) from None
        except (ValueError, ContractError) as exc:
            raise ConfigError(f"{path}: not a valid Avro record schema: {exc}") from None
    return texts


def subject_for(kind: str, text: str, topics: Topics, strategy: str) -> str:
    if strategy == "record":
        record = json.loads(text)
        name, namespace = str(record["name"]), record.get("namespace")
        return name if "." in name or not namespace else f"{namespace}.{name}"
    topic: str = getattr(topics, kind)
    return f"{topic}-value"


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "http_status_code", None)
    return code if isinstance(code, int) else None


def register_one(client: Any, subject: str, kind: str, text: str, level: str) -> Outcome:
    """Set ``subject``'s compatibility, then register ``text``; a refusal is an Outcome."""
    from confluent_kafka.schema_registry import Schema, SchemaRegistryError

    schema = Schema(text, "AVRO")
    try:
        client.set_compatibility(subject, level)
        try:
            found = client.lookup_schema(subject, schema)
            return Outcome(subject, kind, "unchanged", found.schema_id, found.version)
        except SchemaRegistryError as exc:
            if _status(exc) != 404:
                raise
        schema_id = client.register_schema(subject, schema)
        found = client.lookup_schema(subject, schema)
        return Outcome(subject, kind, "registered", int(schema_id), found.version)
    except SchemaRegistryError as exc:
        status = _status(exc)
        if status in (409, 422):  # incompatible / invalid schema
            return Outcome(subject, kind, "refused", message=f"{exc.error_message} (HTTP {status})")
        raise


def _report(args: argparse.Namespace, url: str, outcomes: list[Outcome]) -> None:
    if args.json:
        print(json.dumps({"registry": url, "subjects": [asdict(o) for o in outcomes]}))
        return
    table = Table(title=escape(f"{url} (compatibility {args.compatibility})"), title_justify="left")
    table.add_column("subject", no_wrap=True)
    for name in ("kind", "id", "version", "status"):
        table.add_column(name)
    for o in outcomes:
        status = {"registered": "[green]registered[/]", "refused": "[red]refused[/]"}
        table.add_row(
            escape(o.subject),
            o.kind,
            "" if o.schema_id is None else str(o.schema_id),
            "" if o.version is None else str(o.version),
            status.get(o.status, o.status),
        )
    Console().print(table)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for o in outcomes:
        if o.status == "refused":
            line = f"{o.subject}: the registry refused the schema: {o.message}"
            err.print(escape(line), style="red")


def run_register(args: argparse.Namespace) -> int:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    settings = settings_from_env()
    url = args.registry_url or settings.schema_registry_url
    if not url:
        raise ConfigError("no registry: pass --registry-url URL or set SCHEMA_REGISTRY_URL")
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"--registry-url {redacted(url)}: must start with http:// or https://")
    auth = settings.schema_registry_auth
    password = urlsplit(url).password or ""
    secrets = [password, unquote(password), auth.split(":", 1)[-1] if auth else ""]
    shown = redacted(url)
    topics = Topics(args.topic_prefix or settings.topic_prefix)
    texts = load_schema_texts(args.schemas_dir)
    try:
        client = SchemaRegistryClient(registry_conf(url, auth))
    except ValueError as exc:
        raise ConfigError(f"registry settings: {_scrub(str(exc), secrets)}") from None
    outcomes: list[Outcome] = []
    for kind, text in texts.items():
        subject = subject_for(kind, text, topics, args.subject_strategy)
        try:
            outcomes.append(register_one(client, subject, kind, text, args.compatibility))
        except Exception as exc:  # unreachable, auth refused, 5xx: nothing more can be done
            detail = _scrub(f"{type(exc).__name__}: {exc}", secrets)
            hint = " (check the URL and SCHEMA_REGISTRY_BASIC_AUTH)" if _status(exc) else ""
            raise StackError(f"registry {shown}, subject {subject}: {detail}{hint}") from None
    _report(args, shown, outcomes)
    return 1 if any(o.status == "refused" for o in outcomes) else 0
