"""Read a purchase export (CSV/TSV/whitespace text, JSON Lines, Parquet, a spreadsheet) into a
PurchaseLog.

Columns are found by common names (case, spaces and punctuation aside: ``Customer ID``,
``InvoiceDate``) or named with ``--map column=field``; fields are ``customer_id``,
``occurred_at`` and, optional, ``amount`` (the order's or line's value), ``unit_price`` and
``quantity`` (a line-item export: value = quantity times unit price), ``currency``,
``order_id`` (an invoice or order number: a line-item export's lines of one order are one
purchase, their values summed; without it every row is an order) and ``status`` (an order
status).

A purchase log from a shop holds more than purchases: rows with a negative quantity or value
are returns or cancellations, rows whose status says cancelled, refunded, voided, failed or
unavailable were never bought, and rows without a customer are guest orders. None is a
purchase of a known customer, so all are left out (a return would otherwise count as buying
again) and the reading says how many rows each rule left out. Dates and money are read as
``cxstream import`` reads them (``log_cells``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from agents.cli.commands.export_header import (
    infer_roles,
    is_headerless,
    record_like_names,
    roles_note,
)
from agents.cli.commands.export_table import (
    JSON_LINES,
    SPREADSHEETS,
    first_row_number,
    read_table,
)
from agents.cli.commands.log_cells import day_numbers, numbers
from streams.contracts.import_purchase import never_bought
from streams.evaluation.backtest import BacktestError, PurchaseLog

FIELDS = (
    "customer_id",
    "occurred_at",
    "amount",
    "unit_price",
    "quantity",
    "currency",
    "order_id",
    "status",
)
#: column names each field is found by, lower case without spaces or punctuation, in preference
CANDIDATES = {
    field: tuple(names.split())
    for field, names in {
        "customer_id": "customeruniqueid customerid customer clientid custid userid memberid "
        "accountid customerno customernumber custno clientno buyerid shopperid householdkey "
        "customercode id",
        "occurred_at": "occurredat date invoicedate orderdate purchasedate transactiondate "
        "transdate trandate saledate salesdate orderdatetime orderpurchasetimestamp createdat "
        "timestamp datetime time day",
        "amount": "amount value revenue dollarvalue total ordertotal linetotal sales "
        "tranamount transactionamount transamount purchaseamount orderamount ordervalue "
        "totalamount totalprice grandtotal salesvalue saleamount spend paymentvalue",
        "unit_price": "unitprice price priceeach",
        "quantity": "quantity qty",
        "currency": "currency currencycode",
        "order_id": "orderid invoice invoiceno invoicenumber invoiceid ordernumber orderno "
        "transactionid receiptid receiptno basketid",
        "status": "orderstatus status financialstatus paymentstatus",
    }.items()
}


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


def _blank_cells(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Which cells are blank (:func:`blank_cell`, for a whole column): missing, or only spaces."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pc.is_null(column)
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), True)


def _blank_rows(table: pa.Table) -> int:
    """Rows with nothing in any cell (a spreadsheet's empty rows): neither orders nor guests."""
    empty = None
    for column in table.columns:
        cells = _blank_cells(column)
        empty = cells if empty is None else pc.and_(empty, cells)
    return 0 if empty is None else int(pc.sum(empty).as_py() or 0)


def _not_bought(table: pa.Table, column: str | None, notes: list[str]) -> np.ndarray:
    """Rows whose order status says the order was cancelled, refunded, voided or failed."""
    if column is None:
        return np.zeros(table.num_rows, dtype=bool)
    status = pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(table[column], pa.string())))
    texts = pc.fill_null(status, "").to_numpy(zero_copy_only=False).astype(str)
    uniq, inverse = np.unique(texts, return_inverse=True)  # a few statuses, judged once each
    out: np.ndarray = np.array([never_bought(str(s)) for s in uniq], dtype=bool)[inverse]
    if out.any():
        seen = ", ".join(sorted(set(texts[out].tolist()))[:5])
        notes.append(
            f"{int(out.sum()):,} rows whose {column!r} says the order was not bought ({seen}) "
            "left out"
        )
    return out


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
        return numbers(table, cols["amount"], "amount")
    if cols["unit_price"] is None:
        return np.zeros(table.num_rows)
    price = numbers(table, cols["unit_price"], "unit_price")
    if quantity is None:
        notes.append(f"each row's value is its {cols['unit_price']!r} (no quantity column)")
        return price
    notes.append(f"each row's value is {cols['quantity']!r} times {cols['unit_price']!r}")
    value: np.ndarray = price * quantity
    return value


