"""One bad record never costs another customer's events, and nothing is silently dropped."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

import agents.worker.customer_fold as customer_fold
from agents.worker.batch_cycle import AGENT_PROBLEM, BATCH_ATTEMPTS, RECORD_ATTEMPTS, BatchCycle
from agents.worker.batch_fold import BatchFold
from agents.worker.customer_agent import finish_before_ack
from agents.worker.customer_fold import MAX_OUTPUT_BYTES
from agents.worker.fold_ports import FULL_WEIGHT
from agents.worker.health import HealthBoard
from agents.worker.outputs import OutputRejected
from streams.deadline_index import DeadlineIndex
from streams.domain import Event
from streams.loop_processing import process_loop_event
from streams.model import load_config
from tests.unit.agents.worker.test_batch_fold import DAY, T0, TOPICS, DictStates, Rec, purchase, rec

CONFIG = load_config()


def processor() -> BatchFold:
    return BatchFold(TOPICS, CONFIG, clock=lambda: T0 + 400 * DAY)


@pytest.fixture
def poisoned_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The model raises on one event id, as a model bug or an overflow would."""
    poison = "p-poison"

    def flaky(state: Any, event: Event, config: Any, weight: float = 1.0) -> Any:
        if event.event_id == poison:
            raise OverflowError("int too large to convert")
        return process_loop_event(state, event, config, weight)

    monkeypatch.setattr(customer_fold, "process_loop_event", flaky)
    yield poison


def poison_purchase(when: float, customer: str) -> Rec:
    return rec(dataclasses.replace(purchase(0, when, customer), event_id="p-poison"), 99)


def reasons(out: Any) -> list[bytes]:
    return [dict(headers)["dlq.reason"] for _, _, headers in out.dead_letters]


def test_a_record_the_model_cannot_fold_is_dead_lettered_and_the_rest_of_the_batch_goes_on(
    poisoned_model: str,
) -> None:
    others = [rec(purchase(i, T0 + i * DAY, f"c{i}"), i) for i in range(1, 40)]
    mine = [rec(purchase(100, T0, "victim"), 100), rec(purchase(101, T0 + DAY, "victim"), 101)]
    batch = [*others[:20], mine[0], poison_purchase(T0 + DAY / 2, "victim"), mine[1], *others[20:]]
    out = processor().process(batch, DictStates())

    assert reasons(out) == [b"processing_failed"]
    (_, _, headers) = out.dead_letters[0]
    assert dict(headers)["dlq.source.offset"] == b"99"
    assert b"OverflowError" in b"".join(v for _, v in headers if v)
    stored = {cid: env for cid, env, _, _ in out.states}
    assert len(stored) == 40, "every customer, the poisoned one included, keeps its events"
    expected = None
    for event in (purchase(100, T0, "victim"), purchase(101, T0 + DAY, "victim")):
        expected, _, _ = process_loop_event(expected, event, CONFIG)
    assert stored["victim"].state == expected


def test_an_output_over_the_broker_limit_is_caught_before_publishing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def huge_snapshot(snap: Any) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        size = MAX_OUTPUT_BYTES + 1 if snap.customer_id == "big" else 10
        return snap.customer_id.encode(), b"x" * size, []

    monkeypatch.setattr(customer_fold, "encode_snapshot", huge_snapshot)
    out = processor().process(
        [rec(purchase(1, T0, "big"), 1), rec(purchase(2, T0, "small"), 2)], DictStates()
    )
    assert reasons(out) == [b"processing_failed"]
    assert [cid for cid, *_ in out.states] == ["small"]
    assert all(len(value or b"") <= MAX_OUTPUT_BYTES for _, _, value, _ in out.messages)


def test_an_event_behind_the_lateness_bound_is_dead_lettered_not_dropped() -> None:
    grace_days = CONFIG.ordering.grace_s / DAY
    states = DictStates()
    first = processor().process([rec(purchase(1, T0 + 30 * DAY), 1)], states)
    for customer_id, envelope, raw, record in first.states:
        states.put(customer_id, envelope, raw, record)
    late = rec(purchase(2, T0 + (30 - grace_days - 1) * DAY), 2)
    out = processor().process([late], states)
    assert reasons(out) == [b"late_event"]
    detail = dict(out.dead_letters[0][2])["dlq.detail"]
    assert b"grace_hours" in detail, "the detail names the setting to change"
    assert not out.states, "the customer's state is untouched"


