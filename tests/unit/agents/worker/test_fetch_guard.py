"""The fetch guard (agents/worker/fetch_guard.py): Faust sees each input partition's records in
sequence from where it sought; anything else is dropped and read again, never skipped."""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from mode.utils.queues import FlowControlQueue

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard
from agents.worker.changelog_queue import guard_changelog_queue
from agents.worker.faust_overrides import FastConsumer
from agents.worker.fetch_guard import GuardedConsumer, GuardedTransport
from agents.worker.merge import EventTimeMerge
from tests.unit.agents.worker.test_fetch_ledger import (
    CHANGELOG,
    PURCHASES,
    batch,
    is_input,
    offsets,
)


class HeldFetch:
    """Stands in for the consumer thread: each fetch returns when the test lets it."""

    def __init__(self, *results: dict[TP, list[Any]]) -> None:
        self.results = list(results)
        self.release = asyncio.Event()

    async def __call__(self, active_partitions: Any, timeout: float) -> Any:
        await self.release.wait()
        return self.results.pop(0)


def guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool, fetch: HeldFetch
) -> tuple[GuardedConsumer, list[tuple[TP, int]]]:
    options = WorkerOptions(
        data_dir=tmp_path, api_access=ApiAccess(insecure=True), faust_fast_path=fast
    )
    consumer = faust_app(options, ApiGuard(ApiAccess()), 4).consumer
    assert isinstance(consumer, GuardedConsumer)
    monkeypatch.setattr(consumer.app.topics, "acks_enabled_for", is_input)
    monkeypatch.setattr(consumer, "_fetch", fetch)
    sought: list[tuple[TP, int]] = []

    async def seek_to_committed() -> dict[TP, int]:
        sought.append((PURCHASES, 7435))
        return {PURCHASES: 7435}

    async def aiokafka_seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(consumer, "_seek", aiokafka_seek)
    monkeypatch.setattr(consumer, "assignment", lambda: {PURCHASES, CHANGELOG})
    return consumer, sought


@pytest.mark.parametrize("fast", [False, True])
def test_the_worker_consumer_is_guarded_with_or_without_the_fast_path(
    tmp_path: Path, fast: bool
) -> None:
    async def main() -> None:
        options = WorkerOptions(
            data_dir=tmp_path, api_access=ApiAccess(insecure=True), faust_fast_path=fast
        )
        app = faust_app(options, ApiGuard(ApiAccess()), 4)
        assert isinstance(app.consumer, GuardedConsumer)
        assert isinstance(app.consumer, FastConsumer) is fast
        assert fast or isinstance(app.transport, GuardedTransport)

    asyncio.run(main())


@pytest.mark.parametrize("fast", [False, True])
def test_records_a_seek_overtook_are_read_again_from_the_committed_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    async def main() -> None:
        fetch = HeldFetch(
            {PURCHASES: batch(7998, 7999), CHANGELOG: batch(40, 40)},  # fetched before the seek
            {PURCHASES: batch(7435, 7436)},
        )
        consumer, sought = guarded(tmp_path, monkeypatch, fast, fetch)
        pending = asyncio.ensure_future(consumer._getmany({PURCHASES, CHANGELOG}, 1.0))
        await asyncio.sleep(0.01)
        await consumer.perform_seek()  # Faust's own: the assignment goes back to offset 7435
        assert consumer._read_offset[PURCHASES] == 7435
        fetch.release.set()
        first = await asyncio.wait_for(pending, 5)
        assert set(first) == {CHANGELOG}  # 7998 would have made Faust commit 7436..7997
        second = await asyncio.wait_for(consumer._getmany({PURCHASES}, 1.0), 5)
        assert sought == [(PURCHASES, 7435), (PURCHASES, 7435)]  # Faust's seek, then ours
        assert offsets(second) == [7435, 7436]

    asyncio.run(main())


def test_a_fetch_in_one_epoch_from_the_right_offset_is_delivered_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        fetch = HeldFetch({PURCHASES: batch(7435, 7436), CHANGELOG: batch(40, 40)})
        consumer, sought = guarded(tmp_path, monkeypatch, True, fetch)
        await consumer.perform_seek()
        fetch.release.set()
        records = await consumer._getmany({PURCHASES, CHANGELOG}, 1.0)
        assert offsets(records) == [7435, 7436] and offsets(records, CHANGELOG) == [40]
        assert sought == [(PURCHASES, 7435)]

    asyncio.run(main())


def test_a_seek_back_that_fails_is_retried_before_the_next_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        fetch = HeldFetch({PURCHASES: batch(90, 91)}, {}, {PURCHASES: batch(50, 51)})
        consumer, sought = guarded(tmp_path, monkeypatch, False, fetch)
        consumer.ledger.sought({PURCHASES: 50}, is_input)
        fetch.release.set()
        assert await consumer._getmany({PURCHASES}, 1.0) == {}  # 90 is ahead of 50: dropped
        failures = iter([RuntimeError("No current assignment")])

        async def flaky_seek(tp: TP, offset: int) -> None:
            for exc in failures:
                raise exc
            sought.append((tp, offset))

        monkeypatch.setattr(consumer, "_seek", flaky_seek)
        assert await consumer._getmany({PURCHASES}, 1.0) == {}  # the worker's fetch goes on
        assert offsets(await consumer._getmany({PURCHASES}, 1.0)) == [50, 51]
        assert sought == [(PURCHASES, 50)]

    asyncio.run(main())


