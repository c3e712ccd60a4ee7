"""The feedback loop's pure fold: actions on alerts, outcomes in event time, the holdout."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.alert_loop import ActionKind, AlertActionEvent, AlertOutcome, Group, OutcomeKind
from streams.config import ModelConfig, config_from_mapping
from streams.domain import Alert, AlertAction
from streams.loop_processing import LoopInput, loop_deadline, process_loop_event, process_loop_tick
from streams.model import CustomerState, state_from_bytes, state_to_bytes
from streams.model.outcomes import holdout_group
from tests.unit.model.conftest import CID, DAY, T0, purchase, weekly_buyer

CFG = config_from_mapping({"loop": {"not_a_risk_cooldown_days": 60.0, "max_actions_per_alert": 4}})


def fold(
    events: Sequence[LoopInput], cfg: ModelConfig = CFG, state: CustomerState | None = None
) -> tuple[CustomerState, list[Alert], list[AlertOutcome]]:
    alerts: list[Alert] = []
    outcomes: list[AlertOutcome] = []
    for e in events:
        state, a, o = process_loop_event(state, e, cfg)
        alerts += a
        outcomes += o
    assert state is not None
    return state, alerts, outcomes


def until(
    state: CustomerState, end: float, cfg: ModelConfig = CFG
) -> tuple[CustomerState, list[Alert], list[AlertOutcome]]:
    alerts: list[Alert] = []
    outcomes: list[AlertOutcome] = []
    while (d := loop_deadline(state, cfg)) is not None and d <= end:
        state, a, o = process_loop_tick(state, d, cfg)
        alerts += a
        outcomes += o
    return state, alerts, outcomes


def at_risk(cfg: ModelConfig = CFG) -> tuple[CustomerState, Alert]:
    """A weekly buyer gone silent: the churn alert opens about seven weeks later."""
    state, _, _ = fold(list(weekly_buyer(8)), cfg)
    state, alerts, _ = until(state, T0 + 100 * DAY, cfg)
    opened = [a for a in alerts if a.action is AlertAction.OPENED]
    assert opened, "the silent weekly buyer must raise a churn alert"
    return state, opened[0]


def act(
    alert_id: str, t: float, kind: ActionKind, n: int | str, reason: str | None = None
) -> AlertActionEvent:
    return AlertActionEvent(f"a{n}", "cx-ui", CID, t, alert_id, kind, "agent-7", reason=reason)


def test_the_outcome_is_lost_without_a_purchase_and_decided_at_the_window_end() -> None:
    state, alert = at_risk()
    state, _, outcomes = until(state, alert.opened_at + 200 * DAY)
    assert [(o.alert_id, o.outcome) for o in outcomes] == [(alert.alert_id, OutcomeKind.LOST)]
    assert outcomes[0].decided_at == alert.opened_at + 90 * DAY
    assert until(state, alert.opened_at + 400 * DAY)[2] == []  # decided once


def test_a_purchase_within_the_window_retains_the_customer() -> None:
    state, alert = at_risk()
    bought = alert.opened_at + 20 * DAY
    state, _, early = fold([purchase(bought, "back")], state=state)
    assert early == []  # not decided before the window ends
    _, _, outcomes = until(state, alert.opened_at + 200 * DAY)
    assert outcomes[0].outcome is OutcomeKind.RETAINED
    assert outcomes[0].succeeded_at is not None and outcomes[0].succeeded_at <= bought


def test_actions_are_recorded_and_a_repeat_changes_nothing() -> None:
    state, alert = at_risk()
    ack = act(alert.alert_id, state.as_of + 3600, ActionKind.ACKNOWLEDGED, 1)
    state, alerts, _ = fold([ack], state=state)
    assert alerts == []
    again, _, _ = process_loop_event(state, ack, CFG)
    assert again is state
    rec = state.loop.find(alert.alert_id)
    assert rec is not None and rec.handled and not rec.intervened
    assert [a[2] for a in rec.actions] == ["acknowledged"]


def test_dismissal_not_a_risk_closes_the_alert_and_keeps_it_closed_for_the_cooldown() -> None:
    state, alert = at_risk()
    t = state.as_of + 3600
    dismiss = act(alert.alert_id, t, ActionKind.DISMISSED, 1, reason="not_a_risk")
    state, alerts, _ = fold([dismiss], state=state)
    assert [(a.action, a.reasons[0].code) for a in alerts] == [(AlertAction.RESOLVED, "dismissed")]
    assert state.alerts == ()
    # The customer stays silent (the risk stays high): no reopening for 60 days, then it may.
    state, later, _ = until(state, t + 59 * DAY)
    assert [a for a in later if a.action is AlertAction.OPENED] == []
    _, later, _ = until(state, t + 120 * DAY)
    reopened = [a for a in later if a.action is AlertAction.OPENED]
    assert reopened and reopened[0].opened_at >= t + 60 * DAY


def test_a_plain_dismissal_allows_the_usual_short_cooldown_only() -> None:
    state, alert = at_risk()
    t = state.as_of + 3600
    state, _, _ = fold([act(alert.alert_id, t, ActionKind.DISMISSED, 1, "duplicate")], state=state)
    _, later, _ = until(state, t + 30 * DAY)
    assert any(a.action is AlertAction.OPENED for a in later)


def test_holdout_is_deterministic_and_close_to_the_fraction() -> None:
    ids = [f"{i:032x}" for i in range(4000)]
    control = [holdout_group(i, "churn_risk", 0.2) for i in ids]
    assert control == [holdout_group(i, "churn_risk", 0.2) for i in ids]
    share = sum(g is Group.CONTROL for g in control) / len(ids)
    assert abs(share - 0.2) < 0.03
    assert {holdout_group(i, "churn_risk", 0.0) for i in ids} == {Group.DELIVERED}
    assert {holdout_group(i, "referral_opportunity", 0.5) for i in ids} == {Group.DELIVERED}


def test_control_alerts_are_marked_in_the_state() -> None:
    cfg = config_from_mapping({"loop": {"holdout_fraction": 1.0}})
    state, alert = at_risk(cfg)
    rec = state.loop.find(alert.alert_id)
    assert rec is not None and rec.group == "control"


def test_referral_action_decides_referred() -> None:
    state, alert = at_risk()  # a churn alert: a referral does not touch it
    ref = AlertActionEvent("r1", "referrals", CID, state.as_of + DAY, "", ActionKind.REFERRAL,
                           "referral-service", referred_customer_id="friend-1")  # fmt: skip
    state, _, _ = fold([ref], state=state)
    rec = state.loop.find(alert.alert_id)
    assert rec is not None and rec.success_at == math.inf


def test_codec_keeps_the_loop_and_old_states_keep_their_exact_bytes() -> None:
    state, alert = at_risk()
    plain = state_to_bytes(dataclasses.replace(state, loop=state.loop.__class__(())))
    assert plain[:1] == b"\x02"  # no loop: the version-2 layout, byte for byte as before
    acted, _, _ = fold([act(alert.alert_id, state.as_of + 1, ActionKind.CONTACTED, 1)], state=state)
    data = state_to_bytes(acted)
    assert data[:1] == b"\x03"
    assert state_from_bytes(data) == acted
    assert state_from_bytes(plain).loop.alerts == ()


# Property tests: the action fold is idempotent, order-independent and bounded.
KINDS = [k for k in ActionKind if k is not ActionKind.REFERRAL]
action_lists = st.lists(
    st.tuples(
        st.integers(0, 40),  # hours after the alert opened (ties on purpose)
        st.sampled_from(KINDS),
        st.sampled_from([None, "not_a_risk", "duplicate"]),
        st.integers(0, 12),  # event number (repeats on purpose)
    ),
    min_size=1,
    max_size=14,
)
BASE, ALERT = at_risk()


def _actions(spec: list[tuple[int, ActionKind, str | None, int]]) -> list[AlertActionEvent]:
    by_id = {n: (h, k, r) for h, k, r, n in spec}  # one event per id, as producers send
    return [act(ALERT.alert_id, BASE.as_of + h * 3600, k, n, r) for n, (h, k, r) in by_id.items()]


@settings(max_examples=60, deadline=None)
@given(action_lists, st.randoms(use_true_random=False))
def test_actions_fold_is_order_independent_idempotent_and_bounded(
    spec: list[tuple[int, ActionKind, str | None, int]], rnd: random.Random
) -> None:
    events = _actions(spec)
    in_time = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    shuffled = list(in_time)
    rnd.shuffle(shuffled)
    ordered, _, _ = fold(in_time, state=BASE)
    a, _, _ = fold(shuffled, state=BASE)
    twice, _, _ = fold([*shuffled, *in_time], state=BASE)
    rec = ordered.loop.find(ALERT.alert_id)
    assert rec is not None
    assert a.loop == ordered.loop == twice.loop  # any order, any repeats: the same record
    assert len(rec.actions) <= CFG.loop.max_actions_per_alert
    assert rec.first_action_at == min(e.occurred_at for e in events)
    closing = [e for e in events if e.action in (ActionKind.DISMISSED, ActionKind.RESOLVED)]
    assert (ordered.alerts == ()) == bool(closing)  # a closing action closes it, whatever order


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 60))
def test_tracked_alerts_stay_bounded(n: int) -> None:
    cfg = config_from_mapping({"loop": {"max_alerts": 5}})
    events = [act(f"unknown-{i:03d}", BASE.as_of + i, ActionKind.ACKNOWLEDGED, i) for i in range(n)]
    state, _, _ = fold(events, cfg, state=BASE)
    assert len(state.loop.alerts) <= 5
    assert [a.alert_id for a in state.loop.alerts][-1] == f"unknown-{n - 1:03d}"
