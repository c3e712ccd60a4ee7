"""Read a purchase export (CSV/TSV/whitespace text, JSON Lines, Parquet) into a PurchaseLog.

Columns are found by common names (case, spaces and punctuation aside: ``Customer ID``,
``InvoiceDate``) or named with ``--map column=field``; fields are ``customer_id``,
``occurred_at`` and, optional, ``amount`` (the order's or line's value), ``unit_price`` and
``quantity`` (a line-item export: value = quantity times unit price) and ``currency``.

A purchase log from a shop holds more than purchases: rows with a negative quantity or value
are returns or cancellations, and rows without a customer are guest orders. Neither is a
purchase of a known customer, so both are left out (a return would otherwise count as buying
again) and the reading says how many rows each rule left out. Dates are parsed once per
distinct value, so a million orders over a few years cost a few thousand parses.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from streams.contracts.import_money import learn_decimal_mark, parse_amount
from streams.contracts.import_times import ImportSetupError
from streams.evaluation.backtest import BacktestError, PurchaseLog

FIELDS = ("customer_id", "occurred_at", "amount", "unit_price", "quantity", "currency")
#: column names each field is found by, lower case without spaces or punctuation, in preference
CANDIDATES = {
    field: tuple(names.split())
    for field, names in {
        "customer_id": "customerid customer clientid custid userid memberid accountid id",
        "occurred_at": "occurredat date invoicedate orderdate purchasedate transactiondate "
        "timestamp datetime time",
        "amount": "amount value revenue dollarvalue total ordertotal linetotal sales",
        "unit_price": "unitprice price priceeach",
        "quantity": "quantity qty",
        "currency": "currency currencycode",
    }.items()
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")


class LogReading(NamedTuple):
    """A read purchase log: its purchases, their currency (None when unknown) and what the
    reading did that a user should know (rows left out, how the value was found)."""

    log: PurchaseLog
    currency: str | None
    notes: tuple[str, ...]


def parse_mapping(pairs: Sequence[str], fields: Sequence[str] = FIELDS) -> dict[str, str]:
    """``column=field`` pairs to {field: column} (``cxstream import`` passes its own fields)."""
    out: dict[str, str] = {}
    for pair in pairs:
        column, sep, name = pair.rpartition("=")
        if not sep or name not in fields or not column:
            raise BacktestError(
                f"--map {pair!r}: expected COLUMN=FIELD, FIELD one of {', '.join(fields)}"
            )
        out[name] = column
    return out


def _read_table(
    path: Path, *, text: bool = False, ragged: list[tuple[int, str]] | None = None
) -> pa.Table:
    """The export as a table.

    ``text=True`` (for ``cxstream import``) keeps every CSV cell a string (ids keep leading
    zeros, amounts their exact decimals), a quoted line break inside its cell and a blank line
    as an empty row, so rows are numbered as a spreadsheet shows them; given ``ragged``, a row
    with the wrong number of cells is skipped into it as ``(line, why)`` instead of failing
    the whole file.
    """
    suffix = path.suffix.lower()
    if suffix in SPREADSHEETS:
        raise BacktestError(
            f"{path}: a spreadsheet ({suffix}) is not read; save the sheet as CSV (UTF-8) and "
            "pass that file"
        )
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pajson.read_json(path)
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            header = fh.readline()
        for delimiter in (",", "\t", ";", "|"):
            if delimiter in header:
                if text:
                    return _read_text_csv(path, header, delimiter, ragged)
                return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        return _read_whitespace(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{path}: cannot read it as {suffix or 'text'}: {exc}") from exc


def _read_text_csv(
    path: Path, header: str, delimiter: str, ragged: list[tuple[int, str]] | None
) -> pa.Table:
    def skip(row: pacsv.InvalidRow) -> str:
        if ragged is None:
            return "error"
        cells = f"{row.actual_columns} cells where the header has {row.expected_columns}"
        ragged.append((row.number or 0, f"{cells}: {row.text[:60]!r}"))
        return "skip"

    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False),  # invalid rows know their line
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            ignore_empty_lines=False,
            newlines_in_values=True,
            invalid_row_handler=skip,
        ),
        convert_options=_as_text(header, delimiter),
    )


def _as_text(header: str, delimiter: str) -> pacsv.ConvertOptions:
    """Read every column of the CSV whose first line is ``header`` as strings."""
    names = next(csv.reader([header], delimiter=delimiter))
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _read_whitespace(path: Path) -> pa.Table:
    lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    names = lines[0].split()
    rows = [line.split() for line in lines[1:] if line.strip()]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
    if bad is not None:
        raise BacktestError(f"{path}: line {bad + 2} has a different number of columns")
    return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})


def _pick(table: pa.Table, mapping: dict[str, str], name: str) -> str | None:
    if name in mapping:
        if mapping[name] not in table.column_names:
            raise BacktestError(
                f"--map {mapping[name]}={name}: no column {mapping[name]!r}; the log has "
                f"{', '.join(table.column_names)}"
            )
        return mapping[name]
    plain = {_plain(c): c for c in reversed(table.column_names)}  # the first of equal names
    return next((plain[c] for c in CANDIDATES[name] if c in plain), None)


def _plain(column: str) -> str:
    """``Customer ID``, ``customer_id`` and ``CustomerID`` alike: ``customerid``."""
    return "".join(ch for ch in column.lower() if ch.isalnum())


def _parse_date(text: str, fmt: str | None) -> float:
    """Days since the epoch (UTC) of one date or timestamp string."""
    if fmt:
        value = dt.datetime.strptime(text, fmt)
    elif len(text) == 8 and text.isdigit():
        value = dt.datetime.strptime(text, "%Y%m%d")
    else:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return (value - EPOCH).total_seconds() / 86400.0


def _days(column: pa.ChunkedArray, name: str, fmt: str | None) -> np.ndarray:
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        seconds = pc.cast(pc.cast(column, pa.timestamp("s"), safe=False), pa.int64()).to_numpy()
        return np.asarray(seconds, dtype=np.float64) / 86400.0
    texts = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)
    uniq, inverse = np.unique(texts.astype(str), return_inverse=True)
    parsed, bad = np.empty(len(uniq)), []
    for i, text in enumerate(uniq):
        try:
            parsed[i] = _parse_date(text.strip(), fmt)
        except ValueError:
            bad.append(text)
    if bad:
        raise BacktestError(
            f"unparseable dates in column {name!r}: {bad[0]!r} (and {len(bad) - 1} more distinct); "
            "give --date-format, e.g. --date-format %d/%m/%Y"
        )
    return parsed[inverse]


def _numbers(table: pa.Table, column: str, field: str) -> np.ndarray:
    """A numeric column as floats (missing: 0). Text is read as ``cxstream import`` reads
    money: ``1,234.50``, ``€ 12,50``, ``(3.00)``, the decimal mark learned from the column."""
    values = table[column]
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        try:
            values = pc.cast(values, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BacktestError(
                f"column {column!r} ({field}) is {values.type}, not numbers; name another "
                f"column with --map COLUMN={field}"
            ) from exc
        return np.nan_to_num(np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64))
    texts = pc.fill_null(values, "").to_numpy(zero_copy_only=False).astype(str)
    uniq, inverse = np.unique(texts, return_inverse=True)
    try:
        mark = learn_decimal_mark(enumerate(uniq), column)
    except ImportSetupError as exc:
        raise BacktestError(str(exc)) from exc
    parsed = np.zeros(len(uniq))
    for i, text in enumerate(uniq):
        if not text.strip():
            continue
        try:
            parsed[i] = float(parse_amount(text, mark).value)
        except ValueError as exc:
            raise BacktestError(
                f"column {column!r} ({field}) holds values that are not numbers ({exc}); give "
                f"amounts such as 12.50 or 1,234.50, or name another column with "
                f"--map COLUMN={field}"
            ) from exc
    return parsed[inverse]


def _known_customers(table: pa.Table, column: str) -> pa.Table:
    """Rows with a customer id: a missing or blank one is a guest order."""
    ids = pc.cast(table[column], pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(ids), "")
    return table.filter(pc.and_kleene(pc.is_valid(ids), pc.invert(blank)))


def _check_currency(table: pa.Table, column: str | None, currency: str | None) -> str | None:
    if column is None:
        return currency
    seen = sorted(str(v) for v in pc.unique(table[column]).to_pylist())
    if currency is None and len(seen) == 1:
        return seen[0]
    if currency is None or any(s != currency for s in seen):
        raise BacktestError(
            f"orders in {', '.join(seen)} but --currency is {currency}: cxstream does not "
            "convert currencies; filter the log to one currency or set --currency"
        )
    return currency


def _values(
    table: pa.Table, cols: dict[str, str | None], quantity: np.ndarray | None, notes: list[str]
) -> np.ndarray:
    """Each row's value: the amount column, else quantity times unit price, else 0."""
    if cols["amount"] is not None:
        return _numbers(table, cols["amount"], "amount")
    if cols["unit_price"] is None:
        return np.zeros(table.num_rows)
    price = _numbers(table, cols["unit_price"], "unit_price")
    if quantity is None:
        notes.append(f"each row's value is its {cols['unit_price']!r} (no quantity column)")
        return price
    notes.append(f"each row's value is {cols['quantity']!r} times {cols['unit_price']!r}")
    value: np.ndarray = price * quantity
    return value


