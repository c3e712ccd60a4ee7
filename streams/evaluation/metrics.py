"""Scores of an alert log against simulated ground truth (pure functions, easy to test by hand).

Definitions (also printed with every report):

* A customer is **churn-alerted** when a churn-risk alert *opened* for them. It is a true
  positive when the customer really churned and that alert opened no earlier than
  ``window_days`` before the churn (an alert about an older, unrelated wobble does not count).
  Precision and recall are over customers, not alerts: one customer, one decision.
* **Lead time** of a detected churner = ``churn_at`` (its last activity of any kind) minus the
  opening time of the first qualifying alert, in days. Positive: the alert came while the
  customer was still active (possible when it signalled trouble: tickets, detractor feedback).
  Its **bound** is the median over those churners of ``churn_at`` minus their first trouble
  event: no alert can open earlier, since they buy as usual until the trouble starts.
  Negative: the alert came after the customer fell silent; for silent churners (no complaint)
  this is unavoidable and its opposite, the **delay** from last activity to alert, is reported.
* **Holdout**, the check one can run on a real transaction log: at ``cutoff`` a customer is
  *flagged* when a churn-risk alert is open; *lost* when it places no order after the cutoff.
* **Referral** precision is over customers who got an opened referral alert; a hit is a
  referral-worthy customer (good fit, promoter, well served). Poor fits must get none.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from streams.domain import Alert, AlertAction, AlertType
from streams.simulator import DAY, CustomerTruth, Persona

# Churners whose story includes visible trouble before they leave; the others leave silently.
SIGNALLED = frozenset({Persona.FRUSTRATED, Persona.DETRACTOR})


@dataclass(frozen=True, slots=True)
class ChurnScore:
    customers: int
    churners: int
    alerted: int
    true_positives: int
    precision: float | None
    recall: float | None
    f1: float | None
    median_lead_signalled_days: float | None  # frustrated / detractor churners
    # The same churners' last activity minus their first trouble event: the lead of an alert
    # that opened at the very first sign of trouble, for every one of them (an upper bound).
    lead_bound_signalled_days: float | None
    median_delay_silent_days: float | None  # the other churners: last activity -> alert


@dataclass(frozen=True, slots=True)
class HoldoutScore:
    cutoff: float
    customers: int  # seen before the cutoff
    lost: int  # no order after the cutoff
    flagged: int  # churn-risk alert open at the cutoff
    true_positives: int
    precision: float | None
    recall: float | None


@dataclass(frozen=True, slots=True)
class ReferralScore:
    alerted: int
    worthy: int
    true_positives: int
    precision: float | None
    recall: float | None
    poor_fit_alerted: int
    churners_alerted: int
    coached_alerted: int


@dataclass(frozen=True, slots=True)
class PersonaRow:
    persona: Persona
    customers: int
    churned: int
    churn_alerted: int
    median_days_after_last_activity: float | None  # churners: first qualifying alert - churn_at
    referral_alerted: int


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def f1_score(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None
    return 2 * precision * recall / (precision + recall)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def opened_at(alerts: Iterable[Alert], kind: AlertType) -> dict[str, list[float]]:
    """Customer id -> sorted opening times of its alerts of ``kind``."""
    opened: dict[str, list[float]] = defaultdict(list)
    for alert in alerts:
        if alert.type is kind and alert.action is AlertAction.OPENED:
            opened[alert.customer_id].append(alert.opened_at)
    return {customer: sorted(times) for customer, times in opened.items()}


def first_qualifying(times: Sequence[float], truth: CustomerTruth, window_days: float) -> float:
    """Opening time of the first alert that counts for this churner, or -1 if none."""
    assert truth.churn_at is not None
    earliest = truth.churn_at - window_days * DAY
    return next((t for t in times if t >= earliest), -1.0)


def churn_score(
    opened: Mapping[str, Sequence[float]],
    truth: Mapping[str, CustomerTruth],
    window_days: float = 90.0,
) -> ChurnScore:
    """Customer-level precision/recall and lead times of churn-risk alerts (see module doc)."""
    hits = 0
    leads: list[float] = []
    delays: list[float] = []
    alerted = [c for c in opened if opened[c] and c in truth]
    for customer in alerted:
        t = truth[customer]
        if not t.churned:
            continue
        first = first_qualifying(opened[customer], t, window_days)
        if first < 0 or t.churn_at is None:
            continue
        hits += 1
        (leads if t.persona in SIGNALLED else delays).append((t.churn_at - first) / DAY)
    churners = sum(t.churned for t in truth.values())
    precision, recall = ratio(hits, len(alerted)), ratio(hits, churners)
    delay = _median(delays)
    bound = [
        (t.churn_at - t.trouble_at) / DAY
        for t in truth.values()
        if t.churned
        and t.persona in SIGNALLED
        and t.churn_at is not None
        and t.trouble_at is not None
    ]
    return ChurnScore(
        len(truth), churners, len(alerted), hits, precision, recall, f1_score(precision, recall),
        _median(leads), _median(bound), None if delay is None else -delay,
    )  # fmt: skip


def open_at(alerts: Iterable[Alert], kind: AlertType, cutoff: float) -> set[str]:
    """Customers with an alert of ``kind`` open at ``cutoff`` (opened, not yet resolved)."""
    state: dict[str, tuple[float, str, bool]] = {}
    for alert in alerts:
        if alert.type is not kind or alert.occurred_at > cutoff:
            continue
        previous = state.get(alert.alert_id)
        if previous is None or previous[0] <= alert.occurred_at:
            is_open = alert.action is not AlertAction.RESOLVED
            state[alert.alert_id] = (alert.occurred_at, alert.customer_id, is_open)
    return {customer for _, customer, is_open in state.values() if is_open}


def holdout_score(
    flagged: Collection[str], seen_before: Collection[str], ordered_after: Collection[str],
    cutoff: float,
) -> HoldoutScore:  # fmt: skip
    """Open churn alert at the cutoff versus no order after it, over customers seen before."""
    population = set(seen_before)
    lost = population - set(ordered_after)
    flagged_here = population & set(flagged)
    hits = len(flagged_here & lost)
    return HoldoutScore(
        cutoff, len(population), len(lost), len(flagged_here), hits,
        ratio(hits, len(flagged_here)), ratio(hits, len(lost)),
    )  # fmt: skip


def referral_score(
    opened: Mapping[str, Sequence[float]], truth: Mapping[str, CustomerTruth]
) -> ReferralScore:
    alerted = [truth[c] for c in opened if opened[c] and c in truth]
    worthy = sum(t.referral_worthy for t in truth.values())
    hits = sum(t.referral_worthy for t in alerted)
    return ReferralScore(
        len(alerted), worthy, hits, ratio(hits, len(alerted)), ratio(hits, worthy),
        poor_fit_alerted=sum(not t.good_fit for t in alerted),
        churners_alerted=sum(t.churned for t in alerted),
        coached_alerted=sum(t.coached_by is not None for t in alerted),
    )  # fmt: skip


def persona_rows(
    churn: Mapping[str, Sequence[float]],
    referral: Mapping[str, Sequence[float]],
    truth: Mapping[str, CustomerTruth],
    window_days: float = 90.0,
) -> list[PersonaRow]:
    """Per persona: how many were alerted, and how long after the last activity (churners)."""
    groups: dict[Persona, list[CustomerTruth]] = defaultdict(list)
    for t in truth.values():
        groups[t.persona].append(t)
    rows = []
    for persona in Persona:
        members = groups.get(persona, [])
        if not members:
            continue
        after: list[float] = []
        for t in members:
            if t.churn_at is not None and churn.get(t.customer_id):
                first = first_qualifying(churn[t.customer_id], t, window_days)
                if first >= 0:
                    after.append((first - t.churn_at) / DAY)
        rows.append(PersonaRow(
            persona, len(members), sum(t.churned for t in members),
            sum(bool(churn.get(t.customer_id)) for t in members), _median(after),
            sum(bool(referral.get(t.customer_id)) for t in members),
        ))  # fmt: skip
    return rows
