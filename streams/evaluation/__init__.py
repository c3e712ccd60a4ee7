"""Evaluate the model on simulated populations with known ground truth.

``python -m streams.evaluation`` replays a rich population (profiles, tickets, feedback) and a
purchase-only, CDNOW-like one through the pure model and scores its alerts: churn-risk
precision, recall and lead time, a holdout check that also works on real logs, and referral
precision (poor fits must get none). See :mod:`streams.evaluation.metrics` for definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.domain import AlertType, Purchase, PurchaseKind
from streams.evaluation.metrics import (
    ChurnScore,
    HoldoutScore,
    PersonaRow,
    ReferralScore,
    churn_score,
    holdout_score,
    open_at,
    opened_at,
    persona_rows,
    referral_score,
)
from streams.evaluation.replay import Replay, replay
from streams.model import ModelConfig
from streams.simulator import DAY, Population

__all__ = [
    "ChurnScore",
    "HoldoutScore",
    "PersonaRow",
    "PopulationResult",
    "ReferralScore",
    "evaluate_population",
]


@dataclass(frozen=True, slots=True)
class PopulationResult:
    label: str
    events: int
    churn: ChurnScore
    holdout: HoldoutScore
    referral: ReferralScore
    personas: list[PersonaRow]
    replay: Replay


def evaluate_population(
    population: Population,
    config: ModelConfig,
    *,
    label: str,
    window_days: float = 90.0,
    holdout_days: float = 90.0,
    tick_every: float | None = None,
) -> PopulationResult:
    """Replay ``population`` through the model and score the alerts against its truth."""
    run = replay(population.events, population.end, config, tick_every)
    churn = opened_at(run.alerts, AlertType.CHURN_RISK)
    referral = opened_at(run.alerts, AlertType.REFERRAL_OPPORTUNITY)
    truth = population.truth
    cutoff = population.end - holdout_days * DAY
    seen_before = {e.customer_id for e in population.events if e.occurred_at <= cutoff}
    ordered_after = {
        e.customer_id
        for e in population.events
        if e.occurred_at > cutoff
        and isinstance(e, Purchase)
        and e.kind is PurchaseKind.ORDER_PLACED
    }
    flagged = open_at(run.alerts, AlertType.CHURN_RISK, cutoff)
    return PopulationResult(
        label=label,
        events=len(population.events),
        churn=churn_score(churn, truth, window_days),
        holdout=holdout_score(flagged, seen_before, ordered_after, cutoff),
        referral=referral_score(referral, truth),
        personas=persona_rows(churn, referral, truth, window_days),
        replay=run,
    )
