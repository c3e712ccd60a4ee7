"""Reading an export for ``cxstream import``: rows numbered as the user sees them, streamed.

CSV (and TSV) files and spreadsheets are read by backtest's reader with every cell kept as
text, Parquet with its types, JSON Lines by replay's line reader. Rows are handed out batch by
batch, and the columns the import learns from (times, amounts) one column at a time, so a
million-row export is never a million Python dicts at once.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from agents.cli.commands.export_header import infer_roles, is_headerless, roles_note
from agents.cli.commands.export_table import (
    JSON_LINES,
    first_row_number,
    json_array,
    read_table,
)
from agents.cli.commands.replay_files import parse_line, read_jsonl
from streams.contracts.import_rows import blank_cell

BATCH_ROWS = 10_000
Row = tuple[int, dict[str, Any]]  # (row number as the user sees it, cells by column)


@dataclass(slots=True)
class Export:
    """An export's records (an Arrow table or JSON objects), their row numbers, the lines
    reading refused (``(row, reason, detail)``) or found blank (JSON Lines), and what a user
    should know about how it was read (a workbook's sheets)."""

    columns: list[str]
    numbers: list[int]
    table: pa.Table | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[int, str, str]] = field(default_factory=list)
    blank: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def headerless(self) -> bool:
        """A text export or workbook without a header line: its columns are column1..N."""
        return self.table is not None and is_headerless(self.table)

    def values(self, column: str) -> Iterator[tuple[int, Any]]:
        """``(row, cell)`` of one column, for learning the file's formats."""
        if self.table is None:
            return ((n, r.get(column)) for n, r in zip(self.numbers, self.records, strict=True))
        if column not in self.table.column_names:
            return iter(())
        return zip(self.numbers, self.table.column(column).to_pylist(), strict=True)

    def rows(self) -> Iterator[Row]:
        """Every record with its row number, in file order."""
        if self.table is None:
            yield from zip(self.numbers, self.records, strict=True)
            return
        numbers = iter(self.numbers)
        for batch in self.table.to_batches(max_chunksize=BATCH_ROWS):
            for row in batch.to_pylist():
                yield next(numbers), row


def is_blank(row: dict[str, Any]) -> bool:
    return all(blank_cell(v) for v in row.values())


def read_export(path: Path, sheet: str | None = None, header: bool | None = None) -> Export:
    """A CSV/TSV, spreadsheet, Parquet or JSON Lines export, its rows numbered as the user
    sees them: a CSV's or sheet's header is row 1, a JSON Lines row is its line, a Parquet
    row its record number from 1. ``header``: whether a text export's first line names its
    columns (None: found out, as backtest finds out; ``export_header``)."""
    if path.suffix.lower() in JSON_LINES:
        return _read_json_lines(path)
    ragged: list[tuple[int, str]] = []
    notes: list[str] = []
    table = read_table(path, text=True, ragged=ragged, notes=notes, sheet=sheet, header=header)
    skipped = {line for line, _ in ragged}
    first = 1 if is_headerless(table) else first_row_number(path)
    unskipped = (n for n in itertools.count(first) if n not in skipped)
    numbers = list(itertools.islice(unskipped, table.num_rows))
    refused = [(line, "wrong_column_count", why) for line, why in ragged]
    return Export(table.column_names, numbers, table, refused=refused, notes=notes)


def positional_columns(export: Export, mapping: dict[str, str], purchases: bool) -> dict[str, str]:
    """A headerless export's note, and for purchases the customer, time and amount columns
    found by content (``export_header``) where ``mapping`` names none."""
    if export.table is None or not export.headerless:
        return {}
    roles = infer_roles(export.table, mapping) if purchases else {}
    export.notes.append(roles_note(export.columns, roles))
    return roles


def _read_json_lines(path: Path) -> Export:
    """Replay's line reader: line numbers, blank lines skipped, bad lines refused. A file of
    one JSON array (an API dump) numbers its objects from 1 instead."""
    array = json_array(path)
    if array is not None:
        encoded = (json.dumps(value).encode() for value in array)
        items = [parse_line(str(path), n, 0, raw, None) for n, raw in enumerate(encoded, 1)]
        export = Export([], [], notes=[f"one JSON array: row N is its Nth of {len(array):,}"])
    else:
        data = path.read_bytes()
        items = list(read_jsonl(str(path), io.BytesIO(data), None, 0))
        lines = data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
        export = Export([], [], blank=lines - len(items))
    columns: dict[str, None] = {}
    for item in items:
        if item.refused is not None:
            export.refused.append((item.line, *item.refused))
            continue
        record = json.loads(item.value)
        columns.update(dict.fromkeys(record))
        export.numbers.append(item.line)
        export.records.append(record)
    export.columns = list(columns)
    return export