def read_purchase_log(
    path: Path,
    mapping: dict[str, str],
    currency: str | None,
    date_format: str | None = None,
    day_zero: float | None = None,
    sheet: str | None = None,
    header: bool | None = None,
) -> LogReading:
    """The log's purchases by known customers, their currency, and what was left out.
    ``day_zero``: the time column counts days from this day (days since the epoch);
    ``sheet``: a workbook's sheet to read (default the first); ``header``: whether a text
    export's first line names its columns (None: found out, ``export_header``)."""
    if not path.exists():
        raise BacktestError(f"{path}: no such file")
    notes: list[str] = []
    table = read_table(path, notes=notes, sheet=sheet, header=header)
    if is_headerless(table):
        mapping = _by_position(table, mapping, notes)
        header = False
    cols = {name: _pick(table, mapping, name) for name in FIELDS}
    ids = cols["customer_id"]
    if ids is not None and pa.types.is_integer(table.schema.field(ids).type) and _delimited(path):
        # read as numbers, 00042 and 042 would be one customer, named 42 in scores.csv
        table = read_table(path, sheet=sheet, header=header, text_columns=[ids])
    for name in ("customer_id", "occurred_at"):
        if cols[name] is None:
            raise _missing(name, table, notes)
    for name, column in cols.items():
        if column is not None and pa.types.is_nested(table.schema.field(column).type):
            raise BacktestError(
                f"column {column!r} ({name}) holds lists, not one value per order: add --map "
                f"COLUMN={name} naming a column of plain values (a nested object's fields are "
                "columns of their own, such as customer.id)"
            )
    cust_col, date_col = str(cols["customer_id"]), str(cols["occurred_at"])
    rows = table.num_rows
    all_ids = pc.cast(table[cust_col], pa.string())
    known = pc.invert(_blank_cells(all_ids))  # a missing or blank id is a guest order
    first = 1 if is_headerless(table) else first_row_number(path)  # row 1: the first order
    row_numbers = (np.arange(rows) + first)[known.to_numpy(zero_copy_only=False)]
    blank = _blank_rows(table) if not pc.all(known).as_py() else 0
    table = table.filter(known)
    if guests := rows - table.num_rows - blank:
        notes.append(f"{guests:,} rows without a customer id left out (guest orders)")
    if blank:
        notes.append(f"{blank:,} blank rows skipped")
    currency = _check_currency(table, cols["currency"], currency)
    quantity = None if cols["quantity"] is None else numbers(table, cols["quantity"], "quantity")
    amount = _values(table, cols, quantity, notes)
    returned = amount < 0
    if quantity is not None:
        returned |= quantity < 0
    if returned.any():
        notes.append(
            f"{int(returned.sum()):,} rows with a negative quantity or value left out "
            "(returns or cancellations are not purchases)"
        )
    kept = ~returned & ~_not_bought(table, cols["status"], notes)
    if not kept.any():
        raise BacktestError(
            f"{path}: no purchases of known customers left ({'; '.join(notes) or 'no rows'}); "
            "check --map customer_id and the value columns"
        )
    ids = all_ids.filter(known).to_numpy(zero_copy_only=False).astype(str)[kept]
    uniq, codes = np.unique(ids, return_inverse=True)
    days = day_numbers(table[date_col], date_col, date_format, notes, row_numbers, day_zero)
    days = days[kept]
    log = PurchaseLog(codes.astype(np.int64), days, amount[kept], [str(u) for u in uniq])
    if cols["order_id"] is not None:
        orders = pc.cast(table[str(cols["order_id"])], pa.string())
        log = _orders(log, pc.fill_null(orders, "").to_numpy(zero_copy_only=False)[kept])
        if len(log.day) < int(kept.sum()):
            notes.append(
                f"{int(kept.sum()):,} line items grouped into {len(log.day):,} orders by "
                f"{cols['order_id']!r}"
            )
    return LogReading(log, currency, tuple(notes))


def _delimited(path: Path) -> bool:
    """A text export Arrow reads with guessed types (not a workbook, Parquet or JSON)."""
    return path.suffix.lower() not in (*SPREADSHEETS, *JSON_LINES, ".parquet")


def _by_position(table: pa.Table, mapping: dict[str, str], notes: list[str]) -> dict[str, str]:
    """A headerless export's fields: those ``mapping`` names, the others found by content."""
    roles = infer_roles(table, mapping)
    notes.append(roles_note(table.column_names, roles))
    return {**roles, **mapping}


def _missing(name: str, table: pa.Table, notes: list[str]) -> BacktestError:
    """No column for a required field: name the columns and the fix."""
    read = f" ({'; '.join(notes)})" if notes else ""  # e.g. sheets left out
    if is_headerless(table):
        what = "dates" if name == "occurred_at" else "customer ids"
        samples = ", ".join(
            f"{c} ({table[c][0].as_py()!s:.20})" for c in table.column_names if len(table[c])
        )
        return BacktestError(
            f"no header line, and no column of {what} among {samples}: add --map "
            f"columnN={name}{read}"
        )
    hint = ""
    if record_like_names(table.column_names):
        hint = (
            f"; the first line ({', '.join(table.column_names)[:60]}) looks like an order, not "
            "column names: if the export has no header line, add --no-header"
        )
    return BacktestError(
        f"no {name} column among {', '.join(table.column_names)}: add --map "
        f"COLUMN={name}{hint}{read}"
    )


def _orders(lines: PurchaseLog, order_ids: np.ndarray) -> PurchaseLog:
    """One row per (customer, order id): the order's value is its lines' sum, its day the
    earliest line's, so a five-line invoice is one purchase, not five. A row without an order
    id is an order of its own."""
    ids = np.char.strip(order_ids.astype(str))
    blank = ids == ""
    ids = np.where(blank, np.char.add("\x00", np.arange(len(ids)).astype(str)), ids)
    _, order_codes = np.unique(ids, return_inverse=True)
    pairs, index = np.unique(
        np.stack([lines.customer, order_codes.astype(np.int64)], axis=1),
        axis=0,
        return_inverse=True,
    )
    index = index.reshape(-1)
    day = np.full(len(pairs), np.inf)
    np.minimum.at(day, index, lines.day)
    amount = np.bincount(index, weights=lines.amount, minlength=len(pairs)).astype(np.float64)
    return PurchaseLog(pairs[:, 0].copy(), day, amount, lines.customer_ids)
