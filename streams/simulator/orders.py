"""Order logs (customer, day, amount) with known behaviour, for backtests and their tests.

Three buyer kinds, so a backtest sees what real logs hold and BG/NBD alone does not: steady
buyers (BG/NBD: Poisson purchases, dropout after a purchase), bursty buyers (purchases in
clusters separated by long lulls) and customers who pause for months and come back. Customers
join over an acquisition window. Pure Python and seeded: the same arguments give the same log.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from streams.simulator.rng import Rng


@dataclass(frozen=True, slots=True)
class Order:
    customer_id: str
    day: dt.date
    amount: float


def _amount(rng: Rng, mean: float) -> float:
    return round(rng.gammavariate(4.0, mean / 4.0), 2)


def simulate_orders(
    customers: int,
    start: dt.date,
    days: int,
    *,
    acquisition_days: int = 90,
    seed: int = 0,
    bursty_share: float = 0.2,
    pausing_share: float = 0.1,
) -> list[Order]:
    """Orders of ``customers`` customers over ``days`` days from ``start``, sorted by day."""
    rng, out = Rng(seed), []
    for i in range(customers):
        cid = f"c{i:05d}"
        first = rng.uniform(0, acquisition_days)
        rate = rng.gammavariate(0.8, 1.0 / 30.0)  # purchases per day while alive
        drop = rng.betavariate(0.8, 2.5)
        spend = rng.gammavariate(3.0, 15.0)
        kind = rng.random()
        t, bought = first, True
        while t < days and bought:
            out.append(Order(cid, start + dt.timedelta(days=int(t)), _amount(rng, spend)))
            if rng.random() < drop:
                break
            if kind < bursty_share and rng.random() < 0.3:  # a lull between bursts
                t += rng.expovariate(1.0 / 120.0)
            elif kind < bursty_share + pausing_share and rng.random() < 0.15:  # a long pause
                t += rng.uniform(150.0, 300.0)
            t += rng.expovariate(rate)
            bought = t < days
    out.sort(key=lambda o: (o.day, o.customer_id))
    return out


def write_csv(orders: list[Order], path: Path, currency: str = "EUR") -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "order_date", "total", "currency"])
        for o in orders:
            w.writerow([o.customer_id, o.day.isoformat(), f"{o.amount:.2f}", currency])
