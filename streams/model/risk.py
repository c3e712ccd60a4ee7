"""Churn risk: a noisy-OR of independent signals, each with a reason people can read.

risk = 100 * (1 - prod(1 - c_i)), c_i = weight_i * strength_i, strength in 0-1. One strong
signal (long silence for this customer's rhythm) can open an alert alone; weak signals compound.
"""

from __future__ import annotations

from streams.config import ModelConfig
from streams.domain import Reason
from streams.model.loss import adjust, params_for, purchase_loss
from streams.model.measures import Measures, clamp01, measure
from streams.model.state import DAY_S, HOUR_S, CustomerState, memoized, remember

PUBLIC_DETRACTOR = "public_detractor"


def assess(state: CustomerState, now: float, cfg: ModelConfig) -> Measures:
    """Measures at ``now`` with churn risk and its components filled in."""
    m = measure(state, now, cfg)
    m.risk, m.components = churn_risk(m, cfg)
    base = purchase_loss(state.purchases, now, cfg, params_for(state, cfg)[0])
    if base is not None:
        m.p_loss, m.hazard = adjust(base, m.components, cfg)
        m.p_loss_purchases = base
    return m


def assess_cached(state: CustomerState, cfg: ModelConfig) -> Measures:
    """:func:`assess` at ``state.as_of``, cached on the immutable state (per config).

    The result is shared: callers must only read it (``assess`` returns a private copy).
    """
    return memoized(state, "_memo_a", cfg, lambda: assess(state, state.as_of, cfg))


def remember_measures(state: CustomerState, m: Measures, cfg: ModelConfig) -> None:
    """Cache ``m`` (measures at ``state.as_of``, never mutated afterwards) on ``state``."""
    remember(state, "_memo_a", cfg, m)


def _ramp(x: float, start: float, full: float) -> float:
    """0 at ``start``, 1 at ``full`` (works for rising or falling ramps)."""
    v = (x - start) / (full - start)
    return 0.0 if v <= 0.0 else 1.0 if v >= 1.0 else v  # clamp01, inlined (hot)


def signal_strengths(m: Measures, cfg: ModelConfig) -> list[tuple[str, float, float, float]]:
    """(code, weight, strength, value) for every signal with evidence."""
    rc, out = cfg.risk, []
    if m.public_negative is not None:
        out.append(
            (
                PUBLIC_DETRACTOR,
                rc.weight_public_detractor,
                min(1.0, m.public_negative[3]),
                float(m.public_negative[2]),
            )
        )
    neg = m.negative
    if neg is not None and (m.public_negative is None or neg[0] != m.public_negative[0]):
        top = cfg.loyalty.passive_min - 1
        severity = clamp01((top - neg[2]) / top) if neg[1] == "nps" and top > 0 else 1.0
        out.append(("detractor", rc.weight_detractor, 0.7 + 0.3 * severity, float(neg[2])))
    if m.overdue is not None:
        s = _ramp(m.overdue, cfg.rhythm.overdue_start, cfg.rhythm.overdue_full)
        out.append(("overdue", rc.weight_overdue, s, m.overdue))
    if m.p_alive is not None:
        s = _ramp(m.p_alive, cfg.p_alive.risk_start, cfg.p_alive.risk_full)
        out.append(("p_alive_low", rc.weight_p_alive, s, m.p_alive))
    if m.eng_ratio is not None:
        ec = cfg.engagement
        s = _ramp(m.eng_ratio, ec.drop_start_ratio, ec.drop_full_ratio)
        out.append(("engagement_drop", rc.weight_engagement_drop, s, m.eng_ratio))
    if m.loyalty is not None:
        s = clamp01((rc.poor_feedback_below - m.loyalty) / rc.poor_feedback_below)
        out.append(("poor_feedback", rc.weight_poor_feedback, s, m.loyalty))
    if m.success is not None:
        s = _ramp(m.success.score, rc.ticket_trouble_start, rc.ticket_trouble_full)
        out.append(("ticket_trouble", rc.weight_ticket_trouble, s, m.success.score))
    if m.refunds_recent > 1e-6:
        s = min(1.0, m.refunds_recent / rc.refunds_full)
        out.append(("refunds", rc.weight_refunds, s, m.refunds_recent))
    if m.cancelled:
        out.append(("cancelled", rc.weight_cancelled, 1.0, 1.0))
    return out


