"""Reading recorded events for ``cxstream replay``: JSON Lines and Avro container files.

Problems of the file itself (invalid JSON, no kind, a corrupt container) become refusals
with replay's own reason codes; everything else is left to the contracts layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import fastavro

from streams.contracts.store import default_store
from streams.topics import EVENT_INPUT_KINDS

AVRO_MAGIC = b"Obj\x01"

#: ``(reason, detail)``: one of replay's own codes for problems of the file itself:
#: invalid_json, not_an_object, unknown_kind, bad_avro_file.
Refusal = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Item:
    """One record read from a file (``line`` is the record number for Avro files)."""

    path: str
    line: int
    offset: int  # bytes of the file consumed so far, for the progress bar
    kind: str | None = None
    value: bytes = b""
    refused: Refusal | None = None  # a problem found while reading, before validation


def split_kind(obj: dict[str, Any], default: str | None) -> tuple[str | None, dict[str, Any]]:
    """The event kind a JSON line names, and the record without it.

    Accepted: ``{"kind": K, "event": {...}}``; a top-level ``"event_kind": K``; a top-level
    ``"kind": K`` when K is an input kind (purchase and feedback records have their own
    ``kind`` field, e.g. ``order_placed``, so they need one of the first two forms); else
    ``default`` (``--kind``).
    """
    if set(obj) == {"kind", "event"} and isinstance(obj["event"], dict):
        return str(obj["kind"]), obj["event"]
    if "event_kind" in obj:
        rest = dict(obj)
        return str(rest.pop("event_kind")), rest
    if obj.get("kind") in EVENT_INPUT_KINDS:
        rest = dict(obj)
        return str(rest.pop("kind")), rest
    return default, obj


def parse_line(path: str, line: int, offset: int, raw: bytes, default: str | None) -> Item:
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        return Item(path, line, offset, refused=("invalid_json", str(exc)))
    if not isinstance(obj, dict):
        detail = f"a JSON {type(obj).__name__}, expected an object"
        return Item(path, line, offset, refused=("not_an_object", detail))
    kind, record = split_kind(obj, default)
    return Item(path, line, offset, kind, json.dumps(record).encode())


def read_jsonl(path: str, fh: IO[bytes], default: str | None, base: int) -> Iterator[Item]:
    """JSON Lines: one record per line; blank lines are skipped, not rejected."""
    offset = base
    for number, raw in enumerate(fh, 1):
        offset += len(raw)
        if raw.strip():
            yield parse_line(path, number, offset, raw, default)


def _millis(record: dict[str, Any]) -> dict[str, Any]:
    """fastavro turns ``timestamp-millis`` into datetimes; the JSON format wants epoch ms."""
    return {
        k: round(v.timestamp() * 1000) if isinstance(v, datetime) else v for k, v in record.items()
    }


def avro_kind(schema_name: str, default: str | None) -> str | None:
    """The kind of an Avro container file, from its writer schema's (full) name."""
    for kind in EVENT_INPUT_KINDS:
        fullname = default_store().reader(kind).fullname
        if schema_name in (fullname, fullname.rsplit(".", 1)[-1]):
            return kind
    return default


def read_avro(path: str, fh: IO[bytes], default: str | None, base: int) -> Iterator[Item]:
    """An Avro object container file; its kind comes from the writer schema's name."""
    number = 0
    try:
        reader = fastavro.reader(fh)
        name = str(reader.writer_schema.get("name", "")) if reader.writer_schema else ""
        kind = avro_kind(name, default)
        for record in reader:
            number += 1
            yield Item(path, number, base + fh.tell(), kind, json.dumps(_millis(record)).encode())
    except Exception as exc:  # a corrupt container: say where, stop reading this file
        yield Item(path, number + 1, base + fh.tell(), refused=("bad_avro_file", str(exc)))


def read_items(paths: Sequence[Path], default: str | None) -> Iterator[Item]:
    """Items of every file in order; offsets run on across files (for one progress bar)."""
    base = 0
    for path in paths:
        with path.open("rb") as fh:
            is_avro = fh.read(4) == AVRO_MAGIC
            fh.seek(0)
            yield from (read_avro if is_avro else read_jsonl)(str(path), fh, default, base)
        base += path.stat().st_size
