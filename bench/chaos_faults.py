"""What the chaos soak throws at the pipeline: hostile records and a seeded fault schedule.

Each hostile kind is something a real producer has sent or can send (issue 13). All but
``duplicate`` must be dead-lettered; a duplicate (a good record produced again) must change
nothing. Hostile records carry new event ids, so any that is wrongly accepted shows up as a
changed customer, not only as a missing dead letter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from streams.contracts import encode_event
from streams.domain import Channel, Purchase, PurchaseKind

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record to produce: ``kind`` is ``good`` or a hostile kind's name."""

    kind: str
    topic_kind: str  # purchases, tickets, feedback, profiles
    key: bytes | None
    value: bytes
    headers: Headers
    timestamp_ms: int
    big: bool = False  # produced on its own (1 MB values must not share a batch)


@dataclass(frozen=True, slots=True)
class Context:
    """What a hostile record is built around: a good record just produced and two customers."""

    neighbour: Outgoing  # a good record produced recently (its time stamps the hostile one)
    victim: str  # a good customer (hostile bodies that name a real customer)
    other: str  # another good customer
    serial: int  # makes every hostile record's ids unique
    rng: random.Random


def _purchase(ctx: Context, customer_id: str, amount: int, at: float) -> Purchase:
    return Purchase(
        f"hostile-{ctx.serial}",
        "chaos",
        customer_id,
        at,
        PurchaseKind.ORDER_PLACED,
        f"hostile-o{ctx.serial}",
        amount,
        "EUR",
        Channel.WEB,
        1,
    )


def _at(ctx: Context) -> float:
    return ctx.neighbour.timestamp_ms / 1000


def _out(
    ctx: Context, kind: str, event: Purchase, key: bytes | None = b"", big: bool = False
) -> Outgoing:
    enc_key, value, headers = encode_event(event)
    return Outgoing(
        kind,
        "purchases",
        enc_key if key == b"" else key,
        value,
        headers,
        ctx.neighbour.timestamp_ms,
        big,
    )


def malformed(ctx: Context) -> Outgoing:
    junk = ctx.rng.randbytes(ctx.rng.randint(1, 300))
    good = ctx.neighbour
    return Outgoing("malformed", good.topic_kind, good.key, junk, good.headers, good.timestamp_ms)


def wrong_content_type(ctx: Context) -> Outgoing:
    out = _out(ctx, "wrong_content_type", _purchase(ctx, ctx.victim, 4200, _at(ctx)))
    headers = [(k, b"text/plain" if k == "content-type" else v) for k, v in out.headers]
    return Outgoing(out.kind, out.topic_kind, out.key, out.value, headers, out.timestamp_ms)


def null_key(ctx: Context) -> Outgoing:
    return _out(ctx, "null_key", _purchase(ctx, ctx.victim, 4200, _at(ctx)), key=None)


def key_mismatch(ctx: Context) -> Outgoing:
    event = _purchase(ctx, ctx.other, 4200, _at(ctx))
    return _out(ctx, "key_mismatch", event, key=ctx.victim.encode())


def huge_amount(ctx: Context) -> Outgoing:
    return _out(ctx, "huge_amount", _purchase(ctx, f"h-{ctx.serial}", 2**63 - 1, _at(ctx)))


def negative_amount(ctx: Context) -> Outgoing:
    amount = -ctx.rng.randint(1, 10**6)
    return _out(ctx, "negative_amount", _purchase(ctx, ctx.victim, amount, _at(ctx)))


def big_value(ctx: Context) -> Outgoing:
    good = ctx.neighbour
    junk = ctx.rng.randbytes(1_000_000)  # incompressible; below the broker's 1,048,588 limit
    return Outgoing("big_value", "purchases", good.key, junk, good.headers, good.timestamp_ms, True)


def big_customer_id(ctx: Context) -> Outgoing:
    customer = "x" * 1_000_000 + str(ctx.serial)  # 1 MB key and body: lz4 makes it fit
    return _out(ctx, "big_customer_id", _purchase(ctx, customer, 4200, _at(ctx)), big=True)


def seconds_as_ms(ctx: Context) -> Outgoing:
    at = _at(ctx) / 1000  # a producer that sent seconds where milliseconds belong
    return _out(ctx, "seconds_as_ms", _purchase(ctx, ctx.victim, 4200, at))


def date_1970(ctx: Context) -> Outgoing:
    at = ctx.rng.uniform(0, 365 * 86400.0)
    return _out(ctx, "date_1970", _purchase(ctx, ctx.victim, 4200, at))


def duplicate(ctx: Context) -> Outgoing:
    good = ctx.neighbour
    return Outgoing(
        "duplicate", good.topic_kind, good.key, good.value, good.headers, good.timestamp_ms
    )


Builder = Callable[[Context], Outgoing]

#: kind -> (builder, relative weight in the mix); the 1 MB kinds come at a fixed count instead.
HOSTILE_KINDS: dict[str, tuple[Builder, float]] = {
    "malformed": (malformed, 20.0),
    "wrong_content_type": (wrong_content_type, 10.0),
    "null_key": (null_key, 10.0),
    "key_mismatch": (key_mismatch, 10.0),
    "huge_amount": (huge_amount, 5.0),
    "negative_amount": (negative_amount, 10.0),
    "big_value": (big_value, 0.0),
    "big_customer_id": (big_customer_id, 0.0),
    "seconds_as_ms": (seconds_as_ms, 10.0),
    "date_1970": (date_1970, 10.0),
    "duplicate": (duplicate, 10.0),
}
#: Kinds that must change nothing and need no dead letter.
NO_EFFECT_KINDS = frozenset({"duplicate"})
BIG_KINDS = frozenset({"big_value", "big_customer_id"})


@dataclass
class HostileMix:
    """Draws hostile kinds by weight, except that every ``big_every``-th record is one of the
    enabled 1 MB kinds (in turn), so that a run has a known number of them."""

    kinds: tuple[str, ...]
    rng: random.Random
    big_every: int = 0  # 0: no 1 MB records
    serial: int = 0

    def next(self, neighbour: Outgoing, customers: list[str]) -> Outgoing:
        self.serial += 1
        big = [k for k in self.kinds if k in BIG_KINDS]
        small = [k for k in self.kinds if k not in BIG_KINDS]
        if big and self.big_every and (self.serial % self.big_every == 0 or not small):
            kind = big[(self.serial // self.big_every) % len(big)]
        else:
            kind = self.rng.choices(small, [HOSTILE_KINDS[k][1] for k in small])[0]
        victim, other = self.rng.sample(customers, 2)
        return HOSTILE_KINDS[kind][0](Context(neighbour, victim, other, self.serial, self.rng))


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds after the soak started
    action: str  # worker_kill, broker_kill, redis_restart


def fault_schedule(
    rng: random.Random, seconds: float, kills: int, broker_kills: int, redis_restarts: int
) -> list[Fault]:
    """Faults at random times in the first 90% of the soak; the rest lets the group settle.
    They run one after the other (each waits until the system is back), never overlapping."""
    actions = ["worker_kill"] * kills + ["redis_restart"] * redis_restarts
    rng.shuffle(actions)
    for _ in range(broker_kills):
        actions.insert(rng.randint(0, len(actions)), "broker_kill")
    times = sorted(rng.uniform(0.05, 0.9) * seconds for _ in actions)
    return [Fault(t, a) for t, a in zip(times, actions, strict=True)]
