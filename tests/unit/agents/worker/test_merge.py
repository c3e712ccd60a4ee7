"""Co-partitioned topics are merged by timestamp, waiting only for topics with data to come."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from faust.types import TP

from agents.worker import merge as merge_module
from agents.worker import merge_probes
from agents.worker.faust_internals import FetchState
from agents.worker.fetch_ledger import FetchLedger
from agents.worker.merge import EventTimeMerge
from agents.worker.merge_probes import worker_merge
from agents.worker.metrics import MERGE_OUT_OF_ORDER
from streams.contracts.limits import MAX_EVENT_BYTES
from streams.topics import Topics


@dataclass
class Rec:
    timestamp: int
    offset: int
    key: bytes | None = b"c1"
    value: bytes | None = b"{}"


def merge(caught_up: set[str]) -> EventTimeMerge:
    cls = type(
        "TestMerge",
        (EventTimeMerge,),
        {
            "merge_topics": frozenset({"purchases", "tickets"}),
            "caught_up": staticmethod(lambda tp, next_offset, fetched_ms: tp.topic in caught_up),
        },
    )
    scheduler: EventTimeMerge = cls()
    return scheduler


def order(items: list[tuple[TP, Rec]]) -> list[tuple[str, int]]:
    return [(tp.topic, rec.timestamp) for tp, rec in items]


def test_records_wait_for_a_lagging_topic_then_come_out_in_timestamp_order() -> None:
    scheduler = merge(caught_up=set())
    purchases, tickets = TP("purchases", 0), TP("tickets", 0)
    first = list(scheduler.iterate({purchases: [Rec(10, 0), Rec(30, 1), Rec(50, 2)]}))
    assert first == []  # tickets may still hold older records
    second = list(scheduler.iterate({tickets: [Rec(20, 0), Rec(40, 1)]}))
    assert order(second) == [("purchases", 10), ("tickets", 20), ("purchases", 30), ("tickets", 40)]
    # purchases@50 waits until tickets has passed 50 or has nothing more to fetch


def test_a_caught_up_topic_does_not_hold_the_others() -> None:
    scheduler = merge(caught_up={"tickets"})
    released = list(scheduler.iterate({TP("purchases", 0): [Rec(10, 0), Rec(30, 1)]}))
    assert order(released) == [("purchases", 10), ("purchases", 30)]


def test_partitions_are_merged_independently_and_other_topics_pass_through() -> None:
    scheduler = merge(caught_up=set())
    released = list(
        scheduler.iterate({TP("purchases", 1): [Rec(5, 0)], TP("changelog", 0): [Rec(1, 0)]})
    )
    assert order(released) == [("changelog", 1)]  # purchases@5 waits for tickets-1 only
    released = list(scheduler.iterate({TP("tickets", 1): [Rec(6, 0)]}))
    assert order(released) == [("purchases", 5)]


def test_one_partition_always_leaves_in_offset_order_even_with_odd_timestamps() -> None:
    scheduler = merge(caught_up={"tickets"})
    purchases = TP("purchases", 0)
    released = list(scheduler.iterate({purchases: [Rec(50, 0), Rec(10, 1), Rec(30, 2)]}))
    assert [rec.offset for _, rec in released] == [0, 1, 2]  # Faust drops what goes backwards


def test_a_record_faust_did_not_take_is_offered_again_with_the_next_fetch() -> None:
    taken: set[tuple[str, int]] = {("purchases", 0)}  # Faust skipped purchases@1 (not active)
    scheduler = merge(caught_up={"tickets"})
    scheduler.delivered = lambda tp, offset: (tp.topic, offset) in taken  # type: ignore[method-assign]
    purchases = TP("purchases", 0)
    first = list(scheduler.iterate({purchases: [Rec(10, 0), Rec(20, 1), Rec(30, 2)]}))
    assert [rec.offset for _, rec in first] == [0, 1]  # stops at the record it was not given
    taken |= {("purchases", 1), ("purchases", 2)}
    again = list(scheduler.iterate({}))
    assert [rec.offset for _, rec in again] == [1, 2]  # nothing lost, still in offset order


def test_the_worker_orders_its_ticks_with_the_inputs_but_never_waits_for_them() -> None:
    """The worker keeps appending ticks during a catch-up, so their partition never looks
    caught up: waiting for it held every input for ``max_idle`` and then broke the order."""
    topics = Topics()
    bound = worker_merge(topics, lambda: None, max_task_idle=0.75, max_wait=30.0)
    cls = type(
        "WorkerMerge",
        (bound,),
        {
            "caught_up": staticmethod(lambda tp, next_offset, fetched_ms: tp.topic != topics.ticks),
            "deliverable": staticmethod(lambda tp: True),
            "delivered": staticmethod(lambda tp, offset: True),
        },
    )
    scheduler: EventTimeMerge = cls()
    purchases, ticks = TP(topics.purchases, 0), TP(topics.ticks, 0)
    released = list(scheduler.iterate({purchases: [Rec(10, 0), Rec(30, 1)]}))
    assert order(released) == [(topics.purchases, 10), (topics.purchases, 30)]
    released = list(scheduler.iterate({purchases: [Rec(60, 2)], ticks: [Rec(40, 0)]}))
    assert order(released) == [(topics.ticks, 40), (topics.purchases, 60)]


def test_a_rebalance_during_a_release_stops_it_and_voids_what_was_held() -> None:
    """The chaos soak's lost and late events: a revoke ran while the merge was releasing."""
    scheduler = merge(caught_up={"purchases", "tickets"})
    purchases, tickets = TP("purchases", 0), TP("tickets", 1)
    batch = {purchases: [Rec(10, 0), Rec(30, 1), Rec(50, 2)], tickets: [Rec(20, 0)]}
    released = []
    for tp, record in scheduler.iterate(batch):
        released.append((tp, record))
        scheduler.forget_all()  # Faust's on_partitions_revoked, while the record is out
    assert order(released) == [("purchases", 10)], "nothing held from before the rebalance"
    # after the rebalance Faust fetches again from the committed offsets: all of it flows
    again = list(scheduler.iterate(batch))
    assert order(again) == [
        ("purchases", 10),
        ("purchases", 30),
        ("purchases", 50),
        ("tickets", 20),
    ]


