"""Parameters learned from a purchase history, as ``cxstream fit`` learns them.

One function for the command, the evaluation and the tests: statistics at ``as_of``, the
population fit (BG/NBD or MBG/NBD), Gamma-Gamma spend, dormancy on an inner split, and the
churn alerting (cut and value bands, :mod:`streams.fitting.alerting`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from streams.domain import Event, Purchase, PurchaseKind
from streams.evaluation.backtest import PurchaseLog, learn_dormancy, statistics_at
from streams.evaluation.trouble import learn_trouble
from streams.fitting.alerting import TARGET_PRECISION, learn_alerting
from streams.fitting.churn import fit_loss_model
from streams.fitting.record import ParamRecord
from streams.model import ModelConfig

DAY_S = 86400.0


def fit_log(
    log: PurchaseLog,
    as_of_day: float,
    horizon_days: float,
    fitted_at: str,
    minor_per_unit: float = 100.0,
    target_precision: float = TARGET_PRECISION,
) -> tuple[dict[str, ParamRecord], str]:
    """Records per cohort ("all" for the population, with its alerting) and how the dormancy
    was learned. ``minor_per_unit`` converts the log's amounts to minor units."""
    c = statistics_at(log, as_of_day)
    kappa, how = learn_dormancy(log, as_of_day, horizon_days, fitted_at)
    mean_value = np.where(c.orders > 0, c.spend / np.maximum(c.orders, 1.0), 0.0)
    model = fit_loss_model(
        c.stats, c.first_day, horizon_days, fitted_at, c.orders, mean_value, kappa
    )
    pop = model.records["all"]
    alerting = learn_alerting(
        pop, c.stats, horizon_days, mean_value * minor_per_unit, target_precision
    )
    records = dict(model.records)
    records["all"] = dataclasses.replace(pop, alerting=alerting, version="")
    return records, how


def purchase_log(events: Iterable[Event]) -> PurchaseLog:
    """Placed orders of ``events`` as a purchase log (days since the epoch, major units)."""
    ids: dict[str, int] = {}
    cust: list[int] = []
    day: list[float] = []
    amount: list[float] = []
    for e in events:
        if isinstance(e, Purchase) and e.kind is PurchaseKind.ORDER_PLACED:
            cust.append(ids.setdefault(e.customer_id, len(ids)))
            day.append(e.occurred_at / DAY_S)
            amount.append(e.amount_minor / 100.0)
    return PurchaseLog(
        np.asarray(cust, dtype=np.int64),
        np.asarray(day, dtype=np.float64),
        np.asarray(amount, dtype=np.float64),
        list(ids),
    )


def fit_events(
    events: Sequence[Event],
    as_of: float,
    horizon_days: float,
    fitted_at: str,
    cfg: ModelConfig | None = None,
) -> ParamRecord:
    """The population record (with alerting) learned from ``events`` up to ``as_of``; with a
    model config, also the trouble signals' effect on the loss hazard."""
    records, _ = fit_log(purchase_log(events), np.floor(as_of / DAY_S), horizon_days, fitted_at)
    pop = records["all"]
    if cfg is None:
        return pop
    trouble = learn_trouble(events, as_of, horizon_days, pop, cfg)
    return dataclasses.replace(pop, trouble=trouble, version="")
