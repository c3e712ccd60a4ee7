"""``cxstream customer ID``: one customer's health, contributions, stages and open alerts.

The worker's HTTP API is the full picture (live table state, stage history); the Redis read
model is what is left when no worker answers (the latest snapshot and open alerts, no stage
history), so the command asks the API first and falls back to Redis only when it is down.
"""

from __future__ import annotations

import argparse
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import redis
from rich.console import Console

from agents.cli.commands.common import (
    add_api_token_flags,
    add_connection_flags,
    api_token_from_args,
    settings_from_args,
)
from agents.cli.render import customer_renderable, money, when
from agents.settings import WORKER_DEFAULTS
from streams.domain import AlertType
from streams.errors import CxStreamError
from streams.jsonable import dumps, to_jsonable

NOT_FOUND = 1


class Unreachable(CxStreamError):
    """The source did not answer (connection refused, timeout, 5xx)."""


class Refused(CxStreamError):
    """The API answered but refused us: no or wrong token, no token configured, rate limit."""


def fetch_api(
    api: str,
    customer_id: str,
    timeout: float,
    token: str | None = None,
    cafile: str | None = None,
) -> dict[str, Any] | None:
    """The API's JSON for the customer; ``None`` on 404, :class:`Unreachable` when down."""
    if urllib.parse.urlsplit(api).scheme not in ("http", "https"):
        raise CxStreamError(f"--api {api!r}: expected an http:// or https:// URL")
    url = f"{api.rstrip('/')}/customers/{urllib.parse.quote(customer_id, safe='')}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        if exc.code in (401, 403, 429):
            raise Refused(refusal(url, exc, token is not None)) from None
        if exc.code == 503:  # rebalancing or restoring its tables: a moment, not an outage
            retry = exc.headers.get("Retry-After", "1")
            detail = f"HTTP 503: the worker is not ready; retry in {retry}s"
            raise Unreachable(f"{url}: {detail}") from exc
        raise Unreachable(f"{url}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
        raise Unreachable(f"{url}: {exc}") from exc


def refusal(url: str, exc: urllib.error.HTTPError, sent_token: bool) -> str:
    """What went wrong and what to do, from the status and the API's own explanation."""
    try:
        detail = str(json.loads(exc.read()).get("detail", ""))
    except (ValueError, AttributeError, OSError):
        detail = ""
    if exc.code == 401 and sent_token:
        head = "the worker refused the API token (wrong token?): use the worker's token"
    elif exc.code == 401:
        head = "the worker needs its API token: pass --api-token-file PATH or set "
        head += "CX_API_TOKEN_FILE or CX_API_TOKEN"
    elif exc.code == 403:
        head = "the worker serves no customer data"
    else:
        retry = exc.headers.get("Retry-After", "1")
        head = f"too many requests from this address; retry in {retry}s"
    return f"{url}: HTTP {exc.code}: {head}" + (f" ({detail})" if detail else "")


def fetch_redis(url: str, prefix: str, customer_id: str, timeout: float) -> dict[str, Any] | None:
    """Snapshot and open alerts from the Redis read model (see agents.sinks.redis_model)."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        keys = [f"{prefix}customer:{customer_id}"]
        keys += [f"{prefix}alert:{t.value}:{customer_id}" for t in AlertType]
        raw = client.mget(keys)
    except redis.RedisError as exc:
        raise Unreachable(f"Redis {redis_location(url)}: {exc}") from exc
    finally:
        client.close()
    if not raw[0]:
        return None
    alerts = [json.loads(value) for value in raw[1:] if value]
    return {"customer_id": customer_id, "health": json.loads(raw[0]), "alerts": alerts}


def redis_location(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def facts_from_state(state: dict[str, Any]) -> list[tuple[str, str]]:
    """A few plain facts behind the scores, from the API's ``state``."""
    purchases = state.get("purchases") or {}
    tickets = state.get("tickets") or []
    engagement = state.get("engagement") or {}
    open_tickets = sum(1 for t in tickets if int(t.get("status_rank", 0)) % 2 == 1)
    return [
        ("customer since", when(state.get("created_at"))),
        ("last seen", when(engagement.get("last_seen_at"))),
        ("orders", str(purchases.get("orders", 0))),
        ("gross spend", money(purchases.get("gross_minor"), purchases.get("currency") or None)),
        ("last purchase", when(purchases.get("last_at"))),
        ("refunds", str(purchases.get("refunds", 0))),
        ("open tickets", f"{open_tickets} of {len(tickets)} recent"),
    ]


def view_from_api(body: dict[str, Any]) -> dict[str, Any]:
    state = body.get("state") or {}
    return {
        "source": "api",
        "customer_id": body.get("customer_id", state.get("customer_id")),
        "health": body.get("health") or {},
        "currency": (state.get("purchases") or {}).get("currency") or None,
        "facts": facts_from_state(state),
        "stage_history": state.get("stage_history") or [],
        "alerts": state.get("alerts") or [],
        "actions": body.get("actions") or [],
    }


def view_from_redis(found: dict[str, Any]) -> dict[str, Any]:
    return {"source": "redis", **found, "stage_history": [], "facts": []}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "customer",
        help="show one customer's health, contributions, stage history and open alerts",
        description="Ask a worker's HTTP API for one customer; when no worker answers, read "
        "the Redis read model instead (latest snapshot and open alerts, no stage history). "
        "Exit status: 0 when found, 1 when the customer is unknown, 2 when neither source "
        "can be reached or the API refuses the request (no or wrong API token, rate limit).",
    )
    add_connection_flags(parser)
    parser.add_argument("customer_id", metavar="ID", help="customer id")
    parser.add_argument(
        "--api",
        default=WORKER_DEFAULTS.local_url,
        help="a worker's HTTP API (default %(default)s)",
    )
    parser.add_argument(
        "--source",
        choices=("auto", "api", "redis"),
        default="auto",
        help="auto (default): the API, then Redis if the API is unreachable",
    )
    parser.add_argument(
        "--redis-key-prefix", default="cx:", help="key prefix of the Redis read model (default cx:)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for each source"
    )
    add_api_token_flags(parser)
    parser.add_argument(
        "--api-cafile",
        metavar="PATH",
        help="CA bundle (or the worker's self-signed certificate) to verify an https:// --api",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    parser.set_defaults(run=run)


def lookup(args: argparse.Namespace) -> tuple[dict[str, Any] | None, str]:
    """``(raw JSON or None if unknown, source name)`` following ``--source``."""
    problems: list[str] = []
    if args.source in ("auto", "api"):
        try:
            found = fetch_api(
                args.api, args.customer_id, args.timeout, api_token_from_args(args), args.api_cafile
            )
            return found, "api"
        except Unreachable as exc:
            if args.source == "api":
                raise
            problems.append(str(exc))
            Console(stderr=True).print(f"API unreachable ({exc}); reading Redis", style="yellow")
    redis_url = settings_from_args(args).redis_url
    if not redis_url:
        raise Unreachable("; ".join([*problems, "no Redis URL configured"]))
    try:
        return fetch_redis(
            redis_url, args.redis_key_prefix, args.customer_id, args.timeout
        ), "redis"
    except Unreachable as exc:
        raise Unreachable("; ".join([*problems, str(exc)])) from exc


def run(args: argparse.Namespace) -> int:
    raw, source = lookup(args)
    out = Console()
    if raw is None:
        Console(stderr=True).print(f"unknown customer {args.customer_id!r} (asked {source})")
        return NOT_FOUND
    if args.json:
        print(dumps({"source": source, **to_jsonable(raw)}))
        return 0
    view = view_from_api(raw) if source == "api" else view_from_redis(raw)
    out.print(customer_renderable(view))
    return 0
