"""Alert life cycle: one open alert per customer and type, opened / updated / resolved.

Churn risk opens when the loss probability (streams.model.loss, raised by trouble signals)
reaches ``loss.alert_at`` and resolves only below ``alert_at - close_margin`` (hysteresis),
with a short reopen cooldown; a public detractor bypasses the cooldown. Its priority is the
value at risk, p_loss x expected value, banded at the learned ``loss.value_*_from`` cuts.
Referral opportunities need a well-served, engaged, well-fitting promoter and respect a long
cooldown. An open alert is re-emitted only when something material changed: score moved by
``update_min_delta``, priority changed, or the set of reason codes changed.
"""

from __future__ import annotations

import hashlib

from streams.config import ModelConfig
from streams.domain import Alert, AlertAction, AlertType, Priority, Reason
from streams.model.churn_reasons import (
    LOSS,
    churn_priority,
    churn_reasons,
    material_codes,
    value_at_risk,
)
from streams.model.loss import params_for
from streams.model.measures import Measures, clamp01, typical_gap_days
from streams.model.risk import PUBLIC_DETRACTOR
from streams.model.state import DAY_S, CustomerState, OpenAlert

CHURN = AlertType.CHURN_RISK.value
REFERRAL = AlertType.REFERRAL_OPPORTUNITY.value
__all__ = ["LOSS", "churn_reasons", "material_codes", "step_alerts"]

PLAYBOOKS = {
    PUBLIC_DETRACTOR: "Close the loop within {sla}h: a senior CX lead contacts the customer "
    "personally, acknowledges the public feedback, fixes the cause, and only then invites an "
    "updated review.",
    "detractor": "Detractor follow-up within {sla}h: call, understand the cause, agree a fix and "
    "confirm it was delivered.",
    "ticket_trouble": "Service recovery: give the customer one senior owner, escalate open "
    "tickets, and check in personally after resolution.",
    "cancelled": "Save desk: contact before the subscription ends, learn why, offer the plan "
    "that fits.",
    "refunds": "Quality check: review the refunded orders with the customer and fix what went "
    "wrong before selling again.",
    "poor_feedback": "Experience review: read the recent feedback, fix the recurring complaint, "
    "tell the customer what changed.",
}
WIN_BACK = (
    "Win-back check-in: reach out personally, referencing what they usually buy; add a "
    "time-limited offer only for high-value customers."
)
REFERRAL_PLAYBOOK = (
    "Ask for a referral now: thank them, make one simple ask with a personal "
    "link and a reward for both sides; no new ask within {days:.0f} days."
)


def alert_id(customer_id: str, type_: str, evidence: str) -> str:
    """Deterministic id: same customer, type and opening evidence -> same id (replay-safe)."""
    return hashlib.sha1(f"{customer_id}|{type_}|{evidence}".encode()).hexdigest()[:32]


def referral_score(m: Measures) -> float:
    """Opportunity strength 0-100: promoter strength, fit and engagement."""
    nps = (m.nps_mean or 0.0) * 10.0
    return round(0.4 * nps + 0.3 * (m.fit or 0.0) + 0.3 * engaged_score(m), 4)


def engaged_score(m: Measures) -> float:
    eng = 100.0 * min(1.0, m.eng_ratio) if m.eng_ratio is not None else 0.0
    rec = 100.0 * (1.0 - clamp01((m.overdue - 1.0) / 3.0)) if m.overdue is not None else 0.0
    return max(eng, rec)


def referral_blocker(m: Measures, cfg: ModelConfig) -> Reason | None:
    """The first gate a referral ask fails, as a reason; None when all gates pass."""
    rc = cfg.alerts.referral
    if m.nps_category != "promoter" or (m.nps_mean or 0.0) < rc.min_nps_mean:
        return Reason(
            "not_promoter", "the customer is no longer a clear promoter", m.nps_mean or 0.0
        )
    if m.nps_evidence < rc.min_nps_evidence:
        return Reason(
            "promoter_evidence_faded",
            "promoter feedback is too old or too weak",
            round(m.nps_evidence, 4),
        )
    if m.fit is None or m.fit < rc.min_fit:
        return Reason(
            "poor_fit", "fit to the ideal customer profile is too low for a referral", m.fit or 0.0
        )
    s = m.success
    if s is not None and s.open:
        return Reason(
            "open_ticket", f"{s.open} support ticket(s) open: not the moment to ask", float(s.open)
        )
    if s is not None and m.now < s.last_escalation_at + rc.recent_escalation_days * DAY_S:
        return Reason("recent_escalation", "a ticket was escalated recently", 1.0)
    if m.risk > rc.max_risk:
        return Reason("at_risk", f"churn risk is {m.risk:.0f}", m.risk)
    engaged = (m.eng_ratio is not None and 100 * m.eng_ratio >= rc.min_engagement) or (
        m.overdue is not None and m.overdue <= rc.max_overdue
    )
    if not engaged:
        return Reason("not_engaged", "the customer has not been active recently", 0.0)
    return None


