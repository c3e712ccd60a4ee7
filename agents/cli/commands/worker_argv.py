"""The ``cxstream worker`` command line that gives a :class:`WorkerOptions`: how tests, the demo
and the benchmarks start workers exactly as a user would (the inverse of the flag parsing in
:mod:`agents.cli.commands.worker`)."""

from __future__ import annotations

import sys
from pathlib import Path

from agents.settings import WORKER_DEFAULTS as DEFAULTS
from agents.settings import WorkerOptions
from streams.contracts.limits import DAY


def worker_argv(
    options: WorkerOptions, *, log_level: str = "info", api_token_file: Path | None = None
) -> list[str]:
    """``python -m agents.cli worker`` with the flags that give ``options`` (the inverse of
    :func:`options_from_args`): the connection always, any other flag where it differs from
    the default. Never a secret: the SASL password and the API token travel in the
    environment or a file (command lines show up in ``ps``)."""
    settings, kafka, api, d = options.settings, options.settings.kafka, options.api_access, DEFAULTS
    argv = [sys.executable, "-m", "agents.cli", "worker"]
    argv += ["--bootstrap-servers", kafka.bootstrap_servers]
    argv += [
        "--security-protocol",
        kafka.security_protocol,
        "--topic-prefix",
        settings.topic_prefix,
    ]
    if options.redis_projection and settings.redis_url:
        argv += ["--redis-url", settings.redis_url]
    else:
        argv += ["--no-redis"]
    given = (
        ("--sasl-mechanism", kafka.sasl_mechanism, None),
        ("--sasl-username", kafka.sasl_username, None),
        ("--ssl-cafile", kafka.ssl_cafile, None),
        ("--schema-registry-url", settings.schema_registry_url, None),
        ("--api-token-file", api_token_file, None),
        ("--config", options.model_config_path, d.model_config_path),
        ("--params-version", options.params_version, d.params_version),
        ("--app-id", options.app_id, d.app_id),
        ("--data-dir", options.data_dir, d.data_dir),
        ("--store", options.store, d.store),
        ("--web-host", options.web_host, d.web_host),
        ("--web-port", options.web_port, d.web_port),
        ("--advertised-url", options.advertised_url, d.advertised_url),
        ("--web-tls-cert", options.web_tls_cert, d.web_tls_cert),
        ("--web-tls-key", options.web_tls_key, d.web_tls_key),
        ("--web-tls-ca", options.web_tls_ca, d.web_tls_ca),
        ("--api-rate", api.rate_per_second, d.api_access.rate_per_second),
        ("--api-burst", api.burst, d.api_access.burst),
        ("--batch-size", options.batch_size, d.batch_size),
        ("--batch-within", options.batch_within, d.batch_within),
        (
            "--batch-within-caught-up",
            options.batch_within_caught_up,
            d.batch_within_caught_up,
        ),
        ("--tick-interval", options.tick_interval, d.tick_interval),
        ("--allowed-lateness", options.allowed_lateness, d.allowed_lateness),
        ("--idle-wall-clock-after", options.idle_wall_clock_after or 0, d.idle_wall_clock_after),
        ("--standby-replicas", options.standby_replicas, d.standby_replicas),
        ("--session-timeout", options.session_timeout, d.session_timeout),
        ("--partitions", options.partitions, d.partitions),
        ("--max-task-idle", options.max_task_idle, d.max_task_idle),
        ("--merge-max-wait", options.merge_max_wait, d.merge_max_wait),
        ("--table-cache-mb", options.table_cache_mb, d.table_cache_mb),
        ("--fetch-max-wait", options.fetch_max_wait, d.fetch_max_wait),
        ("--paused-fetch-wait", options.paused_fetch_wait, d.paused_fetch_wait),
        ("--webhook-url", options.webhook_url, d.webhook_url),
    )
    for flag, value, default in given:
        if value is not None and value != default:
            argv += [flag, str(value)]
    window = options.event_time_window
    if window != d.event_time_window:
        argv += ["--max-event-delay-days", str((window.max_delay or 0.0) / DAY)]
        argv += ["--max-event-ahead-hours", str(window.max_ahead / 3600)]
    for team, url in options.webhook_routes.items():
        argv += ["--webhook-route", f"{team}={url}"]
    if options.faust_fast_path != d.faust_fast_path:
        argv += ["--faust-fast-path" if options.faust_fast_path else "--no-faust-fast-path"]
    if options.fold_process != d.fold_process:
        argv += ["--fold-process" if options.fold_process else "--no-fold-process"]
    if options.fold_ahead != d.fold_ahead:
        argv += ["--fold-ahead" if options.fold_ahead else "--no-fold-ahead"]
    if options.fast_changelog != d.fast_changelog:
        argv += ["--fast-changelog" if options.fast_changelog else "--no-fast-changelog"]
    argv += ["--allow-unpinned-faust"] * options.allow_unpinned_faust
    argv += ["--insecure-api"] * api.insecure + [
        "--webhook-escalations"
    ] * options.webhook_escalations
    return [*argv, "--log-level", log_level]
