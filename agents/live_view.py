"""What ``cxstream demo`` shows: a live rich screen, or plain lines for CI and pipes.

The view is written for someone who has never seen cxstream: the header says what is going on
and where to look (API, metrics, Redis keys), then events flowing, the latest alerts with the
sentence that explains each one, life-cycle stages, health bands and the riskiest customers.
Everything renders from a :class:`Picture`, an immutable copy of what the feeds collected, so
drawing never races the threads that collect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agents.render import PRIORITY_STYLE
from streams.domain import Alert, AlertType
from streams.model.state import STAGES

BANDS = ("green", "amber", "red")
BAND_COLOUR = {"green": "green", "amber": "yellow", "red": "red"}
STAGE_COLOUR = {
    "new": "cyan",
    "onboarding": "cyan",
    "active": "green",
    "at_risk": "yellow",
    "dormant": "magenta",
    "churned": "red",
    "won_back": "bright_green",
}
ACTION_STYLE = {"opened": "bold", "updated": "yellow", "resolved": "green"}
SHORT_TYPE = {
    AlertType.CHURN_RISK.value: "churn risk",
    AlertType.REFERRAL_OPPORTUNITY.value: "referral",
}


@dataclass(frozen=True, slots=True)
class Where:
    """Where things are, for the header and the closing summary."""

    kafka: str
    prefix: str
    api: str
    redis_url: str
    customers: int
    days: int
    seed: int

    @property
    def redis_prefix(self) -> str:
        """The worker's Redis key prefix: the topic prefix with '.' as ':' (``cx.`` -> ``cx:``)."""
        return self.prefix.replace(".", ":")


@dataclass(frozen=True, slots=True)
class RiskRow:
    customer_id: str
    priority: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Picture:
    """One consistent copy of everything the feeds know, taken for one frame or line."""

    elapsed: float = 0.0
    produced: int = 0
    processed: int = 0
    produced_rate: float = 0.0
    processed_rate: float = 0.0
    dead_letters: int = 0
    sim_day: float = 0.0
    sim_time: float | None = None
    sim_done: bool = False
    recent: tuple[Alert, ...] = ()  # newest first
    alert_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    bands: dict[str, int] = field(default_factory=dict)
    top_risks: tuple[RiskRow, ...] = ()
    notes: tuple[str, ...] = ()  # what went wrong, in words (worker down, Redis unreachable)

    @property
    def alerts_total(self) -> int:
        return sum(self.alert_counts.values())


