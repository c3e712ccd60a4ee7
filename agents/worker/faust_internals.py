"""Every private Faust, mode and aiokafka attribute the worker touches, in one place, with why.

Faust offers no public API for what these do; each is pinned by the tests that exercise it
(the merge and table unit tests, the e2e suite), so a Faust upgrade that moves one fails there.

- Table writes: Faust picks the changelog and RocksDB partition of a table write from the
  *current event* (a context variable set while a stream iterates). ``stream.take_events``
  leaves it pointing at the last event of the batch, which would send every customer's state
  to one partition: :func:`event_context` sets it to the record the state belongs to.
- The merge (``agents.worker.merge``) needs each partition's fetch position, high watermark
  and the time of the fetch response that reported them (aiokafka's subscription state; the
  batch window, ``agents.worker.take_window``, reads the same to tell a catch-up), which
  partitions Faust consumes right now, and the read offset Faust recorded for a partition.
- Logging: mode's worker sets up logging in a private hook (see :class:`CxWorker`).
- The fetch guard (``agents.worker.fetch_guard``, always on): the worker's consumer wraps
  ``Consumer.perform_seek``, ``seek`` and ``on_partitions_revoked`` and replaces
  ``ThreadDelegateConsumer._getmany``, so that every input partition reaches Faust in sequence
  from where it sought (pinned in ``faust_pins.RELIES_ON`` too).
- The record path (``agents.worker.faust_overrides``, on unless ``--no-faust-fast-path``): the
  worker's app gets its own transport whose consumer replaces ``Consumer._drain_messages``
  (a copy without tasks per record when delivery does not suspend) and wraps
  ``ThreadDelegateConsumer._getmany`` (its wait while partitions are held back), and whose
  consumer thread sets aiokafka's ``AIOKafkaConsumer._fetch_max_wait_ms`` (Faust hard-codes
  1.5 s). Those pieces are pinned by source hash in ``faust_pins.RELIES_ON``, checked by
  ``tests/unit/agents/worker/test_faust_overrides.py``.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.structs import TopicPartition as AIOKafkaTP
from faust.streams import _current_event
from faust.types import TP
from mode.utils.logging import level_number

from agents.worker import log_limits


class _EventLike:
    """The part of a Faust Event that tables and stores read: ``.message``."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


@contextmanager
def event_context(message: Any) -> Iterator[None]:
    """Table accesses inside go to the partition of ``message`` (see the module docstring)."""
    holder = _EventLike(message)  # kept alive by this frame while the weakref is in use
    token = _current_event.set(weakref.ref(holder))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


@dataclass(frozen=True, slots=True)
class FetchState:
    """aiokafka's view of one assigned partition."""

    highwater: int | None
    position: int | None
    has_valid_position: bool
    reported_ms: int | None = None  # wall time of the fetch response that last reported it


def _kafka_consumer(app: Any) -> Any:
    """The aiokafka consumer behind Faust's consumer thread (raises when not started)."""
    return app.consumer._thread._ensure_consumer()


def _assignment_of(kafka_consumer: Any) -> Any:
    """aiokafka's current assignment: its per-partition fetch states."""
    return kafka_consumer._subscription.subscription.assignment


def _assignment(app: Any) -> Any | None:
    """aiokafka's current assignment (its per-partition fetch states); None when the consumer
    is not started or is between assignments."""
    try:
        return _assignment_of(_kafka_consumer(app))
    except Exception:
        return None


def fetch_state(app: Any, tp: TP) -> FetchState | None:
    """The consumer's fetch position and high watermark of ``tp``; None when the consumer is
    not started or ``tp`` is not assigned."""
    assignment = _assignment(app)
    if assignment is None:
        return None
    state = assignment.state_value(AIOKafkaTP(tp.topic, tp.partition))
    if state is None:
        return None
    return FetchState(
        state.highwater,
        state.position,
        bool(state.has_valid_position),
        getattr(state, "timestamp", None),
    )


def records_unread(app: Any, is_input: Callable[[str], bool]) -> int | None:
    """Records of the assigned input partitions not yet handed to the agent: on the broker,
    in aiokafka's fetch buffers or held by the merge (high watermark - 1 - Faust's read offset,
    or - fetch position before the first record is read). None while unknown (starting,
    rebalancing, never fetched)."""
    assignment = _assignment(app)
    if assignment is None:
        return None
    waiting, seen = 0, False
    for tp in assignment.tps:
        if not is_input(tp.topic):
            continue
        state = assignment.state_value(tp)
        if state is None or state.highwater is None or not state.has_valid_position:
            return None
        last = read_offset(app, tp)
        waiting += max(0, state.highwater - (state.position if last is None else last + 1))
        seen = True
    return waiting if seen else None


def consuming(app: Any, tp: TP) -> bool:
    """Faust drops records of partitions it is not consuming right now (paused, revoked)."""
    consumer = app.consumer
    active = consumer._active_partitions
    return active is None or tp in active or tp in consumer._buffered_partitions


