"""A simulated year with CX teams in the loop: the holdout recovers the true save effect, and
the live precision metric equals an offline count of the outcomes.

Folds in process through the same functions the worker uses (streams.loop_processing); the
broker wiring of actions and outcomes is covered by tests/integration/test_alert_actions.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from agents.worker import loop_metrics
from agents.worker.metrics import REGISTRY
from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.config import config_from_mapping
from streams.domain import AlertType
from streams.evaluation.uplift import estimate_uplift
from streams.simulator import DAY, simulate
from streams.simulator.interventions import CxTeam, LoopRun, run_with_interventions

CFG = config_from_mapping({"loop": {"holdout_fraction": 0.2}})


@pytest.fixture(scope="module")
def year() -> tuple[LoopRun, float]:
    pop = simulate(customers=1500, days=365, seed=11)
    end = pop.end + 200 * DAY  # every window of the year's alerts closes
    return run_with_interventions(pop.events, pop.truth, CFG, CxTeam(act_share=0.6), end), end


def test_holdout_takes_a_fifth_of_churn_alerts_and_the_team_never_touches_them(
    year: tuple[LoopRun, float],
) -> None:
    run, _ = year
    churn = [o for o in run.outcomes if o.type is AlertType.CHURN_RISK]
    control = [o for o in churn if o.group is Group.CONTROL]
    assert 0.16 < len(control) / len(churn) < 0.24
    assert not any(o.handled for o in control)
    assert {a.alert_id for a in run.actions}.isdisjoint({o.alert_id for o in control})


def test_the_reported_uplift_interval_contains_the_true_save_effect(
    year: tuple[LoopRun, float],
) -> None:
    run, _ = year
    uplift = estimate_uplift(run.outcomes)
    truth = run.true_effect()
    assert uplift.treated.n > 300 and uplift.control.n > 200
    assert uplift.low <= truth <= uplift.high, (uplift, truth)
    assert uplift.low > 0.0  # contacting saves customers, and the holdout shows it
    assert uplift.itt_low < uplift.itt_effect < uplift.effect  # diluted by the untouched share


def _sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def _offline(outcomes: list[AlertOutcome], end: float) -> dict[tuple[str, str], tuple[int, int]]:
    """Independent recount: churn alerts nobody contacted, decided in the 90 days before end."""
    lost: Counter[tuple[str, str]] = Counter()
    judged: Counter[tuple[str, str]] = Counter()
    for o in outcomes:
        if o.type is AlertType.CHURN_RISK and not o.intervened and o.decided_at > end - 90 * DAY:
            judged[(o.priority.value, o.playbook)] += 1
            lost[(o.priority.value, o.playbook)] += o.outcome is OutcomeKind.LOST
    return {k: (lost[k], n) for k, n in judged.items()}


def test_rolling_precision_metric_matches_an_offline_count(year: tuple[LoopRun, float]) -> None:
    run, _ = year
    shuffled = sorted(run.outcomes, key=lambda o: o.alert_id)  # arrival order must not matter
    for i in range(0, len(shuffled), 97):  # batches, as the worker records them
        loop_metrics.record_outcomes(shuffled[i : i + 97])
    newest = max(o.decided_at for o in run.outcomes if o.type is AlertType.CHURN_RISK)
    offline = _offline(run.outcomes, newest)
    assert len(offline) >= 3  # several priorities / playbooks
    for (priority, playbook), (lost, n) in offline.items():
        labels = {"priority": priority, "playbook": playbook}
        assert _sample("cxstream_churn_alert_precision", labels) == lost / n
        assert _sample("cxstream_churn_alert_judged", labels | {"verdict": "lost"}) == lost
    assert _sample("cxstream_holdout_uplift", {"bound": "low"}) is not None
