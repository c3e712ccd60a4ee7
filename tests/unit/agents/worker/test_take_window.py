"""The batch window (agents/worker/take_window.py): long while input waits on the broker, short
once every input partition is fetched to its end; other waits of the stream untouched."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from agents.worker.faust_internals import fetched_to_the_end
from agents.worker.take_window import adapt_take_window


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


def app_with(assignment: Assignment | None) -> Any:
    class Ns:
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

    subscription = Ns(subscription=None if assignment is None else Ns(assignment=assignment))
    kafka = Ns(_subscription=subscription)
    return Ns(consumer=Ns(_thread=Ns(_ensure_consumer=lambda: kafka)))


def is_input(topic: str) -> bool:
    return topic != "app-customers-changelog"


def test_fetched_to_the_end_only_when_every_input_partition_is_at_its_high_watermark() -> None:
    states = {
        TopicPartition("purchases", 0): PartitionState(120, 120),
        TopicPartition("feedback", 0): PartitionState(7, 7),
        TopicPartition("app-customers-changelog", 0): PartitionState(900, 10),  # not an input
    }
    assignment = Assignment(states)
    assert fetched_to_the_end(app_with(assignment), is_input)
    states[TopicPartition("feedback", 0)] = PartitionState(9, 7)  # two records on the broker
    assert not fetched_to_the_end(app_with(assignment), is_input)
    states[TopicPartition("feedback", 0)] = PartitionState(None, 7)  # never fetched
    assert not fetched_to_the_end(app_with(assignment), is_input)


def test_unknown_positions_count_as_behind() -> None:
    assert not fetched_to_the_end(app_with(None), is_input)  # rebalancing
    assert not fetched_to_the_end(app_with(Assignment()), is_input)  # nothing assigned yet
