"""The fetch guard (agents/worker/fetch_guard.py): Faust sees each input partition's records in
sequence from where it sought; anything else is dropped and read again, never skipped."""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard
from agents.worker.changelog_queue import guard_changelog_queue
from agents.worker.faust_overrides import FastConsumer
from agents.worker.fetch_guard import FetchLedger, GuardedConsumer, GuardedTransport
from agents.worker.merge import EventTimeMerge
from agents.worker.metrics import STALE_FETCH_RECORDS

PURCHASES = TP("purchases", 2)
CHANGELOG = TP("cxstream-customers-changelog", 2)


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def batch(first: int, last: int) -> list[Any]:
    return [Record(o) for o in range(first, last + 1)]


def is_input(topic: str) -> bool:
    return topic == PURCHASES.topic


def offsets(records: dict[TP, list[Any]], tp: TP = PURCHASES) -> list[int]:
    return [r.offset for r in records.get(tp, [])]


def test_records_from_where_faust_sought_pass_and_the_position_follows() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 7435}, is_input)
    assert offsets(ledger.screen({PURCHASES: batch(7435, 7440)}, False, is_input)) == list(
        range(7435, 7441)
    )
    assert offsets(ledger.screen({PURCHASES: batch(7441, 7441)}, False, is_input)) == [7441]
    assert not ledger.seek_back


def test_records_further_on_are_dropped_and_read_again_from_the_sought_offset() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 7435}, is_input)
    before = STALE_FETCH_RECORDS._value.get()
    kept = ledger.screen({PURCHASES: batch(7998, 8000), CHANGELOG: batch(40, 41)}, False, is_input)
    assert PURCHASES not in kept and offsets(kept, CHANGELOG) == [40, 41]  # changelogs untouched
    assert STALE_FETCH_RECORDS._value.get() - before == 3
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 7435}
    assert offsets(ledger.screen({PURCHASES: batch(7435, 7436)}, False, is_input)) == [7435, 7436]


def test_a_fetch_a_seek_overtook_is_dropped_even_when_it_starts_right() -> None:
    """Fetched after the thread sought but handed over while the main thread still seeks: it
    advanced the position, so dropping it needs a seek back (a soak lost such records)."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 25586}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(25586, 25601)}, True, is_input)
    assert ledger.take_seek_backs({PURCHASES, CHANGELOG}) == {PURCHASES: 25586}


def test_a_hole_still_there_after_seeking_back_is_real_and_passed_on() -> None:
    """Compaction, transaction markers or retention: Faust's own gap handling takes over."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 100}, is_input)
    ledger.screen({PURCHASES: batch(102, 105)}, False, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 100}
    assert offsets(ledger.screen({PURCHASES: batch(102, 105)}, False, is_input)) == [
        102,
        103,
        104,
        105,
    ]
    assert PURCHASES not in ledger.screen({PURCHASES: batch(110, 111)}, False, is_input)


def test_a_partition_no_longer_assigned_is_not_sought() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 5}, is_input)
    ledger.screen({PURCHASES: batch(9, 9)}, False, is_input)
    assert ledger.take_seek_backs(set()) == {}
    assert not ledger.seek_back


def test_without_a_committed_offset_the_dropped_records_are_read_again() -> None:
    ledger = FetchLedger()
    ledger.revoked()
    ledger.sought({PURCHASES: None}, is_input)  # a new group: the reset policy decides
    assert PURCHASES not in ledger.screen({PURCHASES: batch(0, 9)}, True, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}


