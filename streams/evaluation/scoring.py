"""Scores against outcomes: ranking (AUC), an alert flag's confusion figures, calibration by
decile and gains. Every function takes a score where higher means "more likely lost"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

Array = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


def auc(score: Array, lost: Flags) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN without both classes."""
    pos, n = int(lost.sum()), len(lost)
    if pos == 0 or pos == n:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[lost].sum() - pos * (pos + 1) / 2) / (pos * (n - pos)))


def roc_curve(score: Array, lost: Flags) -> tuple[Array, Array]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    order = np.argsort(-score, kind="stable")
    s, y = score[order], lost[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # end of each run of equal scores
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    pos, neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.r_[0.0, fp / neg], np.r_[0.0, tp / pos]


@dataclass(frozen=True, slots=True)
class FlagScore:
    """An alert flag against the outcome."""

    flagged: int
    balanced_accuracy: float
    precision: float
    recall: float
    f1: float


def flag_score(flag: Flags, lost: Flags) -> FlagScore:
    tp = int((flag & lost).sum())
    fp = int((flag & ~lost).sum())
    tn = int((~flag & ~lost).sum())
    fn = int((~flag & lost).sum())
    recall = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return FlagScore(int(flag.sum()), (recall + specificity) / 2, precision, recall, f1)


def best_cut(score: Array, lost: Flags) -> tuple[float, FlagScore]:
    """The threshold with the best balanced accuracy *on these outcomes* (an oracle cut: an
    upper bound for a baseline, never how cxstream chooses its own threshold)."""
    fpr, tpr = roc_curve(score, lost)
    i = int(np.argmax(tpr - fpr))
    thresholds = np.r_[np.inf, np.sort(np.unique(score))[::-1]]
    cut = float(thresholds[i])
    return cut, flag_score(score >= cut, lost)


def expected_ba_threshold(p_loss: Array) -> float:
    """The loss-probability threshold that maximises the balanced accuracy the model itself
    expects (each customer lost with its predicted probability): needs no outcomes at all,
    so it is chosen from the calibration period alone."""
    p = np.sort(p_loss)[::-1]
    pos, neg = p.sum(), (1 - p).sum()
    if pos <= 0 or neg <= 0:
        return 0.5
    tp = np.cumsum(p)  # flag the top k+1
    tn = neg - np.cumsum(1 - p)
    ba = 0.5 * (tp / pos + tn / neg)
    return float(p[int(np.argmax(ba))])


@dataclass(frozen=True, slots=True)
class Decile:
    customers: int
    predicted: float
    observed: float


def calibration_deciles(p_loss: Array, lost: Flags, bins: int = 10) -> list[Decile]:
    """Customers sorted by predicted loss, cut into equal-count bins: mean predicted vs observed."""
    order = np.argsort(p_loss, kind="stable")
    return [
        Decile(len(idx), float(p_loss[idx].mean()), float(lost[idx].mean()))
        for idx in np.array_split(order, bins)
        if len(idx)
    ]


def gains(score: Array, lost: Flags, points: int = 101) -> tuple[Array, Array]:
    """Share of lost customers captured when targeting the top share of customers by score."""
    order = np.argsort(-score, kind="stable")
    captured = np.r_[0.0, np.cumsum(lost[order]) / max(int(lost.sum()), 1)]
    share = np.linspace(0.0, 1.0, points)
    return share, captured[np.round(share * len(score)).astype(int)]
