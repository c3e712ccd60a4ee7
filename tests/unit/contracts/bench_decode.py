"""Decode throughput per format and kind: ``python -m tests.unit.contracts.bench_decode``.

Not a test (timings on a shared machine are noisy); it reports the best of several runs,
in CPU time of this process, so that other load on the machine distorts it less.
"""

from __future__ import annotations

import time

from agents.settings import connect_registry
from streams.contracts import FORMATS, ConfluentRegistry, decode_event, encode_event
from streams.contracts.mapping import EVENT_KINDS
from streams.domain import Event
from tests.unit.contracts import samples


def _best_rate(
    kind: str,
    message: tuple[bytes, bytes, list[tuple[str, bytes]]],
    registry: ConfluentRegistry,
    n: int,
    runs: int,
) -> float:
    key, value, headers = message
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        for _ in range(n):
            decode_event(kind, key, value, headers, now=samples.NOW, registry=registry)
        best = min(best, time.process_time() - start)
    return n / best


def main(n: int = 50_000, runs: int = 5) -> None:
    registry = connect_registry("mock://bench")
    events: list[Event] = [
        samples.purchase(),
        samples.ticket(),
        samples.feedback(),
        samples.profile(),
    ]
    print(f"{'format':45} {'kind':10} {'msg/s':>10} {'us/msg':>7} {'bytes':>5}")
    for fmt in FORMATS:
        for event in events:
            message = encode_event(event, fmt, registry=registry)
            kind = EVENT_KINDS[type(event)]
            rate = _best_rate(kind, message, registry, n, runs)
            print(f"{fmt:45} {kind:10} {rate:>10,.0f} {1e6 / rate:>7.2f} {len(message[1]):>5}")


if __name__ == "__main__":
    main()
