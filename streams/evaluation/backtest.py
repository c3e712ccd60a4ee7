"""Backtest the loss probability on a real purchase log: fit on the calibration period, score
every customer at the cutoff, compare with who bought again within the horizon after it.

Baselines: days since the last purchase (recency), an RFM quintile score, and plain BG/NBD.
cxstream's alert threshold comes from the calibration period alone (the balanced accuracy the
fitted model expects from its own predictions for the population alerted: all customers, or
repeat buyers only); the baselines get their best cut *on the
holdout*, an upper bound they could not reach in practice, so the comparison is strict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from streams.errors import CxStreamError
from streams.evaluation.scoring import (
    Array,
    Decile,
    Flags,
    FlagScore,
    auc,
    best_cut,
    calibration_deciles,
    expected_ba_threshold,
    flag_score,
)
from streams.fitting import CustomerStats, ParamRecord, fit_population
from streams.fitting.churn import LossModel, fit_loss_model
from streams.fitting.dormancy import fit_dormancy

WEEK_DAYS = 7.0
MIN_CUSTOMERS = 20


class BacktestError(CxStreamError):
    """The log cannot be backtested as asked; the message names the problem and the fix."""


@dataclass(frozen=True)
class PurchaseLog:
    """Orders as arrays: customer codes 0..n-1, time in days since the epoch, amount."""

    customer: npt.NDArray[np.int64]
    day: Array
    amount: Array
    customer_ids: list[str]


@dataclass(frozen=True)
class Cohort:
    """Each calibration customer's statistics at the cutoff and holdout outcome."""

    ids: list[str]
    stats: CustomerStats  # weeks
    first_day: Array
    recency_days: Array
    orders: Array
    spend: Array
    lost: Flags

    @property
    def repeat(self) -> Flags:
        out: Flags = self.stats.x > 0
        return out


@dataclass(frozen=True)
class ScoreResult:
    name: str
    score: Array
    auc_all: float
    auc_repeat: float
    flag_all: FlagScore
    flag_repeat: FlagScore
    threshold: float
    threshold_repeat: float
    threshold_rule: str
    deciles: list[Decile] = field(default_factory=list)  # only for probabilities


@dataclass(frozen=True)
class Backtest:
    cutoff_day: float
    horizon_days: float
    cohort: Cohort
    model: LossModel
    baseline_record: ParamRecord
    results: list[ScoreResult]
    dormancy: str  # how the dormancy factor was learned (or why not)


def learn_dormancy(
    log: PurchaseLog, cutoff_day: float, horizon_days: float, fitted_at: str
) -> tuple[float, str]:
    """kappa from an inner split of the calibration period: fit up to an inner cutoff, then
    see who bought again before the real cutoff. Never looks past the cutoff."""
    end = cutoff_day + 1.0
    cal = log.day < end
    if not np.any(cal):
        return 0.0, "not learned: no calibration data"
    sub = PurchaseLog(log.customer[cal], log.day[cal], log.amount[cal], log.customer_ids)
    inner_h = float(min(horizon_days, np.floor((end - float(sub.day.min())) / 2.0)))
    inner_cut = end - inner_h - 1.0
    try:
        c = cohort_at(sub, inner_cut, inner_h, log_end=end)
    except BacktestError as exc:
        return 0.0, f"not learned (inner split: {exc})"
    rec = fit_population(c.stats, fitted_at)
    kappa = fit_dormancy(rec.nbd, c.stats, c.lost, inner_h / WEEK_DAYS)
    return kappa, (
        f"{kappa:.4f}, learned on {len(c.ids)} customers fitted up to {_iso(inner_cut)} "
        f"and observed for the {inner_h:g} days up to the cutoff"
    )


def _iso(day: float) -> str:
    return str(np.datetime64(int(day), "D"))


def statistics_at(log: PurchaseLog, cutoff_day: float) -> Cohort:
    """Every customer's statistics from orders on or before the cutoff day (no outcome yet)."""
    end = cutoff_day + 1.0  # the cutoff day is part of the calibration period
    cal = log.day < end
    if not np.any(cal):
        raise BacktestError("no purchase on or before the cutoff: choose a later --cutoff")
    n = len(log.customer_ids)
    cust, day = log.customer[cal], np.floor(log.day[cal])
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, cust, day)
    np.maximum.at(last, cust, day)
    occasions = np.zeros(n)
    pairs = np.unique(np.stack([cust.astype(np.float64), day], axis=1), axis=0)
    np.add.at(occasions, pairs[:, 0].astype(np.int64), 1.0)
    orders = np.bincount(cust, minlength=n).astype(np.float64)
    spend = np.bincount(cust, weights=log.amount[cal], minlength=n).astype(np.float64)
    keep = orders > 0
    if int(keep.sum()) < MIN_CUSTOMERS:
        raise BacktestError(
            f"only {int(keep.sum())} customers bought before the cutoff (need {MIN_CUSTOMERS}): "
            "choose a later --cutoff"
        )
    x = occasions[keep] - 1.0
    if not np.any(x > 0):
        raise BacktestError(
            "no repeat buyers: nobody bought on two different days before the cutoff, so no "
            "repeat rate can be learned; choose a later --cutoff or check the --map of the "
            "customer and date columns"
        )
    ids = [cid for cid, k in zip(log.customer_ids, keep, strict=True) if k]
    f, la = first[keep], last[keep]
    stats = CustomerStats(x, (la - f) / WEEK_DAYS, (end - f) / WEEK_DAYS)
    lost = np.zeros(len(ids), dtype=bool)
    return Cohort(ids, stats, f, end - (la + 1.0), orders[keep], spend[keep], lost)


