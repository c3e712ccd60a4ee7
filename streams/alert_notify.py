"""Which alert messages should reach a CX team's chat: the holdout and handled alerts stay quiet.

Decided while folding, from the customer's state right after the alert was emitted, so every
replay and every worker decides the same (the worker writes the verdict into the alert
message's headers; the webhook delivery reads it):

- a control-group alert (streams.model.outcomes.holdout_group) is never delivered: the
  holdout measures what happens when nobody acts;
- an opening is delivered;
- an escalation (an update to a higher priority) re-notifies the team, unless someone has
  already acted on the alert: a handled alert is not re-notified;
- a resolution is delivered only when the model resolved an alert nobody acted on (a team
  that closed or handled it already knows).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from streams.alert_loop import Group
from streams.domain import Alert, AlertAction, Priority
from streams.model import CustomerState

NOTIFY_HEADER: Final = "cx-notify"  # "true" / "false"
GROUP_HEADER: Final = "cx-holdout-group"  # delivered / control
_RANK: Final = {p.value: i for i, p in enumerate(Priority)}


def notify_headers(
    alerts: Iterable[Alert], before: CustomerState | None, after: CustomerState
) -> list[list[tuple[str, bytes]]]:
    """Headers for each of ``alerts``, emitted in order by one fold step from ``before``."""
    priority = {a.alert_id: a.priority for a in before.alerts} if before else {}
    out: list[list[tuple[str, bytes]]] = []
    for alert in alerts:
        rec = after.loop.find(alert.alert_id)
        group = rec.group if rec is not None and rec.group else Group.DELIVERED.value
        handled = rec is not None and rec.handled
        previous = priority.get(alert.alert_id)
        priority[alert.alert_id] = alert.priority.value
        out.append(
            [
                (NOTIFY_HEADER, b"true" if _notify(alert, group, handled, previous) else b"false"),
                (GROUP_HEADER, group.encode()),
            ]
        )
    return out


def _notify(alert: Alert, group: str, handled: bool, previous: str | None) -> bool:
    if group == Group.CONTROL.value:
        return False
    if alert.action is AlertAction.OPENED:
        return True
    if handled:
        return False
    if alert.action is AlertAction.UPDATED:
        return previous is not None and _RANK[alert.priority.value] > _RANK.get(previous, 0)
    return True  # resolved by the model, nobody having acted


def wants_notification(headers: Iterable[tuple[str, bytes | None]]) -> bool | None:
    """The worker's verdict from a message's headers; None when it carries none (older data)."""
    for name, value in headers:
        if name == NOTIFY_HEADER and value is not None:
            return value == b"true"
    return None
