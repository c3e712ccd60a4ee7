"""``cxstream demo``: the whole system at work in one terminal, the README's first command.

It brings up the local stack (or uses ``--bootstrap-servers``), creates topics under a fresh
prefix so every run starts clean, starts one worker, streams the persona simulator into the
input topics and shows what happens live. Ctrl-C or SIGTERM stops everything it started, in
order, and it exits 0: stopping is how a demo normally ends, not a failure.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live

from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.cli.commands.simulate import positive_int
from agents.cli.producing import EventProducer, positive_float
from agents.demo.feeds import Feeds, Picture
from agents.demo.live_view import Where, alert_line, closing_lines, render, summary_line
from agents.demo.stack import (
    LocalStack,
    WorkerProcess,
    free_port,
    signals_deferred,
    silence_stdout,
    stack_dir,
    stop_on_sigterm,
)
from agents.settings import KafkaSettings, Settings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.errors import ConfigError
from streams.simulator import iter_events

PLAIN_EVERY = 5.0  # seconds between --plain summary lines
WORKER_READY_TIMEOUT = 120.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start Kafka + Redis + a worker, simulate customers and watch alerts live",
        description="Bring up the local stack (ops/stack.sh; or use --bootstrap-servers and "
        "--redis-url), start one worker, stream the persona simulator into it and show "
        "events, alerts with their reasons, life-cycle stages and health bands as they "
        "change. Ctrl-C stops everything the demo started.",
    )
    add_connection_flags(parser)
    simulation = parser.add_argument_group("simulation")
    simulation.add_argument(
        "--customers", type=positive_int, default=500, help="simulated customers (default 500)"
    )
    simulation.add_argument(
        "--days", type=positive_int, default=365, help="days of simulated activity (default 365)"
    )
    simulation.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    simulation.add_argument(
        "--rate",
        type=positive_float,
        default=300.0,
        metavar="EVENTS_PER_S",
        help="events produced per second (default 300)",
    )
    add_session_flags(parser.add_argument_group("the demo session"))
    parser.set_defaults(run=run)


def add_session_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="stop by itself this long after the simulation starts",
    )
    group.add_argument(
        "--plain",
        action="store_true",
        help="no live screen: a summary line every 5 s and a line per alert "
        "(automatic when stdout is not a terminal)",
    )
    group.add_argument(
        "--fresh",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="topics and Redis keys under a new prefix (demo<6 hex>.) so each "
        "run starts clean (default); --no-fresh uses cx. (--topic-prefix wins)",
    )
    group.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave the Kafka + Redis the demo started running afterwards",
    )
    group.add_argument(
        "--web-port",
        type=int,
        default=6066,
        help="the worker's HTTP API port (default 6066, or a free one if taken)",
    )


def run(args: argparse.Namespace) -> int:
    demo = Demo(args, Console(highlight=False, soft_wrap=True))
    plain = args.plain or not sys.stdout.isatty()
    with stop_on_sigterm():
        try:
            demo.setup()
            demo.watch(plain)
        except KeyboardInterrupt:
            demo.say("\nstopping…")
        except BrokenPipeError:  # e.g. `cxstream demo | head`: stop as if interrupted
            silence_stdout()
        finally:
            with signals_deferred(demo.say):
                demo.teardown()
    demo.summary()
    return 1 if demo.failure else 0


def client_logger(path: Path) -> logging.Logger:
    """librdkafka's own log lines (retries, reconnects) go to a file, not over the screen."""
    logger = logging.getLogger("cxstream.demo.kafka")
    logger.propagate = False
    if not logger.handlers:
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.addHandler(logging.FileHandler(path))
    return logger


