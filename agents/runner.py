"""Start a worker process: check the broker, make sure topics exist, build the app, run."""

from __future__ import annotations

import gc
import logging

import faust
from mode.utils.logging import level_number

from agents import log_limits
from agents.app import WorkerOptions, create_app
from agents.preflight import (
    check_access,
    check_connection,
    ensure_topics_or_explain,
    missing_topics,
)
from agents.topic_admin import ensure_changelogs

log = logging.getLogger("cxstream")


class CxWorker(faust.Worker):  # type: ignore[misc]
    """mode leaves the root logger at DEBUG and filters in its handlers, so every debug call
    in aiokafka and Faust builds a log record on the hot path; set the level where it counts.
    Repeats from the Kafka clients are rate-limited: an outage logs a line per 10 s, not
    thousands."""

    def _setup_logging(self) -> None:
        super()._setup_logging()
        logging.getLogger().setLevel(level_number(self.loglevel))
        log_limits.install()


def preflight(options: WorkerOptions) -> None:
    """Fail within seconds, naming the fix, when the broker refuses us (see agents.preflight)."""
    kafka = options.settings.kafka
    admin = check_connection(kafka)
    absent = missing_topics(admin, options.settings.topics)
    if absent:  # topics made by an admin beforehand need no CREATE grant for the worker
        ensure_topics_or_explain(kafka, options.settings.topics, absent)
    check_access(
        admin,
        options.settings.topics,
        options.app_id,
        redis=options.redis_projection and bool(options.settings.redis_url),
        webhooks=bool(options.webhook_url or options.webhook_routes),
    )
    ensure_changelogs(kafka, options.app_id)


def run_worker(options: WorkerOptions, log_level: str = "info") -> int:
    options.model_config()  # fail fast on a bad config file, before touching Kafka
    preflight(options)
    app = create_app(options)
    # The hot path allocates many short-lived objects and few cycles: a larger first
    # generation and freezing start-up objects cut the collector's share of CPU time.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    worker = CxWorker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns when SIGINT/SIGTERM stops the worker
    return 0
