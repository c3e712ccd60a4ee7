"""Every partition aiokafka has fetched reaches the merge in the same poll (defect 18).

The merge releases a partition's records only while every co-partition has a head or is fetched
to its end. aiokafka hands fetched records over partition by partition, in the order the fetches
arrived, and stops at the poll's record cap: with a cap, a purchases partition fetched a second
time sat last behind fifteen partitions' backlogs, the merge's 30 s safety net released its
co-partitions out of order, and its records came late (dead-lettered). These tests run
aiokafka's own ``Fetcher.fetched_records`` with the worker's Faust configuration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiokafka.consumer.fetcher import Fetcher as AIOKafkaFetcher
from aiokafka.consumer.fetcher import FetchResult
from aiokafka.structs import TopicPartition

from agents.app import faust_app
from agents.settings import ApiAccess, WorkerOptions
from agents.worker.api_security import ApiGuard


class Records:
    """aiokafka's ``PartitionRecords`` as ``FetchResult`` reads it: offsets, then the next."""

    def __init__(self, first: int, count: int) -> None:
        self.next_fetch_offset = first
        self._end = first + count

    def __iter__(self) -> Records:
        return self

    def __next__(self) -> int:
        if self.next_fetch_offset >= self._end:
            raise StopIteration
        self.next_fetch_offset += 1
        return self.next_fetch_offset - 1


class State:
    paused = False

    def __init__(self, position: int) -> None:
        self.position = position

    def consumed_to(self, offset: int) -> None:
        self.position = offset


class Assignment:
    active = True

    def __init__(self) -> None:
        self.states: dict[TopicPartition, State] = {}

    def state_value(self, tp: TopicPartition) -> State:
        return self.states[tp]


class Subscriptions:
    reassignment_in_progress = False

    def is_assigned(self, tp: TopicPartition) -> bool:
        return True


class Fetcher:
    """The state ``Fetcher.fetched_records`` reads, with results in arrival order."""

    _closed = False
    _wait_consume_future = None

    def __init__(self, arrivals: list[tuple[TopicPartition, int, int]]) -> None:
        self._subscriptions = Subscriptions()
        self.assignment = Assignment()
        self._records: dict[TopicPartition, Any] = {}
        for tp, first, count in arrivals:
            self.assignment.states[tp] = State(first)
            self._records[tp] = FetchResult(
                tp, assignment=self.assignment, partition_records=Records(first, count), backoff=0
            )

    def _notify(self, future: object) -> None:
        pass


def worker_poll_cap(tmp_path: Path) -> int | None:
    options = WorkerOptions(data_dir=tmp_path, api_access=ApiAccess(insecure=True))
    cap: int | None = faust_app(options, ApiGuard(ApiAccess()), 4).conf.broker_max_poll_records
    return cap


def test_a_partition_fetched_last_reaches_the_merge_in_the_first_poll(tmp_path: Path) -> None:
    """Run 4 of the stop-28 repro: purchases-2's second fetch (from 6,796) was 16th of 16."""
    ahead = [(TopicPartition(f"cx.topic{i}", 2), 0, 5_000) for i in range(15)]
    late = TopicPartition("cx.purchases", 2)
    fetcher = Fetcher([*ahead, (late, 6_796, 5_985)])
    polled = asyncio.run(
        AIOKafkaFetcher.fetched_records(  # type: ignore[arg-type]
            fetcher, set(fetcher._records), timeout=0, max_records=worker_poll_cap(tmp_path)
        )
    )
    assert polled.get(late, [])[:2] == [6_796, 6_797]
    assert {tp for tp, records in polled.items() if records} == set(fetcher.assignment.states)