def churn_risk(m: Measures, cfg: ModelConfig) -> tuple[float, tuple[tuple[str, float, float], ...]]:
    """Risk 0-100 and the contributing signals, most urgent first (public detractor on top)."""
    keep = 1.0
    comps: list[tuple[str, float, float]] = []
    for code, weight, strength, value in signal_strengths(m, cfg):
        c = weight * strength
        keep *= 1.0 - c
        if c > 0.0:
            comps.append((code, c, value))
    comps.sort(key=lambda x: (x[0] != PUBLIC_DETRACTOR, -x[1], x[0]))
    return round(100.0 * (1.0 - keep), 6), tuple(comps)


def _ago(seconds: float) -> str:
    days = seconds / DAY_S
    return f"{seconds / HOUR_S:.0f} hours ago" if days < 2 else f"{days:.0f} days ago"


def _feedback_phrase(kind: str, score: int) -> str:
    return {
        "nps": f"NPS {score}",
        "csat": f"CSAT {score}/5",
        "ces": f"effort score {score}/7",
        "review": f"a {score}-star review",
    }.get(kind, f"{kind} {score}")


def reason(code: str, value: float, m: Measures, cfg: ModelConfig) -> Reason:
    """The human sentence for one churn signal."""
    now = m.now
    if code == PUBLIC_DETRACTOR and m.public_negative is not None:
        at, kind, score, _ = m.public_negative
        due = at + cfg.alerts.follow_up_sla_hours * HOUR_S
        sla = cfg.alerts.follow_up_sla_hours
        if due > now:
            left = f"follow up within {(due - now) / HOUR_S:.0f}h ({sla:.0f}h SLA)"
        else:
            left = f"the {sla:.0f}h follow-up SLA is overdue by {(now - due) / HOUR_S:.0f}h"
        phrase = _feedback_phrase(kind, score)
        msg = f"public detractor: {phrase} given publicly {_ago(now - at)}; {left}"
    elif code == "detractor" and m.negative is not None:
        at, kind, score, _ = m.negative
        msg = f"detractor feedback: {_feedback_phrase(kind, score)} {_ago(now - at)}"
    elif code == "overdue":
        days = m.days_since_purchase or 0.0
        if m.gap_own:
            msg = (
                f"no purchase for {days:.0f} days, {value:.1f}\u00d7 this customer's usual long "
                f"gap of {m.gap_days:.0f} days"
            )
        else:
            msg = (
                f"no repeat purchase {days:.0f} days after the only one, {value:.1f}\u00d7 the "
                f"typical gap of {m.gap_days:.0f} days for one-time buyers"
            )
    elif code == "p_alive_low":
        msg = f"estimated probability of still being an active buyer is {value:.0%}"
    elif code == "engagement_drop":
        msg = f"recent activity is {value:.0%} of this customer's long-run rate"
    elif code == "poor_feedback":
        msg = f"feedback has been poor lately (feedback score {value:.0f}/100)"
    elif code == "ticket_trouble" and m.success is not None:
        msg = _ticket_sentence(m)
    elif code == "refunds":
        msg = f"recent refunds (recency-weighted count {value:.1f})"
    elif code == "cancelled":
        msg = "cancelled their subscription with no renewal since"
    else:
        msg = code.replace("_", " ")
    return Reason(code, msg, round(value, 4))


def _ticket_sentence(m: Measures) -> str:
    s = m.success
    assert s is not None
    parts = []
    if s.open:
        parts.append(
            f"{s.open} open ticket{'s' if s.open > 1 else ''}"
            + (f" ({s.breached_open} past SLA)" if s.breached_open else "")
        )
    for label, v in (
        ("escalation", s.escalations),
        ("reopen", s.reopens),
        ("repeated problem", s.repeats),
        ("SLA breach", s.breaches - s.breached_open),
    ):
        if v >= 0.5:
            parts.append(f"{v:.0f} recent {label}{'s' if round(v) > 1 else ''}")
    if s.resolution_hours is not None:
        parts.append(f"tickets take {s.resolution_hours:.0f}h to resolve on average")
    return f"support trouble (success {s.score:.0f}/100): " + ", ".join(parts)
