"""The feedback-loop part of a customer's state: tracked alerts, their actions and outcomes.

Bounded like the rest of the state: at most ``loop.max_alerts`` alerts (newest kept) and
``loop.max_actions_per_alert`` actions per alert (newest kept). Every field merges
commutatively (sets keyed by event id, min of times), so folding the same actions in any order
gives the same record, and folding one twice changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: One action: (occurred_at, event_id, kind, actor, detail); tuples order by time, then id.
ActionRecord = tuple[float, str, str, str, str]
NOT_CLOSED: tuple[float, str] = (math.inf, "")


@dataclass(frozen=True, slots=True)
class TrackedAlert:
    """One alert the loop follows until its outcome is decided."""

    alert_id: str
    type: str  # "" while only actions are known (an action folded before its alert)
    opened_at: float  # inf while unknown
    priority: str
    playbook: str  # playbook key (win_back, ticket_trouble, ..., referral_ask)
    group: str  # delivered | control
    anchor: float  # opened_at, or the earliest action while unknown: eviction order
    actions: tuple[ActionRecord, ...]  # ascending, newest max_actions_per_alert kept
    first_action_at: float  # earliest action ever (inf when none): survives the cap
    intervened_at: float  # earliest contacted / offer_made (inf when none)
    closed_by: str  # "" or kind:reason of the earliest closing action, by (time, event id)
    closed_key: tuple[float, str]  # (time, event id) of that action; (inf, "") when none
    success_at: float  # earliest order / recovery / referral within the window (inf)
    outcome: str  # "" until decided

    @property
    def known(self) -> bool:
        return bool(self.type)

    @property
    def handled(self) -> bool:
        return self.first_action_at < math.inf

    @property
    def intervened(self) -> bool:
        return self.intervened_at < math.inf


@dataclass(frozen=True, slots=True)
class Loop:
    alerts: tuple[TrackedAlert, ...]  # ordered by (anchor, alert_id)

    def find(self, alert_id: str) -> TrackedAlert | None:
        for a in self.alerts:
            if a.alert_id == alert_id:
                return a
        return None

    def put(self, rec: TrackedAlert, max_alerts: int) -> Loop:
        """This loop with ``rec`` replacing its namesake; the newest ``max_alerts`` kept."""
        others = [a for a in self.alerts if a.alert_id != rec.alert_id]
        alerts = sorted([*others, rec], key=lambda a: (a.anchor, a.alert_id))
        return Loop(tuple(alerts[-max_alerts:]))


NO_LOOP = Loop(())


def unknown_alert(alert_id: str, at: float) -> TrackedAlert:
    """A record for an alert seen only through an action so far."""
    inf = math.inf
    return TrackedAlert(alert_id, "", inf, "", "", "", at, (), inf, inf, "", NOT_CLOSED, inf, "")
