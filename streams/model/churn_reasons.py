"""What a churn alert says and how urgent it is: the loss probability in plain words, the
trouble that raised it, and the priority from the value at risk (p_loss x expected value)."""

from __future__ import annotations

from streams.config import ModelConfig
from streams.domain import Priority, Reason
from streams.model.loss import TROUBLE, loss_outlook
from streams.model.measures import Measures
from streams.model.risk import PUBLIC_DETRACTOR, reason
from streams.model.state import CustomerState

LOSS = "loss"
_LEVELS = (Priority.LOW, Priority.MEDIUM, Priority.HIGH)


def churn_reasons(m: Measures, cfg: ModelConfig, typical_days: float) -> tuple[Reason, ...]:
    """The loss probability in plain words, then the trouble signals that raised it (a public
    detractor first, the most urgent)."""
    out = [reason(code, value, m, cfg) for code, c, value in _trouble(m, cfg)]
    at = 1 if out and out[0].code == PUBLIC_DETRACTOR else 0
    out.insert(at, Reason(LOSS, loss_sentence(m, cfg, typical_days), round(m.p_loss or 0.0, 4)))
    return tuple(out)


def _trouble(m: Measures, cfg: ModelConfig) -> list[tuple[str, float, float]]:
    floor = cfg.risk.min_reason_contribution
    return [x for x in m.components if x[0] in TROUBLE and x[1] >= floor]


def material_codes(m: Measures, cfg: ModelConfig) -> tuple[str, ...]:
    """Codes of the reasons an alert lists: the loss probability and the material trouble."""
    return tuple(sorted([LOSS, *[x[0] for x in _trouble(m, cfg)]]))


def _span(days: float) -> str:
    if days < 14.0:
        return f"{days:.0f} day{'' if round(days) == 1 else 's'}"
    if days < 120.0:
        return f"{days / 7.0:.0f} weeks"
    return f"{days / 30.44:.0f} months"


def loss_sentence(m: Measures, cfg: ModelConfig, typical_days: float) -> str:
    """E.g. "usually buys every 3 weeks, silent for 11 weeks; P(no purchase in 270 days) 0.82"."""
    silent = _span(m.days_since_purchase or 0.0)
    if m.gap_own:
        head = f"usually buys every {_span(typical_days)}, silent for {silent}"
    else:
        head = f"bought only once, {silent} ago"
    text = f"{head}; P(no purchase in {cfg.loss.horizon_days:.0f} days) {m.p_loss or 0.0:.2f}"
    if m.hazard > 1.0 + 1e-9:
        text += (
            f" ({m.p_loss_purchases or 0.0:.2f} from purchases alone, raised "
            f"\u00d7{m.hazard:.1f} by the signals listed)"
        )
    return text


def value_at_risk(state: CustomerState, m: Measures, cfg: ModelConfig) -> int:
    """P(loss) x expected value within the horizon, in minor units."""
    outlook = loss_outlook(state, m.now, cfg)
    return 0 if outlook is None else round((m.p_loss or 0.0) * outlook.expected_value_minor)


def churn_priority(m: Measures, var: float, cfg: ModelConfig) -> Priority:
    """Value at risk banded at the learned cuts; a public detractor is always critical."""
    if m.components and m.components[0][0] == PUBLIC_DETRACTOR:
        return Priority.CRITICAL
    lc = cfg.loss
    if var >= lc.value_critical_from:
        return Priority.CRITICAL
    return _LEVELS[(var >= lc.value_medium_from) + (var >= lc.value_high_from)]
