"""Codec versioning, survey integrity, and the deadline contract."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from streams.config import config_from_mapping
from streams.domain import Event, TicketAction
from streams.errors import ContractError
from streams.model import (
    integrity_from_bytes,
    integrity_to_bytes,
    load_config,
    next_deadline,
    observe_feedback,
    snapshot,
    state_from_bytes,
    state_to_bytes,
    tick,
)

from .conftest import DAY, HOUR, T0, feedback, purchase, run, ticket, weekly_buyer

# A state written by the version 1 (JSON) codec: tables written by older builds must load.
V1_STATE = (
    b'[1,"cust-1",1700000000.0,1701382400.0,1701382400.0,[1701209600.0,1701296000.0,'
    b"1701382400.0],[34267842268714,223827994890146,246063933538688],-Infinity,[1701382400.0,"
    b"3.6420624181545125,4.095820500328354,[2.45805044025054,0.0,0.0,0.0,0.6840119779039721,"
    b"0.5,0.0,0.0],1701382400.0],[1700000000.0,1701209600.0,[19675,19682,19689],3,3,7500,0,0,"
    b'0.0,-Infinity,"EUR",-Infinity,1701209600.0],[["T1",1701382400.0,"billing","normal",'
    b"1701468800.0,1701382400.0,1,-Infinity,0,-Infinity,0]],[-Infinity,0.0,0.0,0.0,0.0,0.0,0.0,"
    b'-Infinity],[1701296000.0,4.0,1.0,0.0,0.0,0.0,0.0,4,1701296000.0,[1701296000.0,"nps",4,'
    b'false],null],[-Infinity,"",[null,null,null,null,null,null],null,null],"active",'
    b'1700604800.0,[["new",1700000000.0],["onboarding",1700000000.0],["active",1700604800.0]],'
    b"[],-Infinity,-Infinity,82.3333,80.1096,49.88672]"
)


def _v1_events() -> list[Event]:
    return [
        *weekly_buyer(3),
        feedback(T0 + 15 * DAY, "n", 4),
        ticket(T0 + 16 * DAY, "k", "T1", TicketAction.OPENED, sla=T0 + 17 * DAY),
    ]


def test_unknown_state_version_is_rejected_clearly(cfg) -> None:
    state, _ = run(weekly_buyer(3), cfg)
    payload = json.loads(V1_STATE)  # the JSON layout (version 1) with a future version number
    payload[0] = 99
    with pytest.raises(ContractError, match="unsupported state version 99"):
        state_from_bytes(json.dumps(payload).encode())
    with pytest.raises(ContractError):
        state_from_bytes(b"not json")
    data = state_to_bytes(state)  # the binary layout (version byte first)
    with pytest.raises(ContractError, match="unsupported state version 4"):
        state_from_bytes(b"\x04" + data[1:])  # 3 is the loop layout (issue 16)
    for bad in (data[:-5], data[:1], data[:1] + b"\x00garbage", b""):
        with pytest.raises(ContractError):
            state_from_bytes(bad)


# The model config the V1_STATE bytes were recorded under (the defaults of that build): the
# stored risk and health are derived values, so the comparison state is rebuilt with it.
V1_CONFIG = config_from_mapping(
    {
        "rhythm": {"prior_weight": 0.5, "gap_quantile": 0.5},
        "p_alive": {"one_time_half_life_days": 180.0},
        "risk": {
            "weight_ticket_trouble": 0.6,
            "ticket_trouble_start": 100.0,
            "ticket_trouble_full": 0.0,
        },
    }
)


def test_version_1_states_still_load() -> None:
    state, _ = run(_v1_events(), V1_CONFIG)
    assert state_from_bytes(V1_STATE) == state
    assert state_from_bytes(state_to_bytes(state_from_bytes(V1_STATE))) == state


def test_cached_deadline_travels_with_the_bytes_and_is_config_bound(cfg) -> None:
    state, _ = run(_v1_events(), cfg)
    expected = next_deadline(state, cfg)
    loaded = state_from_bytes(state_to_bytes(state))
    assert next_deadline(loaded, cfg) == expected
    assert next_deadline(loaded, load_config()) == expected  # an equal config: same digest
    other = config_from_mapping({"alerts": {"referral": {"cooldown_days": 1.0}}})
    fresh = state_from_bytes(state_to_bytes(state))
    assert next_deadline(fresh, other) == next_deadline(run(_v1_events(), other)[0], other)


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


@pytest.mark.parametrize("offset", [0.0, 0.1, 48 * 1234.5678, 50 * 1234.5678, 7.77e4])
def test_stage_deadlines_are_seen_by_the_tick_at_them(cfg, offset: float) -> None:
    """Closed-form overdue / P(alive) instants are computed in floating point: the tick at the
    deadline must already see the new stage (a tick a rounding error early would lose it)."""
    from streams.model.deadline import _stage_times
    from streams.model.lifecycle import raw_stage
    from streams.model.risk import assess, assess_cached

    gaps = (6.3, 9.1, 7.7, 11.9)
    evs, t = [], T0 + offset
    for i, g in enumerate(gaps):
        t += g * DAY
        evs.append(purchase(t, f"s{i}"))
    state, _ = run(evs, cfg)
    changes = 0
    for when in sorted(_stage_times(state, assess_cached(state, cfg), cfg)):
        if not state.as_of < when < math.inf:
            continue
        stages = [raw_stage(state, assess(state, when + d, cfg), cfg) for d in (-2.0, 0.0, 2.0)]
        if stages[0] != stages[2]:  # this instant changes the stage: the tick there sees it
            changes += 1
            assert stages[1] == stages[2], (when, stages)
    assert changes >= 3  # at_risk, dormant, churned


def test_a_stored_history_poisoned_by_an_earlier_build_loads_as_empty(cfg) -> None:
    """Earlier builds could store NaN ticket sums with no eviction time (a cap-eviction bug)."""
    state, _ = run([purchase(T0, 1), ticket(T0 + DAY, 2, "X", TicketAction.OPENED)], cfg)
    nan = math.nan
    poisoned = replace(
        state,
        ticket_history=replace(
            state.ticket_history, escalations=nan, reopens=nan, repeats=nan, resolved=nan
        ),
    )
    loaded = state_from_bytes(state_to_bytes(poisoned))
    assert loaded.ticket_history == state.ticket_history
    assert loaded == state_from_bytes(state_to_bytes(state))
    assert math.isfinite(snapshot(loaded, T0 + 2 * DAY, cfg).health)
