"""The backtest's machine-readable outputs beside its report: ``metrics.json`` (every figure of
the report's tables, for a script or a dashboard comparing runs) and ``scores.csv`` (each
customer's scores and holdout outcome, to join with a CRM or to compute one's own figures)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from agents.cli.commands.log_cells import iso_day
from streams.evaluation.backtest import Backtest, ScoreResult
from streams.evaluation.scoring import FlagScore

SCHEMA = "cxstream.backtest-metrics/1"


def column_name(score: str) -> str:
    """A score's column in ``scores.csv``: ``RFM score`` -> ``rfm_score``."""
    return re.sub(r"[^a-z0-9]+", "_", score.lower()).strip("_")


def _number(value: float) -> float | None:
    return None if value != value else round(float(value), 6)  # NaN: null in JSON


def _flag(f: FlagScore) -> dict[str, Any]:
    return {
        "flagged": f.flagged,
        "balanced_accuracy": _number(f.balanced_accuracy),
        "precision": _number(f.precision),
        "recall": _number(f.recall),
        "f1": _number(f.f1),
    }


def _score(r: ScoreResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": r.name,
        "column": column_name(r.name),
        "cut_rule": r.threshold_rule,
        "all": {"auc": _number(r.auc_all), "cut": _number(r.threshold), **_flag(r.flag_all)},
        "repeat": {
            "auc": _number(r.auc_repeat),
            "cut": _number(r.threshold_repeat),
            **_flag(r.flag_repeat),
        },
    }
    if r.deciles:
        out["deciles"] = [
            {
                "customers": d.customers,
                "predicted": _number(d.predicted),
                "observed": _number(d.observed),
            }
            for d in r.deciles
        ]
        out["max_decile_gap"] = _number(max(abs(d.predicted - d.observed) for d in r.deciles))
    return out


def write_data(
    b: Backtest, out: Path, source: str, currency: str | None, notes: Sequence[str] = ()
) -> None:
    """``metrics.json`` and ``scores.csv`` in ``out``."""
    c = b.cohort
    metrics = {
        "schema": SCHEMA,
        "source": source,
        "cutoff": iso_day(b.cutoff_day),
        "horizon_days": b.horizon_days,
        "currency": currency,
        "customers": len(c.ids),
        "repeat_buyers": int(c.repeat.sum()),
        "lost_share": {
            "all": _number(float(c.lost.mean())),
            "repeat": _number(float(c.lost[c.repeat].mean())) if c.repeat.any() else None,
        },
        "notes": list(notes),
        "dormancy": b.dormancy,
        "parameter_version": b.model.records["all"].version,
        "scores": [_score(r) for r in b.results],
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    model = b.results[0]
    columns: dict[str, Any] = {
        "customer_id": pa.array(c.ids, pa.string()),
        "repeat_buyer": pa.array(c.repeat),
        "lost": pa.array(c.lost),
        "alert": pa.array(model.score >= model.threshold),
    }
    columns |= {column_name(r.name): pa.array(r.score, pa.float64()) for r in b.results}
    pacsv.write_csv(pa.table(columns), out / "scores.csv")
