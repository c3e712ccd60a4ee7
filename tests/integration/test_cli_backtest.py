"""``cxstream backtest`` end to end as a user runs it: the installed command on the small order
log shipped in tests/data, its report, plots and parameter records, and a refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg

from streams.fitting import ParamRecord

DATA = Path(__file__).parents[1] / "data" / "orders_small.csv"
CLI = [sys.executable, "-m", "agents.cli", "backtest"]


def test_backtest_writes_report_plots_and_records(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        [*CLI, str(DATA), "--cutoff", "2024-09-30", "--horizon", "180", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "**All customers** (" in done.stdout and "**Repeat buyers** (" in done.stdout
    report = (out / "report.md").read_text()
    for png in ("roc.png", "reliability.png", "gains.png"):
        assert f"]({png})" in report
        image = mpimg.imread(out / png)
        assert image.shape[0] >= 500 and image.shape[1] >= 500
        assert image.std() > 0.05  # something is drawn
    for name in ("recency", "RFM score", "BG/NBD", "Calibration by decile", "EUR"):
        assert name in report
    records = json.loads((out / "params.json").read_text())
    rec = ParamRecord.from_dict(records["all"])
    assert rec.n == int(report.split("**All customers** (")[1].split(",")[0])
    assert rec.version and rec.params["r"] > 0
    # the loss probability ranks this log's customers well above chance
    row = next(line for line in report.splitlines() if line.startswith("| cxstream loss"))
    assert float(row.split("|")[2]) > 0.65
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["scores"][0]["all"]["auc"] - float(row.split("|")[2])) < 5e-4
    assert metrics["parameter_version"] == rec.version
    lines = (out / "scores.csv").read_text().splitlines()
    assert len(lines) == rec.n + 1  # a header and one row per customer


def test_backtest_refusal_exits_non_zero_with_the_fix(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, str(DATA), "--cutoff", "2025-06-01", "--horizon", "180", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "holdout too short" in done.stderr and "--cutoff" in done.stderr
