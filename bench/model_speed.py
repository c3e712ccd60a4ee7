"""In-process cost of the model per event, for comparing the pure-Python and compiled builds.

    CX_COMPILED_MODEL=1 python -m bench.model_speed [--customers 1500 --days 365 --repeat 3]

Folds the simulator's population in event-time order with dict state, best of ``--repeat``:
``MODEL_US`` is the model alone (the loop-aware fold with due ticks, a snapshot and the next
deadline, what the worker calls per event), ``PATH_US`` adds decoding the record and encoding
the snapshot and alerts (:func:`bench.peer_fold.fold_record`). Prints ``COMPILED True|False``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from bench.loads import encoded_population, topic_for
from bench.peer_fold import PeerFold, fold_record
from streams.compiled_model import in_use
from streams.contracts import Decoded, decode_event
from streams.domain import Event
from streams.loop_processing import loop_deadline, process_loop_event
from streams.model import CustomerState, snapshot

Row = tuple[str, bytes, bytes, list[tuple[str, bytes]], int]


def model_only(fold: PeerFold, events: list[Event]) -> float:
    states: dict[str, CustomerState] = {}
    started = time.perf_counter()
    for event in events:
        state, _alerts, _outcomes = process_loop_event(
            states.get(event.customer_id), event, fold.config
        )
        states[event.customer_id] = state
        snapshot(state, event.occurred_at, fold.config)
        loop_deadline(state, fold.config)
    return (time.perf_counter() - started) / len(events) * 1e6


def whole_path(fold: PeerFold, records: list[Row]) -> float:
    states: dict[bytes, CustomerState] = {}
    started = time.perf_counter()
    for kind, key, value, headers, ts in records:
        state, _out = fold_record(fold, kind, key, value, headers, ts, states.get(key))
        if state is not None:
            states[key] = state
    return (time.perf_counter() - started) / len(records) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    fold = PeerFold.default("speed.")
    population = encoded_population(args.customers, args.days, args.seed)
    records = [
        (fold.kind(topic_for(fold.topics, cls)), key, value, headers, ts)
        for cls, key, value, headers, ts in population
    ]
    events = []
    for kind, key, value, headers, ts in records:
        decoded = decode_event(kind, key, value, headers, now=time.time(), record_time=ts / 1000)
        assert isinstance(decoded, Decoded), decoded
        events.append(decoded.event)
    gc.freeze()
    model = min(model_only(fold, events) for _ in range(args.repeat))
    path = min(whole_path(fold, records) for _ in range(args.repeat))
    print(f"COMPILED {in_use()}")
    print(f"EVENTS {len(events)}")
    print(f"MODEL_US {model:.1f}")
    print(f"PATH_US {path:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