def referral_reasons(m: Measures) -> tuple[Reason, ...]:
    return (
        Reason(
            "promoter",
            f"promoter: latest NPS {m.nps_last}, recent mean {m.nps_mean or 0:.1f}",
            float(m.nps_last or 0),
        ),
        Reason("good_fit", f"fits the ideal customer profile ({m.fit or 0:.0f}/100)", m.fit or 0.0),
        Reason("well_served", "no open or recently escalated ticket", 1.0),
        Reason(
            "engaged",
            f"engaged (engagement/recency score {engaged_score(m):.0f}/100)",
            round(engaged_score(m), 2),
        ),
    )


class AlertBook:
    """Working copy of a customer's alert bookkeeping during one evaluation."""

    __slots__ = ("cfg", "churn_resolved_at", "emitted", "m", "open", "referral_opened_at", "state")

    def __init__(self, state: CustomerState, m: Measures, cfg: ModelConfig) -> None:
        self.state, self.m, self.cfg = state, m, cfg
        self.open = {a.type: a for a in state.alerts}
        self.churn_resolved_at = state.churn_resolved_at
        self.referral_opened_at = state.referral_opened_at
        self.emitted: list[Alert] = []

    def emit(
        self,
        a: OpenAlert,
        action: AlertAction,
        score: float,
        reasons: tuple[Reason, ...],
        priority: Priority,
        playbook: str,
        var: int = 0,
    ) -> None:
        churn = a.type == CHURN and self.m.p_loss is not None
        self.emitted.append(
            Alert(
                alert_id=a.alert_id,
                customer_id=self.state.customer_id,
                type=AlertType(a.type),
                action=action,
                priority=priority,
                score=round(score, 2),
                reasons=reasons,
                playbook=playbook,
                opened_at=a.opened_at,
                occurred_at=self.m.now,
                cx_team=self.state.profile.cx_team,
                lifetime_value_minor=int(self.m.ltv),
                p_loss=round(self.m.p_loss or 0.0, 6) if churn else None,
                value_at_risk_minor=var,
                params_version=params_for(self.state, self.cfg)[1],
            )
        )

    def alerts(self) -> tuple[OpenAlert, ...]:
        return tuple(self.open[t] for t in (CHURN, REFERRAL) if t in self.open)


def _playbook(reasons: tuple[Reason, ...], cfg: ModelConfig) -> str:
    """The playbook of the most urgent trouble listed; win-back when silence alone explains."""
    top = next((r.code for r in reasons if r.code in PLAYBOOKS), "")
    return PLAYBOOKS.get(top, WIN_BACK).format(sla=f"{cfg.alerts.follow_up_sla_hours:.0f}")


