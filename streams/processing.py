"""How the pipeline folds one customer's inputs into the model, deterministically.

Live processing sees timer ticks at arbitrary wall-clock moments; replay sees none. To make both
give the same alerts, every input first runs the inactivity ticks that fell due *before* its
event time (at their exact deadlines), then applies the event. A timer tick is therefore only
an early delivery of work the next event would do anyway, and a late or repeated tick is a
no-op. The pipeline, the replay checker and the evaluation all use these two functions.
"""

from __future__ import annotations

from streams.domain import Alert, Event, Feedback
from streams.model import CustomerState, ModelConfig, apply, next_deadline, tick


def advance(
    state: CustomerState | None, until: float, config: ModelConfig
) -> tuple[CustomerState | None, list[Alert]]:
    """Run every inactivity tick due at or before ``until``, each at its own deadline."""
    alerts: list[Alert] = []
    if state is None:
        return state, alerts
    previous = float("-inf")
    deadline = next_deadline(state, config)
    # A deadline that does not move forward would loop forever: stop there instead.
    while deadline is not None and previous < deadline <= until:
        state, emitted = tick(state, deadline, config)
        alerts.extend(emitted)
        previous, deadline = deadline, next_deadline(state, config)
    return state, alerts


def process_event(
    state: CustomerState | None,
    event: Event,
    config: ModelConfig,
    feedback_weight: float = 1.0,
) -> tuple[CustomerState, list[Alert]]:
    """Catch up on due ticks, then apply ``event`` at its own event time."""
    state, alerts = advance(state, event.occurred_at, config)
    state, emitted = apply(state, event, event.occurred_at, config, feedback_weight=feedback_weight)
    alerts.extend(emitted)
    return state, alerts


def process_tick(
    state: CustomerState, until: float, config: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """A timer tick: stream time reached ``until`` without an event for this customer."""
    advanced, alerts = advance(state, until, config)
    assert advanced is not None
    return advanced, alerts


def integrity_key(feedback: Feedback, shard: int | None = None) -> str | None:
    """Whose survey integrity weighs ``feedback``: its agent, else its location, else nobody.

    The worker keeps one integrity state per customer partition (``shard``), so the state is
    read and written with the feedback's own partition; a replay in one process keeps one.
    """
    if feedback.agent_id:
        subject = f"agent:{feedback.agent_id}"
    elif feedback.location_id:
        subject = f"location:{feedback.location_id}"
    else:
        return None
    return subject if shard is None else f"{shard}|{subject}"