def test_a_record_that_cannot_be_an_event_does_not_hold_its_partition_back() -> None:
    """A 1 MB junk record (or a keyless one) appended ahead of older records, by a second
    producer with a later timestamp, leaves at once: the older purchases behind it are not
    overtaken by the tickets, so no customer's purchases arrive late."""
    for junk in (Rec(50, 0, value=bytes(MAX_EVENT_BYTES + 1)), Rec(50, 0, key=None)):
        scheduler = merge(caught_up=set())
        purchases, tickets = TP("purchases", 0), TP("tickets", 0)
        released = list(
            scheduler.iterate({purchases: [junk, Rec(10, 1)], tickets: [Rec(20, 0), Rec(40, 1)]})
        )
        # the tickets now wait for purchases, which may still hold records older than 20
        assert [(tp.topic, rec.offset) for tp, rec in released] == [
            ("purchases", 0),
            ("purchases", 1),
        ]
        released = list(scheduler.iterate({purchases: [Rec(30, 2)]}))
        assert order(released) == [("tickets", 20), ("purchases", 30)]


def test_a_record_older_than_one_already_released_is_counted_out_of_order() -> None:
    """What a too-short --max-task-idle costs: tickets looked caught up, purchases@30 left,
    then tickets@20 arrived. The counter is what docs/benchmarks.md measures the default by."""
    scheduler = merge(caught_up={"tickets", "purchases"})
    before = MERGE_OUT_OF_ORDER._value.get()
    assert order(list(scheduler.iterate({TP("purchases", 0): [Rec(30, 0)]}))) == [("purchases", 30)]
    assert order(list(scheduler.iterate({TP("tickets", 0): [Rec(20, 0), Rec(40, 1)]}))) == [
        ("tickets", 20),
        ("tickets", 40),
    ]
    assert MERGE_OUT_OF_ORDER._value.get() - before == 1


def test_the_merge_waits_no_longer_than_its_setting() -> None:
    topics = Topics()
    assert worker_merge(topics, lambda: None, max_task_idle=0.1, max_wait=2.0).max_idle == 2.0


