"""Event builders and drivers shared by the model tests."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from streams.domain import (
    Alert,
    Channel,
    CustomerProfile,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    TicketAction,
    TicketEvent,
    TicketPriority,
    Touchpoint,
)
from streams.model import CustomerState, ModelConfig, apply, load_config, next_deadline, tick

DAY = 86400.0
HOUR = 3600.0
T0 = 1_700_000_000.0
CID = "cust-1"


@pytest.fixture(scope="session")
def cfg() -> ModelConfig:
    return load_config()


def purchase(
    t: float,
    n: int | str,
    amount: int = 2500,
    kind: PurchaseKind = PurchaseKind.ORDER_PLACED,
    cid: str = CID,
    channel: Channel = Channel.WEB,
) -> Purchase:
    return Purchase(f"p{n}", "shop", cid, t, kind, f"o{n}", amount, "EUR", channel, 1)


def ticket(
    t: float,
    n: int | str,
    tid: str,
    action: TicketAction,
    priority: TicketPriority = TicketPriority.NORMAL,
    category: str = "billing",
    sla: float | None = None,
    cid: str = CID,
) -> TicketEvent:
    return TicketEvent(f"t{n}", "desk", cid, t, action, tid, priority, category, Channel.CHAT, sla)


def feedback(
    t: float,
    n: int | str,
    score: int,
    kind: FeedbackKind = FeedbackKind.NPS,
    public: bool = False,
    agent: str | None = None,
    cid: str = CID,
) -> Feedback:
    return Feedback(
        f"f{n}", "survey", cid, t, kind, score, Touchpoint.PERIODIC, Channel.EMAIL, public, agent
    )


GOOD_FIT = {
    "segment": "enterprise",
    "plan": "premium",
    "company_size": "200-1000",
    "acquisition_channel": "referral",
}
POOR_FIT = {
    "segment": "consumer",
    "plan": "free",
    "company_size": "1-10",
    "acquisition_channel": "coupon",
}


def profile(t: float, n: int | str, cid: str = CID, **attrs: str | None) -> CustomerProfile:
    return CustomerProfile(f"c{n}", "crm", cid, t, cx_team="team-a", **attrs)  # type: ignore[arg-type]


def run(
    events: Iterable[Event], cfg: ModelConfig, state: CustomerState | None = None
) -> tuple[CustomerState, list[Alert]]:
    """Apply events in the given order, stream time = each event's time; collect alerts."""
    alerts: list[Alert] = []
    for ev in events:
        state, out = apply(state, ev, ev.occurred_at, cfg)
        alerts.extend(out)
    assert state is not None
    return state, alerts


def tick_until(
    state: CustomerState, until: float, cfg: ModelConfig
) -> tuple[CustomerState, list[Alert]]:
    """Drive time forward the way the pipeline does: tick at each next deadline."""
    alerts: list[Alert] = []
    for _ in range(10_000):
        d = next_deadline(state, cfg)
        if d is None or d > until:
            break
        assert d > state.as_of, "a deadline must lie in the future"
        state, out = tick(state, d, cfg)
        alerts.extend(out)
    state, out = tick(state, until, cfg)
    alerts.extend(out)
    return state, alerts


def weekly_buyer(weeks: int = 8, start: float = T0) -> list[Purchase]:
    return [purchase(start + i * 7 * DAY, i) for i in range(weeks)]
