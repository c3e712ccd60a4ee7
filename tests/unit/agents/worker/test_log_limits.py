"""A burst of identical client errors (a broker outage) becomes a few lines with counts."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from agents.worker.log_limits import RepeatLimiter, install


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, Clock]]:
    root = logging.getLogger("limit-test")
    root.propagate, root.level = False, logging.DEBUG
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    clock = Clock()
    handler.addFilter(RepeatLimiter(10.0, loggers=("limit-test.aiokafka",), clock=clock))
    root.addHandler(handler)
    yield out, clock
    root.removeHandler(handler)


def test_an_outage_burst_becomes_one_line_per_interval_with_the_count(
    captured: tuple[io.StringIO, Clock],
) -> None:
    out, clock = captured
    conn = logging.getLogger("limit-test.aiokafka.conn")
    for i in range(63_000):  # what 16 s of broker outage produced, unlimited
        clock.now = i * 16 / 63_000
        conn.error("Unable connect to node with id %s: %s", i % 3, "Connect call failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("limit-test.aiokafka.conn ERROR Unable connect to node")
    assert "similar lines suppressed in 10s" in lines[1]
    suppressed = int(lines[1].split("[")[1].split()[0])
    assert 39_000 < suppressed < 40_000  # the first 10 s of the burst


def test_distinct_messages_and_other_loggers_pass(
    captured: tuple[io.StringIO, Clock],
) -> None:
    out, _ = captured
    conn = logging.getLogger("limit-test.aiokafka.conn")
    mine = logging.getLogger("limit-test.cxstream")
    for _ in range(5):
        conn.error("Unable connect to node %s", 1)
        conn.warning("Metadata request failed: %s", "timeout")
        mine.error("sink failed")
    lines = out.getvalue().splitlines()
    assert sum("Unable connect" in line for line in lines) == 1
    assert sum("Metadata request failed" in line for line in lines) == 1
    assert sum("sink failed" in line for line in lines) == 5  # not a Kafka client: untouched


def test_a_malformed_call_is_not_raised_by_the_filter() -> None:
    limiter = RepeatLimiter(10.0, loggers=("aiokafka",))
    record = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "%d nodes", ("x",), None)
    assert limiter.filter(record) is True


def test_install_puts_one_shared_filter_on_each_handler_once() -> None:
    logger = logging.getLogger("limit-test-install")
    first, second = logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())
    logger.addHandler(first)
    logger.addHandler(second)
    try:
        install(logger=logger)
        install(logger=logger)
        assert len(first.filters) == len(second.filters) == 1
        assert first.filters[0] is second.filters[0]
    finally:
        logger.removeHandler(first)
        logger.removeHandler(second)


def test_rebalance_milestones_are_never_limited_but_their_errors_are() -> None:
    """Defect 16's rebalance was hidden: its Revoking/Setting newly assigned lines were dropped
    as repeats of the previous rebalance's, six seconds earlier."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    clock = Clock()
    handler.addFilter(RepeatLimiter(10.0, clock=clock))
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.addHandler(handler)
    before = coordinator.propagate, coordinator.level
    coordinator.propagate, coordinator.level = False, logging.DEBUG
    try:
        for _ in range(3):
            coordinator.info("Revoking previously assigned partitions %s", {"purchases-1"})
            coordinator.error("Group Coordinator Request failed: NodeNotReadyError")
            clock.now += 2.0
    finally:
        coordinator.removeHandler(handler)
        coordinator.propagate, coordinator.level = before
    lines = out.getvalue().splitlines()
    assert sum(line.startswith("INFO Revoking") for line in lines) == 3
    assert sum(line.startswith("ERROR") for line in lines) == 1
