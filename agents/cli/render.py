"""Terminal rendering for the CLI: customers, alerts, delivery summaries and rejections.

Everything returns a rich renderable (or plain text) instead of printing, so the commands
decide where output goes and the tests can render into a recording console.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from agents.cli.producing import DeliveryReport
from streams.domain import Alert

PRIORITY_STYLE = {
    "low": "dim",
    "medium": "yellow",
    "high": "bold red",
    "critical": "bold white on red",
}
BAND_STYLE = {"red": "bold red", "amber": "bold yellow", "green": "bold green"}


def when(seconds: Any) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SSZ``; missing or infinite times as a dash."""
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def money(minor: Any, currency: str | None = None) -> str:
    if not isinstance(minor, int | float):
        return "—"
    return f"{minor / 100:,.2f}" + (f" {currency}" if currency else "")


def progress(console: Console, *, enabled: bool, unit: str = "events") -> Progress:
    """A progress bar with a live count; off when not wanted or not a terminal (pipes, CI)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[count]}} {unit}"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )


def delivery_table(report: DeliveryReport, title: str) -> Table:
    """Events sent, acknowledged and failed per kind, with a total row."""
    table = Table(title=title, title_justify="left")
    for name in ("kind", "sent", "delivered", "failed"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    for kind in sorted(report.sent):
        table.add_row(
            kind, str(report.sent[kind]), str(report.delivered[kind]), str(report.failed[kind])
        )
    table.add_row(
        "total",
        str(report.total_sent),
        str(sum(report.delivered.values())),
        str(report.total_failed),
        style="bold",
    )
    return table


def error_lines(errors: Mapping[str, int]) -> Text:
    text = Text()
    for message, count in sorted(errors.items(), key=lambda kv: -kv[1]):
        text.append(f"  {count}x {message}\n", style="red")
    return text


def rejections_table(rejections: Sequence[tuple[str, int, str, str]], limit: int = 50) -> Table:
    """``(file, line, reason, detail)`` rows: where each bad record is and why it was refused."""
    table = Table(
        title=f"rejected: {len(rejections)}", title_justify="left", title_style="bold red"
    )
    table.add_column("file")
    table.add_column("line", justify="right")
    table.add_column("reason", style="red")
    table.add_column("detail", overflow="fold")
    for path, line, reason, detail in rejections[:limit]:
        table.add_row(path, str(line), reason, detail)
    if len(rejections) > limit:
        table.add_row("…", "", "", f"{len(rejections) - limit} more (see --json)")
    return table


def alert_renderable(alert: Alert) -> RenderableType:
    """One alert as a compact block: what, who, how urgent, why and what to do."""
    style = PRIORITY_STYLE.get(alert.priority.value, "")
    head = Text.assemble(
        (when(alert.occurred_at), "dim"),
        " ",
        (f"{alert.action.value:<8}", "bold"),
        " ",
        (f"{alert.type.value:<20}", "cyan"),
        " ",
        (f"{alert.priority.value:<8}", style),
        " ",
        (alert.customer_id, "bold"),
        f"  score {alert.score:.0f}",
        f"  team {alert.cx_team}" if alert.cx_team else "",
        f"  LTV {money(alert.lifetime_value_minor)}" if alert.lifetime_value_minor else "",
    )
    lines: list[RenderableType] = [head]
    for reason in alert.reasons:
        lines.append(Text(f"    • {reason.message} [{reason.code}={reason.value:g}]"))
    if alert.playbook and alert.action.value != "resolved":
        lines.append(Text(f"    → playbook: {alert.playbook}", style="green"))
    return Group(*lines)


def _header(view: Mapping[str, Any]) -> Panel:
    h = view["health"]
    band = str(h.get("band", "?"))
    trend = h.get("trend") or 0.0
    arrow = "▲" if trend > 0.5 else "▼" if trend < -0.5 else "▶"
    body = Text.assemble(
        ("health ", "dim"),
        (f"{h.get('health', 0):.0f} {band}", BAND_STYLE.get(band, "")),
        f" {arrow} {trend:+.1f}   ",
        ("stage ", "dim"),
        (str(h.get("stage", "?")), "bold"),
        f" since {when(h.get('stage_since'))}\n",
        ("churn risk ", "dim"),
        f"{h.get('churn_risk', 0):.0f}   ",
        ("fit ", "dim"),
        f"{h.get('fit', 0):.0f}   ",
        ("lifetime value ", "dim"),
        money(h.get("lifetime_value_minor"), view.get("currency")),
        "   ",
        ("NPS ", "dim"),
        str(h.get("nps_category") or "—"),
        "   ",
        ("team ", "dim"),
        str(h.get("cx_team") or "—"),
        _outlook(h, view.get("currency")),
    )
    title = f"customer {view['customer_id']}"
    subtitle = f"as of {when(h.get('as_of'))} · from {view.get('source', '?')}"
    return Panel(body, title=title, subtitle=subtitle, title_align="left")


def _outlook(h: Mapping[str, Any], currency: Any) -> Text:
    """P(loss), P(alive) and expected value within the loss horizon, when known."""
    if h.get("p_loss") is None:
        return Text("")
    return Text.assemble(
        ("\nP(no purchase within horizon) ", "dim"),
        f"{h['p_loss']:.2f}   ",
        ("P(alive) ", "dim"),
        f"{h.get('p_alive') or 0.0:.2f}   ",
        ("expected value ", "dim"),
        money(h.get("expected_value_minor"), currency),
        "   ",
        ("parameters ", "dim"),
        str(h.get("params_version") or "—"),
    )


def _contributions(rows: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(title="health contributions", title_justify="left")
    table.add_column("measure")
    table.add_column("score", justify="right")
    table.add_column("weight", justify="right")
    table.add_column("why", overflow="fold")
    for c in rows:
        table.add_row(
            str(c["measure"]), f"{c['score']:.0f}", f"{c['weight']:.2f}", str(c.get("detail", ""))
        )
    return table


def _facts(facts: Sequence[tuple[str, str]]) -> Table:
    table = Table(title="facts", title_justify="left", show_header=False)
    table.add_column("fact", style="dim")
    table.add_column("value")
    for label, value in facts:
        table.add_row(label, value)
    return table


def _stages(history: Sequence[Sequence[Any]]) -> Table:
    table = Table(title="stage history", title_justify="left")
    table.add_column("entered")
    table.add_column("stage")
    for stage, at in history:
        table.add_row(when(at), str(stage))
    return table


def _alerts(alerts: Sequence[Mapping[str, Any]]) -> RenderableType:
    """Open alerts as blocks (one line each, reasons below): reasons stay readable at 80 cols."""
    if not alerts:
        return Text("no open alerts", style="green")
    lines: list[RenderableType] = []
    for a in alerts:
        priority = str(a.get("priority", ""))
        lines.append(
            Text.assemble(
                (f"{a.get('type', '')}", "cyan"),
                " ",
                (priority, PRIORITY_STYLE.get(priority, "")),
                f"  score {a.get('score', 0):.0f}  opened {when(a.get('opened_at'))}  ",
                (str(a.get("alert_id", "")), "dim"),
            )
        )
        reasons = a.get("reasons") or [{"message": code} for code in a.get("codes", ())]
        lines.extend(Text(f"    • {r.get('message', '')}") for r in reasons)
        if a.get("playbook"):
            lines.append(Text(f"    → playbook: {a['playbook']}", style="green"))
    return Panel(Group(*lines), title="open alerts", title_align="left")


def customer_renderable(view: Mapping[str, Any]) -> RenderableType:
    """A customer view (see ``agents.cli.commands.customer``) as panels and tables."""
    parts: list[RenderableType] = [_header(view)]
    if view["health"].get("contributions"):
        parts.append(_contributions(view["health"]["contributions"]))
    if view.get("facts"):
        parts.append(_facts(view["facts"]))
    if view.get("stage_history"):
        parts.append(_stages(view["stage_history"]))
    parts.append(_alerts(view.get("alerts", [])))
    if view.get("actions"):
        parts.append(_action_history(view["actions"]))
    return Group(*parts)


def _action_history(rows: Sequence[Mapping[str, Any]]) -> Table:
    """What CX teams did with the customer's alerts (streams.alert_history), and outcomes."""
    table = Table(title="alert actions", title_justify="left")
    for column in ("alert", "when", "action", "by", "detail"):
        table.add_column(column)
    for row in rows:
        alert = f"{row.get('type') or '?'} {str(row.get('alert_id', ''))[:12]}"
        if row.get("group") == "control":
            alert += " (control)"
        if row.get("outcome"):
            alert += f" → {row['outcome']}"
        for i, a in enumerate(row.get("actions") or [{}]):
            table.add_row(
                alert if i == 0 else "",
                when(a.get("at")) if a else "",
                str(a.get("action", "")),
                str(a.get("actor", "")),
                str(a.get("detail") or ""),
            )
    return table