def test_records_after_dropped_ones_wait_until_those_are_read_again() -> None:
    """Run 26b: a new worker's first fetches (no committed offset, fetched before Faust's seek)
    were dropped; Faust's seek left aiokafka's position where it was, so the next fetch went on
    from there and was handed over, and the seek back followed it: 4,940 records never read."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: None}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(0, 4939)}, True, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(4940, 6089)}, False, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}
    assert offsets(ledger.screen({PURCHASES: batch(0, 1999)}, False, is_input)) == list(range(2000))


def test_a_fetch_from_where_faust_sought_passes_while_earlier_drops_wait() -> None:
    """Run 27a's trace: a fetch from before Faust's seek was dropped, then the fetch from the
    committed offset it sought arrived: in sequence, so it goes on (nothing read twice)."""
    ledger = FetchLedger()
    ledger.screen({PURCHASES: batch(17190, 17206)}, True, is_input)  # before the seek
    ledger.sought({PURCHASES: 17190}, is_input)
    kept = ledger.screen({PURCHASES: batch(17190, 17212)}, False, is_input)
    assert offsets(kept) == list(range(17190, 17213))
    assert ledger.take_seek_backs({PURCHASES}) == {}  # the dropped ones follow in order


def test_records_from_where_faust_is_make_the_seek_back_moot_so_none_overtakes_them() -> None:
    """Defect 14 (full soak 40, seed 15): after a fetch from before Faust's seek was dropped
    (23503..24251), the fetch from the committed offset passed (23503..24257), and the guard
    still sought "back" to 24258. The merge held 23503..24257 for the timestamp order; the seek
    set Faust's read offset past them, so Faust skipped them and committed past: 755 records
    lost. Nothing is sought now: the records after them come next anyway."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 23503}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(23503, 24251)}, True, is_input)
    kept = ledger.screen({PURCHASES: batch(23503, 24257)}, False, is_input)
    assert offsets(kept) == list(range(23503, 24258))
    assert ledger.take_seek_backs({PURCHASES}) == {}
    assert offsets(ledger.screen({PURCHASES: batch(24258, 24260)}, False, is_input)) == [
        24258,
        24259,
        24260,
    ]


def test_without_a_known_position_dropped_records_are_read_again_from_the_log_start() -> None:
    """After a revocation the guard knows no position until Faust seeks. A fetch from before it
    starts wherever the old assignment had read to; with no committed offset, Faust takes the
    first record it is handed as the start, so the partition is read again from the start."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 3000}, is_input)
    ledger.screen({PURCHASES: batch(3000, 3999)}, False, is_input)
    ledger.revoked()
    assert PURCHASES not in ledger.screen({PURCHASES: batch(4000, 4999)}, True, is_input)
    ledger.sought({PURCHASES: None}, is_input)  # reassigned; nothing committed yet
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}


def test_a_revocation_forgets_seek_backs_the_reassignment_makes_moot() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 5}, is_input)
    ledger.screen({PURCHASES: batch(9, 9)}, False, is_input)
    ledger.revoked()
    assert ledger.take_seek_backs({PURCHASES}) == {}


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


def test_changelog_records_faust_did_not_pass_on_are_read_again_before_anything_later() -> None:
    """Defect 7: a standby's changelog records dropped by Faust's getmany (the flow stopped for
    a rebalance) were skipped for good; changelogs have no committed offset to seek back to."""
    ledger = FetchLedger()
    ledger.sought({CHANGELOG: 0}, lambda topic: True)  # recovery: the standby reads from 0
    handed = ledger.screen({CHANGELOG: batch(0, 39)}, False, is_input)
    ledger.not_passed_on(handed, {CHANGELOG: 9})  # Faust yielded 0..9, then the flow stopped
    assert CHANGELOG not in ledger.screen({CHANGELOG: batch(40, 46)}, False, is_input)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 10}
    assert offsets(ledger.screen({CHANGELOG: batch(10, 46)}, False, is_input), CHANGELOG) == list(
        range(10, 47)
    )


def test_changelog_records_passed_on_in_full_need_no_seek_and_holes_are_compaction() -> None:
    ledger = FetchLedger()
    handed = ledger.screen({CHANGELOG: batch(0, 9)}, False, is_input)
    ledger.not_passed_on(handed, {CHANGELOG: 9, PURCHASES: 3})
    later = ledger.screen({CHANGELOG: batch(25, 30)}, False, is_input)  # 10..24 compacted away
    assert offsets(later, CHANGELOG) == list(range(25, 31)) and not ledger.seek_back


def test_changelog_records_dropped_before_a_recovery_seek_are_read_from_where_it_sought() -> None:
    """The store's offset, as recovery sought it, is where a standby must go on from."""
    ledger = FetchLedger()
    ledger.not_passed_on({CHANGELOG: batch(50, 59)}, {})
    ledger.sought({CHANGELOG: 44}, lambda topic: True)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 44}


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


def test_changelog_records_faust_cleared_are_read_again_and_nothing_later_passes() -> None:
    """Defect 13: Faust clears its changelog queue on a revocation; the standby then applied a
    later record and ignored the cleared ones for good."""
    ledger = FetchLedger()
    ledger.not_delivered({CHANGELOG: 11})
    ledger.revoked()  # a revocation keeps them: changelogs have no committed offset
    assert CHANGELOG not in ledger.screen({CHANGELOG: batch(161, 170)}, False, is_input)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 11}
    assert not ledger.discarded
    assert offsets(ledger.screen({CHANGELOG: batch(11, 20)}, False, is_input), CHANGELOG) == list(
        range(11, 21)
    )


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
