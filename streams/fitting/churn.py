"""The loss model a backtest (and later the worker) uses: parameter records per acquisition
cohort, fitted where a cohort has enough customers, the population record elsewhere.

Scoring goes through the pure per-customer formula (:func:`streams.btyd.p_no_purchase`), the
same one the streaming model calls, so what is backtested is what runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streams.btyd import p_no_purchase
from streams.fitting.nbd import Array, CustomerStats
from streams.fitting.record import ParamRecord, fit_segments, with_dormancy

MIN_SEGMENT_CUSTOMERS = 500
PROGRESS_EVERY = 5000


def cohort_label(first_day: float) -> str:
    """Acquisition cohort: the calendar quarter of the first purchase (days since the epoch)."""
    d = dt.date(1970, 1, 1) + dt.timedelta(days=int(first_day))
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class LossModel:
    horizon_days: float
    records: dict[str, ParamRecord]

    def record_for(self, segment: str) -> ParamRecord:
        return self.records.get(segment, self.records["all"])

    def score_with(self, rec: ParamRecord, stats: CustomerStats) -> Array:
        p, h = rec.nbd, self.horizon_days / rec.time_unit_days
        return np.array(
            [
                p_no_purchase(p, float(x), float(t), float(T), h)
                for x, t, T in zip(stats.x, stats.t_x, stats.T, strict=True)
            ]
        )

    def score_all(
        self,
        stats: CustomerStats,
        first_day: Array,
        progress: Callable[[int], None] | None = None,
    ) -> Array:
        """P(no purchase within the horizon) for every customer, by their cohort's record."""
        out = np.empty(len(stats))
        for i in range(len(stats)):
            rec = self.record_for(cohort_label(float(first_day[i])))
            out[i] = p_no_purchase(
                rec.nbd,
                float(stats.x[i]),
                float(stats.t_x[i]),
                float(stats.T[i]),
                self.horizon_days / rec.time_unit_days,
            )
            if progress is not None and (i + 1) % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)
        if progress is not None:
            progress(len(stats) % PROGRESS_EVERY)
        return out


def fit_loss_model(
    stats: CustomerStats,
    first_day: Array,
    horizon_days: float,
    fitted_at: str,
    orders: Array | None = None,
    mean_value: Array | None = None,
    dormant: float = 0.0,
) -> LossModel:
    """Population and per-cohort fits (BG/NBD or MBG/NBD, whichever the data favour), each
    with the dormancy factor learned for the population."""
    labels = [cohort_label(float(d)) for d in first_day]
    records = fit_segments(
        stats,
        labels,
        fitted_at,
        min_customers=MIN_SEGMENT_CUSTOMERS,
        orders=orders,
        mean_value=mean_value,
    )
    records = {k: with_dormancy(r, dormant) for k, r in records.items()}
    return LossModel(horizon_days, records)
