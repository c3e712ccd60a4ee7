"""Personas, their share of a population and the ground truth recorded for each customer.

The truth is what the simulator *decided*, not what the events look like: a churner is a
customer who never comes back, a referral-worthy customer is a well-fitting promoter who was
well served. Evaluation scores the model against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from streams.simulator.rng import cumulative


class Persona(StrEnum):
    LOYAL_PROMOTER = "loyal_promoter"  # regular buyer, 9-10s, mostly good fit
    STEADY = "steady"  # regular buyer, passive 6-8s, routine tickets; stays
    QUIET_CHURNER = "quiet_churner"  # slows down, then simply stops buying; no complaint
    FRUSTRATED = "frustrated"  # escalations, reopens, SLA breaches; usually leaves
    DETRACTOR = "detractor"  # bad experience, public review, usually leaves
    BARGAIN_HUNTER = "bargain_hunter"  # poor fit, bursty discount buying, gives 10s
    ONE_TIME = "one_time"  # a single purchase, never back
    WON_BACK = "won_back"  # lapses for a long time, then returns
    COACHED = "coached"  # passive customer whose surveys an agent/location coached to 10s


@dataclass(frozen=True, slots=True)
class CustomerTruth:
    """What really happened to one simulated customer.

    ``churn_at`` is the time of the customer's last event of any kind (churners only).
    ``lapse`` is (last activity before the lapse, first activity after it) for won-back
    customers. ``trouble_at`` is the first event of a frustrated or detractor customer's bad
    experience (no alert can open for it earlier). ``coached_by`` is the agent or location id
    that coached this customer's surveys; ``good_fit`` says whether the profile matches the
    ideal customer profile.
    """

    customer_id: str
    persona: Persona
    churned: bool
    churn_at: float | None
    referral_worthy: bool
    good_fit: bool
    signup_at: float
    cx_team: str | None = None
    coached_by: str | None = None
    lapse: tuple[float, float] | None = None
    trouble_at: float | None = None


# Shares of a rich (profiles, tickets, feedback) population. With CHURN_PROBABILITY below,
# ~38% of customers churn within the year, 12 points of them one-time buyers: a retailer with
# a typical first-purchase drop-off and ~25% churn among repeat customers.
RICH_MIX: dict[Persona, float] = {
    Persona.LOYAL_PROMOTER: 0.20,
    Persona.STEADY: 0.22,
    Persona.QUIET_CHURNER: 0.12,
    Persona.FRUSTRATED: 0.08,
    Persona.DETRACTOR: 0.05,
    Persona.BARGAIN_HUNTER: 0.10,
    Persona.ONE_TIME: 0.12,
    Persona.WON_BACK: 0.06,
    Persona.COACHED: 0.05,
}

# Purchase-only (CDNOW-like) population: most customers buy once; the rest buy irregularly.
RETAIL_MIX: dict[Persona, float] = {
    Persona.ONE_TIME: 0.55,
    Persona.QUIET_CHURNER: 0.18,
    Persona.STEADY: 0.22,
    Persona.WON_BACK: 0.05,
}

# Probability that a persona's story ends in churn (the rest recover or stay).
CHURN_PROBABILITY: dict[Persona, float] = {
    Persona.LOYAL_PROMOTER: 0.0,
    Persona.STEADY: 0.0,
    Persona.QUIET_CHURNER: 1.0,
    Persona.FRUSTRATED: 0.8,
    Persona.DETRACTOR: 0.85,
    Persona.BARGAIN_HUNTER: 0.25,
    Persona.ONE_TIME: 1.0,
    Persona.WON_BACK: 0.0,
    Persona.COACHED: 0.15,
}

# Range of true satisfaction (0-1) before anything goes wrong; surveys are drawn around it.
SATISFACTION: dict[Persona, tuple[float, float]] = {
    Persona.LOYAL_PROMOTER: (0.9, 1.0),
    Persona.STEADY: (0.62, 0.82),
    Persona.QUIET_CHURNER: (0.55, 0.8),
    Persona.FRUSTRATED: (0.6, 0.8),
    Persona.DETRACTOR: (0.55, 0.75),
    Persona.BARGAIN_HUNTER: (0.92, 1.0),
    Persona.ONE_TIME: (0.35, 0.9),
    Persona.WON_BACK: (0.6, 0.85),
    Persona.COACHED: (0.6, 0.8),
}


def mix_table(mix: dict[Persona, float]) -> tuple[tuple[Persona, ...], tuple[float, ...]]:
    """Personas and cumulative weights, ready for :meth:`Rng.weighted`."""
    personas = tuple(mix)
    return personas, cumulative([mix[p] for p in personas])