class FakeOutputs:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[tuple[str, bytes | None]] = []
        self.failures = failures

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, *a: Any, **k: Any
    ) -> None:
        self.sent.append((topic, value))

    async def flush(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker went away")


def pipeline(outputs: FakeOutputs, table: dict[str, bytes]) -> BatchCycle:
    return BatchCycle(
        outputs,  # type: ignore[arg-type]
        table,
        TOPICS,
        processor(),
        DeadlineIndex(lambda: T0, None, 300.0),
        FULL_WEIGHT,
        health=HealthBoard(),
        retry_pause=0.0,
    )


def test_a_failing_batch_is_retried_and_health_recovers() -> None:
    outputs, table = FakeOutputs(failures=1), {}
    pipe = pipeline(outputs, table)
    asyncio.run(pipe.handle_safely([rec(purchase(1, T0), 1)]))
    assert "c1" in table, "the retried batch stored the customer"
    assert pipe.health.healthy


def test_an_outage_longer_than_the_retries_is_waited_out_never_blamed_on_records() -> None:
    outputs, table = FakeOutputs(failures=BATCH_ATTEMPTS + RECORD_ATTEMPTS + 2), {}
    pipe = pipeline(outputs, table)
    asyncio.run(pipe.handle_safely([rec(purchase(1, T0), 1)]))
    assert "c1" in table
    assert not [topic for topic, _ in outputs.sent if topic == TOPICS.dead_letter]


def test_a_table_error_is_retried_until_it_clears_and_never_blamed_on_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs, table = FakeOutputs(), {}
    pipe = pipeline(outputs, table)
    real_put, failures = pipe.states.put, [BATCH_ATTEMPTS + RECORD_ATTEMPTS + 2]

    def put(customer_id: str, *args: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise RuntimeError("PartitionsMismatch: changelog has 0 partitions")
        real_put(customer_id, *args)

    monkeypatch.setattr(pipe.states, "put", put)
    asyncio.run(pipe.handle_safely([rec(purchase(1, T0, "a"), 1), rec(purchase(2, T0, "b"), 2)]))
    assert {"a", "b"} <= set(table)
    assert not [topic for topic, _ in outputs.sent if topic == TOPICS.dead_letter]


class RefusingOutputs(FakeOutputs):
    """A broker that refuses the outputs of one customer's record for their size."""

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, *_: Any, **__: Any
    ) -> None:
        super().produce(topic, key, value)
        if key == b"cursed" and topic != TOPICS.dead_letter:
            self.refused = True

    async def flush(self) -> None:
        if getattr(self, "refused", False):
            self.refused = False
            raise OutputRejected("MSG_SIZE_TOO_LARGE", caused_by_record=True)


def test_a_record_the_broker_refuses_even_alone_is_dead_lettered_and_its_neighbours_stored() -> (
    None
):
    outputs, table = RefusingOutputs(), {}
    pipe = pipeline(outputs, table)
    batch = [rec(purchase(1, T0, "cursed"), 1), rec(purchase(2, T0, "fine"), 2)]
    asyncio.run(pipe.handle_safely(batch))
    assert "fine" in table and "cursed" not in table
    dead = [value for topic, value in outputs.sent if topic == TOPICS.dead_letter]
    assert dead == [batch[0].value], "the refused record is dead-lettered byte for byte"
    assert pipe.health.healthy, "the worker moved on"
    assert AGENT_PROBLEM == "customer_agent"


def test_a_batch_cut_short_by_shutdown_still_runs_to_its_end() -> None:
    finished: list[bool] = []

    async def batch() -> None:
        await asyncio.sleep(0.05)
        finished.append(True)

    async def agent() -> None:
        await finish_before_ack(batch(), grace=5.0)

    async def main() -> None:
        task = asyncio.ensure_future(agent())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert finished == [True]
