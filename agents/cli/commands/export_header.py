"""Exports without a header line: Fader & Hardie's own CDNOW files, database and shell dumps.

Such a file's first line is already an order (``00004 0001 19970101  2   29.33``). Read as
column names, its values would name the columns and the first order would be lost, so a
first line of nothing but numbers, dates and times is taken as a record (``--no-header`` says
so for any file): the columns are then named ``column1``, ``column2``... by position, and a
column a mapping does not name is found by its content, as such files are laid out:

- ``occurred_at``: the first column of dates (``1997-01-01``, ``12/1/2010``, ``19970101``;
  not bare numbers, which could as well be ids or counts);
- ``customer_id``: the first other column that is neither times of day nor money (the id
  leads in such exports);
- ``amount``: the last column of numbers written with decimals (money), if any.

A column is of a kind when nine in ten of its first cells are: a few bad cells are the rows'
errors, refused later naming their row, not the column's kind.

The reading's notes say which column became which field, and ``--map columnN=FIELD`` chooses
others.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: the table's schema metadata key marking positional column names
HEADERLESS = b"cxstream.headerless"
_NUMBER = re.compile(r"[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?")
_DECIMALS = re.compile(r"[-+]?\d*[.,]\d+")
_TIME = re.compile(r"\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?([+-]\d{2}:?\d{2}|Z)?")
_DATE = re.compile(
    r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([T ]\S*)?"
    r"|(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
)
SAMPLE = 2000  # rows whose cells decide a column's role
MOSTLY = 0.9  # share of those cells that must look the part


def positional_names(count: int) -> list[str]:
    return [f"column{i}" for i in range(1, count + 1)]


def looks_like_a_record(cells: Sequence[str]) -> bool:
    """A first line that is an order, not column names: two or more cells, each a number, a
    date or a time of day (a header names its columns with words)."""
    values = [v for v in (_unquoted(c) for c in cells) if v]
    return len(values) >= 2 and all(_record_cell(v) for v in values)


def mark_headerless(table: pa.Table) -> pa.Table:
    return table.replace_schema_metadata({**(table.schema.metadata or {}), HEADERLESS: b"1"})


def is_headerless(table: pa.Table) -> bool:
    return bool(table.schema.metadata and table.schema.metadata.get(HEADERLESS))


def infer_roles(table: pa.Table, mapped: dict[str, str]) -> dict[str, str]:
    """{field: column} for ``occurred_at``, ``customer_id`` and ``amount`` of a headerless
    table, from the columns' content, leaving out fields and columns ``mapped`` already names."""
    taken = set(mapped.values())
    free = [c for c in table.column_names if c not in taken]
    cells = {c: _sample(table[c]) for c in free}
    roles: dict[str, str] = {}
    if "occurred_at" not in mapped:
        dates = next((c for c in free if _all(cells[c], _is_date) or _typed_time(table[c])), None)
        if dates is not None:
            roles["occurred_at"] = dates
    rest = [c for c in free if c not in roles.values() and not _when(table[c], cells[c])]
    if "customer_id" not in mapped and rest:  # a date or a time of day is no one's id,
        ids = [c for c in rest if not _fractional(cells[c])] or rest  # nor is a price
        roles["customer_id"] = ids[0]
    rest = [c for c in rest if c not in roles.values()]
    if "amount" not in mapped:
        money = [c for c in rest if _money(table[c], cells[c])]
        if money:
            roles["amount"] = money[-1]
    return roles


ROLE_ORDER = ("customer_id", "occurred_at", "amount")


def roles_note(names: Sequence[str], roles: dict[str, str]) -> str:
    """What a reading of a headerless export says about its columns."""
    found = ", ".join(f"{field} is {roles[field]}" for field in ROLE_ORDER if field in roles)
    return (
        f"no header line: columns named {names[0]}..{names[-1]} by position"
        + (f"; {found}, found by their content" if found else "")
        + " (--map columnN=FIELD chooses others)"
    )


def add_no_header_option(parser: argparse.ArgumentParser) -> None:
    """``--no-header`` (backtest, fit and import): ``header`` is False with it, else None."""
    parser.add_argument(
        "--no-header",
        dest="header",
        action="store_const",
        const=False,
        default=None,
        help="the export's first line (a workbook's row 1) is a record, not column names: "
        "columns are column1, column2... by position, a purchase's customer, time and amount "
        "found by content unless --map names them (found out without it when that line holds "
        "only numbers and dates, as in Fader & Hardie's CDNOW files)",
    )


def record_like_names(names: Sequence[str]) -> list[str]:
    """Column names that are numbers, dates or times: a header line that is really an order."""
    return [n for n in names if _record_cell(_unquoted(n))]


def _unquoted(cell: str) -> str:
    return cell.strip().strip('"').strip()


def _record_cell(value: str) -> bool:
    """A number, a date or a time of day: a record's cell, never a column's name."""
    return bool(_NUMBER.fullmatch(value) or _DATE.fullmatch(value) or _TIME.fullmatch(value))


def _sample(column: pa.ChunkedArray) -> list[str]:
    head = pc.cast(column.slice(0, SAMPLE), pa.string()).to_pylist()
    return [str(v).strip() for v in head if v is not None and str(v).strip()]


def _all(values: list[str], test: Callable[[str], object]) -> bool:
    """Nearly all: a few bad cells are a column's errors (refused later by row), not its kind."""
    return bool(values) and sum(1 for v in values if test(v)) >= MOSTLY * len(values)


def _is_date(text: str) -> bool:
    return _DATE.fullmatch(text) is not None


def _money(column: pa.ChunkedArray, values: list[str]) -> bool:
    """Numbers written with decimals (a reader that typed them as floats dropped ``.00``)."""
    if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
        return bool(values)
    return _all(values, _NUMBER.fullmatch) and any(_DECIMALS.fullmatch(v) for v in values)


def _when(column: pa.ChunkedArray, values: list[str]) -> bool:
    """A column of dates or of times of day."""
    return _typed_time(column) or _all(values, _is_date) or _all(values, _TIME.fullmatch)


def _fractional(values: list[str]) -> bool:
    """Numbers with a fraction somewhere (money), not ids (``17850`` or ``17850.0``)."""
    return _all(values, _NUMBER.fullmatch) and any(
        _DECIMALS.fullmatch(v) and float(v.replace(",", ".")) % 1 for v in values
    )


def _typed_time(column: pa.ChunkedArray) -> bool:
    return bool(pa.types.is_timestamp(column.type) or pa.types.is_date(column.type))
