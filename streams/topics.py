"""Kafka topic names, in one place for the worker, the CLI, the tests and docker-compose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from streams.errors import ContractError

#: The kinds of customer event that producers send, each to its own input topic (the Avro
#: record kinds of docs/contracts.md).
EVENT_INPUT_KINDS: Final = ("purchases", "tickets", "feedback", "profiles")
#: Everything the customer agent folds: the event inputs, then the CX teams' alert actions.
#: The order is the order of the offset marks in each stored customer envelope: never reorder.
INPUT_KINDS: Final = (*EVENT_INPUT_KINDS, "alert_actions")
ACTIONS_KIND: Final = "alert_actions"


@dataclass(frozen=True, slots=True)
class Topics:
    """All topics cxstream reads or writes, optionally under a prefix (tests use one each)."""

    prefix: str = "cx."

    @property
    def purchases(self) -> str:
        return f"{self.prefix}purchases"

    @property
    def tickets(self) -> str:
        return f"{self.prefix}support-tickets"

    @property
    def feedback(self) -> str:
        return f"{self.prefix}feedback"

    @property
    def profiles(self) -> str:
        return f"{self.prefix}customer-profiles"

    @property
    def alert_actions(self) -> str:
        """Input: what CX teams did with alerts; keyed and co-partitioned by customer id."""
        return f"{self.prefix}alert-actions"

    @property
    def alert_outcomes(self) -> str:
        """Compacted, keyed by alert id: each alert's outcome once its window passed."""
        return f"{self.prefix}alert-outcomes"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def health(self) -> str:
        return f"{self.prefix}customer-health"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}dead-letter"

    @property
    def delivery_dead_letter(self) -> str:
        return f"{self.prefix}alert-delivery-dead-letter"

    @property
    def model_parameters(self) -> str:
        """Compacted: the versioned parameter records ``cxstream fit --publish`` writes."""
        return f"{self.prefix}model-parameters"

    @property
    def alerts_admitted(self) -> str:
        """With an alert budget: the churn openings each CX team's daily budget admitted."""
        return f"{self.prefix}alerts-admitted"

    @property
    def alert_budget(self) -> str:
        """Internal, one partition: churn openings competing for a budget, and stream-time marks."""
        return f"{self.prefix}internal.alert-budget"

    @property
    def ticks(self) -> str:
        """Internal: timer ticks for customers whose inactivity deadline passed."""
        return f"{self.prefix}internal.ticks"

    def topic(self, kind: str) -> str:
        """The input topic of ``kind`` (one of :data:`INPUT_KINDS`)."""
        if kind not in INPUT_KINDS:
            raise ContractError(f"not an input kind: {kind!r}; expected one of {INPUT_KINDS}")
        name: str = getattr(self, kind)
        return name

    @property
    def inputs(self) -> tuple[str, ...]:
        """The event input topics producers write (:data:`EVENT_INPUT_KINDS`)."""
        return tuple(self.topic(kind) for kind in EVENT_INPUT_KINDS)

    @property
    def customer_inputs(self) -> tuple[str, ...]:
        """What the customer agent folds (:data:`INPUT_KINDS`, in that order)."""
        return tuple(self.topic(kind) for kind in INPUT_KINDS)


DEFAULT_TOPICS = Topics()
#: Partitions of each co-partitioned topic that ``cxstream topics create`` (and a worker
#: finding them missing) creates: room for a dozen workers. A worker reads the real count from
#: the cluster; more partitions than workers only costs a little per-partition overhead.
DEFAULT_PARTITIONS: Final = 12
#: What tests, the demo and the benchmarks create on one machine (``ensure_topics``'s
#: default): few partitions start and rebalance fastest with one or two workers.
INPUT_PARTITIONS: Final = 4