def read_purchase_log(
    path: Path, mapping: dict[str, str], currency: str | None, date_format: str | None = None
) -> LogReading:
    """The log's purchases by known customers, their currency, and what was left out."""
    if not path.exists():
        raise BacktestError(f"{path}: no such file")
    table = _read_table(path)
    cols = {name: _pick(table, mapping, name) for name in FIELDS}
    for name in ("customer_id", "occurred_at"):
        if cols[name] is None:
            raise BacktestError(
                f"no {name} column among {', '.join(table.column_names)}: add --map COLUMN={name}"
            )
    cust_col, date_col = str(cols["customer_id"]), str(cols["occurred_at"])
    notes: list[str] = []
    rows = table.num_rows
    table = _known_customers(table, cust_col)
    if table.num_rows < rows:
        notes.append(
            f"{rows - table.num_rows:,} rows without a customer id left out (guest orders)"
        )
    currency = _check_currency(table, cols["currency"], currency)
    quantity = None if cols["quantity"] is None else _numbers(table, cols["quantity"], "quantity")
    amount = _values(table, cols, quantity, notes)
    returned = amount < 0
    if quantity is not None:
        returned |= quantity < 0
    if returned.any():
        notes.append(
            f"{int(returned.sum()):,} rows with a negative quantity or value left out "
            "(returns or cancellations are not purchases)"
        )
    kept = ~returned
    if not kept.any():
        raise BacktestError(
            f"{path}: no purchases of known customers left ({'; '.join(notes) or 'no rows'}); "
            "check --map customer_id and the value columns"
        )
    ids = pc.cast(table[cust_col], pa.string()).to_numpy(zero_copy_only=False).astype(str)[kept]
    uniq, codes = np.unique(ids, return_inverse=True)
    days = _days(table[date_col], date_col, date_format)[kept]
    log = PurchaseLog(codes.astype(np.int64), days, amount[kept], [str(u) for u in uniq])
    return LogReading(log, currency, tuple(notes))
