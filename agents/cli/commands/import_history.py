"""``cxstream import FILE --kind K --map COLUMN=FIELD``: a shop or CRM export as input events.

The export is read by :mod:`agents.cli.commands.import_files`; each row is mapped onto the
contract (:mod:`streams.contracts.import_rows`) and validated exactly as replay and the
worker do, so a row the import accepts is a row the pipeline accepts. Valid events are
produced in event-time order through replay's producer path, after replay's retention check;
every row is accounted for: produced, rejected (row, field, reason) or a blank line skipped.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from agents.cli.commands.backtest_log import parse_mapping
from agents.cli.commands.common import add_connection_flags, settings_from_args
from agents.cli.commands.export_header import add_no_header_option
from agents.cli.commands.import_files import Export, is_blank, positional_columns, read_export
from agents.cli.commands.import_report import ImportOutcome, print_import, report_json
from agents.cli.commands.log_cells import day_date, day_zero
from agents.cli.commands.replay import Item, check, history_fits
from agents.cli.producing import DeliveryReport, add_producing_flags, producer_from_settings
from agents.cli.render import progress
from streams.contracts.import_orders import (
    LineRejection,
    OrderKey,
    groups_order_lines,
    incomplete,
    merge_order_lines,
    order_key,
)
from streams.contracts.import_purchase import STATUS, never_bought
from streams.contracts.import_rows import (
    DEFAULT_SOURCE,
    RowError,
    learn_mapper,
    make_plan,
    mappable_fields,
)
from streams.contracts.import_times import ImportSetupError, TimeReader, zone
from streams.topics import EVENT_INPUT_KINDS


def parse_constants(pairs: Sequence[str], fields: Sequence[str]) -> dict[str, str]:
    """``--set FIELD=VALUE`` pairs (a value for every row) to {field: value}."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in fields:
            raise ImportSetupError(
                f"--set {pair!r}: expected FIELD=VALUE, FIELD one of {', '.join(fields)}"
            )
        out[name] = value
    return out


def import_day_zero(args: argparse.Namespace) -> date | None:
    """``--day-zero`` read and refused as backtest and fit read it, as a date."""
    day = day_zero(args)
    return None if day is None else day_date(day)


def map_rows(
    path: Path,
    export: Export,
    args: argparse.Namespace,
    show: bool,
    mapping: dict[str, str],
) -> ImportOutcome:
    """Map and validate every row; the valid events sorted by event time (then row).
    ``mapping``: {field: column}, --map's and those a headerless export's content gave."""
    fields = mappable_fields(args.kind)
    plan = make_plan(
        args.kind,
        export.columns,
        mapping,
        parse_constants(args.set or [], fields),
        args.currency,
        args.source,
    )
    times = TimeReader(zone(args.timezone), args.date_format, import_day_zero(args))
    mapper = learn_mapper(plan, export.values, times)
    outcome = ImportOutcome(
        blank=export.blank, columns=dict(plan.columns), forms=times.forms, ambiguous=times.ambiguous
    )
    now = time.time()
    total = len(export.numbers) + len(export.refused)
    lines = groups_order_lines(plan)
    skip_status = STATUS in plan.columns
    pending: list[tuple[int, dict[str, Any]]] = []  # order lines, merged after the last row
    refused: dict[OrderKey, int] = {}  # (customer, order id) of a rejected line -> its row
    with progress(Console(stderr=True), enabled=show, unit="rows") as bar:
        task = bar.add_task("mapping rows", total=total, count=0)
        for done, (number, row) in enumerate(_in_file_order(export), 1):
            bar.update(task, completed=done, count=done)
            if isinstance(row, tuple):  # a line reading refused
                outcome.read += 1
                outcome.add_rejected(Item(str(path), number, 0), *row, None)
                continue
            if is_blank(row):
                outcome.blank += 1
                continue
            outcome.read += 1
            if skip_status and (status := mapper.text(STATUS, row)) and never_bought(status):
                outcome.not_bought[status.lower()] += 1
                continue
            try:
                record = mapper.record(row, number)
            except RowError as exc:
                outcome.add_rejected(Item(str(path), number, 0), exc.reason, exc.detail, exc.field)
                if lines and (key := order_key(mapper, row)) is not None:
                    refused.setdefault(key, number)
                continue
            if lines:
                pending.append((number, record))
            else:
                _check(path, number, record, outcome, args, now)
    if lines:
        orders = merge_order_lines(pending, refused)
        for line in orders.rejected:
            outcome.add_rejected(Item(str(path), line.row, 0), *_reason(line))
        for rows, record in orders.orders:
            if _check(path, rows[0], record, outcome, args, now):
                outcome.lines_merged += len(rows) - 1
                continue
            for line in (incomplete(row, rows[0], record["order_id"]) for row in rows[1:]):
                outcome.add_rejected(Item(str(path), line.row, 0), *_reason(line))
        outcome.sort_rejections()
    outcome.events.sort(key=lambda event: (event[0], event[1]))
    return outcome


def _check(
    path: Path,
    number: int,
    record: dict[str, Any],
    outcome: ImportOutcome,
    args: argparse.Namespace,
    now: float,
) -> bool:
    """Validate one mapped record as the worker would: a valid event (True), or a rejection."""
    item = Item(str(path), number, 0, args.kind, json.dumps(record).encode())
    result = check(item, now)
    if isinstance(result, tuple):
        outcome.add_rejected(item, *result)
        return False
    outcome.add_valid(args.kind, result.event.occurred_at)
    outcome.events.append((result.event.occurred_at, number, result.event))
    if len(outcome.sample) < args.sample:
        outcome.sample.append((number, record))
    return True


