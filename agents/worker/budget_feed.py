"""Feed the alert budget: a batch's churn openings, and how far each partition has opened all.

With ``loss.alert_budget_per_day`` set, every churn opening the customer agent publishes is also
a *candidate* for its CX team's daily budget, decided by the budget agent
(:mod:`agents.worker.budget_agent`) from one internal topic. A candidate is the alert message
itself, keyed by team. A *mark* says that an input partition will open no alert before an event
time (:meth:`streams.deadline_index.DeadlineIndex.mark`); the agent decides a day once every
partition's mark has passed it.

Both go through the worker's one librdkafka producer to the topic's single partition, which
keeps their order: a batch's candidates are produced before its flush and the deadline index
learns the batch's stream time only after it, so a mark never overtakes a candidate it covers.
Marks are sent when they move a partition past another budget day, about one per partition and
event-time day, and once per partition after each (re)assignment.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable

from agents.worker.fold_ports import BatchOutput
from agents.worker.outputs import OutputProducer, OutputRejected
from streams.alert_notify import wants_notification
from streams.contracts import decode_alert
from streams.deadline_index import DeadlineIndex
from streams.domain import Alert, AlertAction, AlertType
from streams.model.budget import day_of

MARK_HEADER = "cx-budget-mark"
MARK_VALUE = struct.Struct(">id")  # input partition, mark (event time, seconds)
MARKS_OWNER = "budget-marks"

log = logging.getLogger(__name__)


def encode_mark(partition: int, mark: float) -> tuple[bytes, list[tuple[str, bytes]]]:
    return MARK_VALUE.pack(partition, mark), [(MARK_HEADER, b"1")]


def decode_mark(value: bytes) -> tuple[int, float]:
    partition, mark = MARK_VALUE.unpack(value)
    return int(partition), float(mark)


class BudgetFeed:
    """The customer agent's side of the budget: candidates per batch, marks per timer run."""

    def __init__(self, topic: str, alerts_topic: str, outputs: OutputProducer, grace_s: float):
        self.topic = topic
        self.alerts_topic = alerts_topic
        self.outputs = outputs
        self.grace_s = grace_s
        self._marked: dict[int, int] = {}  # partition -> budget day its last mark closes

    def candidates(self, out: BatchOutput) -> int:
        """Produce the batch's churn openings (not the holdout's) as candidates."""
        messages = [m for m in out.messages if m[0] == self.alerts_topic]
        if len(messages) != len(out.alerts):  # each alert has its message, in order: a bug
            log.error("alert budget: %d alerts, %d alert messages", len(out.alerts), len(messages))
            decoded = [decode_alert(value, headers or []) for _, _, value, headers in messages]
            alerts = [a for a in decoded if isinstance(a, Alert)]
            messages = [m for m, a in zip(messages, decoded, strict=True) if isinstance(a, Alert)]
        else:
            alerts = out.alerts
        sent = 0
        for alert, (_, _, value, headers) in zip(alerts, messages, strict=True):
            if alert.type is not AlertType.CHURN_RISK or alert.action is not AlertAction.OPENED:
                continue
            if wants_notification(headers or ()) is False:  # control group: nobody acts on it
                continue
            team = (alert.cx_team or "").encode()
            self.outputs.produce(self.topic, team, value, list(headers or ()), partition=0)
            sent += 1
        return sent

    def forget(self, keep: Iterable[int]) -> None:
        """After a rebalance: partitions that stay keep their last mark, new ones send one."""
        kept = set(keep)
        self._marked = {p: d for p, d in self._marked.items() if p in kept}

    async def send_marks(self, deadlines: DeadlineIndex, partitions: Iterable[int]) -> int:
        """Produce and flush the marks of ``partitions`` that close another budget day.

        A mark the broker refuses is sent again at the next run (marks are idempotent).
        """
        moved: dict[int, int] = {}
        for partition in partitions:
            mark = deadlines.mark(partition)
            closes = day_of(mark - self.grace_s)
            last = self._marked.get(partition)
            if last is not None and closes <= last:
                continue
            value, headers = encode_mark(partition, mark)
            self.outputs.produce(self.topic, b"", value, headers, partition=0, owner=MARKS_OWNER)
            moved[partition] = closes
        if not moved:
            return 0
        try:
            await self.outputs.flush(MARKS_OWNER)
        except OutputRejected as exc:  # tiny records: the deployment's fault (ACLs...)
            log.error("the broker refused alert-budget marks, sent again next time: %s", exc)
            return 0
        self._marked.update(moved)
        return len(moved)
