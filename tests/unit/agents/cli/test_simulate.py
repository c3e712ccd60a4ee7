"""``cxstream simulate`` without a broker: start times and what reaches the producer."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from agents.cli.commands.simulate import parse_start, produce_all
from agents.cli.producing import EventProducer
from agents.settings import KafkaSettings
from streams.contracts.mapping import EVENT_KINDS
from streams.simulator import DAY, DEFAULT_START, iter_events
from streams.topics import Topics
from tests.unit.agents.cli.test_producing import FakeProducer


def test_parse_start() -> None:
    assert parse_start(None, 30) == DEFAULT_START
    assert parse_start("now", 10, now=1_000_000.0) == 1_000_000.0 - 10 * DAY
    assert parse_start("2024-01-01", 5) == 1_704_067_200.0
    assert parse_start("2024-01-01T02:00:00+02:00", 5) == 1_704_067_200.0
    with pytest.raises(argparse.ArgumentTypeError):
        parse_start("yesterday", 5)


def test_every_simulated_event_is_produced_in_order() -> None:
    fake = FakeProducer()
    producer = EventProducer(KafkaSettings(), Topics("s."), producer=fake)
    expected = list(iter_events(30, 20, 5))
    count = produce_all(producer, iter_events(30, 20, 5), DEFAULT_START, 20, show=False)
    assert count == len(expected) == len(fake.messages)
    assert [m["key"] for m in fake.messages] == [e.customer_id.encode() for e in expected]
    assert producer.report.sent == Counter(EVENT_KINDS[type(e)] for e in expected)