def cohort_at(
    log: PurchaseLog, cutoff_day: float, horizon_days: float, log_end: float | None = None
) -> Cohort:
    """Statistics at the cutoff; lost = no order in the horizon after it.
    ``log_end``: the day after the log's last covered day, when known (else its last order)."""
    end = cutoff_day + 1.0
    if len(log.day) == 0:
        raise BacktestError("the log has no purchases")
    last_seen = float(log.day.max()) if log_end is None else log_end - 1.0
    if last_seen < end + horizon_days - 1.0:
        have = max(0, int(last_seen - end + 1.0))
        raise BacktestError(
            f"holdout too short: the log ends {have} days after the cutoff but --horizon is "
            f"{horizon_days:g} days; choose an earlier --cutoff or a --horizon of at most {have}"
        )
    c = statistics_at(log, cutoff_day)
    hold = (log.day >= end) & (log.day < end + horizon_days)
    bought = np.zeros(len(log.customer_ids), dtype=bool)
    bought[log.customer[hold]] = True
    index = {cid: i for i, cid in enumerate(log.customer_ids)}
    lost = ~bought[np.array([index[cid] for cid in c.ids], dtype=np.int64)]
    if lost.all() or not lost.any():
        word = "every" if lost.all() else "no"
        raise BacktestError(
            f"{word} customer was lost in the holdout, so nothing can be ranked; check the "
            "--cutoff and --horizon against the log's dates"
        )
    return dataclasses.replace(c, lost=lost)


def rfm_risk(c: Cohort) -> Array:
    """15 - (R + F + M) with quintile scores 1-5 (R: 5 = most recent); higher = more at risk."""

    def quintile(v: Array) -> Array:
        out: Array = np.ceil(rankdata(v) / len(v) * 5.0)
        return out

    return 15.0 - (quintile(-c.recency_days) + quintile(c.orders) + quintile(c.spend))


def _result(
    name: str,
    score: Array,
    c: Cohort,
    threshold: float | None,
    probability: bool,
    fixed: bool = False,
) -> ScoreResult:
    rep = c.repeat
    if threshold is not None and fixed:  # the operator's probability, for everyone
        cut = cut_rep = threshold
        rule = "set with --alert-at"
        flag_all = flag_score(score >= cut, c.lost)
        flag_rep = flag_score(score[rep] >= cut, c.lost[rep])
    elif threshold is None:  # a baseline: its best cut on the holdout (an oracle upper bound)
        cut, flag_all = best_cut(score, c.lost)
        cut_rep, flag_rep = best_cut(score[rep], c.lost[rep])
        rule = "best cut on the holdout"
    else:  # the model's own expected-BA cut, for the population being judged
        cut, rule = threshold, "from calibration data"
        flag_all = flag_score(score >= cut, c.lost)
        cut_rep = expected_ba_threshold(score[rep])
        flag_rep = flag_score(score[rep] >= cut_rep, c.lost[rep])
    return ScoreResult(
        name,
        score,
        auc(score, c.lost),
        auc(score[rep], c.lost[rep]),
        flag_all,
        flag_rep,
        cut,
        cut_rep,
        rule,
        calibration_deciles(score, c.lost) if probability else [],
    )


def run_backtest(
    log: PurchaseLog,
    cutoff_day: float,
    horizon_days: float,
    fitted_at: str,
    progress: Callable[[int], None] | None = None,
    alert_at: float | None = None,
) -> Backtest:
    """Fit on the calibration period, score every customer at the cutoff, compare.
    ``alert_at``: the operator's loss-probability cut (default: chosen from calibration)."""
    c = cohort_at(log, cutoff_day, horizon_days)
    mean_value = np.where(c.orders > 0, c.spend / np.maximum(c.orders, 1.0), 0.0)
    kappa, how = learn_dormancy(log, cutoff_day, horizon_days, fitted_at)
    model = fit_loss_model(
        c.stats, c.first_day, horizon_days, fitted_at, c.orders, mean_value, dormant=kappa
    )
    p_loss = model.score_all(c.stats, c.first_day, progress)
    base = fit_population(c.stats, fitted_at, model="bgnbd")
    p_base = model.score_with(base, c.stats)
    results = [
        _result(
            "cxstream loss probability",
            p_loss,
            c,
            expected_ba_threshold(p_loss) if alert_at is None else alert_at,
            True,
            fixed=alert_at is not None,
        ),
        _result("recency (days since last purchase)", c.recency_days, c, None, False),
        _result("RFM score", rfm_risk(c), c, None, False),
        _result("BG/NBD P(no purchase), fitted", p_base, c, None, True),
    ]
    return Backtest(cutoff_day, horizon_days, c, model, base, results, how)
