"""Start a worker process: make sure topics exist, build the app, run until a signal."""

from __future__ import annotations

import gc
import logging

import faust
from mode.utils.logging import level_number

from agents.app import WorkerOptions, create_app
from agents.topic_admin import ensure_topics

log = logging.getLogger("cxstream")


class CxWorker(faust.Worker):  # type: ignore[misc]
    """mode leaves the root logger at DEBUG and filters in its handlers, so every debug call
    in aiokafka and Faust builds a log record on the hot path; set the level where it counts."""

    def _setup_logging(self) -> None:
        super()._setup_logging()
        logging.getLogger().setLevel(level_number(self.loglevel))


def run_worker(options: WorkerOptions, log_level: str = "info") -> int:
    options.model_config()  # fail fast on a bad config file, before touching Kafka
    ensure_topics(options.settings.kafka, options.settings.topics)
    app = create_app(options)
    # The hot path allocates many short-lived objects and few cycles: a larger first
    # generation and freezing start-up objects cut the collector's share of CPU time.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    worker = CxWorker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns when SIGINT/SIGTERM stops the worker
    return 0
