"""``cxstream backtest`` and ``fit``: reading exports, refusing unusable logs, the alert cut's
independence from the holdout, the scoring functions it reports, and the parameter records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from agents.cli.commands.backtest_log import read_purchase_log
from agents.cli.main import main
from streams.btyd import BgNbdParams
from streams.evaluation.backtest import run_backtest
from streams.evaluation.scoring import auc, expected_ba_threshold, flag_score
from streams.fitting import ParamRecord
from streams.fitting.synthetic import simulate_stats

DATA = Path(__file__).parents[3] / "data" / "orders_small.csv"
ARGS = ["--cutoff", "2024-09-30", "--horizon", "180"]


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_csv_jsonl_and_parquet_exports_read_the_same(tmp_path: Path) -> None:
    table = pacsv.read_csv(DATA)
    pq.write_table(table, tmp_path / "o.parquet")
    with (tmp_path / "o.jsonl").open("w") as fh:
        for row in table.to_pylist():
            fh.write(json.dumps({k: str(v) for k, v in row.items()}) + "\n")
    logs = [
        read_purchase_log(p, {}, "EUR").log
        for p in (DATA, tmp_path / "o.parquet", tmp_path / "o.jsonl")
    ]
    for log in logs[1:]:
        assert log.customer_ids == logs[0].customer_ids
        assert np.array_equal(log.day, logs[0].day)
        assert np.allclose(log.amount, logs[0].amount)


def test_column_mapping_names_unusual_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pacsv.read_csv(DATA).rename_columns(["Kunde", "Bestelldatum", "Umsatz", "currency"])
    pacsv.write_csv(table, tmp_path / "o.csv")
    assert main(["backtest", str(tmp_path / "o.csv"), *ARGS, "--out", str(tmp_path / "r")]) == 2
    assert "add --map COLUMN=customer_id" in capsys.readouterr().err
    mapped = [
        "--map",
        "Kunde=customer_id",
        "--map",
        "Bestelldatum=occurred_at",
        "--map",
        "Umsatz=amount",
    ]
    assert (
        main(["backtest", str(tmp_path / "o.csv"), *ARGS, *mapped, "--out", str(tmp_path / "r")])
        == 0
    )
    assert "cxstream loss probability" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.parametrize(
    ("rows", "extra", "says"),
    [
        (
            ["a,2024-01-01,1", "b,2024-01-02,1", "a,2024-01-20,1"],
            ["--horizon", "400"],
            "holdout too short",
        ),
        (
            [f"c{i},2024-01-{1 + i % 28:02d},5" for i in range(40)] + ["c1,2025-01-01,5"],
            [],
            "no repeat buyers",
        ),
        (["a,31/13/2024,1", "a,01/01/2025,1"], [], "unparseable dates"),
    ],
)
def test_unusable_logs_are_refused_naming_problem_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str], extra: list[str], says: str
) -> None:
    log = _write(tmp_path / "o.csv", "customer_id,date,amount", rows)
    code = main(
        ["backtest", str(log), "--cutoff", "2024-03-01", *extra, "--out", str(tmp_path / "r")]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert says in err
    assert "--" in err.split(says, 1)[1]  # the fix names an option
    assert not (tmp_path / "r").exists()


def test_date_format_option_reads_day_first_dates(tmp_path: Path) -> None:
    lines = DATA.read_text().splitlines()
    rows = []
    for line in lines[1:]:
        cid, day, total, cur = line.split(",")
        y, m, d = day.split("-")
        rows.append(f"{cid},{d}/{m}/{y},{total},{cur}")
    log = _write(tmp_path / "o.csv", lines[0], rows)
    assert (
        main(
            ["backtest", str(log), *ARGS, "--date-format", "%d/%m/%Y", "--out", str(tmp_path / "r")]
        )
        == 0
    )


def test_orders_in_another_currency_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DATA.read_text().replace("EUR", "USD", 5)
    log = tmp_path / "o.csv"
    log.write_text(text)
    assert (
        main(["backtest", str(log), *ARGS, "--currency", "EUR", "--out", str(tmp_path / "r")]) == 2
    )
    assert "does not convert currencies" in capsys.readouterr().err


def test_alert_cut_comes_from_the_calibration_period_only() -> None:
    log = read_purchase_log(DATA, {}, "EUR").log
    cutoff = float(np.datetime64("2024-09-30", "D").astype(int))
    first = run_backtest(log, cutoff, 180.0, "t")
    # change the future: drop every holdout order of every other customer
    hold = (log.day >= cutoff + 1) & (log.customer % 2 == 0) & (log.day < cutoff + 150)
    changed = type(log)(log.customer[~hold], log.day[~hold], log.amount[~hold], log.customer_ids)
    second = run_backtest(changed, cutoff, 180.0, "t")
    assert first.results[0].threshold == second.results[0].threshold
    assert first.results[0].flag_all.flagged == second.results[0].flag_all.flagged
    assert not np.array_equal(first.cohort.lost, second.cohort.lost)


def test_scoring_functions_on_known_cases() -> None:
    lost = np.array([True, True, False, False])
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), lost) == 1.0
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), lost) == 0.0
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), lost) == 0.5
    f = flag_score(np.array([True, False, True, False]), lost)
    assert (f.precision, f.recall, f.balanced_accuracy) == (0.5, 0.5, 0.5)
    # a model sure of who is lost puts its cut between the sure and the unsure
    assert 0.1 < expected_ba_threshold(np.array([0.95, 0.9, 0.1, 0.05])) <= 0.9


def test_fit_writes_versioned_records_from_a_purchase_log(tmp_path: Path) -> None:
    out = tmp_path / "params.json"
    assert main(["fit", str(DATA), "--as-of", "2024-12-31", "--out", str(out)]) == 0
    records = {k: ParamRecord.from_dict(v) for k, v in json.loads(out.read_text()).items()}
    rec = records["all"]
    assert rec.n == 400 and rec.model in ("bgnbd", "mbgnbd")
    assert "dormant" in rec.params and rec.spend is not None and rec.default_gap_days
    assert main(["fit", str(DATA), "--as-of", "2024-12-31", "--out", str(tmp_path / "b.json")]) == 0
    again = json.loads((tmp_path / "b.json").read_text())["all"]
    assert again["version"] == rec.version  # same data, same parameters, same version


def test_fit_from_statistics_fits_large_segments_alone(tmp_path: Path) -> None:
    stats = simulate_stats(BgNbdParams(0.5, 6.0, 0.9, 1.6, modified=True), 3000, 30.0, seed=4)
    segment = ["web"] * 2500 + ["phone"] * 500
    pq.write_table(
        pa.table(
            {"x": stats.x, "t_x_days": stats.t_x * 7, "T_days": stats.T * 7, "segment": segment}
        ),
        tmp_path / "stats.parquet",
    )
    out = tmp_path / "params.json"
    args = ["fit", str(tmp_path / "stats.parquet"), "--stats", "--min-segment", "1000"]
    assert main([*args, "--out", str(out)]) == 0
    records = json.loads(out.read_text())
    assert set(records) == {"all", "web"}
    assert records["web"]["n"] == 2500
    assert records["all"]["params"]["r"] == pytest.approx(0.5, rel=0.3)


def _cxstream_row(out: Path) -> str:
    lines = (out / "report.md").read_text().splitlines()
    return next(line for line in lines if line.startswith("| cxstream"))


def test_operator_sets_the_alert_probability(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert main(["backtest", str(DATA), *ARGS, "--alert-at", "0.95", "--out", str(out)]) == 0
    strict = _cxstream_row(out)
    assert main(["backtest", str(DATA), *ARGS, "--alert-at", "0.3", "--out", str(out)]) == 0
    loose = _cxstream_row(out)
    assert "set with --alert-at" in strict
    assert int(strict.split("|")[7]) < int(loose.split("|")[7])  # fewer flagged at 0.95
    assert main(["backtest", str(DATA), *ARGS, "--alert-at", "1.5", "--out", str(out)]) == 2
    assert "--alert-at must be a probability" in capsys.readouterr().err


def test_scoring_reports_progress_for_every_customer() -> None:
    log = read_purchase_log(DATA, {}, "EUR").log
    cutoff = float(np.datetime64("2024-09-30", "D").astype(int))
    seen: list[int] = []
    result = run_backtest(log, cutoff, 180.0, "t", seen.append)
    assert sum(seen) == len(result.cohort.ids)


def test_metrics_json_and_scores_csv_agree_with_each_other_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", str(DATA), *ARGS, "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    as_text = pacsv.ConvertOptions(column_types={"customer_id": pa.string()})
    scores = pacsv.read_csv(tmp_path / "scores.csv", convert_options=as_text)
    assert scores.num_rows == metrics["customers"]
    lost = np.asarray(scores["lost"].to_numpy(zero_copy_only=False), dtype=bool)
    repeat = np.asarray(scores["repeat_buyer"].to_numpy(zero_copy_only=False), dtype=bool)
    assert metrics["repeat_buyers"] == int(repeat.sum())
    report = (tmp_path / "report.md").read_text()
    for entry in metrics["scores"]:
        score = np.asarray(scores[entry["column"]].to_numpy(), dtype=float)
        assert entry["all"]["auc"] == pytest.approx(auc(score, lost), abs=1e-6)
        assert entry["repeat"]["auc"] == pytest.approx(auc(score[repeat], lost[repeat]), abs=1e-6)
        assert f"| {entry['name']} | {entry['all']['auc']:.3f} |" in report
    model = metrics["scores"][0]
    alert = np.asarray(scores["alert"].to_numpy(zero_copy_only=False), dtype=bool)
    assert model["all"]["flagged"] == int(alert.sum())
    assert model["all"]["balanced_accuracy"] == pytest.approx(
        flag_score(alert, lost).balanced_accuracy, abs=1e-6
    )
    assert len(model["deciles"]) == 10 and model["max_decile_gap"] >= 0


def test_a_headerless_export_backtests_as_the_same_export_with_its_header(
    tmp_path: Path,
) -> None:
    """CDNOW as Fader & Hardie ship it: no header line, ids of digits, dates as yyyymmdd."""
    table = pacsv.read_csv(DATA)
    lines = [
        f"{cid[1:]} {str(day).replace('-', '')} {total:.2f}"
        for cid, day, total in zip(
            table["customer_id"].to_pylist(),
            table["order_date"].to_pylist(),
            table["total"].to_pylist(),
            strict=True,
        )
    ]
    (tmp_path / "orders.txt").write_text("\n".join(lines) + "\n")
    named = tmp_path / "named.txt"
    named.write_text("\n".join(["id date total", *lines]) + "\n")
    out: dict[str, dict[str, object]] = {}
    for name, log in (("headerless", tmp_path / "orders.txt"), ("named", named)):
        args = ["backtest", str(log), *ARGS, "--currency", "EUR"]
        assert main([*args, "--out", str(tmp_path / name)]) == 0
        out[name] = json.loads((tmp_path / name / "metrics.json").read_text())

    assert out["headerless"]["customers"] == out["named"]["customers"] > 100
    assert out["headerless"]["scores"] == out["named"]["scores"]
