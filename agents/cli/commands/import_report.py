"""What ``cxstream import`` tells its user: every row accounted for, on a terminal or as JSON.

The event-time range, rejections counted by field and reason, and the delivery table are
replay's own (:func:`agents.cli.commands.replay.print_summary`); the import adds the columns it
used, the time formats it met (epoch seconds or milliseconds included), a sample of mapped
events, rejected rows by row and field, and a closing read/produced/rejected line.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.cli.commands.replay import Item, Outcome, print_summary
from agents.cli.producing import DeliveryReport
from streams.domain import Event

REJECTED_SHOWN = 50  # rows listed on a terminal; --json lists all


@dataclass(slots=True)
class ImportOutcome(Outcome):
    """Replay's outcome plus the field of each rejection, the events, a sample and notes."""

    fields: list[str] = field(default_factory=list)  # field of each rejection, in order
    events: list[tuple[float, int, Event]] = field(default_factory=list)  # time, row, event
    sample: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # row, record
    read: int = 0  # rows read (blank lines not counted)
    blank: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field -> column used
    forms: Counter[tuple[str, str]] = field(default_factory=Counter)  # (column, time form)
    ambiguous: Counter[str] = field(default_factory=Counter)  # column -> DST fall-back times
    lines_merged: int = 0  # order lines merged into another line's purchase
    not_bought: Counter[str] = field(default_factory=Counter)  # skipped rows by their status

    def add_rejected(self, item: Item, reason: str, detail: str, field: str | None) -> None:
        Outcome.add_rejected(self, item, reason, detail, field)
        self.fields.append(field or "-")

    def sort_rejections(self) -> None:
        """Rejections by row (an order's lines are rejected after the last row is read)."""
        pairs = sorted(zip(self.rejections, self.fields, strict=True), key=lambda p: p[0][1])
        self.rejections = [r for r, _ in pairs]
        self.fields = [f for _, f in pairs]


def by_reason(outcome: ImportOutcome) -> Counter[str]:
    return Counter(reason for _, _, reason, _ in outcome.rejections)


def produced(report: DeliveryReport | None) -> int:
    return sum(report.delivered.values()) if report is not None else 0


def report_json(
    outcome: ImportOutcome, report: DeliveryReport | None, dry_run: bool
) -> dict[str, Any]:
    """The whole outcome as plain JSON (``--json``)."""
    return {
        "dry_run": dry_run,
        "columns": outcome.columns,
        "time_formats": [
            {"column": column, "format": form, "count": count}
            for (column, form), count in sorted(outcome.forms.items())
        ],
        "dst_ambiguous": dict(outcome.ambiguous),
        "valid": sum(outcome.valid.values()),
        "event_time": outcome.time_range(),
        "sample": [{"row": row, "event": record} for row, record in outcome.sample],
        "errors": [
            {"field": name, "reason": reason, "count": count}
            for (name, reason), count in sorted(outcome.errors.items())
        ],
        "warnings": outcome.warnings(),
        "rejected": [
            {"row": line, "field": name, "reason": reason, "detail": detail}
            for (_, line, reason, detail), name in zip(
                outcome.rejections, outcome.fields, strict=True
            )
        ],
        "delivery": report.as_dict() if report is not None else None,
        "summary": {
            "read": outcome.read,
            "blank_skipped": outcome.blank,
            "produced": produced(report),
            "rejected": len(outcome.rejections),
            "rejected_by_reason": dict(by_reason(outcome)),
            "lines_merged_into_orders": outcome.lines_merged,
            "not_bought_skipped": sum(outcome.not_bought.values()),
            "not_bought_by_status": dict(outcome.not_bought),
        },
    }


def _rejected_table(outcome: ImportOutcome) -> Table:
    table = Table(
        title=f"rejected rows: {len(outcome.rejections)}",
        title_justify="left",
        title_style="bold red",
    )
    for name in ("row", "field", "reason", "detail"):
        table.add_column(name, justify="right" if name == "row" else "left")
    rows = zip(outcome.rejections, outcome.fields, strict=True)
    for (_, line, reason, detail), name in list(rows)[:REJECTED_SHOWN]:
        table.add_row(str(line), name, reason, detail)
    if len(outcome.rejections) > REJECTED_SHOWN:
        table.add_row("…", "", "", f"{len(outcome.rejections) - REJECTED_SHOWN} more (--json)")
    return table


def _sample_table(outcome: ImportOutcome) -> Table:
    table = Table(title="sample of mapped events", title_justify="left")
    table.add_column("row", justify="right")
    table.add_column("event (JSON wire format)", overflow="fold")
    for row, record in outcome.sample:
        table.add_row(str(row), json.dumps(record, separators=(", ", ": ")))
    return table


def print_import(
    out: Console, outcome: ImportOutcome, report: DeliveryReport | None, path: Path
) -> None:
    """The terminal report: mapping, time formats, sample, replay's summary, totals."""
    used = ", ".join(f"{column} → {name}" for name, column in outcome.columns.items())
    out.print(f"{path}: columns used: {used}", highlight=False)
    for column in sorted({column for column, _ in outcome.forms}):
        forms = ", ".join(
            f"{form}: {count}" for (c, form), count in sorted(outcome.forms.items()) if c == column
        )
        out.print(f"times in {column}: {forms}", highlight=False)
    for column, count in sorted(outcome.ambiguous.items()):
        if count:
            out.print(
                f"warning: {count} time(s) in {column} fall in a daylight-saving fall-back hour;"
                " read as the first of the two",
                style="bold yellow",
            )
    if outcome.sample:
        out.print(_sample_table(outcome))
    title = "import: sent" if report is not None else "import"
    print_summary(out, outcome, report, title, _rejected_table(outcome))
    reasons = ", ".join(f"{n} {reason}" for reason, n in by_reason(outcome).most_common())
    done = (
        f"{produced(report)} produced"
        if report is not None
        else f"{sum(outcome.valid.values())} valid (dry run: nothing sent)"
    )
    merged = (
        f", {outcome.lines_merged} order lines merged into their order's purchase"
        if outcome.lines_merged
        else ""
    )
    statuses = ", ".join(f"{n} {status}" for status, n in outcome.not_bought.most_common())
    if statuses:
        done = f"{sum(outcome.not_bought.values())} never bought skipped ({statuses}), {done}"
    out.print(
        f"read {outcome.read} rows ({outcome.blank} blank skipped): {done}, "
        f"{len(outcome.rejections)} rejected" + (f" ({reasons})" if reasons else "") + merged,
        style="bold",
        highlight=False,
    )
