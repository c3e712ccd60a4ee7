"""Peer row: a Quix Streams pipeline running the worker's model over the same topics.

    .venv-bench/bin/python -m bench.quix_pipeline BOOTSTRAP PREFIX N STATE_DIR

Run by bench.peers in a subprocess of the bench virtualenv (Quix Streams needs an older
confluent-kafka than cxstream pins; see pyproject.toml's ``bench`` extra). The four input
topics are concatenated (Quix then aligns them by timestamp per partition), each record is
folded by :func:`bench.peer_fold.fold_record` in a stateful ``apply`` whose state lives in
Quix's RocksDB store with its changelog topic (the model's state codec as the store's
serializer), and alerts and snapshots go to their topics through ``to_topic``. Prints
``QUIX_RATE <events/s>`` and ``QUIX_VERSION <version>`` once N records were folded and the
application stopped (its final commit and flush included).
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

import quixstreams
from quixstreams import Application, State
from quixstreams.state.rocksdb import RocksDBOptions
from quixstreams.utils.json import dumps as json_dumps
from quixstreams.utils.json import loads as json_loads

from bench.peer_fold import PEER_PRODUCER, Output, PeerFold, fold_record
from streams.model import CustomerState, state_from_bytes, state_to_bytes

STATE_TAG = b"\x00"  # never the first byte of JSON, which Quix uses for everything else


def store_dumps(value: Any) -> bytes:
    if isinstance(value, CustomerState):
        return STATE_TAG + state_to_bytes(value)
    return bytes(json_dumps(value))


def store_loads(data: bytes) -> Any:
    if data[:1] == STATE_TAG:
        return state_from_bytes(data[1:])
    return json_loads(data)


def build(bootstrap: str, prefix: str, expected: int, state_dir: str) -> tuple[Application, dict]:
    fold = PeerFold.default(prefix)
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"quix-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        rocksdb_options=RocksDBOptions(dumps=store_dumps, loads=store_loads),
        use_changelog_topics=True,
        producer_extra_config={
            k: v for k, v in PEER_PRODUCER.items() if k not in ("enable.idempotence", "acks")
        },
        loglevel="WARNING",
    )
    raw = {"key_deserializer": "bytes", "value_deserializer": "bytes"}
    kinds = {name: fold.kind(name) for name in fold.topics.inputs}
    frames = [app.dataframe(app.topic(name, **raw)) for name in fold.topics.inputs]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)  # different topics: Quix aligns them by timestamp
    progress: dict[str, float] = {"n": 0, "t0": 0.0}

    def step(value: bytes, key: bytes, timestamp: int, headers: Any, state: State) -> list[Output]:
        progress["t0"] = progress["t0"] or time.perf_counter()
        from quixstreams import message_context

        topic = message_context().topic
        new, outputs = fold_record(
            fold, kinds[topic], key, value, headers, timestamp, state.get("s")
        )
        if new is not None:
            state.set("s", new)
        progress["n"] += 1
        if progress["n"] >= expected:
            app.stop()
        return outputs

    rows = sdf.apply(step, stateful=True, metadata=True, expand=True)
    out = {"key_serializer": "bytes", "value_serializer": "bytes"}
    for name in (fold.topics.alerts, fold.topics.health):
        branch = rows.filter(lambda row, name=name: row[0] == name)
        branch.apply(lambda row: row[2]).to_topic(app.topic(name, **out))
    return app, progress


def main(argv: list[str]) -> int:
    bootstrap, prefix, expected, state_dir = argv[0], argv[1], int(argv[2]), argv[3]
    app, progress = build(bootstrap, prefix, expected, state_dir)
    app.run()
    elapsed = time.perf_counter() - progress["t0"]
    print(f"QUIX_VERSION {quixstreams.__version__}", flush=True)
    print(f"QUIX_RATE {progress['n'] / elapsed:.0f}", flush=True)
    return 0 if progress["n"] >= expected else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
