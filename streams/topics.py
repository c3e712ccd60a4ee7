"""Kafka topic names, in one place for the worker, the CLI, the tests and docker-compose."""

from __future__ import annotations

from dataclasses import dataclass


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
    def ticks(self) -> str:
        """Internal: timer ticks for customers whose inactivity deadline passed."""
        return f"{self.prefix}internal.ticks"

    @property
    def inputs(self) -> tuple[str, str, str, str]:
        return (self.purchases, self.tickets, self.feedback, self.profiles)

    @property
    def customer_inputs(self) -> tuple[str, str, str, str, str]:
        """What the customer agent folds: the event inputs, then the alert actions."""
        return (*self.inputs, self.alert_actions)


DEFAULT_TOPICS = Topics()
INPUT_PARTITIONS = 4  # all input topics are co-partitioned by customer_id
