"""Purchase-only journeys, shaped like real retail transaction logs (e.g. CDNOW).

A cohort acquired over a few weeks; most customers buy once and never again; the others buy
irregularly (gamma gaps with shape < 2 and means from days to months) and some stop for good.
No profiles, tickets or surveys: the model has to cope with purchases alone.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.domain import Event
from streams.simulator.customer import DAY, Customer
from streams.simulator.journeys import (
    OBSERVABLE_SILENCE,
    Buying,
    Episodes,
    World,
    lapse_then_return,
)
from streams.simulator.personas import Persona


def _buying(c: Customer, t: float, until: float) -> Buying:
    while t < until:
        c.last_purchase_at = t
        episode: list[Event] = [c.purchase(t)]
        yield episode
        t += c.gap()
    return t


def one_time(c: Customer, w: World) -> Episodes:
    c.churned = True
    yield [c.purchase(c.signup_at)]


def churner(c: Customer, w: World) -> Episodes:
    """Repeats for a while then stops; one who never got to repeat is labelled ONE_TIME."""
    c.churned = True
    stop = c.signup_at + c.rng.uniform(30.0 * DAY, max(30.0 * DAY, w.end - OBSERVABLE_SILENCE))
    stop = min(stop, max(c.signup_at + DAY, w.end - OBSERVABLE_SILENCE))
    yield from _buying(c, c.signup_at, stop)
    if c.orders == 1:
        c.persona = Persona.ONE_TIME


def steady(c: Customer, w: World) -> Episodes:
    yield from _buying(c, c.signup_at, w.end)


def won_back(c: Customer, w: World) -> Episodes:
    """Lapses for several own gaps (at least 90 days), then buys again."""
    rng = c.rng
    lapse_len = max(90 * DAY, rng.uniform(3.0, 6.0) * c.mean_gap)
    high = w.end - lapse_len - 30 * DAY
    lapse_from = rng.uniform(c.signup_at, high) if high > c.signup_at else c.signup_at
    t = yield from _buying(c, c.signup_at, lapse_from)
    yield from lapse_then_return(c, w, t, lapse_len, _buying)


RETAIL_JOURNEYS: dict[Persona, Callable[[Customer, World], Episodes]] = {
    Persona.ONE_TIME: one_time,
    Persona.QUIET_CHURNER: churner,
    Persona.STEADY: steady,
    Persona.WON_BACK: won_back,
}
