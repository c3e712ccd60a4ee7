"""An export file as an Arrow table, for ``cxstream backtest``, ``fit`` and ``import``.

CSV, TSV and other delimited text (the delimiter found in the header line), whitespace-separated
text (CDNOW's own format), JSON Lines or one JSON array of objects, Parquet and spreadsheets
(``export_sheets``). Text that is not UTF-8 is read as Windows-1252 (else Latin-1), as Excel on
Windows saves CSV files (the common copy of UCI's Online Retail is such a file), or as UTF-16
after its byte-order mark (Excel's "Unicode Text"), and the notes say so. A file that cannot
be read names its type and the reader's complaint.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from agents.cli.commands.export_header import (
    looks_like_a_record,
    mark_headerless,
    positional_names,
)
from agents.cli.commands.export_sheets import read_sheets
from streams.evaluation.backtest import BacktestError

SPREADSHEETS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
JSON_LINES = (".jsonl", ".ndjson", ".json")
#: tried in order on a text export: the first that decodes the whole file is its encoding
TEXT_ENCODINGS = ("utf-8", "cp1252", "latin-1")
_ENCODING_NAMES = {"cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO 8859-1)", "utf-16": "UTF-16"}


def first_row_number(path: Path) -> int:
    """The number a user sees on the export's first record: 2 in a text file or spreadsheet
    with a header line (the header is row 1), 1 in Parquet or JSON Lines."""
    return 1 if path.suffix.lower() in (".parquet", *JSON_LINES) else 2


def text_encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark (Excel's "Unicode Text"), else the
    first of :data:`TEXT_ENCODINGS` that decodes the whole file (Latin-1 always does)."""
    with path.open("rb") as fh:
        if fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
    for encoding in TEXT_ENCODINGS[:-1]:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return TEXT_ENCODINGS[-1]


def json_array(path: Path) -> list[Any] | None:
    """The elements of a file holding one JSON array (an API dump), None for JSON Lines."""
    with path.open("rb") as fh:
        start = fh.read(4096).lstrip(codecs.BOM_UTF8 + b" \t\r\n")
    if not start.startswith(b"["):
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise BacktestError(f"{path}: not one JSON array, nor JSON Lines: {exc}") from exc
    if not isinstance(value, list):  # e.g. [1] [2]: not one array
        raise BacktestError(f"{path}: not one JSON array of objects, nor JSON Lines")
    return value


