"""Codec versioning, survey integrity, and the deadline contract."""

from __future__ import annotations

import json

import pytest

from streams.errors import ContractError
from streams.model import (
    integrity_from_bytes,
    integrity_to_bytes,
    next_deadline,
    observe_feedback,
    state_from_bytes,
    state_to_bytes,
    tick,
)

from .conftest import DAY, HOUR, T0, feedback, run, weekly_buyer


def test_unknown_state_version_is_rejected_clearly(cfg) -> None:
    state, _ = run(weekly_buyer(3), cfg)
    payload = json.loads(state_to_bytes(state))
    payload[0] = 99
    with pytest.raises(ContractError, match="unsupported state version 99"):
        state_from_bytes(json.dumps(payload).encode())
    with pytest.raises(ContractError):
        state_from_bytes(b"not json")


def test_coached_burst_detected_against_agent_baseline(cfg) -> None:
    st = None
    # Baseline: 40 responses over 40 days, a third of them top scores.
    for i in range(40):
        st, v = observe_feedback(
            st, feedback(T0 + i * DAY, f"b{i}", 10 if i % 3 == 0 else 7, agent="a1"), 0, cfg
        )
        assert not v.coached and v.weight == 1.0
    verdicts = []
    t = T0 + 41 * DAY
    for i in range(8):
        st, v = observe_feedback(st, feedback(t + i * HOUR, f"x{i}", 10, agent="a1"), 0, cfg)
        verdicts.append(v)
    assert any(v.coached for v in verdicts)
    flagged = [v for v in verdicts if v.coached]
    assert all(v.weight == cfg.integrity.coached_weight and v.reason for v in flagged)
    assert not verdicts[0].coached  # one top score is not a burst
    # A low score from the same agent is never down-weighted.
    st, v = observe_feedback(st, feedback(t + 9 * HOUR, "low", 3, agent="a1"), 0, cfg)
    assert not v.coached and v.weight == 1.0
    assert integrity_from_bytes(integrity_to_bytes(st)) == st
    # Idempotent: the same response again changes nothing.
    again, _ = observe_feedback(st, feedback(t + 9 * HOUR, "low", 3, agent="a1"), 0, cfg)
    assert again == st


def test_agent_whose_baseline_is_all_top_scores_is_not_flagged(cfg) -> None:
    st = None
    for i in range(60):
        st, v = observe_feedback(st, feedback(T0 + i * 6 * HOUR, f"b{i}", 10), 0, cfg)
    assert not v.coached


def test_deadline_is_future_and_tick_before_it_changes_nothing(cfg) -> None:
    state, _ = run(weekly_buyer(6), cfg)
    d = next_deadline(state, cfg)
    assert d is not None and d > state.as_of
    before, alerts = tick(state, d - HOUR, cfg)
    assert not alerts and before.stage == state.stage
    after, _ = tick(state, d + 1, cfg)
    assert after.stage != state.stage or next_deadline(after, cfg) != d
