"""One simulated customer: its hidden traits and the builders for the events it produces.

Traits are drawn once from the customer's own random stream (so a customer is the same
whichever other customers are generated); journeys in :mod:`streams.simulator.journeys` decide
*when* things happen and call the builders here to make the events.
"""

from __future__ import annotations

from streams.domain import (
    Channel,
    CustomerProfile,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    Touchpoint,
)
from streams.simulator.attributes import (
    ACCOUNT_OWNERS,
    GOOD_FIT_MIN,
    STORE_LOCATIONS,
    SUPPORT_AGENTS,
    currency_for,
    cx_team_for,
    draw_attributes,
    fit_score,
)
from streams.simulator.personas import SATISFACTION, Persona
from streams.simulator.rng import Rng, cumulative

DAY = 86_400.0
SOURCE = "simulator"

_CHANNELS = (Channel.WEB, Channel.APP, Channel.STORE, Channel.PHONE, Channel.CHAT)
_RETAIL_CHANNELS = (Channel.WEB, Channel.PHONE, Channel.OTHER)
_RETAIL_WEIGHTS = cumulative((0.86, 0.1, 0.04))
_SURVEY_CHANNELS = (Channel.EMAIL, Channel.APP, Channel.WEB)


def _preferred_channels(rng: Rng, persona: Persona) -> tuple[float, ...]:
    """Each customer leans towards one or two channels; bargain hunters live in the app/web."""
    if persona is Persona.BARGAIN_HUNTER:
        base = [0.45, 0.45, 0.05, 0.02, 0.03]
    else:
        base = [0.3, 0.25, 0.3, 0.1, 0.05]
    favourite = rng.randint(0, len(base) - 1)
    base[favourite] += 0.6
    return cumulative(base)