def read_table(
    path: Path,
    *,
    text: bool = False,
    ragged: list[tuple[int, str]] | None = None,
    notes: list[str] | None = None,
    sheet: str | None = None,
    header: bool | None = True,
    text_columns: Sequence[str] = (),
) -> pa.Table:
    """The export as a table.

    ``text=True`` (for ``cxstream import``) keeps every CSV cell a string (ids keep leading
    zeros, amounts their exact decimals), a quoted line break inside its cell and a blank line
    as an empty row, so rows are numbered as a spreadsheet shows them; given ``ragged``, a row
    with the wrong number of cells is skipped into it as ``(line, why)`` instead of failing
    the whole file. ``notes`` gets what a user should know about how the file was read (a
    workbook's sheets, an encoding other than UTF-8). ``sheet``: a workbook's sheet whose
    header is read (default the first), refused for any other file. ``header``: whether a
    text export's first line names its columns; None finds out (``export_header``: a first
    line of only numbers and dates is an order, and the columns are named by position).
    ``text_columns``: columns of a delimited text export kept as strings rather than Arrow's
    guessed types (customer ids keep their leading zeros).
    """
    suffix = path.suffix.lower()
    if suffix == ".numbers":
        raise BacktestError(
            f"{path}: a Numbers document is not read; export it as CSV or Excel (.xlsx) and "
            "pass that file"
        )
    if suffix in SPREADSHEETS:
        return read_sheets(path, text=text, notes=notes, sheet=sheet, header=header)
    if sheet is not None:
        raise BacktestError(f"--sheet {sheet!r}: {path.name} is not a spreadsheet; drop --sheet")
    try:
        if suffix == ".parquet":
            return flat(pq.read_table(path))
        if suffix in JSON_LINES:
            records = json_array(path)
            return flat(pajson.read_json(path) if records is None else _array_table(path, records))
        encoding = text_encoding(path)
        if encoding != "utf-8" and notes is not None:
            notes.append(f"read as {_ENCODING_NAMES[encoding]} text: the file is not UTF-8")
        with path.open(encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
            first = fh.readline()
        for delimiter in (",", "\t", ";", "|"):
            if delimiter in first:
                cells = next(csv.reader([first], delimiter=delimiter))
                if header or (header is None and not looks_like_a_record(cells)):
                    names = None
                else:
                    names = positional_names(len(cells))
                if text:
                    table = _read_text_csv(path, names or cells, delimiter, ragged, encoding, names)
                else:
                    types = dict.fromkeys(text_columns, pa.string())
                    table = pacsv.read_csv(
                        path,
                        read_options=pacsv.ReadOptions(encoding=encoding, column_names=names),
                        parse_options=pacsv.ParseOptions(delimiter=delimiter),
                        convert_options=pacsv.ConvertOptions(column_types=types),
                    )
                return table if names is None else mark_headerless(table)
        return _read_whitespace(path, encoding, header)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise BacktestError(f"{path}: cannot read it as {suffix or 'text'}: {exc}") from exc


def flat(table: pa.Table) -> pa.Table:
    """Nested objects as columns of their own: an API export's ``{"customer": {"id": 7}}``
    is a column ``customer.id`` (found as ``customer_id`` is), not one of objects."""
    while any(pa.types.is_struct(field.type) for field in table.schema):
        table = table.flatten()
    return table


def _array_table(path: Path, records: list[Any]) -> pa.Table:
    """A JSON array's objects as a table; a field whose values mix types is read as text."""
    bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if bad is not None:
        raise BacktestError(
            f"{path}: element {bad + 1} of the JSON array is a {type(records[bad]).__name__}, "
            "not an object with a record's fields"
        )
    try:
        return pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        names = list(dict.fromkeys(k for r in records for k in r))
        return pa.table(
            {n: pa.array([_json_text(r.get(n)) for r in records], pa.string()) for n in names}
        )


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _read_text_csv(
    path: Path,
    columns: list[str],
    delimiter: str,
    ragged: list[tuple[int, str]] | None,
    encoding: str = "utf-8",
    names: list[str] | None = None,
) -> pa.Table:
    """Every cell as text; ``names``: the columns of a file without a header line."""

    def skip(row: pacsv.InvalidRow) -> str:
        if ragged is None:
            return "error"
        first = "the first line" if names else "the header"
        cells = f"{row.actual_columns} cells where {first} has {row.expected_columns}"
        ragged.append((row.number or 0, f"{cells}: {row.text[:60]!r}"))
        return "skip"

    return pacsv.read_csv(
        path,
        # invalid rows know their line only without threads
        read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding, column_names=names),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            ignore_empty_lines=False,
            newlines_in_values=True,
            invalid_row_handler=skip,
        ),
        convert_options=_as_text(columns),
    )


def _as_text(columns: list[str]) -> pacsv.ConvertOptions:
    """Read every one of these columns as strings."""
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in columns},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _read_whitespace(path: Path, encoding: str, header: bool | None = True) -> pa.Table:
    lines = path.read_text(encoding=encoding).split("\n")
    first = lines[0].split()
    named = header or (header is None and not looks_like_a_record(first))
    names = first if named else positional_names(len(first))
    rows = [line.split() for line in lines[1 if named else 0 :] if line.strip()]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(names)), None)
    if bad is not None:
        line = bad + (2 if named else 1)
        raise BacktestError(f"{path}: line {line} has a different number of columns")
    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
    return table if named else mark_headerless(table)
