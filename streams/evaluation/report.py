"""Markdown tables of evaluation results, and writing them into docs/model.md.

Only the region between the evaluation markers is ever rewritten: the rest of docs/model.md
belongs to the model's documentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from streams.errors import CxStreamError
from streams.evaluation import PopulationResult

START_MARKER = "<!-- evaluation:start -->"
END_MARKER = "<!-- evaluation:end -->"

DEFINITIONS = """\
How to read it:
- *Populations* come from `streams.simulator` with labelled truth. *rich*: profiles, orders,
  tickets, surveys and reviews from nine personas (loyal promoters, steady passives, quiet
  churners, frustrated ticket-filers, public detractors, poor-fit bargain hunters, one-time
  buyers, won-back customers, customers of coached agents/stores). *purchase-only*: a
  CDNOW-like log, a cohort acquired in the first weeks, most buying once, orders only.
- *Precision / recall* are per customer. A churn-risk alert is a hit when the customer really
  churned (never came back) and the alert opened at most 90 days before its last activity.
  Recall counts every churner, including one-time buyers and customers who stop silently.
- *Lead* = last activity - alert opening, in days, for detected churners who showed trouble
  first (frustrated ticket-filers, public detractors): positive means the alert came while the
  customer was still active. *Lead bound* = the same churners' last activity - their first
  trouble event (median over all of them): what an alert opening at the very first sign of
  trouble would give, since they buy as usual until then. *Delay* = alert opening - last
  activity for churners who left silently (quiet churners, one-time buyers...): their alert
  can only follow the silence.
- *Holdout* is the check that works on a real log: at the cutoff (90 days before the end),
  customers with an open churn-risk alert are predicted lost; a customer is lost when it
  places no order after the cutoff (including active customers who merely pause).
- *Referral precision*: share of referral alerts that went to referral-worthy customers
  (good fit, promoter, well served). Poor-fit customers must get none.
"""


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _churn_row(r: PopulationResult) -> list[str]:
    c = r.churn
    counts = [str(c.customers), str(c.churners), str(c.alerted)]
    rates = [_num(c.precision), _num(c.recall), _num(c.f1)]
    times = [
        _num(c.median_lead_signalled_days, 1),
        _num(c.lead_bound_signalled_days, 1),
        _num(c.median_delay_silent_days, 1),
    ]
    return [r.label, *counts, *rates, *times]


def _holdout_row(r: PopulationResult) -> list[str]:
    h = r.holdout
    counts = [str(h.customers), str(h.lost), str(h.flagged)]
    return [r.label, *counts, _num(h.precision), _num(h.recall)]


def _referral_row(r: PopulationResult) -> list[str]:
    f = r.referral
    rates = [_num(f.precision), _num(f.recall)]
    wrong = [str(f.poor_fit_alerted), str(f.churners_alerted), str(f.coached_alerted)]
    return [r.label, str(f.worthy), str(f.alerted), *rates, *wrong]


def _persona_rows(r: PopulationResult) -> list[list[str]]:
    return [
        [
            r.label,
            p.persona.value,
            str(p.customers),
            str(p.churned),
            str(p.churn_alerted),
            _num(p.median_days_after_last_activity, 1),
            str(p.referral_alerted),
        ]
        for p in r.personas
    ]


CHURN_HEADER = (
    "population",
    "customers",
    "churners",
    "alerted",
    "precision",
    "recall",
    "F1",
    "median lead, signalled (d)",
    "lead bound, signalled (d)",
    "median delay, silent (d)",
)
HOLDOUT_HEADER = (
    "population",
    "customers before cutoff",
    "lost in holdout",
    "flagged at cutoff",
    "precision",
    "recall",
)
REFERRAL_HEADER = (
    "population",
    "referral-worthy",
    "alerted",
    "precision",
    "recall",
    "poor-fit alerted",
    "churners alerted",
    "coached alerted",
)
PERSONA_HEADER = (
    "population",
    "persona",
    "customers",
    "churned",
    "churn-alerted",
    "median days last activity -> alert",
    "referral-alerted",
)


def render(results: Sequence[PopulationResult], command: str) -> str:
    """The whole report: command line, four tables, definitions."""
    lines = [f"Produced by `{command}` (deterministic: same command, same figures).", ""]
    if "--packaged" not in command:
        lines[-1:] = [
            "Parameters (purchase model, churn-alert cut, value bands) fitted as `cxstream fit`",
            "does on each population's orders up to the holdout cutoff; `--packaged` judges",
            "with the cold-start defaults instead.",
            "",
        ]
    personas = [row for r in results for row in _persona_rows(r)]
    lines += ["Churn-risk alerts:", "", *_table(CHURN_HEADER, [_churn_row(r) for r in results])]
    lines += ["Holdout check:", "", *_table(HOLDOUT_HEADER, [_holdout_row(r) for r in results])]
    lines += ["Referral alerts:", "", *_table(REFERRAL_HEADER, [_referral_row(r) for r in results])]
    lines += ["By persona:", "", *_table(PERSONA_HEADER, personas)]
    return "\n".join(lines) + "\n" + DEFINITIONS


def write_docs(path: Path, body: str) -> None:
    """Replace what lies between the evaluation markers of ``path`` with ``body``."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise CxStreamError(f"{path}: markers {START_MARKER} ... {END_MARKER} not found")
    head = text[: start + len(START_MARKER)]
    path.write_text(f"{head}\n{body.rstrip()}\n{text[end:]}", encoding="utf-8")
