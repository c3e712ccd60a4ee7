"""Prometheus metrics of the feedback loop: outcomes, rolling precision, actioned share, uplift.

No customer or alert id is ever a label: priorities, playbook keys, groups and outcome kinds
are small fixed sets. The worker calls :func:`record_outcomes` with every batch's outcomes;
the gauges are this worker's share (its partitions), so dashboards sum the ``judged`` counts
across workers before dividing (see ops/prometheus/rules/loop.yml).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge

from agents.worker.metrics import REGISTRY
from streams.alert_loop import AlertOutcome, Group, OutcomeKind
from streams.domain import AlertType
from streams.evaluation.uplift import newcombe, wilson
from streams.loop_quality import RollingPrecision

OUTCOMES = Counter(
    "cxstream_alert_outcomes",
    "Alert outcomes decided, by type, outcome, holdout group and whether a CX agent intervened.",
    ["type", "outcome", "group", "intervened"],
    registry=REGISTRY,
)
PRECISION = Gauge(
    "cxstream_churn_alert_precision",
    "Rolling precision of churn alerts nobody intervened on (lost / judged), by priority and "
    "playbook, over the outcomes decided in the last 90 days of event time.",
    ["priority", "playbook"],
    registry=REGISTRY,
)
JUDGED = Gauge(
    "cxstream_churn_alert_judged",
    "Churn alerts behind the rolling precision, by priority, playbook and verdict (lost, "
    "retained); sum across workers before dividing.",
    ["priority", "playbook", "verdict"],
    registry=REGISTRY,
)
ACTIONED = Gauge(
    "cxstream_churn_alerts_actioned_ratio",
    "Share of churn alerts decided in the rolling window that a CX team acted on at all.",
    registry=REGISTRY,
)
RETAINED_RATE = Gauge(
    "cxstream_holdout_retained_ratio",
    "Retained rate of churn alerts by arm: treated (delivered and contacted), delivered, control.",
    ["arm"],
    registry=REGISTRY,
)
UPLIFT = Gauge(
    "cxstream_holdout_uplift",
    "Treated minus control retained rate, with its 95% interval (bound: estimate, low, high).",
    ["bound"],
    registry=REGISTRY,
)

SUPPRESSED = Counter(
    "cxstream_alert_notifications_suppressed",
    "Alert messages not posted to a CX team's webhook: control (the holdout) or handled "
    "(a re-notification of an alert a team already acted on).",
    ["reason"],
    registry=REGISTRY,
)
for _reason in ("control", "handled"):
    SUPPRESSED.labels(_reason)

ROLLING = RollingPrecision()
_ARMS: dict[str, list[int]] = {"treated": [0, 0], "delivered": [0, 0], "control": [0, 0]}


def record_outcomes(outcomes: Iterable[AlertOutcome]) -> None:
    """Count a batch's outcomes and refresh the rolling and uplift gauges."""
    batch = list(outcomes)
    if not batch:
        return
    for o in batch:
        OUTCOMES.labels(
            o.type.value, o.outcome.value, o.group.value, str(o.intervened).lower()
        ).inc()
        if o.type is AlertType.CHURN_RISK:
            kept = int(o.outcome is OutcomeKind.RETAINED)
            arms = ["control"] if o.group is Group.CONTROL else ["delivered"]
            arms += ["treated"] if o.group is Group.DELIVERED and o.intervened else []
            for arm in arms:
                _ARMS[arm][0] += kept
                _ARMS[arm][1] += 1
    ROLLING.add(batch)
    _refresh()


def _refresh() -> None:
    PRECISION.clear()
    JUDGED.clear()
    for (priority, playbook), (lost, n) in ROLLING.counts().items():
        PRECISION.labels(priority, playbook).set(lost / n)
        JUDGED.labels(priority, playbook, "lost").set(lost)
        JUDGED.labels(priority, playbook, "retained").set(n - lost)
    share = ROLLING.actioned_share()
    if share is not None:
        ACTIONED.set(share)
    rates = {arm: wilson(k, n) for arm, (k, n) in _ARMS.items()}
    for arm, rate in rates.items():
        if rate.n:
            RETAINED_RATE.labels(arm).set(rate.value)
    if rates["treated"].n and rates["control"].n:
        effect, low, high = newcombe(rates["treated"], rates["control"])
        UPLIFT.labels("estimate").set(effect)
        UPLIFT.labels("low").set(low)
        UPLIFT.labels("high").set(high)
