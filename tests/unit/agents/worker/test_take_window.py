"""The batch window (agents/worker/take_window.py): long while a full batch waits on the broker
(a catch-up), short otherwise (live traffic, which always has a few records unfetched); other
waits of the stream untouched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from agents.worker.faust_internals import records_unread
from agents.worker.take_window import adapt_take_window, backlog_fills_a_batch


class Stream:
    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    async def wait_for_stopped(self, *coros: Any, timeout: Any = None) -> bool:
        self.timeouts.append(timeout)
        return False


def test_the_window_is_long_while_behind_and_short_once_caught_up() -> None:
    stream, behind = Stream(), [True]
    adapt_take_window(stream, 0.05, 0.005, lambda: behind[0])
    event = asyncio.Event()
    asyncio.run(stream.wait_for_stopped(event, timeout=0.05))
    behind[0] = False
    asyncio.run(stream.wait_for_stopped(event, timeout=0.05))
    asyncio.run(stream.wait_for_stopped(event, timeout=3.0))  # not the take loop's wait
    assert stream.timeouts == [0.05, 0.005, 3.0]


def test_a_caught_up_window_no_shorter_changes_nothing() -> None:
    stream = Stream()
    original = stream.wait_for_stopped
    adapt_take_window(stream, 0.005, 0.005, lambda: False)
    assert stream.wait_for_stopped == original


@dataclass
class PartitionState:
    highwater: int | None
    position: int | None
    has_valid_position: bool = True


@dataclass
class Assignment:
    states: dict[TopicPartition, PartitionState] = field(default_factory=dict)

    @property
    def tps(self) -> frozenset[TopicPartition]:
        return frozenset(self.states)

    def state_value(self, tp: TopicPartition) -> PartitionState | None:
        return self.states.get(tp)


def app_with(assignment: Assignment | None, read: dict[TopicPartition, int] | None = None) -> Any:
    class Ns:
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

    subscription = Ns(subscription=None if assignment is None else Ns(assignment=assignment))
    kafka = Ns(_subscription=subscription)
    consumer = Ns(_thread=Ns(_ensure_consumer=lambda: kafka), _read_offset=read or {})
    return Ns(consumer=consumer)


def is_input(topic: str) -> bool:
    return topic != "app-customers-changelog"


def test_records_unread_counts_what_the_agent_has_not_been_handed_yet() -> None:
    states = {
        TopicPartition("purchases", 0): PartitionState(120, 120),
        TopicPartition("feedback", 0): PartitionState(7, 7),
        TopicPartition("app-customers-changelog", 0): PartitionState(900, 10),  # not an input
    }
    read = {TopicPartition("purchases", 0): 119, TopicPartition("feedback", 0): 6}
    assignment = Assignment(states)
    assert records_unread(app_with(assignment, read), is_input) == 0
    states[TopicPartition("feedback", 0)] = PartitionState(9, 7)  # two records on the broker
    assert records_unread(app_with(assignment, read), is_input) == 2
    # a catch-up: fetched far ahead of the agent, which has read only up to offset 1,000
    states[TopicPartition("purchases", 1)] = PartitionState(5_000, 4_900)
    read[TopicPartition("purchases", 1)] = 999
    assert records_unread(app_with(assignment, read), is_input) == 2 + 4_000
    del read[TopicPartition("purchases", 1)]  # nothing read yet: what is unfetched, at least
    assert records_unread(app_with(assignment, read), is_input) == 2 + 100
    states[TopicPartition("feedback", 0)] = PartitionState(None, 7)  # never fetched
    assert records_unread(app_with(assignment, read), is_input) is None


def test_unknown_positions_count_as_unknown() -> None:
    assert records_unread(app_with(None), is_input) is None  # rebalancing
    assert records_unread(app_with(Assignment()), is_input) is None  # nothing assigned yet


def test_live_traffic_gets_the_short_window_and_a_catch_up_the_long_one() -> None:
    """A few records always wait unfetched under live traffic: only a full batch's worth (or an
    unknown position, as at start-up) is a backlog worth waiting to fill a batch for."""
    assert not backlog_fills_a_batch(0, 4_000)
    assert not backlog_fills_a_batch(250, 4_000)  # 500 events/s, one fetch wait's worth
    assert backlog_fills_a_batch(4_000, 4_000)
    assert backlog_fills_a_batch(84_807, 4_000)
    assert backlog_fills_a_batch(None, 4_000)
