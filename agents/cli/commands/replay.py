"""``cxstream replay``: validate recorded events and produce the good ones to the input topics.

Every record goes through the contracts layer exactly as the worker would decode it (as the
JSON wire format, through ``decode_event``), so a record replay accepts is a record the
pipeline accepts, and a rejected one carries the pipeline's own reason code. Event times are
kept: ``occurred_at``, ``event_id`` and ``source`` are re-encoded unchanged, so a second
replay of the same file is recognised as duplicates by the worker. History of any age since
2000 is accepted (``REPLAY_WINDOW``): each record is stamped with its event time, so the
worker's window, relative to that timestamp, accepts it too.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agents.cli.commands.common import (
    add_connection_flags,
    refuse_expiring_history,
    settings_from_args,
)
from agents.cli.commands.replay_files import Item, read_items, split_kind
from agents.cli.producing import (
    DeliveryReport,
    EventProducer,
    add_producing_flags,
    producer_from_settings,
)
from agents.cli.render import delivery_table, error_lines, progress, rejections_table
from agents.settings import Settings
from agents.worker.topic_admin import input_retentions, retention_problems
from streams.contracts import (
    CONTENT_TYPE_HEADER,
    JSON,
    REPLAY_WINDOW,
    Decoded,
    Rejected,
    decode_event,
    iso_utc,
)
from streams.contracts.validation import SECONDS_AS_MS_HINT
from streams.errors import CxStreamError
from streams.topics import EVENT_INPUT_KINDS

__all__ = [
    "Item",
    "Outcome",
    "check",
    "history_fits",
    "print_summary",
    "read_items",
    "replay",
    "split_kind",
]

JSON_HEADERS = [(CONTENT_TYPE_HEADER, JSON.encode())]


@dataclass(slots=True)
class Outcome:
    """What validation found: valid counts, rejections, event-time range and error counts."""

    valid: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[str, int, str, str]] = field(default_factory=list)
    oldest: float = math.inf  # event time of the oldest valid record
    newest: float = -math.inf  # and of the newest
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (field, reason) -> n
    seconds_as_ms: list[tuple[str, int]] = field(default_factory=list)  # (file, line)

    def add_valid(self, kind: str, occurred_at: float) -> None:
        self.valid[kind] += 1
        self.oldest = min(self.oldest, occurred_at)
        self.newest = max(self.newest, occurred_at)

    def add_rejected(self, item: Item, reason: str, detail: str, field: str | None) -> None:
        self.rejections.append((item.path, item.line, reason, detail))
        self.errors[field or "-", reason] += 1
        if SECONDS_AS_MS_HINT in detail:
            self.seconds_as_ms.append((item.path, item.line))

    def time_range(self) -> dict[str, str] | None:
        """The valid events' first and last ``occurred_at`` as ISO-8601 UTC."""
        if math.isinf(self.oldest):
            return None
        return {"min": iso_utc(self.oldest), "max": iso_utc(self.newest)}

    def warnings(self) -> list[str]:
        if not self.seconds_as_ms:
            return []
        path, line = self.seconds_as_ms[0]
        return [
            f"{len(self.seconds_as_ms)} record(s) have times that look like seconds sent as"
            f" milliseconds (first: {path}:{line}): send epoch milliseconds"
        ]


def check(item: Item, now: float) -> Decoded | tuple[str, str, str | None]:
    """The decoded event, or ``(reason, detail, field)``: why the file or the worker refuses it.

    Replayed history is judged by :data:`REPLAY_WINDOW` (any age since 2000, nothing in the
    future); it has no Kafka key yet: the producer keys each record by its customer_id.
    """
    if item.refused is not None:
        return (*item.refused, None)
    if item.kind is None:
        return ("unknown_kind", 'no event kind: add "event_kind" or use --kind', None)
    if item.kind not in EVENT_INPUT_KINDS:
        return ("unknown_kind", f"{item.kind!r} is not one of {', '.join(EVENT_INPUT_KINDS)}", None)
    result = decode_event(
        item.kind, None, item.value, JSON_HEADERS, now=now, window=REPLAY_WINDOW, require_key=False
    )
    if isinstance(result, Rejected):
        return (result.reason, result.detail, result.field)
    return result


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
        "line (record number for Avro), counted by field and reason, with the valid records' "
        "event-time range and a warning for times that look like seconds sent as "
        "milliseconds. Times must lie after 2000-01-01 and not in the future. Exit "
        "status: 0 when everything was valid and delivered, 1 when any record was "
        "rejected or any delivery failed, 2 on a usage or configuration error (e.g. a "
        "missing file).",
    )
    add_connection_flags(parser)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--kind", choices=EVENT_INPUT_KINDS, help="event kind of records that do not name one"
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
                outcome.add_rejected(item, *result)
            else:
                outcome.add_valid(item.kind or "?", result.event.occurred_at)
                if producer is not None:
                    producer.send(result.event)
            bar.update(task, completed=item.offset, count=number)
    return outcome


