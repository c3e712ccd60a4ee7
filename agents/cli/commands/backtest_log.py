"""Read a purchase export (CSV/TSV/whitespace text, JSON Lines, Parquet) into a PurchaseLog.

Columns are found by common names or named with ``--map column=field``; fields are
``customer_id``, ``occurred_at``, ``amount`` (optional) and ``currency`` (optional). Dates are
parsed once per distinct value, so a million orders over a few years cost a few thousand parses.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from streams.evaluation.backtest import BacktestError, PurchaseLog

FIELDS = ("customer_id", "occurred_at", "amount", "currency")
CANDIDATES = {
    "customer_id": ("customer_id", "customerid", "customer", "client_id", "user_id", "id"),
    "occurred_at": ("occurred_at", "date", "invoicedate", "order_date", "timestamp", "time"),
    "amount": ("amount", "value", "revenue", "dollar_value", "total", "sales", "price"),
    "currency": ("currency", "currency_code"),
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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
    lower = {c.lower(): c for c in table.column_names}
    return next((lower[c] for c in CANDIDATES[name] if c in lower), None)


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


def read_purchase_log(
    path: Path, mapping: dict[str, str], currency: str | None, date_format: str | None = None
) -> tuple[PurchaseLog, str | None]:
    """The log's orders and the currency they are in (None when unknown)."""
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
    table = table.filter(pc.is_valid(table[cust_col]))
    if cols["currency"] is not None:
        seen = sorted(str(v) for v in pc.unique(table[cols["currency"]]).to_pylist())
        if currency is None and len(seen) == 1:
            currency = seen[0]
        elif currency is None or any(s != currency for s in seen):
            raise BacktestError(
                f"orders in {', '.join(seen)} but --currency is {currency}: cxstream does not "
                "convert currencies; filter the log to one currency or set --currency"
            )
    ids = pc.cast(table[cust_col], pa.string()).to_numpy(zero_copy_only=False).astype(str)
    uniq, codes = np.unique(ids, return_inverse=True)
    days = _days(table[date_col], date_col, date_format)
    if cols["amount"] is not None:
        amount = pc.cast(table[cols["amount"]], pa.float64()).to_numpy(zero_copy_only=False)
        amount = np.nan_to_num(np.asarray(amount, dtype=np.float64))
    else:
        amount = np.zeros(len(days))
    log = PurchaseLog(codes.astype(np.int64), days, amount, [str(u) for u in uniq])
    return log, currency