@dataclass
class Demo:
    """The parts the demo started, so that teardown stops exactly those, in reverse order."""

    args: argparse.Namespace
    out: Console
    stack: LocalStack | None = None
    worker: WorkerProcess | None = None
    feeds: Feeds | None = None
    where: Where | None = None
    last: Picture = field(default_factory=Picture)
    failure: str | None = None

    def say(self, text: str) -> None:
        """A progress note; a closed stdout must never stop the clean-up."""
        try:
            self.out.print(text, style="dim")
        except BrokenPipeError:
            silence_stdout()

    def setup(self) -> None:
        """Stack, topics, worker (ready), then the simulator and the watchers."""
        a, settings = self.args, self._connect()
        if not settings.redis_url:
            raise ConfigError("the demo needs Redis: give --redis-url [REDIS_URL]")
        ensure_topics(settings.kafka, settings.topics, retention_ms=KEEP_FOREVER)  # dated 2024
        prefix = settings.topic_prefix
        data_dir = stack_dir() / "demo" / prefix.rstrip(".")
        self.worker = WorkerProcess(
            settings.kafka, settings.redis_url, prefix, data_dir, free_port(a.web_port)
        )
        self.say(
            f"starting a worker (topics {prefix}*, log {self.worker.log_path}, "
            f"API token in {self.worker.api_token_file})…"
        )
        self.worker.start().wait_ready(WORKER_READY_TIMEOUT, threading.Event())
        self.where = Where(
            kafka=settings.kafka.bootstrap_servers,
            prefix=prefix,
            api=self.worker.url,
            redis_url=settings.redis_url,
            customers=a.customers,
            days=a.days,
            seed=a.seed,
        )
        logger = client_logger(data_dir.with_suffix(".clients.log"))
        producer = EventProducer(
            settings.kafka, settings.topics, rate=a.rate, conf={"logger": logger}
        )
        events = iter_events(a.customers, a.days, a.seed)
        self.feeds = Feeds(producer, events, settings, self.worker.url, logger)
        self.feeds.start()

    def _connect(self) -> Settings:
        """``--bootstrap-servers`` means "use that Kafka"; otherwise the local stack."""
        a = self.args
        prefix = a.topic_prefix or (f"demo{secrets.token_hex(3)}." if a.fresh else "cx.")
        if a.bootstrap_servers:
            return settings_from_args(a).with_overrides(topic_prefix=prefix)
        self.say("local Kafka + Redis (ops/stack.sh up)…")
        self.stack = LocalStack()
        self.stack.up()
        if not self.stack.owned:
            self.say("using the local stack already running (the demo leaves it running)")
        kafka = KafkaSettings(bootstrap_servers=self.stack.kafka_bootstrap)
        return Settings(kafka=kafka, redis_url=self.stack.redis_url, topic_prefix=prefix)

    def watch(self, plain: bool) -> None:
        """Until Ctrl-C, ``--duration`` or the worker dying: the live screen or plain lines."""
        assert self.feeds is not None and self.where is not None
        feeds, where, out = self.feeds, self.where, self.out
        deadline = time.monotonic() + self.args.duration if self.args.duration else None
        if plain:
            self._watch_plain(feeds, where, deadline)
            return
        with Live(
            console=out,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
            vertical_overflow="crop",
            get_renderable=lambda: render(where, feeds.picture(), out.height),
        ):
            while self._running(deadline):
                time.sleep(0.25)

    def _watch_plain(self, feeds: Feeds, where: Where, deadline: float | None) -> None:
        print(
            f"cxstream demo: topics {where.prefix}* on {where.kafka} · API "
            f"{where.api}/customers/<id> · metrics {where.api}/metrics · Redis "
            f"{where.redis_url} keys {where.redis_prefix}open:churn_risk · Ctrl-C stops",
            flush=True,
        )
        next_line = time.monotonic() + PLAIN_EVERY
        while self._running(deadline):
            while not feeds.new_alerts.empty():
                print(alert_line(feeds.new_alerts.get()), flush=True)
            if time.monotonic() >= next_line:
                next_line += PLAIN_EVERY
                print(summary_line(feeds.picture(), where.days), flush=True)
            time.sleep(0.25)
        print(summary_line(feeds.picture(), where.days), flush=True)

    def _running(self, deadline: float | None) -> bool:
        if self.worker is not None and not self.worker.alive():
            self.failure = f"the worker exited unexpectedly; its log:\n{self.worker.log_tail()}"
            return False
        return deadline is None or time.monotonic() < deadline

    def teardown(self) -> None:
        """Simulator and watchers, then the worker, then the stack if the demo started it."""
        if self.feeds is not None:
            self.last = self.feeds.picture()
            self.feeds.stop()
        if self.worker is not None:
            self.say("stopping the worker…")
            self.worker.stop()
            if self.args.fresh and not self.args.topic_prefix and not self.failure:
                shutil.rmtree(self.worker.data_dir, ignore_errors=True)  # never reused
        if self._stops_stack():
            self.say("stopping Kafka and Redis (ops/stack.sh down)…")
            assert self.stack is not None
            self.stack.down()

    def _stops_stack(self) -> bool:
        return self.stack is not None and self.stack.owned and not self.args.keep_stack

    def summary(self) -> None:
        """What happened, and where to look next."""
        try:
            if self.failure:
                self.out.print(f"cxstream demo: {self.failure}", style="red")
            if self.where is not None:
                lines = closing_lines(self.where, self.last, not self._stops_stack())
                self.out.print(lines[0], style="bold")
                self.out.print("\n".join(lines[1:]))
        except BrokenPipeError:
            silence_stdout()
