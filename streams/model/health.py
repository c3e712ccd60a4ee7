"""Composite health 0-100: weighted mean of the measures present, weights renormalised.

Each measure maps to 0-100; a measure without evidence (no purchases, no tickets, no feedback,
no profile) is dropped rather than guessed, so the composite says what is actually known.
"""

from __future__ import annotations

from streams.config import ModelConfig
from streams.domain import Contribution
from streams.model.measures import Measures, clamp01
from streams.model.positional import positional

_CONTRIBUTION = positional(Contribution)


def measure_scores(m: Measures, cfg: ModelConfig) -> list[tuple[str, float, float]]:
    """(measure, score 0-100, configured weight) for every measure with evidence."""
    hc, out = cfg.health, []
    if m.eng_ratio is not None:
        out.append(("engagement", 100.0 * min(1.0, m.eng_ratio), hc.weight_engagement))
    if m.overdue is not None:
        full = cfg.rhythm.overdue_full
        late = clamp01((m.overdue - 1.0) / (full - 1.0)) if full > 1.0 else float(m.overdue > full)
        out.append(("recency", 100.0 * (1.0 - late), hc.weight_recency))
    if m.p_alive is not None:
        out.append(("retention", 100.0 * m.p_alive, hc.weight_retention))
    if m.success is not None:
        out.append(("success", m.success.score, hc.weight_success))
    if m.loyalty is not None:
        out.append(("loyalty", m.loyalty, hc.weight_loyalty))
    if m.fit is not None:
        out.append(("fit", m.fit, hc.weight_fit))
    return [x for x in out if x[2] > 0.0]


def health(m: Measures, cfg: ModelConfig) -> float:
    """Composite 0-100; a customer with no evidence at all sits at the neutral 50."""
    parts = measure_scores(m, cfg)
    total = sum([w for _, _, w in parts])  # lists, not generators: cheaper, same sums
    if total <= 0.0:
        return 50.0
    return round(sum([s * w for _, s, w in parts]) / total, 4)


def band(value: float, cfg: ModelConfig) -> str:
    if value < cfg.health.red_below:
        return "red"
    return "amber" if value < cfg.health.green_from else "green"


def contributions(m: Measures, cfg: ModelConfig) -> tuple[Contribution, ...]:
    """Per-measure contributions with renormalised weights and the evidence in words."""
    parts = measure_scores(m, cfg)
    total = sum([w for _, _, w in parts]) or 1.0
    return tuple(
        [
            _CONTRIBUTION(name, round(score, 2), round(w / total, 4), _detail(name, m))
            for name, score, w in parts
        ]
    )


def _detail(name: str, m: Measures) -> str:
    if name == "engagement":
        return f"recent activity rate is {m.eng_ratio or 0.0:.0%} of the long-run rate"
    if name == "recency":
        rhythm = "own usual long" if m.gap_own else "typical one-time-buyer"
        return (
            f"last purchase {m.days_since_purchase or 0.0:.0f} days ago; {rhythm} gap "
            f"{m.gap_days:.0f} days ({m.overdue or 0.0:.1f}\u00d7)"
        )
    if name == "retention":
        return f"probability of still being an active buyer {m.p_alive or 0.0:.0%}"
    if name == "success" and m.success is not None:
        s = m.success
        res = (
            f", {s.resolution_hours:.0f}h mean resolution" if s.resolution_hours is not None else ""
        )
        return (
            f"{s.open} open tickets ({s.breached_open} past SLA), {s.escalations:.1f} escalations, "
            f"{s.reopens:.1f} reopens, {s.repeats:.1f} repeats (decayed){res}"
        )
    if name == "loyalty":
        bits = []
        if m.nps_mean is not None:
            bits.append(f"NPS mean {m.nps_mean:.1f}")
        if m.csat_share is not None:
            bits.append(f"CSAT {m.csat_share:.0%} satisfied")
        if m.ces_mean is not None:
            bits.append(f"effort {m.ces_mean:.1f}/7")
        return (
            "feedback: "
            + ", ".join(bits)
            + (f" (latest NPS {m.nps_last}, {m.nps_category})" if m.nps_last is not None else "")
        )
    return f"fit to the ideal customer profile {m.fit or 0.0:.0f}/100"
