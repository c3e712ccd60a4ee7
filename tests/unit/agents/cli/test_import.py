"""``cxstream import --dry-run`` on the shipped messy exports: what happens to every row."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.cli.main import main

DATA = Path(__file__).resolve().parents[3] / "data"
MESSY = DATA / "import_orders_messy.csv"
JSONL = DATA / "import_orders.jsonl"
CSV_ARGS = [
    "--kind", "purchases",
    "--map", "customer=customer_id",
    "--map", "order_date=occurred_at",
    "--map", "total=amount",
    "--timezone", "Europe/Berlin",
    "--currency", "EUR",
]  # fmt: skip


def dry_run(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, Any]:
    code = main(["import", str(path), *args, "--dry-run", "--json", "--no-progress"])
    return code, json.loads(capsys.readouterr().out)


def dry_run_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *args: str
) -> tuple[int, Any]:
    path = tmp_path / "export.csv"
    path.write_text(text)
    return dry_run(capsys, path, "--kind", "purchases", *args)


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def test_every_row_of_the_messy_csv_is_mapped_or_rejected_with_row_field_and_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = dry_run(capsys, MESSY, *CSV_ARGS)
    assert code == 1  # some rows were rejected
    assert [(r["row"], r["field"], r["reason"]) for r in report["rejected"]] == [
        (6, "customer_id", "empty_customer_id"),  # the customer id is missing
        (9, "occurred_at", "invalid_time"),  # "not a date"
        (10, "amount", "invalid_amount"),  # "abc"
        (12, "occurred_at", "nonexistent_local_time"),  # 02:30 on the night clocks spring
        (13, "currency", "currency_mismatch"),  # "$10.00" in a EUR row
        (14, "amount", "invalid_amount"),  # 1.005 EUR: a tenth of a cent
        (15, "-", "wrong_column_count"),  # 1,234.00 unquoted: one cell too many
    ]
    assert report["summary"] == {
        "read": 14,
        "blank_skipped": 2,
        "produced": 0,
        "rejected": 7,
        "rejected_by_reason": {
            "empty_customer_id": 1,
            "invalid_time": 1,
            "invalid_amount": 2,
            "nonexistent_local_time": 1,
            "currency_mismatch": 1,
            "wrong_column_count": 1,
        },
        "lines_merged_into_orders": 0,  # every order id is one row
        "not_bought_skipped": 0,  # no status column mapped
        "not_bought_by_status": {},
    }
    assert (
        report["valid"] == 7
    )  # row 16's quoted line break stays inside its cell and report["delivery"] is None
    events = {s["event"]["order_id"]: s["event"] for s in report["sample"]}
    # the first five valid rows, in file order, as the contract's JSON records
    assert list(events) == ["A-1001", "A-1002", "A-1003", "A-1003-R", "A-1005"]
    assert events["A-1001"]["amount_minor"] == 123450  # "1,234.50", quoted comma
    assert events["A-1001"]["occurred_at"] == ms("2024-03-05T14:22:00+01:00")  # Berlin, CET
    assert events["A-1002"]["occurred_at"] == ms("2024-03-07T00:00:00+01:00")  # 07/03: day first
    assert (events["A-1002"]["amount_minor"], events["A-1002"]["currency"]) == (4500, "EUR")
    assert events["A-1003"]["occurred_at"] == ms("2024-03-09T00:00:00+01:00")  # March 9, 2024
    refund = events["A-1003-R"]
    assert (refund["kind"], refund["amount_minor"]) == ("refund", -1250)  # "(12.50)"
    assert events["A-1005"]["occurred_at"] == 1710928800000  # epoch seconds, no zone needed
    assert {e["customer_id"] for e in events.values()} == {"c-001", "c-002", "c-003"}
    forms = {(f["format"]): f["count"] for f in report["time_formats"]}
    assert forms["epoch seconds"] == 1 and forms["epoch milliseconds"] == 1
    assert forms["DD/MM/YYYY"] == 2 and forms["Month D, YYYY"] == 1
    assert report["event_time"] == {
        "min": "2024-03-05T13:22:00.000Z",
        "max": "2024-03-25T08:00:00.000Z",
    }
    errors = {(e["field"], e["reason"]): e["count"] for e in report["errors"]}
    assert errors[("amount", "invalid_amount")] == 2


def test_the_terminal_report_shows_sample_formats_errors_by_field_and_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["import", str(MESSY), *CSV_ARGS, "--dry-run", "--no-progress"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    for expected in (
        "columns used: customer → customer_id",
        "epoch seconds: 1",
        "epoch milliseconds: 1",
        "sample of mapped events",
        "event time of the valid records: 2024-03-05T13:22:00.000Z",
        "rejected, by field and reason",
        "nonexistent_local_time",
    ):
        assert expected in out, expected
    assert "read 14 rows (2 blank skipped): 7 valid (dry run: nothing sent), 7 rejected" in out


def test_re_running_gives_the_same_event_ids(capsys: pytest.CaptureFixture[str]) -> None:
    first = dry_run(capsys, MESSY, *CSV_ARGS, "--sample", "10")[1]["sample"]
    again = dry_run(capsys, MESSY, *CSV_ARGS, "--sample", "10")[1]["sample"]
    assert [s["event"]["event_id"] for s in first] == [s["event"]["event_id"] for s in again]
    assert len({s["event"]["event_id"] for s in first}) == 7


def test_json_lines_export(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--kind", "purchases", "--map", "customer=customer_id", "--map", "placed=occurred_at"]
    args += ["--map", "total=amount", "--timezone", "Europe/Berlin"]
    code, report = dry_run(capsys, JSONL, *args)
    assert code == 1
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [
        (5, "invalid_json"),  # a line cut short
        (6, "empty_customer_id"),  # "customer": null
    ]
    assert report["summary"]["blank_skipped"] == 1 and report["summary"]["read"] == 6
    events = {s["event"]["order_id"]: s["event"] for s in report["sample"]}
    assert events["J-2"]["customer_id"] == "102"  # a number in JSON, an id in the contract
    assert events["J-2"]["amount_minor"] == 125000  # "1.250,00": decimal comma learned
    assert (events["J-3"]["kind"], events["J-3"]["amount_minor"]) == ("refund", -1999)
    assert events["J-3"]["occurred_at"] == ms("2024-04-04T18:30:00+02:00")  # CEST
    assert (events["J-6"]["currency"], events["J-6"]["amount_minor"]) == ("USD", 700)


@pytest.mark.parametrize(
    ("rows", "args", "says"),
    [
        (
            ["c1,2024-03-05 14:22,1"],
            ["--currency", "EUR"],
            "column 'occurred_at' has times without a UTC offset (row 2",
        ),
        (
            ["c1,05/03/2024,1", "c2,01/02/2024,2"],
            ["--currency", "EUR", "--timezone", "UTC"],
            "give --date-format %d/%m/%Y or --date-format %m/%d/%Y",
        ),
        (["c1,2024-03-05T14:22Z,1"], ["--currency", "EUR", "--timezone", "Mars/X"], "IANA"),
        (["c1,2024-03-05T14:22Z,1"], ["--map", "x=amount"], "no column 'x'"),
        (["c1,2024-03-05T14:22Z,1"], ["--set", "colour=red"], "--set 'colour=red'"),
    ],
)
def test_setup_problems_exit_2_naming_the_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[str],
    args: list[str],
    says: str,
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(["customer_id,occurred_at,amount", *rows]) + "\n")
    assert main(["import", str(path), "--kind", "purchases", *args, "--dry-run"]) == 2
    assert says in " ".join(capsys.readouterr().err.split())


LINE_ITEMS = [
    "Invoice,StockCode,Quantity,InvoiceDate,Price,Customer ID,Country",
    "536365,85123A,6,2010-12-01T08:26:00Z,2.55,17850,United Kingdom",
    "536365,71053,2,2010-12-01T08:26:00Z,3.39,17850,United Kingdom",
    "536366,22633,6,2010-12-01T08:28:00Z,1.85,13047,United Kingdom",
    "536367,84879,32,2010-12-01T08:34:00Z,oops,13047,United Kingdom",
    "536367,22745,6,2010-12-01T08:34:00Z,2.10,13047,United Kingdom",
    "536368,22960,6,2010-12-01T08:34:00Z,4.25,12583,United Kingdom",
]
LINE_ARGS = [
    "--kind", "purchases",
    "--map", "Invoice=order_id",
    "--map", "Customer ID=customer_id",
    "--map", "InvoiceDate=occurred_at",
    "--map", "Price=unit_price",
    "--map", "Quantity=quantity",
    "--currency", "GBP",
    "--sample", "10",
]  # fmt: skip


def test_a_line_item_export_becomes_one_purchase_per_order_imported_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "online_retail.csv"
    path.write_text("\n".join(LINE_ITEMS) + "\n")
    code, report = dry_run(capsys, path, *LINE_ARGS)

    events = {s["event"]["order_id"]: s["event"] for s in report["sample"]}
    assert list(events) == ["536365", "536366", "536368"]  # one purchase per invoice
    assert events["536365"]["amount_minor"] == 6 * 255 + 2 * 339  # its lines' values summed
    assert events["536365"]["item_count"] == 8  # and their quantities
    assert (events["536366"]["amount_minor"], events["536366"]["item_count"]) == (1110, 6)
    # invoice 536367 has a line that is no amount: the whole order waits for the fix, so a
    # re-import after it brings the order once, whole
    assert code == 1
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [
        (5, "invalid_amount"),
        (6, "order_incomplete"),
    ]
    assert "row 5 of order '536367' was rejected" in report["rejected"][1]["detail"]
    assert report["summary"]["lines_merged_into_orders"] == 1
    again = dry_run(capsys, path, *LINE_ARGS)[1]
    assert [s["event"]["event_id"] for s in again["sample"]] == [
        e["event_id"] for e in events.values()
    ]


def test_order_lines_without_counts_count_one_item_per_line_and_one_currency_per_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = dry_run_csv(
        capsys,
        tmp_path,
        "order_id,customer_id,occurred_at,amount,currency\n"
        "o1,c1,2024-03-05T10:00:00Z,5.00,EUR\n"
        "o1,c1,2024-03-05T10:00:00Z,7.50,EUR\n"
        "o2,c2,2024-03-06T10:00:00Z,5.00,EUR\n"
        "o2,c2,2024-03-06T10:00:00Z,5.00,USD\n",
    )
    assert code == 1
    [order] = [s["event"] for s in report["sample"]]
    assert (order["amount_minor"], order["item_count"]) == (1250, 2)
    assert {(r["row"], r["reason"]) for r in report["rejected"]} == {
        (4, "order_currency_mismatch"),
        (5, "order_currency_mismatch"),
    }


@pytest.mark.parametrize(
    ("header", "row", "args", "says"),
    [
        ("c,t,price", "c1,2024-03-05T10:00:00Z,2.55", ["--map", "price=unit_price"], "quantity"),
        ("c,t,price,qty", "c1,2024-03-05T10:00:00Z,2.55,0.333", [], "map the line total"),
        ("c,t,price,qty", "c1,2024-03-05T10:00:00Z,2.55,lots", [], "not a number of units"),
    ],
)
def test_a_unit_price_needs_a_quantity_and_a_product_that_is_money(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    header: str,
    row: str,
    args: list[str],
    says: str,
) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(f"{header}\n{row}\n")
    mapping = ["--map", "c=customer_id", "--map", "t=occurred_at", "--currency", "EUR"]
    if "qty" in header:
        mapping += ["--map", "price=unit_price", "--map", "qty=quantity"]
    code = main(["import", str(path), "--kind", "purchases", *mapping, *args, "--dry-run"])
    assert code in (1, 2)
    out = capsys.readouterr()
    assert says in " ".join((out.out + out.err).split())


def test_quantity_and_unit_price_columns_are_read_only_when_mapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An orders export that happens to have them keeps the events (and ids) it always had."""
    code, report = dry_run_csv(
        capsys,
        tmp_path,
        "order_id,customer_id,occurred_at,amount,quantity,unit_price\n"
        "o1,c1,2024-03-05T10:00:00Z,12.50,3,4.1666\n",
        "--currency",
        "EUR",
    )
    assert code == 0
    [event] = [s["event"] for s in report["sample"]]
    assert (event["amount_minor"], event["item_count"]) == (1250, 0)