def churn_step(book: AlertBook, evidence: str, cfg: ModelConfig) -> None:
    """Open, update or resolve the churn-risk alert for the current loss probability."""
    m, ac, lc = book.m, cfg.alerts.churn_risk, cfg.loss
    cur = book.open.get(CHURN)
    if m.p_loss is None:
        return  # no purchase yet: nothing to lose (an open alert waits for one)
    score = round(100.0 * m.p_loss, 4)
    typical = typical_gap_days(book.state.purchases, cfg)[1]
    if cur is None:
        urgent = bool(m.components) and m.components[0][0] == PUBLIC_DETRACTOR
        cooled = m.now >= book.churn_resolved_at + ac.reopen_cooldown_days * DAY_S
        if m.p_loss < lc.alert_at or not (cooled or urgent):
            return
        reasons = churn_reasons(m, cfg, typical)
        var = value_at_risk(book.state, m, cfg)
        prio = churn_priority(m, var, cfg)
        cur = OpenAlert(
            CHURN,
            alert_id(book.state.customer_id, CHURN, evidence),
            m.now,
            score,
            prio.value,
            material_codes(m, cfg),
        )
        book.open[CHURN] = cur
        book.emit(cur, AlertAction.OPENED, score, reasons, prio, _playbook(reasons, cfg), var)
        return
    if m.p_loss < lc.alert_at - lc.close_margin:
        del book.open[CHURN]
        book.churn_resolved_at = m.now
        low = lc.alert_at - lc.close_margin
        why = Reason(
            "recovered",
            f"P(no purchase in {lc.horizon_days:.0f} days) fell to {m.p_loss:.2f}, below {low:.2f}",
            round(m.p_loss, 4),
        )
        var = value_at_risk(book.state, m, cfg)
        done = "No action needed: the customer recovered."
        book.emit(cur, AlertAction.RESOLVED, score, (why,), Priority(cur.priority), done, var)
        return
    codes = material_codes(m, cfg)
    moved = abs(score - cur.score) >= cfg.alerts.update_min_delta or codes != cur.codes
    var = value_at_risk(book.state, m, cfg)
    prio = churn_priority(m, var, cfg)
    if moved or prio.value != cur.priority:
        book.open[CHURN] = OpenAlert(CHURN, cur.alert_id, cur.opened_at, score, prio.value, codes)
        reasons = churn_reasons(m, cfg, typical)
        book.emit(cur, AlertAction.UPDATED, score, reasons, prio, _playbook(reasons, cfg), var)


def referral_step(book: AlertBook, evidence: str, cfg: ModelConfig) -> None:
    """Open, update or resolve the referral opportunity for the current measures."""
    m, rc = book.m, cfg.alerts.referral
    cur = book.open.get(REFERRAL)
    if cur is None:
        if m.now < book.referral_opened_at + rc.cooldown_days * DAY_S:
            return  # still cooling down: nothing else matters (checked first: cheapest)
        score = referral_score(m)
        if score >= rc.open_at and referral_blocker(m, cfg) is None:
            prio = _referral_priority(m, cfg)
            cur = OpenAlert(
                REFERRAL,
                alert_id(book.state.customer_id, REFERRAL, evidence),
                m.now,
                score,
                prio.value,
                ("engaged", "good_fit", "promoter", "well_served"),
            )
            book.open[REFERRAL] = cur
            book.referral_opened_at = m.now
            book.emit(cur, AlertAction.OPENED, score, referral_reasons(m), prio, _ask(cfg))
        return
    _referral_open_step(book, cur, cfg)


def _referral_priority(m: Measures, cfg: ModelConfig) -> Priority:
    high = m.value_at_stake >= cfg.alerts.churn_risk.high_value_minor > 0
    return Priority.HIGH if high else Priority.MEDIUM


def _ask(cfg: ModelConfig) -> str:
    return REFERRAL_PLAYBOOK.format(days=cfg.alerts.referral.cooldown_days)


def _referral_open_step(book: AlertBook, cur: OpenAlert, cfg: ModelConfig) -> None:
    """Resolve or update an open referral opportunity."""
    m, rc = book.m, cfg.alerts.referral
    blocker = referral_blocker(m, cfg)
    score = referral_score(m)
    prio = _referral_priority(m, cfg)
    expired = m.now >= cur.opened_at + rc.expire_days * DAY_S
    if blocker is None and score < rc.close_below:
        blocker = Reason("weaker", f"opportunity score fell to {score:.0f}", score)
    if blocker is None and expired:
        blocker = Reason(
            "expired", f"not acted on within {rc.expire_days:.0f} days", rc.expire_days
        )
    if blocker is not None:
        del book.open[REFERRAL]
        book.emit(
            cur,
            AlertAction.RESOLVED,
            score,
            (blocker,),
            Priority(cur.priority),
            "No action: the moment for a referral ask has passed.",
        )
    elif abs(score - cur.score) >= cfg.alerts.update_min_delta or prio.value != cur.priority:
        book.open[REFERRAL] = OpenAlert(
            REFERRAL, cur.alert_id, cur.opened_at, score, prio.value, cur.codes
        )
        book.emit(cur, AlertAction.UPDATED, score, referral_reasons(m), prio, _ask(cfg))


def step_alerts(state: CustomerState, m: Measures, evidence: str, cfg: ModelConfig) -> AlertBook:
    book = AlertBook(state, m, cfg)
    churn_step(book, evidence, cfg)
    referral_step(book, evidence, cfg)
    return book
