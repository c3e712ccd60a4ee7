"""Evaluation metrics on hand-built cases, plus a smoke run of the whole replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.domain import Alert, AlertAction, AlertType, Priority
from streams.errors import CxStreamError
from streams.evaluation import evaluate_population
from streams.evaluation.__main__ import _parser, command_line
from streams.evaluation.metrics import (
    churn_score,
    holdout_score,
    open_at,
    opened_at,
    persona_rows,
    referral_score,
)
from streams.evaluation.report import END_MARKER, START_MARKER, render, write_docs
from streams.model import load_config
from streams.simulator import DAY, CustomerTruth, Persona, simulate

T0 = 1_700_000_000.0


def truth(
    customer: str,
    persona: Persona,
    churn_day: float | None = None,
    *,
    worthy: bool = False,
    good_fit: bool = True,
    coached_by: str | None = None,
    trouble_day: float | None = None,
) -> CustomerTruth:
    churn_at = None if churn_day is None else T0 + churn_day * DAY
    return CustomerTruth(
        customer, persona, churn_at is not None, churn_at, worthy, good_fit, T0,
        coached_by=coached_by, trouble_at=None if trouble_day is None else T0 + trouble_day * DAY,
    )  # fmt: skip


def alert(
    customer: str, day: float, action: AlertAction = AlertAction.OPENED,
    kind: AlertType = AlertType.CHURN_RISK, opened_day: float | None = None,
) -> Alert:  # fmt: skip
    opened = T0 + (day if opened_day is None else opened_day) * DAY
    return Alert(
        alert_id=f"{customer}-{kind.value}-{opened}", customer_id=customer, type=kind,
        action=action, priority=Priority.MEDIUM, score=70.0, reasons=(), playbook="p",
        opened_at=opened, occurred_at=T0 + day * DAY,
    )  # fmt: skip


TRUTH = {
    # alerted 5 days before leaving, 20 days after its trouble began
    "a": truth("a", Persona.FRUSTRATED, churn_day=100, trouble_day=75),
    "g": truth("g", Persona.DETRACTOR, churn_day=200, trouble_day=190),  # missed
    "b": truth("b", Persona.QUIET_CHURNER, churn_day=100),  # alerted 10 days after silence
    "c": truth("c", Persona.STEADY),  # alerted, never churns: false positive
    "d": truth("d", Persona.QUIET_CHURNER, churn_day=50),  # missed
    "e": truth("e", Persona.QUIET_CHURNER, churn_day=300),  # alerted 200 days too early
    "f": truth("f", Persona.LOYAL_PROMOTER, worthy=True),
}
CHURN_ALERTS = [
    alert("a", 95),
    alert("b", 110),
    alert("b", 111, AlertAction.UPDATED, opened_day=110),
    alert("c", 20),
    alert("e", 100),
]


def test_churn_precision_recall_and_lead_times_by_hand() -> None:
    score = churn_score(opened_at(CHURN_ALERTS, AlertType.CHURN_RISK), TRUTH, window_days=90)
    assert (score.customers, score.churners, score.alerted, score.true_positives) == (7, 5, 4, 2)
    assert score.precision == pytest.approx(0.5)
    assert score.recall == pytest.approx(0.4)
    assert score.f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert score.median_lead_signalled_days == pytest.approx(5.0)
    # alerted at their first trouble event, "a" and "g" would have had 25 and 10 days
    assert score.lead_bound_signalled_days == pytest.approx(17.5)
    assert score.median_delay_silent_days == pytest.approx(10.0)


def test_no_alerts_gives_undefined_precision_and_zero_recall() -> None:
    score = churn_score({}, TRUTH)
    assert score.precision is None and score.recall == 0.0 and score.f1 is None


def test_open_at_cutoff_follows_open_update_resolve() -> None:
    alerts = [
        alert("a", 10),
        alert("a", 20, AlertAction.RESOLVED, opened_day=10),
        alert("b", 10),
        alert("b", 15, AlertAction.UPDATED, opened_day=10),
        alert("c", 40),  # opens after the cutoff
        alert("f", 5, kind=AlertType.REFERRAL_OPPORTUNITY),
    ]
    assert open_at(alerts, AlertType.CHURN_RISK, T0 + 30 * DAY) == {"b"}
    assert open_at(alerts, AlertType.CHURN_RISK, T0 + 12 * DAY) == {"a", "b"}
    assert open_at(alerts, AlertType.REFERRAL_OPPORTUNITY, T0 + 30 * DAY) == {"f"}


def test_holdout_counts_only_customers_seen_before_the_cutoff() -> None:
    score = holdout_score(
        flagged={"a", "b", "z"}, seen_before={"a", "b", "c", "d"}, ordered_after={"b", "c"},
        cutoff=T0,
    )  # fmt: skip
    assert (score.customers, score.lost, score.flagged, score.true_positives) == (4, 2, 2, 1)
    assert score.precision == pytest.approx(0.5) and score.recall == pytest.approx(0.5)


def test_referral_precision_and_the_wrong_kinds_of_referral() -> None:
    people = {
        "w": truth("w", Persona.LOYAL_PROMOTER, worthy=True),
        "x": truth("x", Persona.LOYAL_PROMOTER, worthy=True),
        "p": truth("p", Persona.BARGAIN_HUNTER, good_fit=False),
        "k": truth("k", Persona.COACHED, coached_by="agent-01"),
        "q": truth("q", Persona.DETRACTOR, churn_day=40),
    }
    kind = AlertType.REFERRAL_OPPORTUNITY
    alerts = [alert(c, 5, kind=kind) for c in ("w", "p", "k", "q")]
    score = referral_score(opened_at(alerts, kind), people)
    assert (score.alerted, score.worthy, score.true_positives) == (4, 2, 1)
    assert score.precision == pytest.approx(0.25) and score.recall == pytest.approx(0.5)
    assert (score.poor_fit_alerted, score.churners_alerted, score.coached_alerted) == (1, 1, 1)


def test_persona_rows_count_alerts_and_days_after_last_activity() -> None:
    churn = opened_at(CHURN_ALERTS, AlertType.CHURN_RISK)
    rows = {r.persona: r for r in persona_rows(churn, {"f": [T0]}, TRUTH)}
    quiet = rows[Persona.QUIET_CHURNER]
    assert (quiet.customers, quiet.churned, quiet.churn_alerted) == (3, 3, 2)
    assert quiet.median_days_after_last_activity == pytest.approx(10.0)  # e's is too early
    assert rows[Persona.FRUSTRATED].median_days_after_last_activity == pytest.approx(-5.0)
    assert rows[Persona.LOYAL_PROMOTER].referral_alerted == 1


def test_replay_smoke_on_a_small_population(tmp_path: Path) -> None:
    population = simulate(80, 150, seed=2)
    result = evaluate_population(population, load_config(), label="rich")
    churn, referral = result.churn, result.referral
    assert result.replay.events == len(population.events)
    assert churn.customers == 80 and churn.churners == sum(
        t.churned for t in population.truth.values()
    )
    assert 0 <= churn.true_positives <= min(churn.alerted, churn.churners)
    assert {a.customer_id for a in result.replay.alerts} <= set(population.truth)
    assert all(population.start <= a.occurred_at <= population.end for a in result.replay.alerts)
    assert sum(r.customers for r in result.personas) == 80
    assert referral.true_positives <= referral.alerted
    args = _parser().parse_args(["--customers", "80", "--days", "150", "--seed", "2"])
    body = render([result], command_line(args))
    assert "`python -m streams.evaluation --customers 80 --days 150 --seed 2`" in body
    doc = tmp_path / "model.md"
    doc.write_text(f"# Model\nintro\n{START_MARKER}\nstale figures\n{END_MARKER}\nrest\n")
    write_docs(doc, body)
    text = doc.read_text()
    assert text.startswith(f"# Model\nintro\n{START_MARKER}\n") and text.endswith(
        f"{END_MARKER}\nrest\n"
    )
    assert "stale figures" not in text and "| rich |" in text


def test_write_docs_refuses_a_file_without_markers(tmp_path: Path) -> None:
    doc = tmp_path / "model.md"
    doc.write_text("# Model\n")
    with pytest.raises(CxStreamError, match="markers"):
        write_docs(doc, "x")
    assert doc.read_text() == "# Model\n"
