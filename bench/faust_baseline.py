"""A Faust agent that only counts: how fast Faust itself delivers the same input records.

Run by bench.pipeline in a subprocess (``python -m bench.faust_baseline BOOTSTRAP PREFIX N
[--overrides] [--fetch-max-wait S] [--paused-fetch-wait S] [--buffer N]``); prints
``FAUST_RATE <events/s>`` once N records have passed through ``take_events``. ``--overrides``
gives it the worker's Faust overrides (agents/worker/faust_overrides.py) with these waits;
``--buffer`` is Faust's ``stream_buffer_maxsize`` (Faust's default: 4096).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

import faust

from agents.settings import WORKER_DEFAULTS
from agents.worker.faust_overrides import FaustLevers, install
from streams.topics import Topics


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        f"faust-baseline-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.data_dir,  # Faust's default is <app id>-data in the working directory
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_partitions=4,
        stream_buffer_maxsize=args.buffer,
    )
    if args.overrides:
        install(app, FaustLevers(args.fetch_max_wait, args.paused_fetch_wait))
    topic = app.topic(*Topics(args.prefix).inputs, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "t0": 0.0}
    expected = args.expected

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for events in stream.take_events(1000, 0.05):
            seen["t0"] = seen["t0"] or time.perf_counter()
            seen["n"] += len(events)
            if seen["n"] >= expected:
                rate = seen["n"] / (time.perf_counter() - seen["t0"])
                print(f"FAUST_RATE {rate:.0f}", flush=True)
                os._exit(0)

    return app


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap")
    parser.add_argument("prefix")
    parser.add_argument("expected", type=int)
    parser.add_argument("--overrides", action="store_true")
    parser.add_argument("--fetch-max-wait", type=float, default=WORKER_DEFAULTS.fetch_max_wait)
    parser.add_argument(
        "--paused-fetch-wait", type=float, default=WORKER_DEFAULTS.paused_fetch_wait
    )
    parser.add_argument("--buffer", type=int, default=4096)
    parser.add_argument("--data-dir", default=None, help="Faust's datadir (default: Faust's)")
    return parser.parse_args(argv)


def faust_rate(bootstrap: str, prefix: str, expected: int, extra: Sequence[str] = ()) -> float:
    """Events/s of the counting agent over the backlog, in a fresh process and group.

    Faust's data directory is a scratch one removed afterwards (by default Faust creates
    ``<app id>-data`` in the working directory, the checkout).
    """
    with tempfile.TemporaryDirectory(prefix="faust-baseline-") as scratch:
        args = [bootstrap, prefix, str(expected), "--data-dir", scratch, *extra]
        result = subprocess.run(
            [sys.executable, "-m", "bench.faust_baseline", *args],
            capture_output=True,
            text=True,
            timeout=900,
        )
    for line in (result.stdout + result.stderr).splitlines():
        if "FAUST_RATE" in line:
            return float(line.split("FAUST_RATE")[1].split()[0])
    raise RuntimeError(f"Faust baseline failed: {result.stderr[-2000:]}")


if __name__ == "__main__":
    faust_app = build(parse(sys.argv[1:]))
    sys.argv[1:] = []  # the worker parses the command line too
    faust.Worker(
        faust_app, loglevel="warn", quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
