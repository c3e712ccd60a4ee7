"""The backtest's Markdown report and its PNG plots (ROC, reliability, gains)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from agents.cli.commands.log_cells import iso_day
from streams.evaluation.backtest import Backtest, ScoreResult
from streams.evaluation.scoring import gains, roc_curve


def _f(v: float) -> str:
    return "-" if v != v else f"{v:.3f}"  # NaN-safe


def _plots(b: Backtest, out: Path) -> list[str]:
    lost, names = b.cohort.lost, []
    fig, ax = plt.subplots(figsize=(6, 6))
    for r in b.results:
        fpr, tpr = roc_curve(r.score, lost)
        (line,) = ax.plot(fpr, tpr, label=f"{r.name} (AUC {r.auc_all:.3f})")
        if r is b.results[0]:  # where cxstream's alert cut operates
            flag = r.score >= r.threshold
            at = (float(flag[~lost].mean()), float(flag[lost].mean()))
            ax.plot(
                *at,
                marker="o",
                markersize=8,
                color=line.get_color(),
                linestyle="none",
                label=f"cxstream alert cut {r.threshold:.3g}",
            )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set(
        xlabel="false-positive rate (kept customers flagged)",
        ylabel="true-positive rate (lost customers flagged)",
        title="ROC, all customers",
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    names.append("roc.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 6))
    for r in b.results:
        if r.deciles:
            pred = [d.predicted for d in r.deciles]
            obs = [d.observed for d in r.deciles]
            ax.plot(pred, obs, marker="o", label=r.name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="grey", alpha=0.15, label="±0.05")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="mean predicted loss probability (decile)",
        ylabel="observed share lost",
        title="Reliability by decile",
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=110)
    names.append("reliability.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 6))
    for r in b.results:
        share, captured = gains(r.score, lost)
        ax.plot(share, captured, label=r.name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set(
        xlabel="share of customers contacted (highest score first)",
        ylabel="share of lost customers reached",
        title="Cumulative gains",
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "gains.png", dpi=110)
    names.append("gains.png")
    plt.close(fig)
    return names


def _row(r: ScoreResult, repeat: bool) -> str:
    f = r.flag_repeat if repeat else r.flag_all
    a = r.auc_repeat if repeat else r.auc_all
    return (
        f"| {r.name} | {_f(a)} | {_f(f.balanced_accuracy)} | {_f(f.precision)} | "
        f"{_f(f.recall)} | {_f(f.f1)} | {f.flagged} | "
        f"{r.threshold_repeat if repeat else r.threshold:.4g} ({r.threshold_rule}) |"
    )


def summary_tables(b: Backtest) -> str:
    """The Markdown tables (also what the command prints)."""
    c = b.cohort
    rep = c.repeat
    head = (
        "| score | AUC | alert: balanced accuracy | precision | recall | F1 | flagged | cut |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [
        f"**All customers** ({len(c.ids)}, {c.lost.mean():.0%} lost)\n",
        head,
        *(_row(r, False) for r in b.results),
        "",
        f"**Repeat buyers** ({int(rep.sum())}, {c.lost[rep].mean():.0%} lost)\n",
        head,
        *(_row(r, True) for r in b.results),
        "",
        "**Calibration by decile** (mean predicted loss / observed share lost)\n",
        "| score | " + " | ".join(str(i + 1) for i in range(10)) + " | max gap |",
        "|---|" + "---|" * 11,
    ]
    for r in b.results:
        if r.deciles:
            cells = " | ".join(f"{d.predicted:.2f} / {d.observed:.2f}" for d in r.deciles)
            gap = max(abs(d.predicted - d.observed) for d in r.deciles)
            lines.append(f"| {r.name} | {cells} | {gap:.3f} |")
    return "\n".join(lines) + "\n"


def write_report(
    b: Backtest, out: Path, source: str, currency: str | None, notes: Sequence[str] = ()
) -> Path:
    """report.md, roc.png, reliability.png, gains.png and params.json in ``out``; ``notes``:
    what reading the log left out or derived, listed under the title."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(b, out)
    records = {k: r.to_dict() for k, r in b.model.records.items()}
    records["baseline_bgnbd"] = b.baseline_record.to_dict()
    (out / "params.json").write_text(json.dumps(records, indent=2) + "\n")
    c = b.cohort
    spend = float(np.sum(c.spend))
    text = [
        f"# Backtest of `{source}`\n",
        f"Cutoff {iso_day(b.cutoff_day)} (calibration: every order on or before it), horizon "
        f"{b.horizon_days:g} days: a customer is *lost* when they place no order in the "
        f"{b.horizon_days:g} days after the cutoff. {len(c.ids)} customers, "
        f"{int(c.repeat.sum())} repeat buyers, calibration spend {spend:,.2f} "
        f"{currency or '(currency unknown)'}.\n",
        *(f"- Reading the log: {note}." for note in notes),
        *([""] if notes else []),
        "cxstream's alert cut is chosen from the calibration period alone: the cut with the "
        "best balanced accuracy the fitted model expects from its own predictions for the "
        "customers alerted (all customers, or repeat buyers only). Each baseline gets its "
        "best cut on the holdout, an upper bound it could not know in advance.\n",
        summary_tables(b),
        f"Dormancy factor (a dropped-out customer's remaining purchase rate): {b.dormancy}.\n",
        "Fitted parameters (time unit: weeks), also in `params.json`:\n",
        "| segment | model | customers | r | alpha | a | b | dormant | version |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rec in [*b.model.records.items(), ("baseline BG/NBD", b.baseline_record)]:
        p = rec.params
        text.append(
            f"| {name} | {rec.model} | {rec.n} | {p['r']:.3f} | {p['alpha']:.3f} | "
            f"{p['a']:.3f} | {p['b']:.3f} | {p.get('dormant', 0.0):.4f} | {rec.version} |"
        )
    text.append("")
    text += [f"![{png[:-4]}]({png})\n" for png in pngs]
    path = out / "report.md"
    path.write_text("\n".join(text))
    return path