def fetch_again(app: Any, tp: TP) -> bool:
    """Put ``tp`` back into the fetch if flow control took it out (``on_buffer_full``).

    Faust stops fetching a partition whose records met a nearly full stream buffer, until
    enough gets from that buffer call it back; True when ``tp`` was out and is back.
    """
    consumer = getattr(app, "consumer", None)  # None: not started
    if tp not in getattr(consumer, "_buffered_partitions", ()):
        return False
    consumer.on_buffer_drop(tp)  # type: ignore[union-attr]
    return True


def fetch_diagnosis(app: Any, tp: TP) -> str:
    """Why aiokafka may not be fetching ``tp`` (for a log line; never raises)."""
    try:
        kafka_consumer = _kafka_consumer(app)
        key = AIOKafkaTP(tp.topic, tp.partition)
        state = _assignment_of(kafka_consumer).state_value(key)
        fetcher = kafka_consumer._fetcher
        unread = fetcher._records.get(key)
        order = list(fetcher._records)
        records = getattr(unread, "_partition_records", None)
        faust = app.consumer
        active = faust._active_partitions
        valid = getattr(state, "has_valid_position", None)
        return (
            f"paused {tp in faust._paused_partitions}, "
            f"buffered {tp in faust._buffered_partitions} "
            f"({len(faust._buffered_partitions)} partitions buffered), "
            f"aiokafka paused {getattr(state, 'paused', None)}, "
            f"aiokafka position {state.position if valid else None}, "
            f"unread fetch {'yes' if unread is not None else 'no'} "
            f"(from offset {getattr(records, 'next_fetch_offset', None)}, "
            f"{order.index(key) + 1 if unread is not None else '-'} of {len(order)} "
            f"partitions in the fetcher's order), "
            f"fetches in flight {len(fetcher._in_flight)}, "
            f"fetch task done {fetcher._fetch_task.done()}, "
            f"faust active {active is None or tp in active}, "
            f"flow active {faust.flow_active}/{app.flow_control.is_active()}, "
            f"producer buffer {app.producer.buffer.pending.qsize()}"
        )
    except Exception as exc:
        return f"aiokafka state unknown ({exc!r})"


def recovery_remaining(app: Any) -> int | None:
    """Changelog records Faust has left to restore into the active tables; None when unknown."""
    try:
        remaining: int = app.tables.recovery.active_remaining_total()
    except Exception:
        return None
    return remaining


def rebalance_diagnosis(app: Any) -> str:
    """Where Faust's rebalance and table recovery stand (for a log line; never raises: what
    cannot be read says so)."""
    probes: list[tuple[str, Callable[[], object]]] = [
        ("rebalancing", lambda: app.rebalancing),
        ("in recovery", lambda: in_recovery(app)),
        ("generation", lambda: app.consumer_generation_id),
        ("recovery started", lambda: app.tables.recovery.signal_recovery_start.is_set()),
        ("recovery completed", lambda: app.tables.recovery.completed.is_set()),
        ("changelog records to restore", lambda: app.tables.recovery.active_remaining_total()),
        ("flow control active", lambda: app.flow_control.is_active()),
        ("consumer flow active", lambda: app.consumer.flow_active),
        ("assigned partitions", lambda: len(app.consumer.assignment())),
        ("paused partitions", lambda: len(app.consumer._paused_partitions)),
    ]
    return ", ".join(f"{label} {_read(probe)}" for label, probe in probes)


def _read(probe: Callable[[], object]) -> object:
    try:
        return probe()
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def leader_answered_within(app: Any, tp: TP, seconds: float) -> bool:
    """Whether ``tp``'s leader broker answered a fetch in the last ``seconds``: any assigned
    partition it leads was reported by a fetch response since. False while ``tp`` has no
    known leader; True when the consumer's state cannot be read (nothing to conclude)."""
    try:
        kafka_consumer = _kafka_consumer(app)
        cluster = kafka_consumer._client.cluster
        assignment = _assignment_of(kafka_consumer)
        leader = cluster.leader_for_partition(AIOKafkaTP(tp.topic, tp.partition))
        if leader is None or leader < 0:
            return False
        since_ms = 1000.0 * (time.time() - seconds)
        for other in assignment.tps:
            state = assignment.state_value(other)
            reported = getattr(state, "timestamp", None)
            fresh = reported is not None and reported >= since_ms
            if fresh and cluster.leader_for_partition(other) == leader:
                return True
        return False
    except Exception:
        return True


def read_offset(app: Any, tp: TP) -> int | None:
    """The offset of the last message Faust handed to a stream from ``tp``."""
    offset: int | None = app.consumer._read_offset.get(tp)
    return offset


def assigned_partitions(app: faust.App, topic: str) -> set[int]:
    """The partitions of ``topic`` this worker owns (its actives, not its standbys)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def in_recovery(app: faust.App) -> bool:
    """Whether the app is restoring tables from their changelogs."""
    return bool(getattr(app, "in_recovery", False))


class CxWorker(faust.Worker):  # type: ignore[misc]
    """mode leaves the root logger at DEBUG and filters in its handlers, so every debug call
    in aiokafka and Faust builds a log record on the hot path; set the level where it counts.
    Repeats from the Kafka clients are rate-limited: an outage logs a line per 10 s, not
    thousands."""

    def _setup_logging(self) -> None:
        super()._setup_logging()
        logging.getLogger().setLevel(level_number(self.loglevel))
        log_limits.install()
