"""Learn the trouble signals' effect on the loss hazard from recorded events.

The pure model is folded over the events (purchases, tickets, feedback, profiles) exactly as a
worker folds them; at a few calibration cutoffs inside the fitted period every buyer's purchase-only
loss probability and trouble contributions are read from its state, and the outcome is whether
the customer placed an order within the inner horizon after that cutoff. Nothing after
``as_of`` is used. :func:`streams.fitting.trouble.fit_trouble` then learns the effects.

Cutoffs: the latest one leaves an inner horizon ``min(H, half the span)`` before ``as_of`` (as
the dormancy split), then every ``STEP_DAYS`` earlier while at least ``WARMUP_DAYS`` of
history precede them (at most ``MAX_CUTOFFS``): trouble is rare at any one instant, so several
instants give the fit enough customers who had it.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.domain import Event, Purchase, PurchaseKind
from streams.fitting.record import ParamRecord
from streams.fitting.trouble import fit_trouble
from streams.model import CustomerState, ModelConfig, apply, config_with_record
from streams.model.loss import TROUBLE
from streams.model.risk import assess

DAY_S = 86400.0
STEP_DAYS = 14.0
WARMUP_DAYS = 30.0
MAX_CUTOFFS = 12
CODES = tuple(sorted(TROUBLE))


def cutoffs(first: float, as_of: float, horizon_days: float) -> tuple[list[float], float]:
    """(calibration cutoffs in seconds, ascending; the inner horizon in days)."""
    inner_h = float(min(horizon_days, np.floor((as_of - first) / DAY_S / 2.0)))
    out: list[float] = []
    c = as_of - inner_h * DAY_S
    while c >= first + WARMUP_DAYS * DAY_S and len(out) < MAX_CUTOFFS:
        out.append(c)
        c -= STEP_DAYS * DAY_S
    return sorted(out), inner_h


def trouble_rows(
    events: Sequence[Event], at: Sequence[float], inner_h: float, cfg: ModelConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(purchase-only loss within ``inner_h`` days, trouble contributions by :data:`CODES`,
    lost) for every buyer at every cutoff in ``at``; ``events`` in event-time order."""
    cfg = dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, horizon_days=inner_h))
    orders: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if isinstance(e, Purchase) and e.kind is PurchaseKind.ORDER_PLACED:
            orders[e.customer_id].append(e.occurred_at)
    states: dict[str, CustomerState] = {}
    p_base: list[float] = []
    contrib: list[list[float]] = []
    lost: list[bool] = []
    pending = list(at)
    column = {code: j for j, code in enumerate(CODES)}

    def read(cut: float) -> None:
        for customer, state in states.items():
            if state.purchases.occasions <= 0:
                continue
            m = assess(state, max(cut, state.as_of), cfg)
            row = [0.0] * len(CODES)
            for code, c, _ in m.components:
                if code in column:
                    row[column[code]] = c
            times = orders[customer]
            i = bisect.bisect_right(times, cut)
            p_base.append(m.p_loss_purchases or 0.0)
            contrib.append(row)
            lost.append(not (i < len(times) and times[i] <= cut + inner_h * DAY_S))

    for e in events:
        while pending and e.occurred_at > pending[0]:
            read(pending.pop(0))
        if not pending:
            break
        states[e.customer_id] = apply(states.get(e.customer_id), e, e.occurred_at, cfg)[0]
    for cut in pending:
        read(cut)
    return np.array(p_base), np.array(contrib).reshape(-1, len(CODES)), np.array(lost)


def learn_trouble(
    events: Sequence[Event],
    as_of: float,
    horizon_days: float,
    record: ParamRecord,
    cfg: ModelConfig,
) -> dict[str, Any] | None:
    """The learned trouble effects (``ParamRecord.trouble``) from ``events`` up to ``as_of``,
    the purchase model given by ``record``; None when the history is too short."""
    ordered = sorted((e for e in events if e.occurred_at <= as_of), key=lambda e: e.occurred_at)
    if not ordered:
        return None
    at, inner_h = cutoffs(ordered[0].occurred_at, as_of, horizon_days)
    if not at or inner_h < 1.0:
        return None
    judged = config_with_record(cfg, {**record.to_dict(), "alerting": None, "trouble": None})
    p, c, y = trouble_rows(ordered, at, inner_h, judged)
    learned = fit_trouble(p, c, y, CODES, hazard_max=cfg.loss.hazard_max)
    return {**learned, "inner_horizon_days": inner_h, "cutoffs": len(at)}
