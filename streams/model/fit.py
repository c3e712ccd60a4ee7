"""Fit: how well a customer's profile matches the ideal customer profile (ICP), 0-100.

Derived from the profile's attributes alone, so it is cached: on the immutable profile record
and, because profiles decoded from bytes are new objects while customers share few distinct
attribute combinations, in a bounded process-wide table per FitConfig.
"""

from __future__ import annotations

from streams.config import ICP_ATTRIBUTES, FitConfig, ModelConfig
from streams.model.state import CustomerState, memoized


def fit_score(state: CustomerState, cfg: ModelConfig) -> float | None:
    """ICP match 0-100 over the attributes both the profile and the ICP know; None if none."""
    profile, fc = state.profile, cfg.fit  # cached on the immutable profile record
    return memoized(profile, "_memo_a", fc, lambda: _shared_fit(profile.attrs, fc))


_MAX_SHARED_FITS = 8192
_shared_fits: tuple[FitConfig | None, dict[tuple[str | None, ...], float | None]] = (None, {})


def _shared_fit(attrs: tuple[str | None, ...], fc: FitConfig) -> float | None:
    """:func:`_fit` through a process-wide table for the current FitConfig.

    Profiles decoded from bytes are new objects (empty per-object cache), but customers
    share few distinct attribute combinations, so the score is usually known already.
    """
    global _shared_fits
    cached_fc, scores = _shared_fits
    if cached_fc is not fc:
        scores = {}
        _shared_fits = (fc, scores)
    try:
        return scores[attrs]
    except KeyError:
        pass
    if len(scores) >= _MAX_SHARED_FITS:
        scores.clear()
    score = scores[attrs] = _fit(attrs, fc)
    return score


def _fit(attrs: tuple[str | None, ...], fc: FitConfig) -> float | None:
    num = den = 0.0
    icp = fc.icp
    for name, value in zip(ICP_ATTRIBUTES, attrs, strict=True):
        spec = icp.get(name)
        if spec is None or value is None or spec.importance <= 0:
            continue
        num += spec.importance * spec.values.get(value, spec.default)
        den += spec.importance
    return min(100.0, round(100.0 * num / den, 4)) if den > 0 else None