class Customer:
    """Hidden traits plus id counters of one customer (mutable: journeys adjust satisfaction)."""

    __slots__ = (
        "attributes",
        "basket_minor",
        "channels",
        "churned",
        "coached_by",
        "currency",
        "customer_id",
        "cx_team",
        "gap_shape",
        "good_fit",
        "home_location",
        "id_prefix",
        "lapse",
        "last_purchase_at",
        "mean_gap",
        "next_nps",
        "orders",
        "persona",
        "purchase_only",
        "rng",
        "satisfaction",
        "seq",
        "signup_at",
        "tickets",
        "trouble_at",
    )

    def __init__(
        self,
        customer_id: str,
        persona: Persona,
        rng: Rng,
        signup_at: float,
        purchase_only: bool,
        id_prefix: str,
    ) -> None:
        self.customer_id = customer_id
        self.persona = persona
        self.rng = rng
        self.signup_at = signup_at
        self.purchase_only = purchase_only
        self.id_prefix = id_prefix
        self.seq = self.orders = self.tickets = 0
        # Outcome, decided by the journey and read back as ground truth.
        self.churned = False
        self.lapse: tuple[float, float] | None = None
        self.coached_by: str | None = None
        self.trouble_at: float | None = None  # first event of a frustrated or bad experience
        self.last_purchase_at: float | None = None
        self.next_nps = signup_at + rng.uniform(20.0, 90.0) * DAY
        low, high = SATISFACTION[persona]
        self.satisfaction = rng.uniform(low, high)
        if purchase_only:
            self.attributes = {"region": "na"}
            self.good_fit = False
        else:
            self.attributes = draw_attributes(rng, _intends_good_fit(rng, persona))
            self.good_fit = fit_score(self.attributes) >= GOOD_FIT_MIN
        self.cx_team = cx_team_for(self.attributes)
        self.currency = currency_for(rng, self.attributes["region"])
        self.channels = _preferred_channels(rng, persona)
        self.home_location = rng.choice(STORE_LOCATIONS)
        self.mean_gap, self.gap_shape = _draw_rhythm(rng, persona, purchase_only)
        median_basket = 2_500 if persona is Persona.BARGAIN_HUNTER else 6_000
        if purchase_only:
            median_basket = 3_000
        self.basket_minor = rng.lognormal(median_basket, 0.5)

    def next_id(self) -> str:
        self.seq += 1
        return f"{self.id_prefix}{self.seq}"

    def gap(self, stretch: float = 1.0) -> float:
        """Seconds to the next purchase: gamma around this customer's own mean gap."""
        shape = self.gap_shape
        return max(0.02 * DAY, self.rng.gamma(shape, self.mean_gap * stretch / shape))

    def profile(self, at: float) -> CustomerProfile:
        a = self.attributes
        return CustomerProfile(
            event_id=self.next_id(),
            source=SOURCE,
            customer_id=self.customer_id,
            occurred_at=at,
            segment=a["segment"],
            plan=a["plan"],
            industry=a["industry"],
            company_size=a["company_size"],
            region=a["region"],
            acquisition_channel=a["acquisition_channel"],
            signup_at=self.signup_at,
            cx_team=self.cx_team,
            account_owner=self.rng.choice(ACCOUNT_OWNERS),
        )

    def purchase(
        self,
        at: float,
        kind: PurchaseKind = PurchaseKind.ORDER_PLACED,
        channel: Channel | None = None,
        amount_minor: int | None = None,
    ) -> Purchase:
        rng = self.rng
        if channel is None:
            if self.purchase_only:
                channel = rng.weighted(_RETAIL_CHANNELS, _RETAIL_WEIGHTS)
            else:
                channel = rng.weighted(_CHANNELS, self.channels)
        items = 1 + int(rng.exponential(1.5))
        if amount_minor is None:
            amount_minor = int(self.basket_minor * items * rng.lognormal(0.9, 0.35))
        self.orders += kind is PurchaseKind.ORDER_PLACED
        return Purchase(
            event_id=self.next_id(),
            source=SOURCE,
            customer_id=self.customer_id,
            occurred_at=at,
            kind=kind,
            order_id=f"{self.customer_id}-o{self.orders}",
            amount_minor=amount_minor,
            currency=self.currency,
            channel=channel,
            item_count=items,
        )

    def score(self, kind: FeedbackKind) -> int:
        """A survey answer drawn around the current satisfaction."""
        s, gauss = self.satisfaction, self.rng.gauss
        if kind is FeedbackKind.NPS:
            return min(10, max(0, round(10.4 * s + gauss(0.0, 0.8) - 0.2)))
        if kind is FeedbackKind.CSAT:
            return min(5, max(1, round(1 + 4.2 * s + gauss(0.0, 0.5))))
        if kind is FeedbackKind.CES:
            return min(7, max(1, round(7 - 6 * s + gauss(0.0, 0.7))))
        return min(5, max(1, round(1 + 4.2 * s + gauss(0.0, 0.6))))

    def feedback(
        self,
        at: float,
        kind: FeedbackKind,
        touchpoint: Touchpoint,
        *,
        score: int | None = None,
        channel: Channel | None = None,
        agent_id: str | None = None,
        location_id: str | None = None,
        is_public: bool = False,
        comment: str | None = None,
    ) -> Feedback:
        return Feedback(
            event_id=self.next_id(),
            source=SOURCE,
            customer_id=self.customer_id,
            occurred_at=at,
            kind=kind,
            score=self.score(kind) if score is None else score,
            touchpoint=touchpoint,
            channel=channel or self.rng.choice(_SURVEY_CHANNELS),
            is_public=is_public,
            agent_id=agent_id,
            location_id=location_id,
            comment=comment,
        )

    def random_agent(self) -> str:
        return self.rng.choice(SUPPORT_AGENTS)


def _intends_good_fit(rng: Rng, persona: Persona) -> bool:
    if persona is Persona.BARGAIN_HUNTER:
        return False
    if persona is Persona.LOYAL_PROMOTER:
        return rng.chance(0.8)
    return rng.chance(0.5)


def _draw_rhythm(rng: Rng, persona: Persona, purchase_only: bool) -> tuple[float, float]:
    """Mean inter-purchase gap (seconds) and gamma shape: heterogeneous, irregular rhythms.

    Shape < 1 gives bursty buying with long silences (bargain hunters, retail logs); shape
    2-5 gives fairly regular replenishment (loyal customers).
    """
    if purchase_only:
        mean_days = min(180.0, max(10.0, rng.lognormal(60.0, 0.7)))
        return mean_days * DAY, rng.uniform(0.6, 2.0)
    if persona is Persona.BARGAIN_HUNTER:
        return min(120.0, rng.lognormal(40.0, 0.4)) * DAY, rng.uniform(0.5, 0.9)
    if persona is Persona.LOYAL_PROMOTER:
        return min(60.0, rng.lognormal(18.0, 0.45)) * DAY, rng.uniform(2.0, 5.0)
    return min(90.0, rng.lognormal(25.0, 0.5)) * DAY, rng.uniform(1.2, 3.5)
