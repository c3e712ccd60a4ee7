"""A Faust agent that only counts: how fast Faust itself delivers the same input records.

Run by bench.pipeline in a subprocess (``python -m bench.faust_baseline BOOTSTRAP PREFIX N``);
prints ``FAUST_RATE <events/s>`` once N records have passed through ``take_events``.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

import faust

from streams.topics import Topics


def build(bootstrap: str, prefix: str, expected: int) -> faust.App:
    app = faust.App(
        f"faust-baseline-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_partitions=4,
    )
    topic = app.topic(*Topics(prefix).inputs, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "t0": 0.0}

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


if __name__ == "__main__":
    faust_app = build(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    faust.Worker(
        faust_app, loglevel="warn", quiet=True, redirect_stdouts=False
    ).execute_from_commandline()
