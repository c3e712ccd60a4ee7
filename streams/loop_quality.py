"""Live quality of churn alerts: rolling precision by priority and playbook, share actioned.

Precision is judged on the alerts whose prediction was left to play out: churn alerts nobody
contacted (the control group and delivered alerts without an intervention), where ``lost``
means the alert was right. A saved customer would otherwise count against the alert.

Rolling: over the outcomes decided within the last ``window_days`` of event time before the
newest decision seen. The counts are kept per (priority, playbook), so gauges of several
workers add up (precision = sum(lost) / sum(judged)). Pure and deterministic: the same outcomes
give the same figures whatever order they arrive in.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams.alert_loop import AlertOutcome, OutcomeKind
from streams.domain import AlertType

DAY = 86400.0
Key = tuple[str, str]  # (priority, playbook)


@dataclass(slots=True)
class RollingPrecision:
    window_days: float = 90.0
    newest: float = float("-inf")
    # per key: sorted (decided_at, alert_id, lost) of judged churn outcomes
    judged: dict[Key, list[tuple[float, str, bool]]] = field(default_factory=dict)
    handled: list[tuple[float, str, bool]] = field(default_factory=list)  # every churn alert

    def add(self, outcomes: Iterable[AlertOutcome]) -> None:
        for o in outcomes:
            if o.type is not AlertType.CHURN_RISK:
                continue
            self.newest = max(self.newest, o.decided_at)
            bisect.insort(self.handled, (o.decided_at, o.alert_id, o.handled))
            if o.intervened:
                continue
            key = (o.priority.value, o.playbook)
            lost = o.outcome is OutcomeKind.LOST
            bisect.insort(self.judged.setdefault(key, []), (o.decided_at, o.alert_id, lost))
        self._evict()

    def _evict(self) -> None:
        cut = (self.newest - self.window_days * DAY, "\uffff", True)
        for key, rows in list(self.judged.items()):
            del rows[: bisect.bisect_right(rows, cut)]
            if not rows:
                del self.judged[key]
        del self.handled[: bisect.bisect_right(self.handled, cut)]

    def counts(self) -> dict[Key, tuple[int, int]]:
        """(lost, judged) per (priority, playbook) within the window."""
        return {k: (sum(r[2] for r in rows), len(rows)) for k, rows in self.judged.items()}

    def precision(self) -> dict[Key, float]:
        return {k: lost / n for k, (lost, n) in self.counts().items() if n}

    def actioned_share(self) -> float | None:
        """Share of churn alerts decided within the window that a CX team acted on at all."""
        if not self.handled:
            return None
        return sum(r[2] for r in self.handled) / len(self.handled)
