"""``cxstream worker``: run a stream-processing worker."""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.commands.common import add_connection_flags, settings_from_args


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a worker: consume inputs, keep customer state, emit alerts",
        description="Run a cxstream worker. Start several with the same --app-id to share "
        "partitions; each needs its own --data-dir and --web-port.",
    )
    add_connection_flags(parser)
    parser.add_argument("--config", type=Path, help="model config TOML (defaults are packaged)")
    parser.add_argument("--app-id", default="cxstream", help="consumer group / app id")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(".cxstream-data"), help="local table state (RocksDB)"
    )
    parser.add_argument("--store", default="rocksdb://", help="rocksdb:// (default) or memory://")
    parser.add_argument("--web-host", default="127.0.0.1", help="HTTP API/metrics bind address")
    parser.add_argument("--web-port", type=int, default=6066, help="HTTP API/metrics port")
    parser.add_argument("--batch-size", type=int, default=1000, help="max events per batch")
    parser.add_argument(
        "--tick-interval", type=float, default=1.0, help="seconds between inactivity checks"
    )
    parser.add_argument(
        "--allowed-lateness",
        type=float,
        default=300.0,
        help="event-time seconds a tick waits behind stream time",
    )
    parser.add_argument(
        "--idle-wall-clock-after",
        type=float,
        default=60.0,
        help="seconds without events after which a partition's stream time follows the wall "
        "clock (0 = never; use 0 when replaying history)",
    )
    parser.add_argument(
        "--standby-replicas",
        type=int,
        default=1,
        help="warm copies of each table partition kept by other workers",
    )
    parser.add_argument(
        "--session-timeout",
        type=float,
        default=30.0,
        help="seconds before a silent worker's partitions move to others",
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
    parser.add_argument("--log-level", default="info")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from agents.app import WorkerOptions
    from agents.runner import run_worker

    routes = dict(item.split("=", 1) for item in args.webhook_route)
    options = WorkerOptions(
        settings=settings_from_args(args),
        model_config_path=args.config,
        app_id=args.app_id,
        data_dir=args.data_dir,
        store=args.store,
        web_host=args.web_host,
        web_port=args.web_port,
        batch_size=args.batch_size,
        tick_interval=args.tick_interval,
        allowed_lateness=args.allowed_lateness,
        idle_wall_clock_after=args.idle_wall_clock_after or None,
        standby_replicas=args.standby_replicas,
        session_timeout=args.session_timeout,
        redis_projection=not args.no_redis,
        webhook_url=args.webhook_url,
        webhook_routes=routes,
    )
    return run_worker(options, log_level=args.log_level)
