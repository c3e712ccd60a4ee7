"""Golden equivalence: the model's observable outputs on simulated populations are pinned.

Recorded before the performance work (JSON codec, uncached deadlines) and checked after it:
every alert (all fields) and every ``next_deadline`` value must be identical, and every
snapshot equal to 9 significant digits. The driver mimics the pipeline: per customer, events in
event-time order through ``process_event`` (ticks due before each event included), a snapshot
and a deadline after each event, a codec round trip every third event (so cached values are
exercised both ways), and a final ``process_tick`` far in the future.

The digests depend on the simulator, the default config and the platform's libm. After an
intended change of behaviour (or of the simulator), regenerate them with
``python -m tests.unit.model.test_golden_equivalence`` (prints the new GOLDEN entries to paste
here) and explain the change in the commit and below.

Regenerated on purpose once so far: SLA breach counted at the due instant, window/stage
deadlines seen by the tick at them, evidence-based won_back, order-independent tie-break of
the latest negative feedback, and the churn-precision defaults (rhythm gap = 80th percentile
shrunk with 2 pseudo-gaps, one-time half-life 120 d, ticket-trouble ramp 90 -> 35, weekly
open-alert recheck, min_burst 3). See docs/model.md.

Snapshot digests regenerated (alerts and deadlines unchanged) when snapshots began to carry the
loss outlook: p_loss, p_alive, expected value and the parameter version (issue 11); and
everything regenerated when the churn alert moved from the noisy-OR risk to the loss probability
(opens at loss.alert_at, priority = value at risk, p_loss / value at risk / parameter version on
every alert, churn deadlines from the loss crossing); snapshot digests again when snapshots
began to carry the purchase statistics `cxstream fit --from-health` reads. "rich" regenerated
when closed tickets leaving the retention in one step began to leave one at a time, oldest first
(a repeated problem no longer counts or not depending on event spacing): one customer's churn
alert changed. "rich" again when a repeated problem stopped vanishing from the success measure
once its earlier ticket left the map (it now moves to the decayed history): 15 outputs of 6
customers changed, the number of alerts did not.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields, is_dataclass
from typing import Any

import pytest

from streams.domain import Event, Feedback
from streams.model import (
    ModelConfig,
    load_config,
    next_deadline,
    observe_feedback,
    snapshot,
    state_from_bytes,
    state_to_bytes,
)
from streams.processing import process_event, process_tick
from streams.simulator import DAY, simulate

POPULATIONS: dict[str, dict[str, Any]] = {
    "rich": {"customers": 300, "days": 365, "seed": 3},
    "purchase_only": {"customers": 300, "days": 365, "seed": 5, "purchase_only": True},
}
# population -> (alerts, deadlines set, alerts+deadlines digest, snapshots digest)
GOLDEN: dict[str, tuple[int, int, str, str]] = {
    "purchase_only": (
        910,
        1239,
        "0e0e87fee7fe52e9fa8ad01a63b1b4c8",
        "89d20ea9b748959203c3c02e67982f8b",
    ),
    "rich": (2104, 5110, "bb6d25062252ce7c2d7f3649fcdecb99", "14c40f04196c885f1cc8f16aaeb0921d"),
}


def _canonical(value: Any) -> Any:
    """Plain nested tuples; floats to 9 significant digits (the snapshot tolerance)."""
    if isinstance(value, float):
        return format(value, ".9g")
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(_canonical(getattr(value, f.name)) for f in fields(value)))
    if isinstance(value, tuple | list):
        return tuple(_canonical(v) for v in value)
    return value


def _weights(events: list[Event], cfg: ModelConfig) -> dict[str, float]:
    """Survey-integrity weights, as the pipeline computes them (per agent, in event order)."""
    states: dict[str, Any] = {}
    out: dict[str, float] = {}
    for e in events:
        if isinstance(e, Feedback) and e.agent_id:
            states[e.agent_id], verdict = observe_feedback(states.get(e.agent_id), e, 0.0, cfg)
            out[e.event_id] = verdict.weight
    return out


def outputs(population: str) -> tuple[int, int, str, str]:
    """(alerts, deadlines set, digest of alerts and deadlines, digest of snapshots)."""
    cfg = load_config()
    pop = simulate(**POPULATIONS[population])
    weights = _weights(pop.events, cfg)
    by_customer: dict[str, list[Event]] = {}
    for e in pop.events:
        by_customer.setdefault(e.customer_id, []).append(e)
    exact, snaps = hashlib.sha256(), hashlib.sha256()
    n_alerts = n_deadlines = 0
    end = pop.end + 400 * DAY
    for cid in sorted(by_customer):
        state = None
        events = sorted(by_customer[cid], key=lambda e: e.occurred_at)
        for i, e in enumerate([*events, None]):
            if e is None:
                assert state is not None
                state, alerts = process_tick(state, end, cfg)
            else:
                state, alerts = process_event(state, e, cfg, weights.get(e.event_id, 1.0))
            deadline = next_deadline(state, cfg)
            n_alerts += len(alerts)
            n_deadlines += deadline is not None
            exact.update(repr((alerts, deadline)).encode())
            snap = snapshot(state, end if e is None else e.occurred_at, cfg)
            snaps.update(repr(_canonical(snap)).encode())
            if i % 3 == 0:
                state = state_from_bytes(state_to_bytes(state))
    return n_alerts, n_deadlines, exact.hexdigest()[:32], snaps.hexdigest()[:32]


@pytest.mark.parametrize("population", sorted(POPULATIONS))
def test_outputs_match_the_recorded_golden_run(population: str) -> None:
    assert outputs(population) == GOLDEN[population]


if __name__ == "__main__":
    for name in sorted(POPULATIONS):
        print(f"    {name!r}: {outputs(name)!r},")
