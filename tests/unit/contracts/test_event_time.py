"""Plausible event time: a window around the record's Kafka timestamp (or the wall clock)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from streams.contracts import (
    JSON,
    LIVE_WINDOW,
    REPLAY_WINDOW,
    Decoded,
    EventTimeWindow,
    Rejected,
    decode_event,
    decode_message,
    encode_event,
)
from streams.contracts.limits import NOT_BEFORE
from streams.contracts.mapping import EVENT_KINDS, event_to_record
from streams.domain import Event
from tests.unit.contracts import samples

NOW = samples.NOW
DAY = 86_400.0
YEAR = 365 * DAY


def decode(
    event: Event,
    *,
    now: float = samples.NOW,
    record_time: float | None = None,
    window: EventTimeWindow | None = None,
) -> Decoded | Rejected:
    key, value, headers = encode_event(event)
    kind = EVENT_KINDS[type(event)]
    return decode_event(kind, key, value, headers, now=now, record_time=record_time, window=window)


def rejected(result: Decoded | Rejected) -> str:
    assert isinstance(result, Rejected), result
    assert result.reason == "event_time_out_of_range", result
    return result.detail


def test_seconds_sent_as_milliseconds_are_named() -> None:
    detail = rejected(decode(samples.purchase(occurred_at=1_700_000_000 / 1000)))
    assert detail.startswith(
        "occurred_at 1970-01-20T16:13:20.000Z looks like seconds sent as milliseconds;"
        " send epoch milliseconds"
    )
    assert "2023-10-15T22:13:20.000Z .. 2023-11-15T22:13:20.000Z" in detail  # the window
    assert "the wall clock 2023-11-14T22:13:20.000Z" in detail


def test_a_1970_date_is_rejected_even_by_replay() -> None:
    for window in (LIVE_WINDOW, REPLAY_WINDOW):
        detail = rejected(decode(samples.purchase(occurred_at=100 * DAY), window=window))
        assert detail.startswith("occurred_at 1970-04-11T00:00:00.000Z outside")
        assert "send the real event time in epoch milliseconds" in detail


def test_window_is_relative_to_the_record_timestamp() -> None:
    old = samples.purchase(occurred_at=samples.NOW - 40 * DAY)
    # far older than its record's timestamp: an external service sent stale history live
    detail = rejected(decode(old, record_time=samples.NOW))
    assert "the record timestamp 2023-11-14T22:13:20.000Z" in detail
    assert "stamp the record timestamp with occurred_at" in detail
    # stamped with its event time (the cxstream rule): accepted, however late it is read
    for now in (samples.NOW, samples.NOW + 5 * YEAR):
        assert isinstance(decode(old, now=now, record_time=old.occurred_at), Decoded)


def test_verdict_is_deterministic_given_record_and_timestamp() -> None:
    ahead = samples.purchase(occurred_at=samples.NOW - 10 * DAY)
    behind = samples.purchase(occurred_at=samples.NOW - 80 * DAY)
    ok = samples.purchase(occurred_at=samples.NOW - 44 * DAY)
    for now in (samples.NOW, samples.NOW + 1, samples.NOW + 50 * YEAR):  # first read, replays
        for event, verdict in ((ahead, Rejected), (behind, Rejected), (ok, Decoded)):
            assert isinstance(decode(event, now=now, record_time=samples.NOW - 45 * DAY), verdict)


def test_a_producer_set_timestamp_cannot_carry_an_event_into_the_future() -> None:
    year_9000 = 221_845_392_000.0
    hostile = samples.purchase(occurred_at=year_9000)
    detail = rejected(decode(hostile, record_time=year_9000))
    assert "check the producer's clock" in detail
    skewed = samples.purchase(occurred_at=samples.NOW + 3600)  # a producer clock 1 h ahead
    assert isinstance(decode(skewed, record_time=skewed.occurred_at), Decoded)


@pytest.mark.parametrize("record_time", [None, 0.0, -1.0])
def test_without_a_timestamp_the_wall_clock_is_the_reference(record_time: float | None) -> None:
    event = samples.purchase(occurred_at=samples.NOW - 31 * DAY)
    assert "the wall clock" in rejected(decode(event, record_time=record_time))
    assert isinstance(decode(event, now=event.occurred_at, record_time=record_time), Decoded)


def test_replay_window_takes_old_history_but_not_the_future() -> None:
    assert isinstance(
        decode(samples.purchase(occurred_at=NOT_BEFORE), window=REPLAY_WINDOW), Decoded
    )
    ten_years = samples.purchase(occurred_at=samples.NOW - 10 * YEAR)
    assert isinstance(decode(ten_years, window=REPLAY_WINDOW), Decoded)
    assert rejected(decode(ten_years))  # the live window refuses it
    ahead = samples.purchase(occurred_at=samples.NOW + 120)
    assert rejected(decode(ahead, window=REPLAY_WINDOW))
    assert isinstance(decode(ahead), Decoded)  # live: one day of skew


def test_other_time_fields_get_the_floor() -> None:
    sla = rejected(decode(samples.ticket(sla_due_at=1_700_000.0)))
    assert sla.startswith("sla_due_at 1970-01-20T16:13:20.000Z looks like seconds sent as")
    signup = rejected(decode(samples.profile(signup_at=100.0)))
    assert signup.startswith("signup_at 1970-01-01T00:01:40.000Z is implausible")
    assert isinstance(decode(samples.profile(signup_at=20 * YEAR)), Decoded)  # 1989


def test_microseconds_are_named_too() -> None:
    record = {**event_to_record(samples.purchase()), "occurred_at": round(samples.T * 1e6)}
    headers = [("content-type", JSON.encode())]
    result = decode_event("purchases", b"cust-1", json.dumps(record).encode(), headers, now=NOW)
    assert isinstance(result, Rejected) and result.reason == "invalid_event_time"
    assert "looks like microseconds sent as milliseconds" in result.detail


def test_window_from_settings_in_days() -> None:
    window = EventTimeWindow.from_days(7, 0.5)
    assert window.bounds(samples.NOW) == (samples.NOW - 7 * DAY, samples.NOW + DAY / 2)
    assert EventTimeWindow.from_days(None, 0).bounds(samples.NOW) == (NOT_BEFORE, samples.NOW)
    assert window.bounds(samples.NOW, now=samples.NOW - DAY)[1] == samples.NOW - DAY / 2
    with pytest.raises(ValueError):
        EventTimeWindow(max_ahead=-1)


@dataclass
class StampedMessage:
    """A consumed message with a Kafka timestamp, as confluent_kafka.Message has one."""

    _value: bytes
    _key: bytes
    _headers: list[tuple[str, bytes | None]]
    _millis: int

    def topic(self) -> str:
        return "cx.purchases"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 1

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, self._millis)  # TIMESTAMP_CREATE_TIME


def test_decode_message_uses_the_kafka_timestamp() -> None:
    event = samples.purchase(occurred_at=samples.NOW - 60 * DAY)
    key, value, headers = encode_event(event)
    stamped = StampedMessage(value, key, list(headers), round(event.occurred_at * 1000))
    assert isinstance(decode_message(stamped, "purchases", now=samples.NOW), Decoded)
    stamped._millis = round(samples.NOW * 1000)
    assert rejected(decode_message(stamped, "purchases", now=samples.NOW))