def sim_date(seconds: float | None) -> str:
    """Simulated (event) time as a date: the simulator replays 2024, not today."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def top_reason(alert: Alert) -> str:
    return alert.reasons[0].message if alert.reasons else "(no reason given)"


def counts_text(counts: dict[str, int], order: tuple[str, ...]) -> str:
    return " ".join(f"{name}={counts.get(name, 0)}" for name in order)


def alert_line(alert: Alert) -> str:
    """One alert as one plain line, its top reason after the dash."""
    return (
        f"alert {alert.action.value:<8} {alert.type.value:<20} {alert.priority.value:<8} "
        f"{alert.customer_id} score {alert.score:3.0f} ({sim_date(alert.occurred_at)}) "
        f"— {top_reason(alert)}"
    )


def summary_line(pic: Picture, days: int) -> str:
    """The periodic one-line status of ``--plain`` mode."""
    minutes, seconds = divmod(int(pic.elapsed), 60)
    sim = "simulation finished" if pic.sim_done else f"day {pic.sim_day:.0f}/{days}"
    line = (
        f"[{minutes:02d}:{seconds:02d}] events produced {pic.produced} "
        f"({pic.produced_rate:.0f}/s) processed {pic.processed} ({pic.processed_rate:.0f}/s)"
        f" · {sim} ({sim_date(pic.sim_time)}) · alerts {pic.alerts_total}"
        f" · stages {counts_text(pic.stages, STAGES)} · health {counts_text(pic.bands, BANDS)}"
    )
    return line + "".join(f" · {note}" for note in pic.notes)


def _header(where: Where) -> Panel:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(
        "what",
        f"{where.customers} simulated customers (seed {where.seed}) live "
        f"{where.days} days of purchases, support tickets and feedback; a worker keeps "
        "each one's health and raises churn-risk and referral alerts as it goes.",
    )
    grid.add_row("kafka", f"{where.kafka} · topics [cyan]{where.prefix}*[/]")
    grid.add_row("API", f"[link]{where.api}/customers/<id>[/] · metrics {where.api}/metrics")
    rp = where.redis_prefix
    grid.add_row(
        "redis",
        f"{where.redis_url} · [cyan]ZREVRANGE {rp}open:churn_risk 0 9[/] · GET {rp}customer:<id>",
    )
    return Panel(
        grid,
        title="[bold]cxstream demo[/] · customer life-cycle, live",
        title_align="left",
        subtitle="Ctrl-C stops everything",
        subtitle_align="right",
        border_style="blue",
    )


def _flow(pic: Picture, days: int) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=7)
    grid.add_column()
    behind = max(pic.produced - pic.processed, 0)
    grid.add_row(
        "events",
        Text.assemble(
            "produced ",
            (f"{pic.produced:,}", "bold"),
            f" ({pic.produced_rate:,.0f}/s)  →  ",
            "processed ",
            (f"{pic.processed:,}", "bold green"),
            f" ({pic.processed_rate:,.0f}/s)",
            (f"  · {behind:,} in flight" if behind else "", "dim"),
            (f"  · {pic.dead_letters:,} dead letters" if pic.dead_letters else "", "red"),
        ),
    )
    state = "finished" if pic.sim_done else f"day {pic.sim_day:.0f} of {days}"
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        Text(f"{sim_date(pic.sim_time)} · {state}"),
        ProgressBar(total=days, completed=min(pic.sim_day, days), width=30),
    )
    grid.add_row("time", bar)
    grid.add_row("alerts", _alert_counts(pic))
    for note in pic.notes:
        grid.add_row("note", Text(note, style="yellow"))
    return grid


def _alert_counts(pic: Picture) -> Text:
    if not pic.alert_counts:
        return Text("none yet: the first ones come a few simulated weeks in", style="dim")
    text = Text()
    for kind in (t.value for t in AlertType):
        parts = [
            f"{pic.alert_counts.get((kind, a), 0)} {a}" for a in ("opened", "updated", "resolved")
        ]
        text.append(f"{SHORT_TYPE[kind]}: ", style="cyan")
        text.append(" · ".join(parts) + "   ")
    return text


def _alerts(pic: Picture, rows: int) -> Table:
    table = Table(
        title="latest alerts (as they open, update and resolve)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        expand=True,
        padding=(0, 1),
    )
    table.add_column("sim date", style="dim", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("alert", style="cyan", no_wrap=True)
    table.add_column("priority", no_wrap=True)
    table.add_column("customer", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("why (top reason)", ratio=1, no_wrap=True, overflow="ellipsis")
    for alert in pic.recent[:rows]:
        action, priority = alert.action.value, alert.priority.value
        table.add_row(
            sim_date(alert.occurred_at),
            Text(action, ACTION_STYLE.get(action, "")),
            SHORT_TYPE.get(alert.type.value, alert.type.value),
            Text(priority, PRIORITY_STYLE.get(priority, "")),
            alert.customer_id,
            f"{alert.score:.0f}",
            top_reason(alert),
        )
    if not pic.recent:
        table.add_row("", "", "", "", "", "", Text("waiting for the first alert…", "dim"))
    return table


def _counts(
    title: str, names: tuple[str, ...], counts: dict[str, int], colours: dict[str, str]
) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=None,
        show_header=False,
        padding=(0, 1),
    )
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    biggest = max(counts.values(), default=0) or 1
    for name in names:
        value = counts.get(name, 0)
        colour = colours.get(name, "")
        table.add_row(
            Text(name, colour), str(value), Text("▇" * round(10 * value / biggest), colour)
        )
    return table


def _risks(pic: Picture, redis_prefix: str) -> Table:
    table = Table(
        title=f"top open churn risks (Redis {redis_prefix}open:churn_risk)",
        title_justify="left",
        title_style="bold",
        box=None,
        expand=True,
        padding=(0, 1),
    )
    table.add_column("customer", no_wrap=True)
    table.add_column("priority", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("why", ratio=1, no_wrap=True, overflow="ellipsis")
    for row in pic.top_risks:
        table.add_row(
            row.customer_id,
            Text(row.priority, PRIORITY_STYLE.get(row.priority, "")),
            f"{row.score:.0f}",
            row.reason,
        )
    if not pic.top_risks:
        table.add_row(Text("none open yet", "dim"), "", "", "")
    return table


def render(where: Where, pic: Picture, height: int = 40) -> RenderableType:
    """The whole screen; the alert table gets whatever height the rest leaves."""
    bottom = Table.grid(padding=(0, 3), expand=True)
    bottom.add_column(no_wrap=True)
    bottom.add_column(no_wrap=True)
    bottom.add_column(ratio=1)
    bottom.add_row(
        _counts("life-cycle stages", STAGES, pic.stages, STAGE_COLOUR),
        _counts("health bands", BANDS, pic.bands, BAND_COLOUR),
        _risks(pic, where.redis_prefix),
    )
    rows = max(3, min(12, height - 30 - len(pic.notes)))
    return Group(_header(where), _flow(pic, where.days), _alerts(pic, rows), bottom)
