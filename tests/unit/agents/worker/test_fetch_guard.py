"""The fetch guard (agents/worker/fetch_guard.py): input records of a fetch that a rebalance
overtook never reach Faust, whose gap logic would commit past the records before them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard
from agents.worker.faust_overrides import FastConsumer
from agents.worker.fetch_guard import GuardedConsumer, GuardedTransport
from agents.worker.metrics import STALE_FETCH_RECORDS

PURCHASES = TP("purchases", 2)
CHANGELOG = TP("cxstream-customers-changelog", 2)


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class HeldFetch:
    """Stands in for the consumer thread: a fetch returns when the test lets it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, active_partitions: Any, timeout: float) -> Any:
        await self.release.wait()
        return {PURCHASES: [Record(7998), Record(7999)], CHANGELOG: [Record(40)]}


def guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool) -> GuardedConsumer:
    options = WorkerOptions(
        data_dir=tmp_path, api_access=ApiAccess(insecure=True), faust_fast_path=fast
    )
    app = faust_app(options, ApiGuard(ApiAccess()), 4)
    consumer = app.consumer
    assert isinstance(consumer, GuardedConsumer)
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: topic == PURCHASES.topic)
    monkeypatch.setattr(consumer, "_fetch", HeldFetch())
    return consumer


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
def test_a_fetch_overtaken_by_a_seek_back_loses_its_input_records_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    async def main() -> None:
        consumer = guarded(tmp_path, monkeypatch, fast)
        monkeypatch.setattr(consumer, "seek_to_committed", _committed_at(7435))
        before = STALE_FETCH_RECORDS._value.get()
        fetch = asyncio.ensure_future(consumer._getmany({PURCHASES, CHANGELOG}, 1.0))
        await asyncio.sleep(0.01)
        await consumer.perform_seek()  # Faust's own: the assignment goes back to offset 7435
        assert consumer._read_offset[PURCHASES] == 7435
        consumer._fetch.release.set()
        records = await asyncio.wait_for(fetch, 5)
        assert set(records) == {CHANGELOG}  # 7998 would have made Faust commit 7436..7997
        assert STALE_FETCH_RECORDS._value.get() - before == 2

    asyncio.run(main())


def test_a_fetch_overtaken_by_a_revocation_loses_its_input_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        consumer = guarded(tmp_path, monkeypatch, False)
        fetch = asyncio.ensure_future(consumer._getmany({PURCHASES}, 1.0))
        await asyncio.sleep(0.01)
        consumer.invalidate_fetches()  # what on_partitions_revoked does first
        consumer._fetch.release.set()
        assert set(await asyncio.wait_for(fetch, 5)) == {CHANGELOG}

    asyncio.run(main())


def test_a_fetch_in_one_epoch_is_delivered_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        consumer = guarded(tmp_path, monkeypatch, True)
        consumer._fetch.release.set()
        records = await consumer._getmany({PURCHASES, CHANGELOG}, 1.0)
        assert [r.offset for r in records[PURCHASES]] == [7998, 7999]
        assert set(records) == {PURCHASES, CHANGELOG}

    asyncio.run(main())


def _committed_at(offset: int) -> Any:
    async def seek_to_committed() -> dict[TP, int]:
        return {PURCHASES: offset}

    return seek_to_committed
