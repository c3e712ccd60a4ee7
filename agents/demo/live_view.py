"""What ``cxstream demo`` shows: a live rich screen, or plain lines for CI and pipes.

The view is written for someone who has never seen cxstream: the header says what is going on
and where to look (API, metrics, Redis keys), then events flowing, the latest alerts with the
sentence that explains each one, life-cycle stages, health bands and the riskiest customers.
Everything renders from a :class:`~agents.demo.feeds.Picture`, an immutable copy of what the
feeds collected, so drawing never races the threads that collect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agents.cli.render import PRIORITY_STYLE
from agents.demo.feeds import Picture
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
ACTIONS = ("opened", "updated", "resolved")
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


def sim_date(seconds: float | None, fmt: str = "%Y-%m-%d") -> str:
    """Simulated (event) time as a date: the simulator replays 2024, not today."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(seconds, UTC).strftime(fmt)


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


def _header(where: Where, compact: bool) -> Panel:
    """What is going on and where to look; a small terminal gets only the where."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    if not compact:
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
    behind = max(pic.produced - pic.processed - pic.dead_letters, 0)
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
        Text(f"simulated {sim_date(pic.sim_time)} · {state}"),
        ProgressBar(total=days, completed=min(pic.sim_day, days), width=30),
    )
    grid.add_row("time", bar)
    grid.add_row("alerts", _alert_counts(pic))
    for note in pic.notes:
        grid.add_row("note", Text(note, style="yellow"))
    return grid


def actions_text(pic: Picture, kind: str) -> str:
    """``3 opened · 1 updated · 2 resolved`` for one alert type."""
    return " · ".join(f"{pic.alert_counts.get((kind, a), 0)} {a}" for a in ACTIONS)


def _alert_counts(pic: Picture) -> Text:
    if not pic.alert_counts:
        return Text("none yet: the first ones come a few simulated weeks in", style="dim")
    text = Text()
    for kind in (t.value for t in AlertType):
        text.append(f"{SHORT_TYPE[kind]}: ", style="cyan")
        text.append(actions_text(pic, kind) + "   ")
    return text


def _table(title: str, *columns: str) -> Table:
    """A borderless table with a bold title; the last column takes the spare width."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        expand=True,
        padding=(0, 1, 0, 0),
    )
    for name in columns[:-1]:
        table.add_column(name, no_wrap=True, justify="right" if name == "score" else "left")
    table.add_column(columns[-1], ratio=1, no_wrap=True, overflow="ellipsis")
    return table


def _alerts(pic: Picture, rows: int) -> Table:
    table = _table(
        "latest alerts, as they open, update and resolve",
        "when",
        "action",
        "alert",
        "priority",
        "customer",
        "score",
        "why (the top reason)",
    )
    for alert in pic.recent[:rows]:
        action, priority = alert.action.value, alert.priority.value
        table.add_row(
            Text(sim_date(alert.occurred_at, "%b %d"), "dim"),
            Text(action, ACTION_STYLE.get(action, "")),
            Text(SHORT_TYPE.get(alert.type.value, alert.type.value), "cyan"),
            Text(priority, PRIORITY_STYLE.get(priority, "")),
            alert.customer_id,
            f"{alert.score:.0f}",
            top_reason(alert),
        )
    if not pic.recent:
        table.add_row("", "", "", "", "", "", Text("waiting for the first alert…", "dim"))
    return table


def _spread(names: tuple[str, ...], counts: dict[str, int], colours: dict[str, str]) -> Group:
    """Counts by name, then one bar split in proportion: the mix at a glance."""
    labels, bar = Text(), Text()
    total = sum(counts.get(name, 0) for name in names)
    for i, name in enumerate(names):
        colour, value = colours.get(name, ""), counts.get(name, 0)
        labels.append(" · " if i else "")
        labels.append(name, colour)
        labels.append(f" {value:,}", "bold" if value else "dim")
        bar.append("█" * round(48 * value / total) if total else "", colour)
    return Group(labels, bar or Text("waiting for the worker's first metrics…", "dim"))


def _risks(pic: Picture) -> Table:
    table = _table(
        "top open churn risks, most urgent first (from Redis)",
        "customer",
        "priority",
        "score",
        "why",
    )
    for row in pic.top_risks:
        priority = Text(row.priority, PRIORITY_STYLE.get(row.priority, ""))
        table.add_row(row.customer_id, priority, f"{row.score:.0f}", row.reason)
    if not pic.top_risks:
        table.add_row(Text("none open yet", "dim"), "", "", "")
    return table


def render(where: Where, pic: Picture, height: int = 40) -> RenderableType:
    """The whole screen; the alert table gets whatever height the rest leaves."""
    mix = Table.grid(padding=(0, 1))
    mix.add_column(style="dim", no_wrap=True, width=7)
    mix.add_column()
    mix.add_row("stages", _spread(STAGES, pic.stages, STAGE_COLOUR))
    mix.add_row("health", _spread(BANDS, pic.bands, BAND_COLOUR))
    rows = max(3, min(12, height - 36 - len(pic.notes)))
    gap = Text("")
    return Group(
        _header(where, height < 34),
        _flow(pic, where.days),
        mix,
        gap,
        _alerts(pic, rows),
        gap,
        _risks(pic),
    )


def closing_lines(where: Where, pic: Picture, stack_running: bool) -> list[str]:
    """What happened, and where to look next: printed once the demo has stopped everything."""
    minutes, seconds = divmod(int(pic.elapsed), 60)
    lines = [
        f"cxstream demo ran {minutes}:{seconds:02d}: {pic.produced:,} events produced, "
        f"{pic.processed:,} processed, {pic.alerts_total:,} alert actions",
        *(f"  {t.value:<21} {actions_text(pic, t.value)}" for t in AlertType),
        f"  stages  {counts_text(pic.stages, STAGES)}",
        f"  health  {counts_text(pic.bands, BANDS)}",
    ]
    if not stack_running:
        return [
            *lines,
            "next: `cxstream demo --keep-stack` leaves Kafka and Redis running, to "
            "look around afterwards with `cxstream customer <id>` and `cxstream alerts`",
        ]
    some = pic.top_risks[0].customer_id if pic.top_risks else "<id>"
    return [
        *lines,
        "next, while Kafka and Redis run (`ops/stack.sh down` stops the local stack):",
        f"  cxstream customer {some} --source redis --redis-url {where.redis_url} "
        f"--redis-key-prefix {where.redis_prefix}",
        f"  cxstream alerts --from-beginning --bootstrap-servers {where.kafka} "
        f"--topic-prefix {where.prefix}",
    ]
