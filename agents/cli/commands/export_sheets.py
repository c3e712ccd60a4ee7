"""A spreadsheet export (.xlsx, .xlsm, .xlsb, .xls, .ods) as an Arrow table, read by calamine.

Shops and analysts hand over workbooks as often as CSV files (UCI's Online Retail logs ship as
.xlsx, one sheet per year). The first row of the first sheet names the columns; every later
sheet with the same header continues it, and a sheet with other columns is left out, saying
so. Row numbers count on across the sheets read, so the notes say on which row each sheet
starts.

Cells keep the types the workbook gives them: a column of dates is a timestamp column, a
column of numbers a float (or integer) column. With ``text=True`` (``cxstream import``) every
cell becomes the text Excel shows: ``17850`` not ``17850.0``, numbers to 15 significant digits,
dates in ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from python_calamine import CalamineError, CalamineWorkbook

from agents.cli.commands.export_header import (
    looks_like_a_record,
    mark_headerless,
    positional_names,
)
from streams.contracts.import_rows import blank_cell
from streams.evaluation.backtest import BacktestError

Cell = Any  # str, float, int, bool, datetime, date, time or timedelta, as calamine gives them


def read_sheets(
    path: Path,
    *,
    text: bool,
    notes: list[str] | None,
    sheet: str | None = None,
    header: bool | None = True,
) -> pa.Table:
    """The workbook's first sheet (or ``sheet``) and every other sheet that shares its header,
    in the workbook's order. ``header``: whether row 1 names the columns; None finds out (a
    row 1 of only numbers and dates is a record: ``export_header``), and a sheet without one
    is continued by the later sheets as wide whose row 1 is a record too."""
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheets = [(name, _rows(book, name)) for name in book.sheet_names]
    except (CalamineError, OSError, ValueError) as exc:
        raise BacktestError(f"{path}: cannot read it as a spreadsheet: {exc}") from exc
    if sheet is not None and sheet not in book.sheet_names:
        known = ", ".join(map(repr, book.sheet_names))
        raise BacktestError(f"{path}: no sheet {sheet!r}; the workbook has {known}")
    sheets = [
        (name, rows) for name, rows in sheets if not all(blank_cell(c) for r in rows for c in r)
    ]
    if sheet is None:
        first = sheets[0] if sheets else None
    else:
        first = next((s for s in sheets if s[0] == sheet), None)
    if first is None:
        what = f"sheet {sheet!r}" if sheet else "every sheet"
        raise BacktestError(f"{path}: {what} is empty")
    first_name, first_rows = first
    names_row = _header(first_rows[0])
    named = header or (header is None and not looks_like_a_record(names_row))
    if named:
        _check_header(path, first_name, first_rows)
    body: list[Sequence[Cell]] = []
    starts: list[tuple[str, int]] = []
    left_out: list[str] = []
    for name, rows in sheets:
        row_one = _header(rows[0])
        same = row_one == names_row if named else _record_as_wide(row_one, names_row)
        if not same:
            left_out.append(name)
            continue
        starts.append((name, len(body) + (2 if named else 1)))
        body.extend(rows[1:] if named else rows)
    if notes is not None:
        _note_sheets(first_name, starts, left_out, notes)
    while body and all(blank_cell(c) for c in body[-1]):  # trailing blank rows
        body.pop()
    width = len(names_row)
    names = (
        [h or f"column {i + 1}" for i, h in enumerate(names_row)]
        if named
        else positional_names(width)
    )
    if any(len(r) < width for r in body):  # sheets of different widths
        body = [[*r, *[""] * (width - len(r))] for r in body]
    columns = [list(c) for c in zip(*body, strict=False)][:width] if body else [[]] * width
    arrays = [_as_text(c) if text else _typed(c) for c in columns]
    table = pa.Table.from_arrays(arrays, names=names)
    return table if named else mark_headerless(table)


def _record_as_wide(row: list[str], first: list[str]) -> bool:
    """A later sheet continues a headerless one: its row 1 is a record as wide as the first's."""
    return len(row) == len(first) and looks_like_a_record(row)


def _check_header(path: Path, sheet: str, rows: list[list[Cell]]) -> None:
    """Row 1 must name the columns: a title or blank rows above them are refused, naming the
    row the names seem to be on. (A header one cell short, such as the blank corner pandas
    writes above its index, is a header.)"""
    counts = [sum(not blank_cell(c) for c in row) for row in rows[:20]]
    widest = max(range(len(counts)), key=lambda i: (counts[i], -i))
    if counts[0] * 2 <= counts[widest] and counts[0] < counts[widest]:
        what = "is empty" if counts[0] == 0 else f"has {counts[0]} filled cell(s)"
        raise BacktestError(
            f"{path}: row 1 of sheet {sheet!r} {what} but row {widest + 1} has "
            f"{counts[widest]}: the first row must name the columns; delete the rows above them"
        )


def _rows(book: CalamineWorkbook, name: str) -> list[list[Cell]]:
    """Every row of a sheet from A1 (leading blank rows kept, so row numbers are the sheet's)."""
    rows: list[list[Cell]] = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return rows


def _note_sheets(
    first: str, starts: list[tuple[str, int]], left_out: list[str], notes: list[str]
) -> None:
    if len(starts) > 1:
        where = ", ".join(f"{name!r} from row {row:,}" for name, row in starts)
        notes.append(f"read {len(starts)} sheets with the same columns, rows numbered on: {where}")
    if left_out:
        notes.append(
            f"sheets with other columns than {first!r} left out: "
            f"{', '.join(map(repr, left_out))} (read one of them with --sheet NAME)"
        )


def _header(row: Sequence[Cell]) -> list[str]:
    out = [_text(c).strip() for c in row]
    while out and not out[-1]:
        out.pop()
    return out


def _text(cell: Cell) -> str:
    """A cell as a user sees it: whole numbers without ``.0``, dates in ISO 8601."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float):
        return _number_text(cell)
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    return str(cell)


def _number_text(value: float) -> str:
    """A number cell as Excel shows it: 15 significant digits (a computed price stored as
    15.299999999999999 reads 15.3, so an import does not refuse it for its decimals), whole
    numbers without ``.0``, never in exponent form."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if value != value or value in (math.inf, -math.inf):
        return repr(value)
    return format(Decimal(f"{value:.15g}"), "f")


def _as_text(cells: list[Cell]) -> pa.Array:
    return pa.array([c if type(c) is str else _text(c) for c in cells], pa.string())


def _typed(cells: list[Cell]) -> pa.Array:
    """Dates as timestamps, numbers as numbers (whole ones as integers), anything mixed as
    text; a blank cell is null. Arrow infers the type; only date columns take a second pass
    (Arrow would read dates mixed with date-times as dates, dropping the times)."""
    values = [None if c == "" else c for c in cells]
    try:
        inferred = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if c is None else _text(c) for c in values], pa.string())
    if pa.types.is_date(inferred.type) or pa.types.is_timestamp(inferred.type):
        return pa.array(
            [c if c is None or isinstance(c, dt.datetime) else _midnight(c) for c in values],
            pa.timestamp("us"),
        )
    if pa.types.is_floating(inferred.type):
        whole = pc.all(pc.equal(pc.floor(inferred), inferred)).as_py() is not False
        if whole and (pc.max(pc.abs(inferred)).as_py() or 0) < 2**53:
            return pc.cast(inferred, pa.int64())
    if pa.types.is_null(inferred.type) or pa.types.is_time(inferred.type):
        return pa.array([None if c is None else _text(c) for c in values], pa.string())
    return inferred


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)