def test_an_empty_partition_counts_as_caught_up_only_on_a_watermark_reported_after_the_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purchase fetched at t=1000 ms waits for the tickets partition (empty, at its high
    watermark) until a fetch response received at or after 1000 ms says so: a ticket appended
    before the purchase but not fetched yet would otherwise be overtaken. Once fresh, the
    quiet period (``--max-task-idle``, 0 here) is the only wait left."""
    states = {
        "purchases": FetchState(highwater=1, position=1, has_valid_position=True, reported_ms=1000),
        "tickets": FetchState(highwater=5, position=5, has_valid_position=True, reported_ms=900),
    }
    monkeypatch.setattr(merge_probes, "fetch_state", lambda app, tp: states[tp.topic])
    monkeypatch.setattr(merge_probes, "consuming", lambda app, tp: True)
    monkeypatch.setattr(merge_probes, "read_offset", lambda app, tp: 10**9)
    cls = merge_probes.merge_scheduler(["purchases", "tickets"], lambda: None, quiet=0.0)
    scheduler = cls()
    purchase = (TP("purchases", 0), [Rec(timestamp=50, offset=0)])
    assert list(scheduler.iterate(dict([purchase]))) == []  # tickets' watermark is stale
    states["tickets"] = FetchState(5, 5, True, reported_ms=1000)  # the next response: still 5
    assert order(list(scheduler.iterate({}))) == [("purchases", 50)]


def test_a_fresh_watermark_the_position_has_not_reached_still_holds_the_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states = {
        "purchases": FetchState(1, 1, True, reported_ms=1000),
        "tickets": FetchState(6, 5, True, reported_ms=1200),  # a ticket is on its way
    }
    monkeypatch.setattr(merge_probes, "fetch_state", lambda app, tp: states[tp.topic])
    monkeypatch.setattr(merge_probes, "consuming", lambda app, tp: True)
    monkeypatch.setattr(merge_probes, "read_offset", lambda app, tp: 10**9)
    scheduler = merge_probes.merge_scheduler(["purchases", "tickets"], lambda: None, quiet=0.0)()
    assert list(scheduler.iterate({TP("purchases", 0): [Rec(timestamp=50, offset=0)]})) == []
    released = scheduler.iterate({TP("tickets", 0): [Rec(timestamp=40, offset=5)]})
    assert order(list(released)) == [("tickets", 40), ("purchases", 50)]


def test_a_partition_whose_fetched_records_were_dropped_is_not_caught_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka's position has passed tickets 5..9, but the fetch guard dropped them (fetched
    across a seek) and will read them again: the purchase must wait for them, not overtake
    them because the position says the partition is at its high watermark (the chaos soak
    dead-lettered a year-old backlog's tickets as late when it did)."""
    states = {
        "purchases": FetchState(1, 1, True, reported_ms=1000),
        "tickets": FetchState(highwater=10, position=10, has_valid_position=True, reported_ms=1200),
    }
    monkeypatch.setattr(merge_probes, "fetch_state", lambda app, tp: states[tp.topic])
    monkeypatch.setattr(merge_probes, "consuming", lambda app, tp: True)
    monkeypatch.setattr(merge_probes, "read_offset", lambda app, tp: 10**9)
    ledger = FetchLedger()
    ledger.sought({TP("tickets", 0): 5}, lambda topic: True)
    tickets = [Rec(timestamp=o - 5, offset=o) for o in range(5, 10)]  # older than the purchase
    stale = {TP("tickets", 0): tickets}
    assert ledger.screen(stale, stale=True, is_input=lambda topic: True) == {}
    app = SimpleNamespace(consumer=SimpleNamespace(ledger=ledger))
    scheduler = merge_probes.merge_scheduler(["purchases", "tickets"], lambda: app, quiet=0.0)()
    assert list(scheduler.iterate({TP("purchases", 0): [Rec(timestamp=50, offset=0)]})) == []
    ledger.take_seek_backs({TP("tickets", 0)})  # sought back to 5; read again:
    kept = ledger.screen({TP("tickets", 0): tickets}, stale=False, is_input=lambda topic: True)
    released = order(list(scheduler.iterate(kept)))
    assert released == [*(("tickets", t) for t in range(5)), ("purchases", 50)]


def test_a_topic_the_merge_waits_for_is_put_back_into_the_fetch() -> None:
    """Defect 15 (full soak 42, seed 18): Faust took support-tickets-3 out of the fetch when its
    records met a nearly full stream buffer, and puts it back only after enough gets from that
    buffer, which partition 2's records kept from happening. With no fetch response it never
    looked caught up; the merge held partition 3 for 30 s, then released it out of order."""
    from agents.worker.faust_internals import fetch_again

    buffered = {TP("tickets", 0)}
    consumer = SimpleNamespace(
        _buffered_partitions=buffered, on_buffer_drop=lambda tp: buffered.discard(tp)
    )
    app = SimpleNamespace(consumer=consumer)
    cls = type(
        "TestMerge",
        (EventTimeMerge,),
        {
            "merge_topics": frozenset({"purchases", "tickets"}),
            "caught_up": staticmethod(lambda tp, next_offset, fetched_ms: False),
            "fetch_again": staticmethod(lambda tp: fetch_again(app, tp)),
        },
    )
    scheduler = cls()
    assert list(scheduler.iterate({TP("purchases", 0): [Rec(10, 0)]})) == []  # still waits
    assert buffered == set(), "tickets-0 is fetched again, so it can catch up"
    assert fetch_again(app, TP("tickets", 0)) is False  # only what flow control took out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def outage_merge(answering: dict[str, bool], max_idle: float = 30.0) -> EventTimeMerge:
    cls = type(
        "TestMerge",
        (EventTimeMerge,),
        {
            "merge_topics": frozenset({"purchases", "tickets"}),
            "max_idle": max_idle,
            "caught_up": staticmethod(lambda tp, next_offset, fetched_ms: False),
            "leader_answering": staticmethod(lambda tp: answering["up"]),
        },
    )
    scheduler: EventTimeMerge = cls()
    return scheduler


