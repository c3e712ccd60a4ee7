"""Reading real shop exports for ``cxstream backtest`` and ``fit``: line items, returns, guest
orders, column names as shops spell them, and values that are not numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from agents.cli.commands.backtest_log import read_purchase_log
from agents.cli.commands.log_cells import option_day
from agents.cli.main import main
from streams.evaluation.backtest import BacktestError

DATA = Path(__file__).parents[3] / "data" / "orders_small.csv"
ONLINE_RETAIL = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _by_customer(path: Path) -> dict[str, list[tuple[float, float]]]:
    log = read_purchase_log(path, {}, None).log
    out: dict[str, list[tuple[float, float]]] = {}
    for code, day, amount in zip(log.customer, log.day, log.amount, strict=True):
        out.setdefault(log.customer_ids[code], []).append((float(day), float(amount)))
    return out


def test_a_line_item_export_is_read_as_orders_leaving_out_returns_and_guests(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "online_retail.csv",
        ONLINE_RETAIL,
        [
            "536365,85123A,HEART HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "536365,71053,METAL LANTERN,2,2010-12-01 08:26:00,3.39,17850,United Kingdom",
            "536366,22633,HAND WARMER,6,2010-12-02 08:28:00,1.85,13047,United Kingdom",
            "536370,22728,ALARM CLOCK,4,2010-12-05 09:00:00,3.75,17850,United Kingdom",
            "C536379,D,Discount,-1,2011-02-01 09:41:00,27.50,17850,United Kingdom",
            "536414,22139,RETROSPOT TEA SET,56,2010-12-01 11:52:00,0.00,,United Kingdom",
        ],
    )
    reading = read_purchase_log(path, {}, None)
    orders = _by_customer(path)

    assert sorted(orders) == ["13047", "17850"]  # the guest line is nobody's purchase
    # invoice 536365's two lines are one order: 6 x 2.55 + 2 x 3.39; the cancelled invoice
    # does not count as buying again
    assert [round(a, 2) for _, a in orders["17850"]] == [22.08, 15.0]
    assert reading.notes == (
        "1 rows without a customer id left out (guest orders)",
        "each row's value is 'Quantity' times 'Price'",
        "1 rows with a negative quantity or value left out (returns or cancellations are not "
        "purchases)",
        "4 line items grouped into 3 orders by 'Invoice'",
    )


def test_without_an_order_column_every_row_is_an_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv", "customer_id,date,amount", ["c1,2024-01-01,5", "c1,2024-01-01,7"]
    )
    assert _by_customer(path) == {"c1": [(19723.0, 5.0), (19723.0, 7.0)]}
    mapped = read_purchase_log(path, {"order_id": "date"}, None)
    assert mapped.log.amount.tolist() == [12.0]
    blank_ids = _write(
        tmp_path / "b.csv",
        "customer_id,order_id,date,amount",
        ["c1,,2024-01-01,5", "c1, ,2024-02-01,7", "c1,o9,2024-03-01,1", "c1,o9,2024-03-01,2"],
    )
    assert _by_customer(blank_ids) == {"c1": [(19723.0, 5.0), (19754.0, 7.0), (19783.0, 3.0)]}


@pytest.mark.parametrize(
    ("dates", "first_day", "form"),
    [
        (["12/1/2010 8:26", "12/13/2010 17:05"], "2010-12-01", "MM/DD/YYYY"),  # Online Retail
        (["01/12/2010", "13/12/2010"], "2010-12-01", "DD/MM/YYYY"),
        (["March 5, 2024", "March 9, 2024"], "2024-03-05", "Month D, YYYY"),
    ],
)
def test_dates_as_shops_write_them_are_read_with_the_day_order_learned_from_the_column(
    tmp_path: Path, dates: list[str], first_day: str, form: str
) -> None:
    rows = [f'c{i},"{d}",5' for i, d in enumerate(dates)]
    reading = read_purchase_log(
        _write(tmp_path / "o.csv", "customer_id,date,amount", rows), {}, None
    )
    expected = float(np.datetime64(first_day, "D").astype(int))
    assert int(reading.log.day.min()) == expected
    assert reading.notes == (f"dates in 'date' read as {form}",)


@pytest.mark.parametrize(
    ("dates", "says"),
    [
        (["05/03/2024", "06/04/2024"], "'05/03/2024' \\(row 3\\) could be day/month or month"),
        (["2024-01-01", ""], "1 rows have no date in column 'date' \\(the first is row 4\\)"),
        (["2024-01-01", "soon"], "unparseable dates in column 'date': 'soon'"),
        (["11-Feb-13", "1-Jan-14"], "give --date-format %d-%b-%y \\(it reads every one"),
        (["01/02/13", "03/04/15"], "give the one they are in: --date-format %d/%m/%y or %m/%d/%y"),
    ],
)
def test_dates_that_cannot_be_read_are_refused_naming_the_column_and_the_fix(
    tmp_path: Path, dates: list[str], says: str
) -> None:
    guest = ",no date either,5"  # left out before dates are read; rows are still numbered
    rows = [guest, *(f"c{i},{d},5" for i, d in enumerate(dates))]
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", rows)
    with pytest.raises(BacktestError, match=says) as refused:
        read_purchase_log(path, {}, None)
    assert "--date-format" in str(refused.value) or "fill them in" in str(refused.value)


def test_blank_string_ids_are_guests_not_one_customer(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        "customer,order date,amount",
        ["c1,2024-01-01,5", ",2024-01-02,7", "  ,2024-01-03,9", "c2,2024-01-04,-3"],
    )
    reading = read_purchase_log(path, {}, None)
    assert reading.log.customer_ids == ["c1"]
    assert np.array_equal(reading.log.amount, [5.0])
    assert reading.notes[0] == "2 rows without a customer id left out (guest orders)"


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("Customer ID,Order Date,Total", "Customer ID"),
        ("CUSTOMER-ID,order_date,Sales", "CUSTOMER-ID"),
        ("CustomerID,InvoiceDate,Revenue", "CustomerID"),
    ],
)
def test_columns_are_found_whatever_their_case_and_spacing(
    tmp_path: Path, header: str, found: str
) -> None:
    path = _write(tmp_path / "o.csv", header, ["c1,2024-01-01,5", "c2,2024-02-01,7"])
    log = read_purchase_log(path, {}, None).log
    assert log.customer_ids == ["c1", "c2"], found
    assert np.array_equal(log.amount, [5.0, 7.0])


def test_money_written_as_shops_export_it_reads_as_cxstream_import_reads_it(
    tmp_path: Path,
) -> None:
    rows = ["c1,2024-01-01,$5.00", 'c1,2024-02-01,"$1,234.50"', "c2,2024-01-03,(3.00)"]
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", [*rows, "c3,2024-01-04,"])
    reading = read_purchase_log(path, {}, None)
    assert np.array_equal(reading.log.amount, [5.0, 1234.5, 0.0])  # (3.00) is a return
    assert reading.log.customer_ids == ["c1", "c3"]
    decimal_comma = _write(tmp_path / "eu.csv", "kunde;datum;umsatz", ["k1;2024-01-01;12,50 €"])
    mapping = {"customer_id": "kunde", "occurred_at": "datum", "amount": "umsatz"}
    assert read_purchase_log(decimal_comma, mapping, None).log.amount.tolist() == [12.5]


def test_a_value_column_that_is_not_numbers_names_the_column_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", ["c1,2024-01-01,twelve"])
    with pytest.raises(BacktestError, match=r"column 'amount' \(amount\).*not numbers"):
        read_purchase_log(path, {}, None)
    assert main(["backtest", str(path), "--cutoff", "2024-01-01", "--out", str(tmp_path)]) == 2
    assert "--map COLUMN=amount" in capsys.readouterr().err


def test_a_log_of_nothing_but_returns_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", ["c1,2024-01-01,-5"])
    with pytest.raises(BacktestError, match="no purchases of known customers left"):
        read_purchase_log(path, {}, None)


def test_the_report_says_what_reading_the_log_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pacsv.read_csv(DATA)
    rows = [
        f"{c},{d},{t},{cur}"
        for c, d, t, cur in zip(*(table[n].to_pylist() for n in table.column_names), strict=True)
    ]
    returns = [f"{c},2024-10-05,-10.00,EUR" for c in table["customer_id"].to_pylist()[:3]]
    path = _write(tmp_path / "o.csv", ",".join(table.column_names), rows + returns)
    out = tmp_path / "report"

    argv = ["backtest", str(path), "--cutoff", "2024-09-30", "--horizon", "180"]
    assert main([*argv, "--out", str(out)]) == 0

    note = "3 rows with a negative quantity or value left out"
    assert note in capsys.readouterr().err
    assert f"- Reading the log: {note}" in (out / "report.md").read_text()


def test_dates_that_miss_the_given_format_are_refused_saying_so(tmp_path: Path) -> None:
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", ["c1,01-31-2024,5"])
    with pytest.raises(BacktestError, match="do not match --date-format %d/%m/%Y"):
        read_purchase_log(path, {}, None, "%d/%m/%Y")


def test_columns_named_as_public_retail_logs_name_them_are_found(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        "household_key,BASKET_ID,trans_date,SALES_VALUE",
        ["h1,b1,2024-01-01,2.5", "h1,b1,2024-01-01,1.5", "h2,b2,2024-01-02,4"],
    )
    reading = read_purchase_log(path, {}, None)
    assert reading.log.customer_ids == ["h1", "h2"]
    assert reading.log.amount.tolist() == [4.0, 4.0]  # basket b1's two lines are one order


def test_orders_whose_status_says_they_were_not_bought_are_left_out(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "olist.csv",
        "order_id,customer_unique_id,order_status,order_purchase_timestamp,payment_value",
        [
            "o1,u1,delivered,2017-10-02 10:56:33,38.71",
            "o2,u1,canceled,2017-11-02 10:56:33,20.00",
            "o3,u2,Unavailable,2017-11-03 09:00:00,15.00",
            "o4,u2,shipped,2017-11-05 09:00:00,12.00",
        ],
    )
    reading = read_purchase_log(path, {}, None)
    assert reading.log.amount.tolist() == [38.71, 12.0]
    assert reading.notes == (
        "2 rows whose 'order_status' says the order was not bought (canceled, unavailable) "
        "left out",
    )


def test_a_log_that_counts_days_reads_with_the_date_of_day_zero(tmp_path: Path) -> None:
    header = "household_key,BASKET_ID,DAY,QUANTITY,SALES_VALUE"  # dunnhumby's Complete Journey
    path = _write(tmp_path / "t.csv", header, ["h1,b1,1,2,2.5", "h1,b1,1,1,1.5", "h2,b2,31,1,4"])
    with pytest.raises(BacktestError, match="they look like day numbers: give --day-zero DATE"):
        read_purchase_log(path, {}, None)

    zero = option_day("2024-01-01", "--day-zero")
    reading = read_purchase_log(path, {}, None, day_zero=zero)
    assert (reading.log.day - zero).tolist() == [1.0, 31.0]
    assert reading.notes[0] == "'DAY' read as day numbers: day 0 is 2024-01-01"
    assert option_day("31", "--cutoff", zero) == option_day("2024-02-01", "--cutoff")


def test_day_zero_refuses_a_column_of_dates_and_the_date_format_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path / "o.csv", "customer_id,date,amount", ["c1,1,5", "c2,2024-01-05,5"])
    with pytest.raises(BacktestError, match=r"'2024-01-05' \(row 3\), not a day number"):
        read_purchase_log(path, {}, None, day_zero=0.0)
    args = ["backtest", str(path), "--cutoff", "10", "--day-zero", "2024-01-01", "--out"]
    assert main([*args, str(tmp_path), "--date-format", "%Y"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main(["backtest", str(path), "--cutoff", "10", "--out", str(tmp_path)]) == 2
    assert "--cutoff '10': expected a date such as 1997-09-30" in capsys.readouterr().err


CDNOW_SAMPLE_LINES = [  # Fader & Hardie's CDNOW_sample.txt: id, sample id, date, CDs, dollars
    " 00004 0001 19970101  2   29.33",
    " 00004 0001 19970118  2   29.73",
    " 00004 0001 19970802  1   14.96",
    " 00018 0002 19970101  2   52.23",
    " 00021 0003 19970101  3   10.00",
    " 00021 0003 19970113  1   28.48",
]


def test_a_headerless_cdnow_file_keeps_its_first_order_and_finds_columns_by_content(
    tmp_path: Path,
) -> None:
    path = tmp_path / "CDNOW_sample.txt"
    path.write_text("\n".join(CDNOW_SAMPLE_LINES) + "\n")
    reading = read_purchase_log(path, {}, "USD")
    orders = _by_customer(path)

    assert sorted(orders) == ["00004", "00018", "00021"]
    # the first line is customer 00004's first order, not the column names
    assert [a for _, a in orders["00004"]] == [29.33, 29.73, 14.96]
    assert orders["00004"][0][0] == option_day("1997-01-01", "--cutoff")
    assert reading.notes[0] == (
        "no header line: columns named column1..column5 by position; customer_id is column1, "
        "occurred_at is column3, amount is column5, found by their content "
        "(--map columnN=FIELD chooses others)"
    )


def test_a_headerless_csv_of_dates_then_ids_has_no_amount_column(tmp_path: Path) -> None:
    path = tmp_path / "transactions.csv"
    path.write_text("2014-03-08 00:00:00,0\n2014-05-21 00:00:00,1\n2014-03-14 00:00:00,0\n")
    orders = _by_customer(path)

    assert orders == {
        "0": [(option_day("2014-03-08", "--cutoff"), 0.0), (option_day("2014-03-14", "-"), 0.0)],
        "1": [(option_day("2014-05-21", "--cutoff"), 0.0)],
    }


def test_a_mapped_column_of_a_headerless_file_is_not_guessed_again(tmp_path: Path) -> None:
    path = tmp_path / "CDNOW_sample.txt"
    path.write_text("\n".join(CDNOW_SAMPLE_LINES) + "\n")
    log = read_purchase_log(path, {"customer_id": "column2"}, "USD").log

    assert log.customer_ids == ["0001", "0002", "0003"]
    assert sorted(log.amount.tolist()) == sorted([29.33, 29.73, 14.96, 52.23, 10.0, 28.48])


def test_no_header_reads_a_first_order_with_letters_and_the_refusal_suggests_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dump.csv"
    path.write_text("c001,2024-01-05,10.50\nc002,2024-01-06,20.00\nc001,2024-02-01,5.25\n")
    with pytest.raises(BacktestError) as refused:
        read_purchase_log(path, {}, "EUR")
    assert "looks like an order, not column names" in str(refused.value)
    assert "add --no-header" in str(refused.value)

    log = read_purchase_log(path, {}, "EUR", header=False).log
    assert log.customer_ids == ["c001", "c002"]
    assert sorted(log.amount.tolist()) == [5.25, 10.5, 20.0]


def test_a_headerless_file_without_dates_names_its_columns_and_the_fix(tmp_path: Path) -> None:
    ambiguous = tmp_path / "ambiguous.txt"  # its first line is row 1, as the user counts
    ambiguous.write_text("1 12/1/2010 2.50\n2 12/2/2010 3.00\n")
    with pytest.raises(BacktestError, match=r"'12/1/2010' \(row 1\) could be day/month"):
        read_purchase_log(ambiguous, {}, "EUR")

    path = tmp_path / "numbers.txt"
    path.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(BacktestError) as refused:
        read_purchase_log(path, {}, "EUR")
    message = str(refused.value)
    assert "no header line, and no column of dates among column1 (1), column2 (2)" in message
    assert "add --map columnN=occurred_at" in message


def test_numeric_customer_ids_keep_their_leading_zeros(tmp_path: Path) -> None:
    """scores.csv is joined back to a CRM by id: ``00042`` must not come back as ``42``."""
    path = _write(
        tmp_path / "orders.csv",
        "customer_id,date,amount",
        ["00042,2024-01-05,10.50", "042,2024-01-06,20.00", "00042,2024-02-01,5.25"],
    )
    log = read_purchase_log(path, {}, "EUR").log

    assert log.customer_ids == ["00042", "042"]
    assert sorted(log.amount.tolist()) == [5.25, 10.5, 20.0]


def test_an_api_export_with_nested_customers_reads_their_ids(tmp_path: Path) -> None:
    """A shop API's orders nest the customer (``{"customer": {"id": 7}}``): its fields are
    columns of their own, ``customer.id`` found as ``customer_id`` is."""
    path = tmp_path / "orders.jsonl"
    path.write_text(
        '{"id": 1001, "created_at": "2024-03-01T10:00:00-05:00", "total_price": "19.90", '
        '"customer": {"id": 7001, "email": "a@example.com"}, "line_items": [{"sku": "A"}]}\n'
        '{"id": 1002, "created_at": "2024-04-02T10:00:00-05:00", "total_price": "5.00", '
        '"customer": {"id": 7001, "email": "a@example.com"}, "line_items": [{"sku": "B"}]}\n'
    )
    orders = _by_customer(path)
    assert orders == {
        "7001": [
            (option_day("2024-03-01", "--cutoff") + 15 / 24, 19.9),
            (option_day("2024-04-02", "--cutoff") + 15 / 24, 5.0),
        ]
    }

    with pytest.raises(BacktestError) as refused:
        read_purchase_log(path, {"amount": "line_items"}, None)
    assert "column 'line_items' (amount) holds lists" in str(refused.value)
    assert "add --map COLUMN=amount" in str(refused.value)


def test_a_headerless_file_never_takes_a_time_of_day_or_a_price_for_the_customer(
    tmp_path: Path,
) -> None:
    """``12/1/2010 8:26`` split by whitespace leaves a column of times; a price may come
    before the id: neither is a customer."""
    path = tmp_path / "orders.txt"
    path.write_text(
        "12/1/2010 8:26 2.55 17850\n12/1/2010 8:28 3.39 17850\n12/13/2010 9:01 1.85 13047\n"
    )
    reading = read_purchase_log(path, {}, "GBP")

    assert reading.log.customer_ids == ["13047", "17850"]
    assert sorted(reading.log.amount.tolist()) == [1.85, 2.55, 3.39]
    assert "customer_id is column4, occurred_at is column1, amount is column3" in reading.notes[0]
