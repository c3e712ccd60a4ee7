"""The worker's partition count: the cluster's, agreed by every co-partitioned topic."""

from __future__ import annotations

import pytest

from agents.worker.partitions import PartitionMismatch, agreed_partitions, copartitioned
from streams.topics import Topics


def test_the_inputs_count_is_the_workers() -> None:
    counts = dict.fromkeys(copartitioned(Topics("x.")), 6)
    assert agreed_partitions(counts, None) == 6
    assert agreed_partitions(counts, 6, {"x-customers-changelog": 6}) == 6


def test_ticks_and_alert_actions_are_co_partitioned_with_the_events() -> None:
    names = copartitioned(Topics("x."))
    assert {"x.internal.ticks", "x.alert-actions", "x.purchases"} <= set(names)


def test_disagreeing_inputs_are_named_with_their_counts() -> None:
    counts = {"x.purchases": 6, "x.support-tickets": 4, "x.feedback": 6}
    with pytest.raises(PartitionMismatch) as refused:
        agreed_partitions(counts, None)
    message = str(refused.value)
    assert "x.support-tickets has 4" in message and "x.purchases has 6" in message
    assert "--partitions" in message


def test_a_setting_that_disagrees_with_the_cluster_names_both() -> None:
    with pytest.raises(PartitionMismatch, match=r"--partitions 12, but the input topics have 4"):
        agreed_partitions({"x.purchases": 4}, 12)
    with pytest.raises(PartitionMismatch, match="at least 1"):
        agreed_partitions({"x.purchases": 4}, 0)


def test_changelogs_sized_for_other_partitions_name_the_fix() -> None:
    with pytest.raises(PartitionMismatch, match=r"app-customers-changelog has 4.*--app-id"):
        agreed_partitions({"x.purchases": 6}, None, {"app-customers-changelog": 4})


def test_no_input_topic_says_how_to_create_them() -> None:
    with pytest.raises(PartitionMismatch, match="cxstream topics create"):
        agreed_partitions({}, None)