def test_the_getmany_faust_drops_on_a_stopped_flow_has_its_changelog_records_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        fetch = HeldFetch({CHANGELOG: batch(0, 39)})  # fetched while a rebalance stops the flow
        consumer, sought = guarded(tmp_path, monkeypatch, True, fetch)

        async def from_position(active_partitions: Any, timeout: float) -> Any:
            if fetch.results:
                return await fetch(active_partitions, timeout)
            again = [offset for tp, offset in sought if tp == CHANGELOG]  # aiokafka's position
            return {CHANGELOG: batch(again[-1] if again else 40, 46)}

        monkeypatch.setattr(consumer, "_fetch", from_position)
        monkeypatch.setattr(consumer, "_to_message", lambda tp, record: record)
        monkeypatch.setattr(consumer, "highwater", lambda tp: 47)
        consumer._set_active_tps({CHANGELOG})

        async def drain() -> list[int]:
            return [message.offset async for _, message in consumer.getmany(1.0)]

        first = asyncio.ensure_future(drain())
        await asyncio.sleep(0.01)
        consumer.stop_flow()  # Faust's getmany now drops what the fetch returns
        fetch.release.set()
        assert await asyncio.wait_for(first, 5) == []
        consumer.resume_flow()
        assert await asyncio.wait_for(drain(), 5) == list(range(47))  # not 40..46 alone

    asyncio.run(main())


class Event:
    def __init__(self, tp: TP, offset: int) -> None:
        self.message = type("Message", (), {"tp": tp, "offset": offset})()


def test_the_changelog_queue_notes_what_a_clear_drops_and_admits_nothing_of_it_until_sought(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        consumer, _ = guarded(tmp_path, monkeypatch, True, HeldFetch())
        queue = consumer.app.tables.changelog_queue
        guard_changelog_queue(consumer.app)

        async def thread_seek_wait(partitions: Any) -> None:
            pass

        monkeypatch.setattr(consumer._thread, "seek_wait", thread_seek_wait)
        for offset in (11, 12):
            queue.put_nowait(Event(CHANGELOG, offset))
        consumer.app.flow_control.clear()  # what a revocation does
        assert queue.empty() and consumer.ledger.discarded == {CHANGELOG: 11}
        queue.put_nowait(Event(CHANGELOG, 128))  # delivered after the clear: kept out
        assert queue.empty()
        await consumer.seek_wait({CHANGELOG: 10})  # recovery re-reads from its store
        queue.put_nowait(Event(CHANGELOG, 11))
        assert queue.qsize() == 1

    asyncio.run(main())


def test_a_seek_back_reads_again_what_the_merge_still_held_of_the_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seek sets Faust's read offset, and Faust skips records handed to it below that offset:
    records the merge held (waiting for the timestamp order) would be lost behind the seek."""

    async def main() -> None:
        fetch = HeldFetch({PURCHASES: batch(115, 120)}, {PURCHASES: batch(100, 101)})
        consumer, sought = guarded(tmp_path, monkeypatch, True, fetch)
        merge = consumer.scheduler
        assert isinstance(merge, EventTimeMerge)
        consumer.ledger.sought({PURCHASES: 100}, is_input)
        passed = consumer.ledger.screen({PURCHASES: batch(100, 110)}, False, is_input)
        merge._groups[PURCHASES.partition] = {
            PURCHASES: deque((0.0, None, r) for r in passed[PURCHASES])
        }  # handed on to Faust, held by the merge: not delivered yet
        fetch.release.set()
        first = await consumer._getmany({PURCHASES}, 1.0)
        assert offsets(first) == []  # ahead of 111: dropped, to be read again from 111
        second = await consumer._getmany({PURCHASES}, 1.0)
        assert sought == [(PURCHASES, 100)], "back to the oldest record the merge held"
        assert not merge._groups[PURCHASES.partition], "held records are read again instead"
        assert offsets(second) == [100, 101]

    asyncio.run(main())


def test_input_records_faust_clears_from_its_stream_buffers_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 16 (full soak 48): after a rebalance Faust resumed the flow, sought to the
    committed offset 26,708, the fetch delivered 26,708..26,735 into the stream buffer, and
    Faust's second resume cleared the buffer after the agent had taken 26,708 only. Nothing
    acknowledged the rest, Faust's read offset was past them, and the commit of the next
    records skipped them. A clear of input records now reads them again."""

    async def main() -> None:
        fetch = HeldFetch({PURCHASES: batch(26_709, 26_740)})
        consumer, sought = guarded(tmp_path, monkeypatch, True, fetch)
        app = consumer.app
        stream_buffer: FlowControlQueue[Any] = FlowControlQueue(
            flow_control=app.flow_control, clear_on_resume=True
        )
        consumer.ledger.sought({PURCHASES: 26_708}, is_input)
        consumer.ledger.screen({PURCHASES: batch(26_708, 26_735)}, False, is_input)
        for offset in range(26_709, 26_736):  # delivered; 26,708 already taken by the agent
            stream_buffer.put_nowait(Event(PURCHASES, offset))
        app.flow_control.resume()  # Faust's second resume after the seek clears the buffers
        assert stream_buffer.empty()
        fetch.release.set()
        again = await consumer._getmany({PURCHASES}, 1.0)
        assert sought == [(PURCHASES, 26_709)], "read again from the first cleared record"
        assert consumer._read_offset[PURCHASES] == 26_709
        assert offsets(again) == list(range(26_709, 26_741))

    asyncio.run(main())


def test_a_clear_of_changelog_records_only_is_left_to_the_changelog_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        consumer, _ = guarded(tmp_path, monkeypatch, True, HeldFetch())
        consumer.app.tables.changelog_queue.put_nowait(Event(CHANGELOG, 5))
        consumer.app.flow_control.clear()
        assert PURCHASES not in consumer.ledger.seek_back
        assert consumer.ledger.discarded == {CHANGELOG: 5}

    asyncio.run(main())
