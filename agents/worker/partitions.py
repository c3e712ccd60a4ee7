"""How many partitions this worker's inputs, ticks and table changelogs have: the cluster's.

A customer's records meet in one task only because every topic the agent merges (the five
inputs and the ticks) and both table changelogs share a partition count and the key's
partitioner: partition ``p`` of each holds the same customers. The count is read from the
cluster at start (or taken from ``--partitions``), so adding workers needs only more
partitions, never a code change; topics that disagree stop the worker with a message naming
each topic and its count, before Faust would fail later with a less helpful
``PartitionsMismatch``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.errors import StackError
from streams.topics import Topics


class PartitionMismatch(StackError):
    """Co-partitioned topics disagree, or disagree with the configured count."""


def copartitioned(topics: Topics) -> list[str]:
    """Every topic whose partition ``p`` must hold the same customers: the agent's inputs
    and the ticks it sends to itself."""
    return [*topics.customer_inputs, topics.ticks]


def partition_counts(
    admin: AdminClient, names: Sequence[str], timeout: float, settle: float = 0.0
) -> dict[str, int]:
    """The partition count of each named topic that exists (absent ones are left out).

    Topics created a moment ago can be missing from the broker's metadata for a short
    while: with ``settle`` > 0, ask again for up to that many seconds until all are there.
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            present = admin.list_topics(timeout=timeout).topics
        except KafkaException as exc:
            raise StackError(f"cannot list topics: {exc}") from exc
        counts = {n: len(present[n].partitions) for n in names if n in present}
        if len(counts) == len(names) or time.monotonic() >= deadline:
            return counts
        time.sleep(0.2)


def agreed_partitions(
    counts: Mapping[str, int], wanted: int | None, changelogs: Mapping[str, int] | None = None
) -> int:
    """The one partition count of co-partitioned ``counts`` (and ``wanted``, when set).

    ``changelogs`` are the tables' existing changelog topics: they were sized when the app id
    first ran, and Faust refuses to start a table whose changelog has a different count.
    """
    if wanted is not None and wanted < 1:
        raise PartitionMismatch(f"--partitions {wanted}: must be at least 1")
    if not counts:
        raise PartitionMismatch("none of the input topics exist; run `cxstream topics create`")
    values = set(counts.values())
    if len(values) > 1:
        raise PartitionMismatch(
            "input topics are co-partitioned by customer id but have different partition "
            f"counts: {_listing(counts)}. Give them all the same count (`kafka-topics.sh "
            "--alter --partitions N` on the smaller ones, then restart every producer and "
            "worker; keys move, so do it before loading data)"
        )
    count = values.pop()
    if wanted is not None and wanted != count:
        raise PartitionMismatch(
            f"--partitions {wanted}, but the input topics have {count}: {_listing(counts)}. "
            f"Drop --partitions (the worker reads the count) or set it to {count}"
        )
    stale = {name: n for name, n in (changelogs or {}).items() if n != count}
    if stale:
        raise PartitionMismatch(
            f"table changelogs were created with other partition counts than the inputs' "
            f"{count}: {_listing(stale)}. They hold state keyed by the old partitions: run "
            "the worker under a new --app-id (it rebuilds its tables from the inputs' "
            "retention) or delete these changelog topics"
        )
    return count


def _listing(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} has {n}" for name, n in sorted(counts.items()))