def history_fits(
    settings: Settings, command: str, oldest_event: Callable[[], float], fix: str
) -> bool:
    """True when the input topics keep events as old as ``oldest_event()``; else say so.

    ``oldest_event`` (inf when there is nothing to produce) is called only when some input
    topic deletes by time at all: replay reads its files twice only then.
    """
    now_ms = round(time.time() * 1000)
    states, auto_created = input_retentions(settings.kafka, settings.topics)
    if not retention_problems(states, 0, now_ms, auto_created):
        return True  # every input topic keeps records of any age
    oldest = oldest_event()
    if math.isinf(oldest):
        return True  # nothing valid to produce
    problems = retention_problems(states, round(oldest * 1000), now_ms, auto_created)
    if problems:
        refuse_expiring_history(command, oldest, problems, fix)
    return not problems


def _history_fits(settings: Settings, paths: Sequence[Path], default: str | None) -> bool:
    """True when the input topics keep every valid record of ``paths``; else say so."""

    def oldest() -> float:
        return replay(paths, default, None, show=False).oldest

    return history_fits(settings, "replay", oldest, "produce only recent events")


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
                    "event_time": outcome.time_range(),
                    "errors": [
                        {"field": name, "reason": reason, "count": count}
                        for (name, reason), count in sorted(outcome.errors.items())
                    ],
                    "warnings": outcome.warnings(),
                    "rejected": [
                        dict(zip(("file", "line", "reason", "detail"), r, strict=True))
                        for r in outcome.rejections
                    ],
                    "delivery": report.as_dict() if report is not None else None,
                }
            )
        )
    else:
        print_summary(Console(), outcome, report)
    failed = bool(outcome.rejections) or bool(report and report.total_failed)
    return 1 if failed else 0


def print_summary(
    out: Console,
    outcome: Outcome,
    report: DeliveryReport | None,
    title: str = "replay: sent",
    rejected: Table | None = None,
) -> None:
    """Valid or sent records, event-time range, rejections by line and by field, warnings.

    ``rejected`` replaces the table of rejections by file and line (``cxstream import``
    lists them by row and field).
    """
    if report is None:
        out.print("dry run: valid records (nothing sent)", style="italic")
        table = Table()
        table.add_column("kind")
        table.add_column("valid", justify="right")
        for kind, count in sorted(outcome.valid.items()):
            table.add_row(kind, str(count))
        out.print(table)
    else:
        out.print(delivery_table(report, title))
        if report.errors:
            out.print(error_lines(report.errors))
    span = outcome.time_range()
    if span is not None:
        out.print(f"event time of the valid records: {span['min']} .. {span['max']}")
    if outcome.rejections:
        out.print(rejected if rejected is not None else rejections_table(outcome.rejections))
        out.print(errors_table(outcome.errors))
    else:
        out.print("no records rejected", style="green")
    for warning in outcome.warnings():
        out.print(f"warning: {warning}", style="bold yellow")


def errors_table(errors: Counter[tuple[str, str]]) -> Table:
    """Rejections counted per field and reason, most frequent first."""
    table = Table(title="rejected, by field and reason", title_justify="left")
    table.add_column("field")
    table.add_column("reason")
    table.add_column("records", justify="right")
    for (name, reason), count in errors.most_common():
        table.add_row(name, reason, str(count))
    return table
