"""The chaos soak's summary: what was done to the cluster and what it got wrong (if anything)."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos_check import AlertCheck, DeadLetterCheck, HealthCheck, StateCheck

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
START, END = "<!-- chaos:start -->", "<!-- chaos:end -->"


#: What the workers' logs say about races the state comparison cannot see once drained:
#: (finding, the line a worker logs for it). See docs/reliability.md, defects 15 and 17.
LOGGED = {
    "stalls": "input partitions stalled:",  # agents/worker/consumer_lag.py (defect 17)
    "out_of_order": "out of timestamp order after",  # the merge's safety net (defect 15)
    "restore_reads": "changelog records of",  # agents/worker/fast_restore.py, read ahead
    "restore_failures": "changelog read with librdkafka failed",
}


@dataclass(frozen=True)
class LogFindings:
    """Counts of :data:`LOGGED` lines over every incarnation of every worker."""

    stalls: int = 0
    out_of_order: int = 0
    restore_reads: int = 0
    restore_failures: int = 0


def log_findings(paths: Iterable[Path]) -> LogFindings:
    counts = dict.fromkeys(LOGGED, 0)
    for path in paths:
        if not path.exists():
            continue
        with path.open(errors="replace") as fh:
            for line in fh:
                for name, needle in LOGGED.items():
                    if needle in line:
                        counts[name] += 1
    return LogFindings(**counts)


@dataclass
class Report:
    command: str
    workers: int
    good: int  # good records acknowledged by the broker
    hostile: int  # hostile records acknowledged by the broker
    not_acknowledged: int
    unexpected_exits: int
    failed_starts: int
    dead_letters: DeadLetterCheck
    alerts: AlertCheck
    states: StateCheck
    health: HealthCheck
    no_effect_kinds: tuple[str, ...]
    alert_counter: float  # sum of cxstream_alerts_total over the workers at the end
    kinds: tuple[str, ...] = ()
    kills: int = 0
    broker_kills: int = 0
    redis_restarts: int = 0
    soak_seconds: float = 0.0
    duration: float = 0.0
    failing_kinds: list[str] = field(default_factory=list)
    logged: LogFindings = field(default_factory=LogFindings)

    @property
    def lost(self) -> int:
        return (
            len(self.states.lost)
            + self.alerts.missing
            + sum(self.dead_letters.good_dead_lettered.values())
        )

    @property
    def double_counted(self) -> int:
        return len(self.states.double_counted) + self.alerts.extra

    @property
    def ok(self) -> bool:
        d, h = self.dead_letters, self.health
        return (
            self.lost == 0
            and self.double_counted == 0
            and not self.states.differs
            and self.alerts.same_id_different_content == 0
            and d.matched == d.rejected
            and d.unknown == 0
            and h.missing == 0
            and h.equal_to_model == self.states.customers
            and h.redis_equal == self.states.customers
            and self.logged.stalls == 0  # drained later, but stood still: a defect (17)
        )


def markdown(r: Report) -> str:
    d, a, s, h = r.dead_letters, r.alerts, r.states, r.health
    rows = [
        ("command", f"`{r.command}`"),
        ("machine", f"{os.cpu_count()} cores (shared), Python {platform.python_version()}"),
        ("duration (all) / soak until drained", f"{r.duration:,.0f} s / {r.soak_seconds:,.0f} s"),
        ("workers in the group", f"{r.workers}"),
        ("worker SIGKILLs (each restarted)", f"{r.kills}"),
        ("workers that exited by themselves / failed starts", f"{r.unexpected_exits} / "
         f"{r.failed_starts}"),
        ("broker SIGKILLs (restarted on the same data)", f"{r.broker_kills}"),
        ("Redis restarts", f"{r.redis_restarts}"),
        ("good records acknowledged", f"{r.good:,}"),
        ("hostile records acknowledged", f"{r.hostile:,}"),
        ("records the broker never acknowledged", f"{r.not_acknowledged:,}"),
        ("customers compared (API state)", f"{s.customers:,}"),
        ("**lost** (state short of the model, good records dead-lettered, alerts missing)",
         f"**{r.lost}**"),
        ("**double-counted** (state beyond the model, alerts not in the model)",
         f"**{r.double_counted}**"),
        ("states differing otherwise", f"{len(s.differs)}"),
        ("alerts: model / distinct published / re-published repeats (same id)",
         f"{a.expected:,} / {a.unique:,} / {a.published - a.unique:,}"),
        ("alert repeats whose record differs from the first", f"{a.same_id_different_content}"),
        ("`cxstream_alerts_total` summed over the final workers", f"{r.alert_counter:,.0f}"),
        ("health topic: latest snapshot = model / customers without one",
         f"{h.equal_to_model:,} / {h.missing:,}"),
        ("Redis `cx:customer:{id}` = latest snapshot / missing",
         f"{h.redis_equal:,} / {h.redis_missing:,}"
         + ("" if h.redis_caught_up else " (its side consumer still behind after 120 s)")),
        ("**dead-lettered / rejected** (matched by `dlq.source.*`)",
         f"**{d.matched:,} / {d.rejected:,}**"),
        ("dead letters repeated (redelivery) / truncated / unmatched",
         f"{d.repeated:,} / {d.truncated:,} / {d.unknown:,}"),
        ("input partitions stalled (3 min, records waiting, no commit) / merge releases out "
         "of timestamp order, from the workers' logs",
         f"{r.logged.stalls} / {r.logged.out_of_order}"),
        ("changelog restores read ahead with librdkafka / failed (Faust read them)",
         f"{r.logged.restore_reads} / {r.logged.restore_failures}"),
        ("verdict", "**pass**" if r.ok else "**FAIL**"),
    ]  # fmt: skip
    lines = ["| measure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)]
    lines += ["", "| hostile kind | sent | dead-lettered | missing | reasons |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for kind in r.kinds:
        reasons = ", ".join(f"{k} {n:,}" for k, n in d.reasons.get(kind, {}).items()) or "—"
        missing = "— (must change nothing)" if kind in r.no_effect_kinds else f"{d.missing(kind):,}"
        lines.append(
            f"| {kind} | {d.sent[kind]:,} | {d.dead_lettered[kind]:,} | {missing} | {reasons} |"
        )
    if a.examples:
        lines += ["", "Alert actions (id, action, time in ms) that differ from the model:", ""]
        lines += [f"- `{example}`" for example in a.examples]
    if d.good_dead_lettered:
        lines += ["", f"Good records dead-lettered: {dict(d.good_dead_lettered)}, e.g.:", ""]
        lines += [f"- `{example}`" for example in d.examples]
    if d.unknown_examples:
        lines += ["", "Dead letters naming no record this soak produced:", ""]
        lines += [f"- `{example}`" for example in d.unknown_examples]
    if s.example:
        wrong = [*s.lost, *s.double_counted, *s.differs]
        live = sum(c.startswith("live-") for c in wrong)
        lines += [
            "",
            f"First differing customer: {s.example}; of the {len(wrong)} differing, "
            f"{live} are live (purchase-only) customers, {len(wrong) - live} backlog ones; "
            "first differences:",
            "",
        ]
        lines += [f"- `{example}`" for example in s.examples]
    return "\n".join(lines)


def write_docs(text: str) -> None:
    doc = DOC.read_text()
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{text}\n{END}{tail}")
