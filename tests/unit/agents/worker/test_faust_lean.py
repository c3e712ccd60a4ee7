"""Overrides 4-6 (agents/worker/faust_lean.py): the worker's app skips Faust's per-record
bookkeeping, yet streams the same events and keeps what Faust reads back itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.sensors.monitor import Monitor
from faust.transport.producer import ProducerBuffer
from faust.types import TP, Message

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard
from agents.worker.faust_lean import LeanMonitor, LeanProducerBuffer, RawSchema

TOPIC_PARTITION = TP("cx.purchases", 2)


def app_for(tmp_path: Path, fast: bool) -> faust.App:
    options = WorkerOptions(
        data_dir=tmp_path, api_access=ApiAccess(insecure=True), faust_fast_path=fast
    )
    return faust_app(options, ApiGuard(ApiAccess()), 4)


def message(key: bytes | None, value: bytes | None) -> Message:
    return Message(
        topic=TOPIC_PARTITION.topic,
        partition=TOPIC_PARTITION.partition,
        offset=41,
        timestamp=1_700_000_000.0,
        timestamp_type=0,
        headers=[("ce_id", b"e-1")],
        key=key,
        value=value,
        checksum=None,
        tp=TOPIC_PARTITION,
    )


def test_the_fast_path_app_gets_the_lean_monitor_schema_and_producer_buffer(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        fast = app_for(tmp_path / "fast", fast=True)
        assert type(fast.monitor) is LeanMonitor
        assert isinstance(fast.topic("cx.purchases").schema, RawSchema)
        assert type(fast.producer.buffer) is LeanProducerBuffer

        stock = app_for(tmp_path / "stock", fast=False)  # --no-faust-fast-path: Faust's own
        assert type(stock.monitor) is Monitor
        assert not isinstance(stock.topic("cx.purchases").schema, RawSchema)
        assert type(stock.producer.buffer) is ProducerBuffer

    asyncio.run(main())


@pytest.mark.parametrize(
    ("key", "value"), [(b"cust-7", b"\x00\x01avro"), (b"cust-7", None), (None, b"payload")]
)
def test_a_raw_record_decodes_to_the_event_faust_would_build(
    tmp_path: Path, key: bytes | None, value: bytes | None
) -> None:
    async def main() -> None:
        fast, stock = app_for(tmp_path / "fast", True), app_for(tmp_path / "stock", False)
        record = message(key, value)
        ours = await fast.topic("cx.purchases").decode(record)
        faust_own = await stock.topic("cx.purchases").decode(record)
        assert type(ours) is type(faust_own)
        assert (ours.key, ours.value, ours.headers, ours.message) == (
            faust_own.key,
            faust_own.value,
            faust_own.headers,
            faust_own.message,
        )

    asyncio.run(main())


def test_a_typed_or_encoded_topic_keeps_fausts_decode(tmp_path: Path) -> None:
    async def main() -> None:
        fast = app_for(tmp_path, fast=True)
        json_topic = fast.topic("cx.other", key_serializer="raw", value_serializer="json")
        event = await json_topic.decode(message(b"k", b'{"n": 3}'))
        assert event.value == {"n": 3}

    asyncio.run(main())


def test_the_lean_monitor_keeps_what_faust_reads_back_and_skips_the_counters(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        monitor = app_for(tmp_path, fast=True).monitor
        record = message(b"k", b"v")
        monitor.on_message_in(TOPIC_PARTITION, 41, record)
        state = monitor.on_stream_event_in(TOPIC_PARTITION, 41, object(), object())
        monitor.on_stream_event_out(TOPIC_PARTITION, 41, object(), object(), state)
        monitor.on_message_out(TOPIC_PARTITION, 41, record)
        # Faust's stalled-stream check (verify_event_path) reads this one:
        assert TOPIC_PARTITION in monitor.stream_inbound_time
        assert (monitor.messages_received_total, monitor.events_total) == (0, 0)
        monitor.on_tp_commit({TOPIC_PARTITION: 42})  # commits are still recorded
        assert monitor.tp_committed_offsets[TOPIC_PARTITION] == 42

    asyncio.run(main())


def test_the_lean_buffer_counts_its_messages_and_flushes_only_above_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        buffer = app_for(tmp_path, fast=True).producer.buffer
        flushed: list[Any] = []

        async def flush_atmost(n: Any) -> int:
            flushed.append(n)
            return 0

        monkeypatch.setattr(buffer, "flush_atmost", flush_atmost)
        for n in range(buffer.max_messages):
            buffer.put(n)
        assert buffer.size == buffer.max_messages
        await buffer.wait_until_ebb()
        assert flushed == []  # at the limit: delivery goes on
        buffer.put("one more")
        await buffer.wait_until_ebb()
        assert flushed == [buffer.max_messages]  # above it: Faust's flush, as before

    asyncio.run(main())
