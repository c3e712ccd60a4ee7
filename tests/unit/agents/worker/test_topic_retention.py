"""Which topics would delete a history by event time (Kafka's retention is by timestamp)."""

from __future__ import annotations

from agents.worker.topic_admin import KEEP_FOREVER, WEEK_MS, TopicState, retention_problems

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000


def _topic(name: str, config: dict[str, str], partitions: int | None = 6) -> TopicState:
    return TopicState(name, 6, partitions, config)


def test_a_history_older_than_a_topics_retention_is_named_with_that_retention() -> None:
    states = [
        _topic("cx.purchases", {"cleanup.policy": "delete", "retention.ms": str(4 * WEEK_MS)}),
        _topic("cx.tickets", {"cleanup.policy": "delete", "retention.ms": str(KEEP_FOREVER)}),
        _topic("cx.profiles", {"cleanup.policy": "compact", "retention.ms": str(WEEK_MS)}),
    ]
    problems = retention_problems(states, NOW_MS - 90 * DAY_MS, NOW_MS, WEEK_MS)
    assert problems == ["cx.purchases keeps records 28 days"]


def test_a_history_inside_every_retention_fits() -> None:
    states = [
        _topic("cx.purchases", {"cleanup.policy": "delete", "retention.ms": str(4 * WEEK_MS)}),
        _topic("cx.feedback", {"cleanup.policy": "compact,delete", "retention.ms": str(WEEK_MS)}),
    ]
    assert retention_problems(states, NOW_MS - 6 * DAY_MS, NOW_MS, WEEK_MS) == []
    later = retention_problems(states, NOW_MS - 8 * DAY_MS, NOW_MS, WEEK_MS)
    assert later == ["cx.feedback keeps records 7 days"]  # compact,delete still deletes


def test_a_missing_topic_is_judged_by_the_brokers_auto_create_retention() -> None:
    missing = [_topic("cx.feedback", {}, partitions=None)]
    old = NOW_MS - 30 * DAY_MS
    assert retention_problems(missing, old, NOW_MS, WEEK_MS) == [
        "cx.feedback does not exist; auto-created, it would keep records 7 days"
    ]
    assert retention_problems(missing, old, NOW_MS, KEEP_FOREVER) == []
