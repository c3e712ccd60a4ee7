"""Exports as shops and tools really write them: CSV saved by Excel on Windows (not UTF-8) and
API dumps that are one JSON array, read by ``backtest``/``fit`` and by ``import``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.cli.commands.backtest_log import read_purchase_log
from agents.cli.main import main
from streams.evaluation.backtest import BacktestError

WINDOWS_CSV = (
    "customer_id,date,amount,note\n"
    "M\xfcller,2024-01-02,5.00,caf\xe9\n"
    "Gar\xe7on,2024-01-03,7.50,\x80 12\n"  # 0x80 is the euro sign in Windows-1252
)


def test_a_csv_saved_as_windows_1252_reads_with_its_accents(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(WINDOWS_CSV.encode("latin-1"))
    reading = read_purchase_log(path, {}, None)
    assert reading.log.customer_ids == ["Garçon", "Müller"]
    assert reading.notes[0] == "read as Windows-1252 text: the file is not UTF-8"


def test_excel_unicode_text_reads_as_utf_16(tmp_path: Path) -> None:
    path = tmp_path / "orders.txt"  # Excel's "Unicode Text": UTF-16 with its mark, tabs
    path.write_bytes(WINDOWS_CSV.replace(",", "\t").encode("utf-16"))
    reading = read_purchase_log(path, {}, None)
    assert reading.log.customer_ids == ["Garçon", "Müller"]
    assert reading.notes[0] == "read as UTF-16 text: the file is not UTF-8"


def test_an_import_of_a_windows_1252_csv_keeps_every_character(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(WINDOWS_CSV.encode("latin-1"))
    args = ["--kind", "purchases", "--map", "date=occurred_at", "--currency", "EUR"]
    code = main(["import", str(path), *args, "--timezone", "UTC", "--dry-run", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    events = [s["event"] for s in json.loads(captured.out)["sample"]]
    assert [e["customer_id"] for e in events] == ["Müller", "Garçon"]
    assert "read as Windows-1252 text" in captured.err


def test_a_json_array_of_orders_reads_as_json_lines_do(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    orders = [
        {"customer_id": "c1", "date": "2024-01-02", "amount": 5},
        {"customer_id": 7, "date": "2024-01-03", "amount": "7.50"},  # types as APIs mix them
    ]
    path.write_text(json.dumps(orders, indent=2))
    log = read_purchase_log(path, {}, None).log
    assert log.customer_ids == ["7", "c1"]
    assert sorted(log.amount.tolist()) == [5.0, 7.5]

    path.write_text(json.dumps([*orders, "not an order"]))
    with pytest.raises(BacktestError, match="element 3 of the JSON array is a str"):
        read_purchase_log(path, {}, None)


def test_an_import_of_a_json_array_numbers_its_elements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.json"
    orders = [
        {"customer_id": "c1", "occurred_at": "2024-01-02T10:00:00Z", "amount": "5.00"},
        ["not", "an", "object"],
        {"customer_id": "c2", "occurred_at": "2024-01-03T10:00:00Z", "amount": "7.50"},
    ]
    path.write_text(json.dumps(orders))
    args = ["--kind", "purchases", "--currency", "EUR", "--dry-run", "--json"]
    code = main(["import", str(path), *args])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [(2, "not_an_object")]
    assert [s["row"] for s in report["sample"]] == [1, 3]


def test_a_sheet_named_for_a_file_that_is_no_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,amount\nc1,2024-01-02,5\n")
    with pytest.raises(BacktestError, match=r"orders\.csv is not a spreadsheet; drop --sheet"):
        read_purchase_log(path, {}, None, sheet="Orders")
