"""The fold process (a real child process) gives exactly what the in-process fold gives, and
losing it loses nothing: its batch is folded in the worker's own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from agents.worker import metrics
from agents.worker.batch_fold import BatchFold
from agents.worker.fold_ports import FULL_WEIGHT, BatchOutput
from agents.worker.fold_process import FoldProcess
from agents.worker.fold_wire import WireRecord as Rec
from streams.contracts import encode_event
from streams.contracts.mapping import EVENT_KINDS
from streams.envelope import Envelope, decode_envelope
from streams.model import load_config
from streams.simulator import iter_events
from streams.topics import Topics

TOPICS = Topics("fp.")
ROOT = Path(__file__).resolve().parents[4]
DAY = 86_400.0


class RawStates:
    """A table of encoded states, read decoded (in process) or as bytes (fold process)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, customer_id: str, record: object) -> Envelope | None:
        raw = self.data.get(customer_id)
        return decode_envelope(raw) if raw else None

    def get_raw(self, customer_id: str, record: object) -> bytes | None:
        return self.data.get(customer_id)

    def put(self, customer_id: str, envelope: Envelope | None, raw: bytes, record: object) -> None:
        self.data[customer_id] = raw


def batches(size: int = 150) -> tuple[list[list[Rec]], float]:
    """A simulated year of 40 customers in batches, one redelivered and one with a bad record."""
    offsets: dict[tuple[str, int], int] = {}
    records: list[Rec] = []
    for event in iter_events(40, 365, 11):
        key, value, headers = encode_event(event)
        topic = TOPICS.topic(EVENT_KINDS[type(event)])
        partition = zlib.crc32(key or b"") % 4
        offset = offsets[topic, partition] = offsets.get((topic, partition), -1) + 1
        records.append(Rec(topic, partition, offset, key, value, event.occurred_at, headers))
    cut = [records[i : i + size] for i in range(0, len(records), size)]
    bad = Rec(TOPICS.purchases, 0, 10**6, b"c-bad", b"\x00not avro", cut[3][0].timestamp, [])
    cut[3] = [*cut[3], bad]
    cut.insert(6, cut[5])  # a crash before the commit: the batch comes again
    return cut, records[-1].timestamp + DAY


def published(out: BatchOutput) -> dict[str, Any]:
    """Everything a batch's output makes anyone see. States compare decoded: their marshal
    encoding may share or repeat equal objects depending on reference counts."""
    return {
        "messages": out.messages,
        "dead_letters": out.dead_letters,
        "states": [(cid, decode_envelope(raw), r.topic, r.offset) for cid, _, raw, r in out.states],
        "deadlines": out.deadlines,
        "alerts": out.alerts,
        "snapshots": out.snapshots,
        "stage_moves": out.stage_moves,
        "outcomes": out.outcomes,
        "alert_outcomes": out.alert_outcomes,
        "reasons": out.dead_letter_reasons,
        "stream_times": out.stream_times,
    }


def fold_all(cut: list[list[Rec]], now: float, offload: FoldProcess | None) -> list[Any]:
    fold = BatchFold(TOPICS, load_config(), clock=lambda: now, retry_delays=())
    states = RawStates()
    seen = []

    async def go() -> None:
        for batch in cut:
            if offload is None:
                out = fold.process(batch, states)
            else:
                offload.fold = fold
                out = await offload.process(batch, states)
            for cid, envelope, raw, record in out.states:
                states.put(cid, envelope, raw, record)
            seen.append(published(out))

    asyncio.run(go())
    return seen


@pytest.fixture(scope="module")
def offload() -> Any:
    process = FoldProcess(BatchFold(TOPICS, load_config()))
    process.start()
    yield process
    process.stop()


def test_the_fold_process_publishes_and_stores_what_the_in_process_fold_does(
    offload: FoldProcess,
) -> None:
    cut, now = batches()
    here = fold_all(cut, now, None)
    there = fold_all(cut, now, offload)
    assert sum(len(b["alerts"]) for b in here) > 0 and sum(len(b["reasons"]) for b in here) > 0
    assert len(there) == len(here)
    for i, (got, want) in enumerate(zip(there, here, strict=True)):
        assert got == want, f"batch {i} differs"


