"""``cxstream replay``: validate recorded events and produce the good ones to the input topics.

Every record goes through the contracts layer exactly as the worker would decode it (as the
JSON wire format, through ``decode_event``), so a record replay accepts is a record the
pipeline accepts, and a rejected one carries the pipeline's own reason code. Event times are
kept: ``occurred_at``, ``event_id`` and ``source`` are re-encoded unchanged, so a second
replay of the same file is recognised as duplicates by the worker.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import fastavro
from rich.console import Console
from rich.table import Table

from agents.commands.common import (
    add_connection_flags,
    refuse_expiring_history,
    settings_from_args,
)
from agents.producing import (
    DeliveryReport,
    EventProducer,
    add_producing_flags,
    producer_from_settings,
)
from agents.render import delivery_table, error_lines, progress, rejections_table
from agents.settings import Settings
from agents.topic_admin import input_retentions, retention_problems
from streams.contracts import (
    CONTENT_TYPE_HEADER,
    INPUT_KINDS,
    JSON,
    Decoded,
    Rejected,
    decode_event,
)
from streams.contracts.store import default_store
from streams.errors import CxStreamError

AVRO_MAGIC = b"Obj\x01"
JSON_HEADERS = [(CONTENT_TYPE_HEADER, JSON.encode())]

#: ``(reason, detail)``: the contracts layer's reason code, or one of replay's own for
#: problems of the file itself: invalid_json, not_an_object, unknown_kind, bad_avro_file.
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


@dataclass(slots=True)
class Outcome:
    valid: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[str, int, str, str]] = field(default_factory=list)
    oldest: float = math.inf  # event time of the oldest valid record


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
    if obj.get("kind") in INPUT_KINDS:
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
    for kind in INPUT_KINDS:
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


def check(item: Item, now: float) -> Decoded | Refusal:
    """The decoded event, or why the file or the worker would refuse it."""
    if item.refused is not None:
        return item.refused
    if item.kind is None:
        return ("unknown_kind", 'no event kind: add "event_kind" or use --kind')
    if item.kind not in INPUT_KINDS:
        return ("unknown_kind", f"{item.kind!r} is not one of {', '.join(INPUT_KINDS)}")
    result = decode_event(item.kind, None, item.value, JSON_HEADERS, now=now)
    return (result.reason, result.detail) if isinstance(result, Rejected) else result


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="validate recorded events (JSON Lines or Avro files) and produce them",
        description="Produce recorded events to the input topics, keeping their event "
        "times. JSON Lines files hold one JSON-format record per line (times in epoch ms); "
        'a line names its kind with "event_kind", or as {"kind": K, "event": {...}}, '
        'or "kind" for tickets/profiles, else --kind applies. Avro object container '
        "files are recognised by their header and their kind by their schema name. Every "
        "record is validated like the worker does; rejected ones are listed by file and "
        "line (record number for Avro). Exit status: 0 when everything was valid and "
        "delivered, 1 when any record was rejected or any delivery failed, 2 on a usage "
        "or configuration error (e.g. a missing file).",
    )
    add_connection_flags(parser)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--kind", choices=INPUT_KINDS, help="event kind of records that do not name one"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only validate and report: produce nothing"
    )
    parser.add_argument(
        "--ignore-retention",
        action="store_true",
        help="produce even when the input topics' retention would delete some of the events "
        "(Kafka deletes records by timestamp, which is the event time)",
    )
    add_producing_flags(parser)
    parser.set_defaults(run=run)


def replay(
    paths: Sequence[Path], default: str | None, producer: EventProducer | None, show: bool
) -> Outcome:
    """Validate every record of ``paths``; produce the valid ones unless ``producer`` is None."""
    outcome = Outcome()
    now = time.time()
    total = sum(p.stat().st_size for p in paths)
    with progress(Console(stderr=True), enabled=show, unit="records") as bar:
        task = bar.add_task("bytes read", total=total, count=0)
        for number, item in enumerate(read_items(paths, default), 1):
            result = check(item, now)
            if isinstance(result, tuple):
                outcome.rejections.append((item.path, item.line, *result))
            else:
                outcome.valid[item.kind or "?"] += 1
                outcome.oldest = min(outcome.oldest, result.event.occurred_at)
                if producer is not None:
                    producer.send(result.event)
            bar.update(task, completed=item.offset, count=number)
    return outcome


def _history_fits(settings: Settings, paths: Sequence[Path], default: str | None) -> bool:
    """True when the input topics keep every valid record of ``paths``; else say so.

    The files are read twice only when some input topic deletes by time at all.
    """
    now_ms = round(time.time() * 1000)
    states, auto_created = input_retentions(settings.kafka, settings.topics)
    if not retention_problems(states, 0, now_ms, auto_created):
        return True  # every input topic keeps records of any age
    oldest = replay(paths, default, None, show=False).oldest
    if math.isinf(oldest):
        return True  # nothing valid to produce
    problems = retention_problems(states, round(oldest * 1000), now_ms, auto_created)
    if problems:
        fix = "produce only recent events"
        refuse_expiring_history("replay", oldest, problems, fix)
    return not problems


def run(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise CxStreamError(f"not a readable file: {', '.join(missing)}")
    producer = None
    if not args.dry_run:
        settings = settings_from_args(args)
        if not args.ignore_retention and not _history_fits(settings, args.files, args.kind):
            return 2
        producer = producer_from_settings(settings, args.format, args.rate)
    outcome = replay(args.files, args.kind, producer, show=not args.no_progress)
    report = producer.flush(args.flush_timeout) if producer is not None else None
    if args.json:
        print(
            json.dumps(
                {
                    "dry_run": args.dry_run,
                    "valid": dict(outcome.valid),
                    "rejected": [
                        dict(zip(("file", "line", "reason", "detail"), r, strict=True))
                        for r in outcome.rejections
                    ],
                    "delivery": report.as_dict() if report is not None else None,
                }
            )
        )
    else:
        _print_summary(Console(), outcome, report)
    failed = bool(outcome.rejections) or bool(report and report.total_failed)
    return 1 if failed else 0


def _print_summary(out: Console, outcome: Outcome, report: DeliveryReport | None) -> None:
    if report is None:
        out.print("dry run: valid records (nothing sent)", style="italic")
        table = Table()
        table.add_column("kind")
        table.add_column("valid", justify="right")
        for kind, count in sorted(outcome.valid.items()):
            table.add_row(kind, str(count))
        out.print(table)
    else:
        out.print(delivery_table(report, "replay: sent"))
        if report.errors:
            out.print(error_lines(report.errors))
    if outcome.rejections:
        out.print(rejections_table(outcome.rejections))
    else:
        out.print("no records rejected", style="green")