def test_an_order_the_contract_refuses_is_reported_on_every_one_of_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = dry_run_csv(
        capsys,
        tmp_path,
        "order_id,customer_id,occurred_at,amount\n"
        "o1,c1,2024-03-05T10:00:00Z,6000000000000.00\n"  # each line is within the limit,
        "o1,c1,2024-03-05T10:00:00Z,6000000000000.00\n"  # the order is not
        ",c1,2024-03-06T10:00:00Z,5.00\n"
        ",c1,2024-03-07T10:00:00Z,5.00\n",
        "--currency",
        "EUR",
    )
    assert code == 1
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [
        (2, "amount_minor"),
        (3, "order_id"),
        (4, "order_id"),
        (5, "order_id"),
    ]
    assert report["rejected"][1]["reason"] == "order_incomplete"
    assert report["summary"]["read"] == len(report["rejected"]) == 4


def test_rows_whose_mapped_status_says_never_bought_are_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = (
        "order_id,customer_id,occurred_at,amount,currency,order_status\n"
        "o1,c1,2024-03-05T10:00:00Z,5.00,EUR,delivered\n"
        "o2,c1,2024-03-06T10:00:00Z,7.50,EUR,Canceled\n"
        "o3,c2,2024-03-06T11:00:00Z,9.00,EUR,unavailable\n"
        "o4,c2,2024-03-07T10:00:00Z,4.00,EUR,\n"
    )
    code, report = dry_run_csv(capsys, tmp_path, export, "--map", "order_status=status")
    assert code == 0  # a cancelled order is not an error in the export
    assert [s["event"]["order_id"] for s in report["sample"]] == ["o1", "o4"]
    summary = report["summary"]
    assert (summary["read"], summary["not_bought_skipped"]) == (4, 2)
    assert summary["not_bought_by_status"] == {"canceled": 1, "unavailable": 1}

    # without the mapping the status column is not read: every order is imported, as before
    code, report = dry_run_csv(capsys, tmp_path, export)
    assert [s["event"]["order_id"] for s in report["sample"]] == ["o1", "o2", "o3", "o4"]


