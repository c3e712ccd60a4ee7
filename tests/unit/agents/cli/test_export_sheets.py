"""Spreadsheet exports (UCI's Online Retail ships as .xlsx, one sheet per year) read by
``backtest``, ``fit`` and ``import`` as they read a CSV file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from agents.cli.commands.backtest_log import read_purchase_log
from agents.cli.main import main
from streams.evaluation.backtest import BacktestError

HEADER = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]
YEAR_ONE = [
    ["489434", "85048", 12, dt.datetime(2009, 12, 1, 7, 45), 6.95, 13085, "United Kingdom"],
    ["489434", "79323P", 12, dt.datetime(2009, 12, 1, 7, 45), 6.75, 13085, "United Kingdom"],
    ["C489449", "22087", -12, dt.datetime(2009, 12, 1, 10, 33), 2.95, 16321, "Australia"],
    [489450, "21871", 6, dt.date(2009, 12, 2), 1.25, None, "United Kingdom"],
]
YEAR_TWO = [
    [536365, "85123A", 6, dt.datetime(2010, 12, 1, 8, 26), 2.55, 17850, "United Kingdom"],
    [536366, "22633", 6, dt.datetime(2010, 12, 1, 8, 28), 1.85, 13085, "United Kingdom"],
]


def _workbook(path: Path, *sheets: tuple[str, list[Any], list[list[Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _online_retail(path: Path, two: list[list[Any]] = YEAR_TWO) -> Path:
    return _workbook(
        path,
        ("Year 2009-2010", HEADER, YEAR_ONE),
        ("Year 2010-2011", HEADER, two),
        ("Notes", ["About this file"], [["prices in GBP"]]),
    )


def test_a_workbook_reads_as_its_sheets_with_the_same_columns_one_after_another(
    tmp_path: Path,
) -> None:
    reading = read_purchase_log(_online_retail(tmp_path / "online_retail_II.xlsx"), {}, "GBP")

    log = reading.log
    orders = {
        (log.customer_ids[c], round(float(d), 4)): round(float(a), 2)
        for c, d, a in zip(log.customer, log.day, log.amount, strict=True)
    }
    day = dt.datetime(2009, 12, 1, 7, 45, tzinfo=dt.UTC).timestamp() / 86400
    assert orders[("13085", round(day, 4))] == 12 * 6.95 + 12 * 6.75  # one invoice, two lines
    assert sorted(log.customer_ids) == ["13085", "17850"]  # numeric ids read without ".0"
    assert len(log.day) == 3  # the return (negative quantity) and the guest row left out
    assert reading.notes[0] == (
        "read 2 sheets with the same columns, rows numbered on: 'Year 2009-2010' from row 2, "
        "'Year 2010-2011' from row 6"
    )
    assert reading.notes[1] == (
        "sheets with other columns than 'Year 2009-2010' left out: 'Notes' (read one of them "
        "with --sheet NAME)"
    )
    assert reading.notes[2] == "1 rows without a customer id left out (guest orders)"

    blank_row = [[None] * 7]  # a blank row between orders is no guest order
    reading = read_purchase_log(
        _online_retail(tmp_path / "b.xlsx", blank_row + YEAR_TWO), {}, "GBP"
    )
    assert reading.notes[2:4] == (
        "1 rows without a customer id left out (guest orders)",
        "1 blank rows skipped",
    )


def test_a_missing_date_on_a_later_sheet_is_refused_by_its_row(tmp_path: Path) -> None:
    two = [*YEAR_TWO, [None] * 7, [536367, "84879", 32, None, 1.69, 13047, "United Kingdom"]]
    path = _online_retail(tmp_path / "orders.xlsx", two)
    # rows 2-5 are the first sheet's, the second sheet starts at row 6: its fourth row is 9
    with pytest.raises(BacktestError, match="the first is row 9"):
        read_purchase_log(path, {}, "GBP")


def test_an_import_reads_a_workbook_cells_as_the_user_sees_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two = [*YEAR_TWO, [536367, "84879", 32, dt.datetime(2010, 12, 1, 8, 34), "oops", 13047, "UK"]]
    path = _online_retail(tmp_path / "orders.xlsx", two)
    args = ["--kind", "purchases", "--map", "Invoice=order_id", "--map", "Price=unit_price"]
    args += ["--map", "Quantity=quantity", "--map", "Customer ID=customer_id"]
    args += ["--map", "InvoiceDate=occurred_at", "--currency", "GBP", "--timezone", "UTC"]
    code = main(
        ["import", str(path), *args, "--dry-run", "--json", "--no-progress", "--sample", "9"]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)

    events = {s["event"]["order_id"]: s["event"] for s in report["sample"]}
    assert events["489434"]["customer_id"] == "13085"  # not 13085.0
    assert events["489434"]["amount_minor"] == 12 * 695 + 12 * 675  # exact, lines summed
    at = dt.datetime(2010, 12, 1, 8, 26, tzinfo=dt.UTC).timestamp() * 1000
    assert events["536365"]["occurred_at"] == at  # a date cell, in the --timezone given
    assert code == 1
    rejected = [(r["row"], r["field"], r["reason"]) for r in report["rejected"]]
    assert (8, "unit_price", "invalid_amount") in rejected  # the second sheet's third row
    assert "'Year 2010-2011' from row 6" in captured.err


def test_a_file_that_is_no_workbook_names_the_file_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "Online Retail.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zipped workbook")
    assert main(["backtest", str(path), "--cutoff", "2011-06-30", "--out", str(tmp_path)]) == 2
    assert "Online Retail.xlsx: cannot read it as a spreadsheet" in capsys.readouterr().err


def test_a_numbers_document_is_refused_with_the_way_to_export_it(tmp_path: Path) -> None:
    path = tmp_path / "orders.numbers"
    path.write_bytes(b"a Numbers package")
    with pytest.raises(BacktestError, match=r"export it as CSV or Excel \(.xlsx\)"):
        read_purchase_log(path, {}, None)


def test_rows_above_the_column_names_are_refused_naming_the_row_and_the_fix(
    tmp_path: Path,
) -> None:
    path = _workbook(tmp_path / "orders.xlsx", ("Orders", [None, None], [["c1", "2024-01-01"]]))
    with pytest.raises(BacktestError, match="row 1 of sheet 'Orders' is empty but row 2 has 2"):
        read_purchase_log(path, {}, None)
    title = [["customer_id", "date"], ["c1", "2024-01-01"]]
    path = _workbook(tmp_path / "report.xlsx", ("Sales", ["Sales report 2024"], title))
    with pytest.raises(BacktestError, match=r"has 1 filled cell.* delete the rows above them"):
        read_purchase_log(path, {}, None)


def test_a_header_with_a_blank_corner_above_an_index_column_is_a_header(tmp_path: Path) -> None:
    rows = [[0, "c1", "2024-01-01", 5], [1, "c2", "2024-01-03", 7]]  # pandas' to_excel
    path = _workbook(tmp_path / "orders.xlsx", ("Sheet1", [None, "customer_id", "date", "x"], rows))
    assert read_purchase_log(path, {}, None).log.customer_ids == ["c1", "c2"]


def test_an_import_reads_a_computed_amount_as_excel_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 2.55 * 6  # a formula's result: the workbook stores 15.299999999999999
    assert repr(total) == "15.299999999999999"
    rows = [["c1", "2024-03-05T10:00:00Z", total], ["c2", "2024-03-06T10:00:00Z", 1e-05]]
    path = _workbook(
        tmp_path / "orders.xlsx", ("Orders", ["customer_id", "occurred_at", "amount"], rows)
    )
    args = ["--kind", "purchases", "--currency", "EUR", "--dry-run", "--json", "--no-progress"]
    code = main(["import", str(path), *args])
    report = json.loads(capsys.readouterr().out)
    assert [s["event"]["amount_minor"] for s in report["sample"]] == [1530]  # 15.3, not refused
    # a value with more decimals than the currency has is still refused, shown in full
    assert code == 1
    [rejected] = report["rejected"]
    assert (rejected["row"], rejected["reason"]) == (3, "invalid_amount")
    assert "0.00001" in rejected["detail"]


def test_the_sheet_to_read_can_be_named_and_a_missing_column_names_the_other_sheets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cover = ("Summary", ["Report", "Total"], [["orders", 3]])
    orders = ("Orders", ["customer_id", "date", "amount"], [["c1", "2024-01-02", 5.0]])
    path = _workbook(tmp_path / "export.xlsx", cover, orders)
    with pytest.raises(BacktestError, match=r"no customer_id column among Report, Total.*'Orders'"):
        read_purchase_log(path, {}, None)
    assert read_purchase_log(path, {}, None, sheet="Orders").log.customer_ids == ["c1"]
    with pytest.raises(
        BacktestError, match="no sheet 'Order'; the workbook has 'Summary', 'Orders'"
    ):
        read_purchase_log(path, {}, None, sheet="Order")
    args = ["--kind", "purchases", "--currency", "EUR", "--timezone", "UTC", "--dry-run", "--json"]
    assert main(["import", str(path), *args, "--map", "date=occurred_at", "--sheet", "Orders"]) == 0
    assert [s["event"]["customer_id"] for s in json.loads(capsys.readouterr().out)["sample"]] == [
        "c1"
    ]


def test_a_workbook_without_a_header_row_reads_its_sheets_by_position(tmp_path: Path) -> None:
    """Row 1 is already an order (numbers and a date): columns by position, found by content;
    a later sheet whose row 1 is an order as wide continues it."""
    orders = [
        [4, 1, dt.datetime(2024, 1, 1), 2, 29.33],
        [4, 1, dt.datetime(2024, 1, 18), 2, 29.73],
    ]
    more = [[18, 2, dt.datetime(2024, 2, 1), 1, 52.23]]
    book = Workbook()
    book.remove(book.active)
    for title, rows in (("1", orders), ("2", more)):
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / "orders.xlsx"
    book.save(path)

    reading = read_purchase_log(path, {}, "USD")
    log = reading.log
    assert log.customer_ids == ["18", "4"]
    assert sorted(log.amount.tolist()) == [29.33, 29.73, 52.23]
    assert any(
        "customer_id is column1, occurred_at is column3, amount is column5" in n
        for n in reading.notes
    )