def poll(scheduler: EventTimeMerge, clock: Clock, seconds: float) -> list[tuple[str, int]]:
    """What the merge releases while the worker fetches (it looks every second)."""
    released: list[tuple[str, int]] = []
    for _ in range(int(seconds)):
        clock.now += 1.0
        released += order(list(scheduler.iterate({})))
    return released


def test_a_broker_outage_does_not_release_records_out_of_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Full soak 47 (seed 22): the broker was down for over 30 s; the merge released
    purchases-1 ahead of feedback-1's unfetched records (position 2,248 of 2,305), which
    then came late. While the waited-for partition's leader answers no fetch, nothing can be
    fetched, so the wait goes on, and the max_idle clock restarts once the leader is back."""
    clock = Clock()
    monkeypatch.setattr(merge_module, "time", SimpleNamespace(monotonic=clock))
    broker = {"up": False}
    scheduler = outage_merge(broker)
    assert list(scheduler.iterate({TP("purchases", 1): [Rec(10, 0)]})) == []
    assert poll(scheduler, clock, 60) == [], "released during the outage"
    broker["up"] = True  # back, but tickets-1 not fetched yet: its older records may come
    assert poll(scheduler, clock, 29) == []
    assert poll(scheduler, clock, 2) == [("purchases", 10)]  # max_idle since: the safety net


def test_a_worker_blocked_through_an_outage_restarts_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Full soak 50: a worker blocked 39 s in a flush to the absent broker, so the merge never
    saw the outage; right after it, it released purchases-1 out of order before feedback-1's
    first fetch. A merge that could not look for a while has not been waiting."""
    clock = Clock()
    monkeypatch.setattr(merge_module, "time", SimpleNamespace(monotonic=clock))
    scheduler = outage_merge({"up": True})
    assert list(scheduler.iterate({TP("purchases", 1): [Rec(10, 0)]})) == []
    clock.now += 39.0  # blocked: no iteration at all
    assert poll(scheduler, clock, 29) == []
    assert poll(scheduler, clock, 2) == [("purchases", 10)]


def test_without_an_outage_the_safety_net_still_releases_after_max_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(merge_module, "time", SimpleNamespace(monotonic=clock))
    scheduler = outage_merge({"up": True})
    assert list(scheduler.iterate({TP("purchases", 0): [Rec(10, 0)]})) == []
    assert poll(scheduler, clock, 29) == []
    assert poll(scheduler, clock, 2) == [("purchases", 10)]


def test_a_broker_silent_for_ten_times_max_idle_no_longer_holds_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A leader that looks silent for good (a bug, not an outage) must not stall the worker."""
    clock = Clock()
    monkeypatch.setattr(merge_module, "time", SimpleNamespace(monotonic=clock))
    scheduler = outage_merge({"up": False}, max_idle=2.0)
    assert list(scheduler.iterate({TP("purchases", 0): [Rec(10, 0)]})) == []
    assert poll(scheduler, clock, 19) == []
    assert poll(scheduler, clock, 2) == [("purchases", 10)]


def test_the_leader_counts_as_answering_only_on_a_recent_fetch_response() -> None:
    from aiokafka.structs import TopicPartition

    from agents.worker.faust_internals import leader_answered_within

    now_ms = int(time.time() * 1000)
    reported = {
        TopicPartition("purchases", 0): now_ms - 60_000,
        TopicPartition("tickets", 0): now_ms - 60_000,
    }
    leaders = {"purchases": 1, "tickets": 1}
    assignment = SimpleNamespace(
        tps=list(reported),
        state_value=lambda tp: SimpleNamespace(timestamp=reported[tp]),
    )
    kafka = SimpleNamespace(
        _client=SimpleNamespace(
            cluster=SimpleNamespace(leader_for_partition=lambda tp: leaders[tp.topic])
        ),
        _subscription=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment)),
    )
    thread = SimpleNamespace(_ensure_consumer=lambda: kafka)
    app = SimpleNamespace(consumer=SimpleNamespace(_thread=thread))
    tickets = TP("tickets", 0)
    assert not leader_answered_within(app, tickets, 10.0)  # a minute of silence: down
    reported[TopicPartition("purchases", 0)] = now_ms - 500  # another partition it leads
    assert leader_answered_within(app, tickets, 10.0)
    leaders["purchases"] = 2  # ... but led by another broker says nothing of tickets' leader
    assert not leader_answered_within(app, tickets, 10.0)
    leaders["tickets"] = -1  # no leader at all
    assert not leader_answered_within(app, tickets, 10.0)