def test_a_day_numbered_export_reads_with_day_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dunnhumby's Complete Journey counts days (DAY 1..711) instead of writing dates."""
    export = (
        "household_key,BASKET_ID,DAY,SALES_VALUE\n"
        "2375,26984851472,1,1.39\n"
        "2375,26984851516,8,2.50\n"
        "1364,26984896261,60,x\n"
    )
    mapping = [
        "--map", "household_key=customer_id",
        "--map", "BASKET_ID=order_id",
        "--map", "DAY=occurred_at",
        "--map", "SALES_VALUE=amount",
        "--currency", "USD",
        "--timezone", "America/Chicago",
    ]  # fmt: skip
    code, report = dry_run_csv(capsys, tmp_path, export, *mapping, "--day-zero", "2024-01-01")
    assert code == 1  # the third row's amount
    times = [s["event"]["occurred_at"] for s in report["sample"]]
    assert times == [ms("2024-01-02T00:00:00-06:00"), ms("2024-01-09T00:00:00-06:00")]
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(4, "amount")]

    # without --day-zero every row says what the numbers look like and how to read them
    code, report = dry_run_csv(capsys, tmp_path, export, *mapping)
    assert {r["field"] for r in report["rejected"]} == {"occurred_at"}
    assert all("give --day-zero DATE" in r["detail"] for r in report["rejected"][:2])

    path = tmp_path / "export.csv"
    both = ["--day-zero", "2024-01-01", "--date-format", "%d/%m/%Y"]
    refusals = (
        (both, "give one of them"),
        (["--day-zero", "Jan 1"], "--day-zero 'Jan 1': expected a date such as 1997-09-30"),
    )  # worded as backtest and fit word them: the three read --day-zero alike
    for extra, says in refusals:
        args = ["import", str(path), "--kind", "purchases", *mapping, *extra, "--dry-run"]
        assert main(args) == 2
        assert says in " ".join(capsys.readouterr().err.split())


