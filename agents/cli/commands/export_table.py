"""An export file as an Arrow table, for ``cxstream backtest``, ``fit`` and ``import``.

CSV, TSV and other delimited text (the delimiter found in the header line), whitespace-separated
text (CDNOW's own format), JSON Lines, Parquet and spreadsheets (``export_sheets``). A file
that cannot be read names its type and the reader's complaint.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from agents.cli.commands.export_sheets import read_sheets
from streams.evaluation.backtest import BacktestError

SPREADSHEETS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
JSON_LINES = (".jsonl", ".ndjson", ".json")


def first_row_number(path: Path) -> int:
    """The number a user sees on the export's first record: 2 in a text file or spreadsheet
    with a header line (the header is row 1), 1 in Parquet or JSON Lines."""
    return 1 if path.suffix.lower() in (".parquet", *JSON_LINES) else 2


def read_table(
    path: Path,
    *,
    text: bool = False,
    ragged: list[tuple[int, str]] | None = None,
    notes: list[str] | None = None,
) -> pa.Table:
    """The export as a table.

    ``text=True`` (for ``cxstream import``) keeps every CSV cell a string (ids keep leading
    zeros, amounts their exact decimals), a quoted line break inside its cell and a blank line
    as an empty row, so rows are numbered as a spreadsheet shows them; given ``ragged``, a row
    with the wrong number of cells is skipped into it as ``(line, why)`` instead of failing
    the whole file. ``notes`` gets what a user should know about how a workbook's sheets
    were read.
    """
    suffix = path.suffix.lower()
    if suffix == ".numbers":
        raise BacktestError(
            f"{path}: a Numbers document is not read; export it as CSV or Excel (.xlsx) and "
            "pass that file"
        )
    if suffix in SPREADSHEETS:
        return read_sheets(path, text=text, notes=notes)
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix in JSON_LINES:
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
