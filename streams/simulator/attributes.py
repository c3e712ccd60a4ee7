"""Profile attributes that make a customer fit the ideal customer profile well or poorly.

``ICP`` mirrors ``[fit.icp]`` in ``streams/config/defaults.toml`` (owned by the model; a unit
test checks every simulated customer's fit label against the real config). The simulator keeps
its own copy because it must stay pure: no file reads while generating. Good-fit customers
score >= 0.78 and poor-fit ones <= 0.59 on it, so labels never sit on the 0.6-0.7 border.
"""

from __future__ import annotations

from streams.simulator.rng import Rng

# attribute -> (importance, score of unlisted values, value scores): the ICP of defaults.toml
ICP: dict[str, tuple[float, float, dict[str, float]]] = {
    "segment": (1.0, 0.3, {"enterprise": 1.0, "mid_market": 0.9, "smb": 0.6, "consumer": 0.4}),
    "plan": (0.8, 0.4, {"premium": 1.0, "business": 0.9, "standard": 0.6, "free": 0.1}),
    "company_size": (
        0.5,
        0.5,
        {"200-1000": 1.0, "50-200": 0.9, "1000+": 0.7, "10-50": 0.6, "1-10": 0.3},
    ),
    "acquisition_channel": (
        0.4,
        0.5,
        {"referral": 1.0, "organic": 0.8, "partner": 0.8, "paid": 0.5, "coupon": 0.2},
    ),
}
GOOD_FIT_MIN = 0.7  # the model's own "good fit" bar (alerts.churn_risk.good_fit = 70)

# attribute -> (values a good fit takes, values a poor fit takes, the in-between values)
FIT_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "segment": (("enterprise", "mid_market"), ("consumer", "student"), ("smb",)),
    "plan": (("premium", "business"), ("free",), ("standard",)),
    "company_size": (("200-1000", "50-200", "1000+"), ("1-10",), ("10-50",)),
    "acquisition_channel": (("referral", "organic", "partner"), ("coupon",), ("paid",)),
}
# Good fits always match on the two heaviest attributes; the lighter ones are noisier.
_ALWAYS_GOOD = frozenset({"segment", "plan"})
INDUSTRIES = ("retail", "software", "hospitality", "healthcare", "education", "manufacturing")
REGIONS = ("na", "emea", "apac", "latam")

CURRENCY_BY_REGION: dict[str, tuple[str, ...]] = {
    "na": ("USD",),
    "latam": ("USD",),
    "emea": ("EUR", "EUR", "GBP"),
    "apac": ("AUD", "USD"),
}

CX_TEAMS: tuple[str, ...] = ("cx-enterprise", "cx-americas", "cx-emea", "cx-apac")
STORE_LOCATIONS: tuple[str, ...] = tuple(f"store-{n:02d}" for n in range(1, 21))
SUPPORT_AGENTS: tuple[str, ...] = tuple(f"agent-{n:02d}" for n in range(1, 31))
ACCOUNT_OWNERS: tuple[str, ...] = tuple(f"owner-{n:02d}" for n in range(1, 13))


def draw_attributes(rng: Rng, good_fit: bool) -> dict[str, str]:
    """Profile attributes for an intended good or poor fit (see :func:`fit_score`)."""
    attributes: dict[str, str] = {}
    for name, (good, poor, neutral) in FIT_POOLS.items():
        if good_fit:
            pool = good if name in _ALWAYS_GOOD or rng.chance(0.8) else neutral
        else:
            pool = poor if rng.chance(0.75) else neutral
        attributes[name] = rng.choice(pool)
    attributes["industry"] = rng.choice(INDUSTRIES)
    attributes["region"] = rng.choice(REGIONS)
    return attributes


def fit_score(attributes: dict[str, str]) -> float:
    """0-1 match with :data:`ICP`: importance-weighted mean of the value scores."""
    num = den = 0.0
    for name, (importance, default, values) in ICP.items():
        value = attributes.get(name)
        if value is not None:
            num += importance * values.get(value, default)
            den += importance
    return num / den if den else 0.0


def cx_team_for(attributes: dict[str, str]) -> str:
    """Routing key: larger accounts go to the enterprise team, the rest by region."""
    if attributes.get("segment") in ("mid_market", "enterprise"):
        return "cx-enterprise"
    region = attributes.get("region", "na")
    if region in ("na", "latam"):
        return "cx-americas"
    return "cx-emea" if region == "emea" else "cx-apac"


def currency_for(rng: Rng, region: str) -> str:
    return rng.choice(CURRENCY_BY_REGION.get(region, ("USD",)))