def test_a_headerless_export_imports_every_row_with_columns_found_by_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Laid out as Fader & Hardie's CDNOW_sample.txt: no header line; its first line is an
    order too (dates moved into the contract's accepted window)."""
    path = tmp_path / "CDNOW_sample.txt"
    later = [f" 000{20 + i} 00{10 + i} 202402{10 + i}  1   1{i}.00\n" for i in range(8)]
    path.write_text(
        " 00004 0001 20240101  2   29.33\n"
        " 00004 0001 20240118  2   29.73\n"
        " 00018 0002 20240101  2   x\n" + "".join(later)
    )
    args = ["--kind", "purchases", "--currency", "USD", "--timezone", "UTC"]
    code, report = dry_run(capsys, path, *args)

    assert code == 1  # the third row's amount
    events = [s["event"] for s in report["sample"]][:2]
    assert [(e["customer_id"], e["occurred_at"], e["amount_minor"]) for e in events] == [
        ("00004", ms("2024-01-01T00:00:00+00:00"), 2933),
        ("00004", ms("2024-01-18T00:00:00+00:00"), 2973),
    ]
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(3, "amount")]

    # a first line with letters is read as column names unless --no-header says otherwise
    path.write_text("c004,2024-01-01,29.33\nc004,2024-01-18,29.73\n")
    mapped = ["--map", "column1=customer_id", "--map", "column2=occurred_at"]
    code, report = dry_run(capsys, path, *args, *mapped, "--map", "column3=amount", "--no-header")
    assert code == 0
    assert [s["event"]["customer_id"] for s in report["sample"]] == ["c004", "c004"]