def _reason(line: LineRejection) -> tuple[str, str, str]:
    return line.reason, line.detail, line.field


def _in_file_order(export: Export) -> Iterator[tuple[int, dict[str, Any] | tuple[str, str]]]:
    """The export's rows and the lines reading refused (``(reason, detail)``), by row."""
    refused = sorted((number, (reason, detail)) for number, reason, detail in export.refused)
    rows: Iterator[tuple[int, dict[str, Any] | tuple[str, str]]] = iter(export.rows())
    return heapq.merge(rows, refused, key=lambda entry: entry[0])


def produce(outcome: ImportOutcome, args: argparse.Namespace) -> DeliveryReport | None:
    """Produce the valid events oldest first, after the retention check; None if refused."""
    settings = settings_from_args(args)
    if not args.ignore_retention and not history_fits(
        settings,
        "import",
        lambda: outcome.events[0][0] if outcome.events else math.inf,
        "import only recent rows",
    ):
        return None
    producer = producer_from_settings(settings, args.format, args.rate)
    with progress(Console(stderr=True), enabled=not args.no_progress) as bar:
        task = bar.add_task("producing", total=len(outcome.events), count=0)
        for done, (_, _, event) in enumerate(outcome.events, 1):
            producer.send(event)
            bar.update(task, completed=done, count=done)
    return producer.flush(args.flush_timeout)


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise ImportSetupError(f"not a readable file: {path}")
    console = Console(stderr=True)
    with console.status(f"reading {path}") if not args.no_progress else nullcontext():
        export = read_export(path, args.sheet, args.header)
    mapped = parse_mapping(args.map or [], mappable_fields(args.kind))
    found = positional_columns(export, mapped, purchases=args.kind == "purchases")
    for note in export.notes:
        console.print(f"{path.name}: {note}", highlight=False)
    outcome = map_rows(path, export, args, not args.no_progress, {**found, **mapped})
    report = None
    if not args.dry_run:
        report = produce(outcome, args)
        if report is None:
            return 2
    if args.json:
        print(json.dumps(report_json(outcome, report, args.dry_run)))
    else:
        print_import(Console(), outcome, report, path)
    failed = bool(outcome.rejections) or bool(report and report.total_failed)
    return 1 if failed else 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a shop or CRM export (CSV, spreadsheet, Parquet, JSON Lines) as input events",
        description="Map each row of an export onto the input contract and produce the "
        "events in event-time order. Columns named like a contract field need no --map. "
        "Times: ISO 8601, 2024-03-05 14:22, 05/03/2024 (day/month order learned from the "
        "whole column, refused when no date settles it), March 5, 2024, epoch seconds or "
        "ms, or day numbers with --day-zero DATE; times without a UTC offset need "
        "--timezone. Amounts (--map COLUMN=amount): "
        "thousands separators, currency symbols, -12.50 and (12.50); a negative purchase "
        "is a refund. Line items: --map COLUMN=unit_price with --map COLUMN=quantity, and "
        "the rows of one order_id become one purchase. With --map COLUMN=status, rows whose "
        "status says the order was never bought (cancelled, refunded, voided, failed) are "
        "skipped and counted. Rows without an event id get one "
        "derived from their content, the same on every run, so importing a file twice "
        "duplicates nothing. Exit status: 0 "
        "when every row was produced, 1 when any row was rejected or any delivery failed, "
        "2 on a usage or configuration error.",
    )
    add_connection_flags(parser)
    parser.add_argument(
        "file", metavar="FILE", help="export: .csv/.tsv/.txt, .xlsx/.xls/.ods, .jsonl or .parquet"
    )
    parser.add_argument(
        "--kind", required=True, choices=EVENT_INPUT_KINDS, help="event kind of the rows"
    )
    parser.add_argument(
        "--sheet",
        metavar="NAME",
        help="a workbook's sheet to import (default the first; other sheets with the same "
        "columns are imported after it)",
    )
    add_no_header_option(parser)
    parser.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="a column for a contract field, e.g. --map order_date=occurred_at --map "
        "total=amount (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="one value for every row, e.g. --set kind=nps for a survey export (repeatable)",
    )
    parser.add_argument(
        "--timezone", help="IANA zone of times without a UTC offset, e.g. Europe/Berlin"
    )
    parser.add_argument("--currency", help="ISO 4217 currency of amounts whose row names none")
    parser.add_argument(
        "--date-format", help="strptime format of every time, e.g. %%d/%%m/%%Y %%H:%%M"
    )
    parser.add_argument(
        "--day-zero",
        metavar="DATE",
        help="the time columns count days (dunnhumby's DAY 1..711): day N is midnight, in "
        "--timezone, N days after DATE",
    )
    parser.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        help=f"the events' source when no column gives one (default {DEFAULT_SOURCE})",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only map and validate: show a sample, the event-time range and errors by field",
    )
    parser.add_argument("--sample", type=int, default=5, help="mapped events to show (default 5)")
    parser.add_argument(
        "--ignore-retention",
        action="store_true",
        help="produce even when the topic's retention would delete some of the events",
    )
    add_producing_flags(parser)
    parser.set_defaults(run=run)
