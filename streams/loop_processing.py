"""The pipeline's fold with the feedback loop: model, alert actions, outcomes.

Wraps :mod:`streams.processing` (which stays the model alone, as the golden tests pin it):
every input, action or tick is folded as there, then :func:`streams.model.outcomes.observe`
tracks the alerts it emitted and decides the outcomes whose window ended. The worker, the
evaluation and the simulator all fold through these functions, so they agree exactly.
"""

from __future__ import annotations

from streams.alert_loop import AlertActionEvent, AlertOutcome
from streams.domain import Alert, Event
from streams.model import CustomerState, ModelConfig, new_state, next_deadline
from streams.model.actions import fold_action
from streams.model.outcomes import observe, outcome_deadline
from streams.processing import advance, process_event, process_tick

LoopInput = Event | AlertActionEvent
Folded = tuple[CustomerState, list[Alert], list[AlertOutcome]]


def process_loop_event(
    state: CustomerState | None, event: LoopInput, config: ModelConfig, weight: float = 1.0
) -> Folded:
    """Fold one input event or alert action; returns (state, alerts, outcomes).

    The state is the very object passed in when the input changed nothing (a repeat).
    """
    t = event.occurred_at
    if isinstance(event, AlertActionEvent):
        base = state if state is not None else new_state(event.customer_id, t)
        advanced, alerts = advance(base, t, config)
        assert advanced is not None
        folded, closed = fold_action(advanced, event, config)
        alerts.extend(closed)
    else:
        folded, alerts = process_event(state, event, config, weight)
    final, outcomes = observe(folded, event, alerts, max(t, folded.as_of), config)
    return final, alerts, outcomes


def process_loop_tick(state: CustomerState, until: float, config: ModelConfig) -> Folded:
    """A timer tick: due model ticks, then outcomes whose window ended by ``until``."""
    ticked, alerts = process_tick(state, until, config)
    final, outcomes = observe(ticked, None, alerts, until, config)
    return final, alerts, outcomes


def loop_deadline(state: CustomerState, config: ModelConfig) -> float | None:
    """:func:`next_deadline`, or an outcome's window end if that comes first."""
    found = [
        d for d in (next_deadline(state, config), outcome_deadline(state, config)) if d is not None
    ]
    return min(found) if found else None
