"""Survey integrity: per agent or location, flag bursts of top scores far above its own baseline.

Staff asking for "a 10" leave a signature: many top scores in a short time, much more often than
that agent usually gets them. Two decayed tallies per agent capture it: a short burst window and
a long baseline. A top score is *coached* when the burst is big enough, nearly all top, and its
top share exceeds the baseline share by ``min_excess``. Coached responses get ``coached_weight``
(the pipeline passes it to ``apply(..., feedback_weight=...)``) and count at that weight in the
baseline, so a sustained campaign does not quietly become the new normal.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass

from streams.config import ModelConfig
from streams.domain import Feedback, FeedbackKind
from streams.model.state import decay_to


@dataclass(frozen=True, slots=True)
class IntegrityState:
    """Decayed tallies for one agent/location, all expressed at ``at``."""

    at: float
    base_top: float
    base_all: float
    burst_top: float
    burst_all: float
    coached: int  # responses flagged so far
    seen_at: tuple[float, ...]  # times of remembered feedback ids (ascending)
    seen_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class IntegrityVerdict:
    coached: bool
    weight: float  # what the pipeline passes as apply(..., feedback_weight=weight)
    reason: str | None


EMPTY = IntegrityState(-math.inf, 0.0, 0.0, 0.0, 0.0, 0, (), ())
_TOP = {FeedbackKind.NPS: 10, FeedbackKind.CSAT: 5, FeedbackKind.REVIEW: 5}


def is_top(feedback: Feedback) -> bool:
    """The best possible answer on the response's scale (CES: lowest effort, 1)."""
    if feedback.score is None:
        return False
    if feedback.kind is FeedbackKind.CES:
        return feedback.score == 1
    return feedback.score == _TOP.get(feedback.kind, -1)


def _key(fb: Feedback) -> int:
    digest = hashlib.blake2b(f"{fb.source}\x1f{fb.event_id}".encode(), digest_size=6)
    return int.from_bytes(digest.digest(), "big")


def _judge(s: IntegrityState, top: bool, cfg: ModelConfig) -> IntegrityVerdict:
    """Verdict for a response given tallies that already include it."""
    ic = cfg.integrity
    if not top:
        return IntegrityVerdict(False, 1.0, None)
    k = ic.min_baseline_weight
    baseline = (s.base_top + k * ic.default_baseline_top_share) / (s.base_all + k)
    share = s.burst_top / s.burst_all if s.burst_all > 0 else 0.0
    if (
        s.burst_all >= ic.min_burst
        and share >= ic.min_burst_top_share
        and (share - baseline >= ic.min_excess)
    ):
        return IntegrityVerdict(
            True,
            ic.coached_weight,
            (
                f"burst of top scores: {share:.0%} of the last {s.burst_all:.1f} (decayed) "
                f"responses, baseline {baseline:.0%}"
            ),
        )
    return IntegrityVerdict(False, 1.0, None)


def observe_feedback(
    state: IntegrityState | None, feedback: Feedback, now: float, config: ModelConfig
) -> tuple[IntegrityState, IntegrityVerdict]:
    """Fold a response into its agent's/location's tallies and judge whether it looks coached.

    Idempotent by source+event id: a repeat returns the same state and a verdict from it.
    Verdicts depend on event time only; ``now`` is accepted for symmetry with ``apply``.
    """
    ic = config.integrity
    s = state if state is not None else EMPTY
    top = is_top(feedback)
    key = _key(feedback)
    if key in s.seen_ids:
        return s, _judge(s, top, config)
    t = feedback.occurred_at
    at = max(s.at, t)
    kb, kr = decay_to(1.0, s.at, at, ic.lam_baseline), decay_to(1.0, s.at, at, ic.lam_burst)
    wb, wr = math.exp(-ic.lam_baseline * (at - t)), math.exp(-ic.lam_burst * (at - t))
    burst_top, burst_all = s.burst_top * kr + wr * top, s.burst_all * kr + wr
    probe = IntegrityState(
        at, s.base_top * kb, s.base_all * kb, burst_top, burst_all, s.coached, (), ()
    )
    verdict = _judge(probe, top, config)
    w = verdict.weight * wb
    i = bisect.bisect_right(s.seen_at, t)
    seen_at, seen_ids = (*s.seen_at[:i], t, *s.seen_at[i:]), (*s.seen_ids[:i], key, *s.seen_ids[i:])
    cap = ic.max_remembered_ids
    new = IntegrityState(
        at,
        probe.base_top + w * top,
        probe.base_all + w,
        burst_top,
        burst_all,
        s.coached + verdict.coached,
        seen_at[-cap:],
        seen_ids[-cap:],
    )
    return new, verdict