def test_a_killed_fold_process_loses_nothing_and_is_replaced(offload: FoldProcess) -> None:
    cut, now = batches()
    want = fold_all(cut[:3], now, None)
    before = metrics.FOLD_PROCESS_FALLBACKS.labels("died")._value.get()
    first = offload._executor().submit(os.getpid).result(timeout=60)
    os.kill(first, signal.SIGKILL)
    time.sleep(0.5)
    assert fold_all(cut[:3], now, offload) == want
    assert metrics.FOLD_PROCESS_FALLBACKS.labels("died")._value.get() == before + 1
    second = offload._executor().submit(os.getpid).result(timeout=60)
    assert second != first, "a new fold process serves the next batches"


def fold_chained(
    cut: list[list[Rec]], now: float, offload: FoldProcess, restart_before: int = -1
) -> list[Any]:
    """Each batch sent to the child before the answer to the one before it is read, so the
    child starts it from the states that one produced; the child is replaced (stopped, a new
    one starts) before batch ``restart_before`` is sent."""
    offload.fold = BatchFold(TOPICS, load_config(), clock=lambda: now, retry_delays=())
    states = RawStates()
    seen = []

    async def receive(sent: Any, prepared: Any) -> None:
        out = await offload.receive(sent, prepared, states)
        for cid, envelope, raw, record in out.states:
            states.put(cid, envelope, raw, record)
        seen.append(published(out))

    async def go() -> None:
        previous = None
        for i, batch in enumerate(cut):
            prepared = offload.prepare(batch, FULL_WEIGHT)
            if i == restart_before:
                offload.stop()  # waits for the job before: the new child never folded it
            if previous is not None and not previous[0].chainable():
                await receive(*previous)  # it will be folded here: its states are needed first
                previous = None
            sent = offload.send(prepared, states, previous[0] if previous else None)
            if previous is not None:
                await receive(*previous)  # stored before this batch's answer is read
            previous = sent, prepared
        if previous is not None:
            await receive(*previous)

    asyncio.run(go())
    return seen


def test_a_batch_sent_behind_one_still_folding_starts_from_its_states_in_the_child(
    offload: FoldProcess,
) -> None:
    cut, now = batches()
    want = fold_all(cut, now, None)
    stale = metrics.FOLD_PROCESS_FALLBACKS.labels("stale")._value.get()
    assert fold_chained(cut, now, offload) == want
    assert metrics.FOLD_PROCESS_FALLBACKS.labels("stale")._value.get() == stale
    assert fold_chained(cut, now, offload, restart_before=4) == want, "a new child: folded here"
    # batch 4 (the new child never folded batch 3) and batch 5 (sent before batch 4 was back);
    # batch 6 is not sent behind batch 5, which was not folded by the child
    assert metrics.FOLD_PROCESS_FALLBACKS.labels("stale")._value.get() == stale + 2


def test_a_job_that_cannot_cross_is_folded_here(
    offload: FoldProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    cut, now = batches()
    want = fold_all(cut[:2], now, None)
    real_job = FoldProcess._job
    monkeypatch.setattr(  # a value pickle refuses (a lambda) rides along in every job
        FoldProcess, "_job", lambda self, b, s, a: (real_job(self, b, s, a), lambda: None)
    )
    before = metrics.FOLD_PROCESS_FALLBACKS.labels("error")._value.get()
    assert fold_all(cut[:2], now, offload) == want
    assert metrics.FOLD_PROCESS_FALLBACKS.labels("error")._value.get() == before + 2


def test_the_fold_process_dies_with_the_worker() -> None:
    """A SIGKILLed worker leaves no fold process behind."""
    script = (
        "import os, sys, time\n"
        "from agents.worker.batch_fold import BatchFold\n"
        "from agents.worker.fold_process import FoldProcess\n"
        "from streams.model import load_config\n"
        "from streams.topics import Topics\n"
        "p = FoldProcess(BatchFold(Topics('x.'), load_config()))\n"
        "print(p._executor().submit(os.getpid).result(timeout=60), flush=True)\n"
        "time.sleep(120)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert _alive(child)
    finally:
        worker.kill()
        worker.wait(30)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the fold process outlived its worker"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
