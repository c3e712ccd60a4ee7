"""``cxstream worker``: run a stream-processing worker.

Every flag's default is the worker's own (``agents.settings.WORKER_DEFAULTS``), written once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agents.cli.commands.common import (
    add_api_token_flags,
    add_connection_flags,
    api_token_from_args,
    settings_from_args,
)
from agents.cli.commands.simulate import positive_int
from agents.cli.producing import positive_float
from agents.settings import WORKER_DEFAULTS as DEFAULTS
from agents.settings import ApiAccess, WorkerOptions
from streams.contracts import EventTimeWindow
from streams.contracts.limits import DAY


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker: consume inputs, keep customer state, emit alerts",
        description="Run a cxstream worker. Start several with the same --app-id to share "
        "partitions; each needs its own --data-dir and --web-port.",
    )
    add_connection_flags(parser)
    parser.add_argument("--config", type=Path, help="model config TOML (defaults are packaged)")
    parser.add_argument(
        "--params-version",
        default=os.environ.get("CX_PARAMS_VERSION") or None,
        metavar="V",
        help="judge only with parameter record V from the model-parameters topic, waiting for "
        "it (reproduces the alerts judged with V; default: the latest record, packaged "
        "cold-start defaults until one is published) [env CX_PARAMS_VERSION]",
    )
    parser.add_argument("--app-id", default=DEFAULTS.app_id, help="consumer group / app id")
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULTS.data_dir, help="local table state (RocksDB)"
    )
    parser.add_argument("--store", default=DEFAULTS.store, help="rocksdb:// (default) or memory://")
    add_web_flags(parser)
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULTS.batch_size, help="max events per batch"
    )
    parser.add_argument(
        "--batch-within",
        type=positive_float,
        default=DEFAULTS.batch_within,
        help="seconds a batch waits for more events before it is folded, unless it is full, "
        "while a full batch or more waits unread (a catch-up; default %(default)s)",
    )
    parser.add_argument(
        "--batch-within-caught-up",
        type=positive_float,
        default=DEFAULTS.batch_within_caught_up,
        help="the same wait otherwise: live traffic (lower is faster at low rates; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=DEFAULTS.tick_interval,
        help="seconds between inactivity checks",
    )
    parser.add_argument(
        "--allowed-lateness",
        type=float,
        default=DEFAULTS.allowed_lateness,
        help="event-time seconds a tick waits behind stream time",
    )
    parser.add_argument(
        "--idle-wall-clock-after",
        type=float,
        default=DEFAULTS.idle_wall_clock_after or 0.0,
        help="seconds without events after which a partition's stream time follows the wall "
        "clock (0 = never; use 0 when replaying history)",
    )
    parser.add_argument(
        "--standby-replicas",
        type=int,
        default=DEFAULTS.standby_replicas,
        help="warm copies of each table partition kept by other workers, for faster "
        "takeovers (Faust standbys; default 0: fewer chaos soaks behind them, "
        "docs/reliability.md defects 7 and 13)",
    )
    parser.add_argument(
        "--max-task-idle",
        type=float,
        default=DEFAULTS.max_task_idle,
        help="seconds an input partition with nothing to fetch must stay at its high watermark "
        "before the event-time merge stops waiting for it (Kafka Streams' max.task.idle.ms): "
        "lower is faster, too low lets a record overtake an older one on another topic "
        "(cxstream_merge_out_of_order_total; default %(default)s, see docs/benchmarks.md)",
    )
    parser.add_argument(
        "--table-cache-mb",
        type=positive_int,
        default=DEFAULTS.table_cache_mb,
        help="RocksDB block cache per table partition, in MiB: more keeps more of a large "
        "table's files in the worker's memory (default %(default)s; Faust's own is 2048)",
    )
    parser.add_argument(
        "--merge-max-wait",
        type=float,
        default=DEFAULTS.merge_max_wait,
        help="seconds the merge holds any record at most, even for a partition that never "
        "reports its high watermark (released with a warning; default %(default)s)",
    )
    parser.add_argument(
        "--faust-fast-path",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.faust_fast_path,
        help="Faust's record path with cxstream's overrides: the fetch waits below, no tasks "
        "per record when delivery does not suspend, no per-record bookkeeping nobody reads "
        "(agents/worker/faust_overrides.py, faust_lean.py, docs/benchmarks.md; default on: "
        "--no-faust-fast-path runs Faust's own path)",
    )
    parser.add_argument(
        "--fold-process",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.fold_process,
        help="fold each batch's customers in a child process while this one fetches the next "
        "batch: a worker uses two cores (agents/worker/fold_process.py, docs/benchmarks.md; "
        "default on: --no-fold-process folds in this process)",
    )
    parser.add_argument(
        "--fold-ahead",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.fold_ahead,
        help="with the fold process, fold each batch while the one before is published and "
        "stored; batches still finish in order (agents/worker/fold_ahead.py; default on)",
    )
    parser.add_argument(
        "--fast-restore",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.fast_restore,
        help="read the changelog partitions a recovery restores with librdkafka, straight into "
        "the tables' RocksDB, before Faust's recovery reads what is left "
        "(agents/worker/fast_restore.py; default on: --no-fast-restore leaves it all to Faust)",
    )
    parser.add_argument(
        "--fast-changelog",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.fast_changelog,
        help="write customer states to the table's store at once and to its changelog through "
        "librdkafka, flushed whenever Faust flushes before a commit "
        "(agents/worker/changelog.py; default on: --no-fast-changelog uses Faust's producer)",
    )
    parser.add_argument(
        "--allow-unpinned-faust",
        action=argparse.BooleanOptionalAction,
        default=DEFAULTS.allow_unpinned_faust,
        help="start even when faust-streaming, mode-streaming or aiokafka differ from the "
        "versions in constraints.txt in a private piece the worker relies on (it refuses by "
        "default, naming them: records could be lost or repeated around rebalances)",
    )
    parser.add_argument(
        "--fetch-max-wait",
        type=float,
        default=DEFAULTS.fetch_max_wait,
        help="seconds the broker may hold a fetch of caught-up partitions (Faust's own: 1.5; "
        "with --faust-fast-path; default %(default)s)",
    )
    parser.add_argument(
        "--paused-fetch-wait",
        type=float,
        default=DEFAULTS.paused_fetch_wait,
        help="seconds to wait for records while flow control holds full partitions back "
        "(Faust's own: 1.0; with --faust-fast-path; default %(default)s)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULTS.partitions,
        help="partitions of the input topics; default: read from the cluster (a worker fails, "
        "naming the topics, when co-partitioned topics disagree with each other or with this)",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=DEFAULTS.session_timeout,
        help="seconds before a silent worker's partitions move to others",
    )
    parser.add_argument(
        "--max-event-delay-days",
        type=float,
        default=(DEFAULTS.event_time_window.max_delay or 0.0) / DAY,
        help="accept an event only if it occurred at most this long before its record's Kafka "
        "timestamp; older ones are dead-lettered as event_time_out_of_range (0 = any age). "
        "Replays keep this rule: cxstream's producers stamp records with the event time",
    )
    parser.add_argument(
        "--max-event-ahead-hours",
        type=float,
        default=DEFAULTS.event_time_window.max_ahead / 3600,
        help="accept an event at most this far after its record timestamp and the wall clock",
    )
    parser.add_argument(
        "--no-redis", action="store_true", help="do not maintain the Redis read model"
    )
    parser.add_argument("--webhook-url", help="default webhook for alerts (Slack-compatible)")
    parser.add_argument(
        "--webhook-route",
        action="append",
        default=[],
        metavar="TEAM=URL",
        help="webhook per CX team routing key (repeatable)",
    )
    parser.add_argument(
        "--webhook-escalations",
        action="store_true",
        help="also post an open alert's escalation to a higher priority, unless a CX team has "
        "acted on it already (default: openings only)",
    )
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(run=run)


def add_web_flags(parser: argparse.ArgumentParser) -> None:
    web = parser.add_argument_group(
        "HTTP API (GET /customers/{id} needs the bearer token; /healthz and /metrics are open)"
    )
    web.add_argument(
        "--web-host",
        default=DEFAULTS.web_host,
        help="HTTP API/metrics bind address (0.0.0.0 = all interfaces)",
    )
    web.add_argument(
        "--web-port", type=int, default=DEFAULTS.web_port, help="HTTP API/metrics port"
    )
    web.add_argument(
        "--advertised-url",
        default=os.environ.get("CX_ADVERTISED_URL") or None,
        help="URL other workers use to reach this one when routing /customers requests "
        "[CX_ADVERTISED_URL]; default http(s)://WEB_HOST:WEB_PORT, with this machine's host "
        "name when bound to 0.0.0.0",
    )
    add_api_token_flags(web)
    web.add_argument(
        "--insecure-api",
        action="store_true",
        help="serve /customers WITHOUT authentication when no token is set (default: refuse "
        "with 403); only for a machine nobody else can reach",
    )
    web.add_argument(
        "--api-rate",
        type=float,
        default=DEFAULTS.api_access.rate_per_second,
        help="requests/s per client address on the API (0 = no limit; default %(default)g)",
    )
    web.add_argument(
        "--api-burst",
        type=int,
        default=DEFAULTS.api_access.burst,
        help="requests a client may burst (default %(default)s)",
    )
    web.add_argument("--web-tls-cert", type=Path, help="PEM certificate: serve HTTPS")
    web.add_argument("--web-tls-key", type=Path, help="PEM private key of --web-tls-cert")
    web.add_argument(
        "--web-tls-ca",
        type=Path,
        help="CA bundle to verify other workers' HTTPS when routing (default: system CAs and "
        "this worker's own certificate)",
    )


def run(args: argparse.Namespace) -> int:
    from agents.app import run_worker  # Faust loads only when a worker runs

    options = options_from_args(args)
    warn_about_api_access(options.api_access)
    return run_worker(options, log_level=args.log_level)


def options_from_args(args: argparse.Namespace) -> WorkerOptions:
    """The worker's options from its flags (the environment was read by the flags' defaults)."""
    routes = dict(item.split("=", 1) for item in args.webhook_route)
    options = WorkerOptions(
        settings=settings_from_args(args),
        model_config_path=args.config,
        params_version=args.params_version,
        app_id=args.app_id,
        data_dir=args.data_dir,
        store=args.store,
        web_host=args.web_host,
        web_port=args.web_port,
        advertised_url=args.advertised_url,
        web_tls_cert=args.web_tls_cert,
        web_tls_key=args.web_tls_key,
        web_tls_ca=args.web_tls_ca,
        api_access=ApiAccess(
            token=api_token_from_args(args),
            insecure=args.insecure_api,
            rate_per_second=args.api_rate,
            burst=args.api_burst,
        ),
        event_time_window=EventTimeWindow.from_days(
            args.max_event_delay_days or None, args.max_event_ahead_hours / 24
        ),
        batch_size=args.batch_size,
        batch_within=args.batch_within,
        batch_within_caught_up=args.batch_within_caught_up,
        tick_interval=args.tick_interval,
        allowed_lateness=args.allowed_lateness,
        idle_wall_clock_after=args.idle_wall_clock_after or None,
        standby_replicas=args.standby_replicas,
        partitions=args.partitions,
        max_task_idle=args.max_task_idle,
        merge_max_wait=args.merge_max_wait,
        table_cache_mb=args.table_cache_mb,
        faust_fast_path=args.faust_fast_path,
        fast_restore=args.fast_restore,
        fast_changelog=args.fast_changelog,
        allow_unpinned_faust=args.allow_unpinned_faust,
        fold_process=args.fold_process,
        fold_ahead=args.fold_ahead,
        fetch_max_wait=args.fetch_max_wait,
        paused_fetch_wait=args.paused_fetch_wait,
        session_timeout=args.session_timeout,
        redis_projection=not args.no_redis,
        webhook_url=args.webhook_url,
        webhook_routes=routes,
        webhook_escalations=args.webhook_escalations,
    )
    return options


def warn_about_api_access(access: ApiAccess) -> None:
    """Say on start-up when the API serves no customer data, or serves it to anyone."""
    if access.token:
        return
    if access.insecure:
        message = "--insecure-api: GET /customers serves customer data WITHOUT authentication"
    else:
        message = (
            "no API token: GET /customers answers 403 until the worker is started with "
            "--api-token-file, CX_API_TOKEN_FILE or CX_API_TOKEN"
        )
    print(f"cxstream worker: warning: {message}", file=sys.stderr, flush=True)
