"""A customer's alert action history, as the API and ``cxstream customer`` show it.

Built from the feedback-loop part of the state (streams.model.loop_state): every tracked alert
a team acted on or whose outcome is decided, newest first, with its actions oldest first.
"""

from __future__ import annotations

import math
from typing import Any

from streams.model import CustomerState


def action_history(state: CustomerState) -> list[dict[str, Any]]:
    """JSON-ready rows: alert id, type, group, opened, outcome, and each action."""
    rows: list[dict[str, Any]] = []
    for rec in reversed(state.loop.alerts):
        if not rec.actions and not rec.outcome:
            continue
        rows.append(
            {
                "alert_id": rec.alert_id,
                "type": rec.type or None,  # None: only actions seen so far
                "group": rec.group or None,
                "opened_at": rec.opened_at if math.isfinite(rec.opened_at) else None,
                "outcome": rec.outcome or None,
                "closed_by": rec.closed_by or None,
                "actions": [
                    {"at": at, "action": kind, "actor": actor, "detail": detail or None}
                    for at, _, kind, actor, detail in rec.actions
                ],
            }
        )
    return rows
