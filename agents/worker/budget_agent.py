"""The alert-budget agent: each CX team's K best churn openings per day, decided in event time.

Runs only when ``loss.alert_budget_per_day`` is set. It follows the internal budget topic that
the customer agents feed (:mod:`agents.worker.budget_feed`): churn openings keyed by team and
each input partition's mark. The pure :mod:`streams.model.budget` books the candidates and,
once every partition's mark has passed a day's end plus ``loss.alert_budget_grace_hours``,
admits that day's K best per team; the agent publishes them to the ``alerts-admitted`` topic
(the alert message as the customer agent wrote it, plus ``cx-budget-*`` headers), where the
webhook delivery takes churn openings from.

The book lives in a one-partition Faust table, so it moves with the topic's only partition
and survives restarts: ``m`` holds the open days, the decided ones and the marks, one key per
(team, day) holds its ranked candidates, one key per candidate its message. A batch's
admissions are acknowledged by the broker before its table writes: a crash in between admits
the same alerts again with the same ids, which the webhook's idempotency keys absorb.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import faust

from agents.settings import KafkaSettings
from agents.worker import metrics
from agents.worker.batch_cycle import BatchCycle
from agents.worker.budget_feed import MARK_HEADER, BudgetFeed, decode_mark
from agents.worker.customer_agent import finish_before_ack
from agents.worker.faust_internals import event_context
from agents.worker.outputs import OutputProducer
from agents.worker.topic_admin import BUDGET_TABLE
from streams.contracts import decode_alert
from streams.domain import Alert
from streams.model import ModelConfig
from streams.model.budget import (
    DAY_S,
    BudgetBook,
    Candidate,
    candidate,
    close_marked,
    late,
    mark,
    offer,
)
from streams.topics import Topics

log = logging.getLogger(__name__)
BUDGET_OWNER = "alert-budget"
RANK_HEADER = "cx-budget-rank"  # "3/20": third of the team's 20 for the day
DAY_HEADER = "cx-budget-day"  # the event-time day, YYYY-MM-DD (UTC)
TEAM_HEADER = "cx-budget-team"
META = b"m"
Headers = list[tuple[str, bytes | None]]


def pack_message(value: bytes, headers: Headers) -> bytes:
    """An alert message (value and headers) as one table value."""
    return json.dumps(
        {
            "v": base64.b64encode(value).decode(),
            "h": [[n, None if v is None else base64.b64encode(v).decode()] for n, v in headers],
        }
    ).encode()


def unpack_message(raw: bytes) -> tuple[bytes, Headers]:
    body = json.loads(raw)
    headers: Headers = [(n, None if v is None else base64.b64decode(v)) for n, v in body["h"]]
    return base64.b64decode(body["v"]), headers


def _bucket_key(team: str, day: int) -> bytes:
    return b"b\x00" + team.encode() + b"\x00" + str(day).encode()


def _payload_key(alert_id: str) -> bytes:
    return b"p\x00" + alert_id.encode()


class BudgetStore:
    """The book in a Faust table (see the module docstring); accessed in a record's context."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def load(self, context: Any) -> BudgetBook:
        with event_context(context):
            raw = self.table.get(META)
            if not raw:
                return BudgetBook()
            meta = json.loads(raw)
            buckets: dict[tuple[str, int], tuple[Candidate, ...]] = {}
            for team, day in meta["buckets"]:
                rows = json.loads(self.table.get(_bucket_key(team, day)) or b"[]")
                buckets[(team, day)] = tuple(
                    Candidate(aid, cid, team, p, var, at, self.table.get(_payload_key(aid)) or b"")
                    for aid, cid, p, var, at in rows
                )
        marks = {int(p): float(m) for p, m in meta["marks"].items()}
        return BudgetBook(
            MappingProxyType(buckets), int(meta["open_from"]), MappingProxyType(marks)
        )

    def save(self, context: Any, before: BudgetBook, after: BudgetBook) -> None:
        """Write what changed from ``before`` to ``after`` (reassigned, never mutated)."""
        kept_before = {c.alert_id: c for cs in before.buckets.values() for c in cs}
        kept_after = {c.alert_id: c for cs in after.buckets.values() for c in cs}
        with event_context(context):
            for alert_id, cand in kept_after.items():
                if alert_id not in kept_before:
                    self.table[_payload_key(alert_id)] = cand.payload
            for alert_id in kept_before.keys() - kept_after.keys():
                self._delete(_payload_key(alert_id))
            for (team, day), cands in after.buckets.items():
                if before.buckets.get((team, day)) != cands:
                    rows = [
                        [c.alert_id, c.customer_id, c.p_loss, c.value_at_risk_minor, c.opened_at]
                        for c in cands
                    ]
                    self.table[_bucket_key(team, day)] = json.dumps(rows).encode()
            for team, day in before.buckets.keys() - after.buckets.keys():
                self._delete(_bucket_key(team, day))
            if (before.open_from, before.marks, list(before.buckets)) != (
                after.open_from,
                after.marks,
                list(after.buckets),
            ):
                meta = {
                    "open_from": after.open_from,
                    "marks": {str(p): m for p, m in after.marks.items()},
                    "buckets": sorted([team, day] for team, day in after.buckets),
                }
                self.table[META] = json.dumps(meta).encode()

    def _delete(self, key: bytes) -> None:
        if self.table.get(key) is not None:
            del self.table[key]


class BudgetAgent:
    """Books a batch of the budget topic, admits the days it closes, then saves the book."""

    def __init__(
        self,
        store: BudgetStore,
        outputs: OutputProducer,
        admitted_topic: str,
        k: int,
        grace_s: float,
        partitions: int,
    ) -> None:
        self.store = store
        self.outputs = outputs
        self.admitted_topic = admitted_topic
        self.k = k
        self.grace_s = grace_s
        self.partitions = partitions
        self.book: BudgetBook | None = None  # None: read it from the table first

    def forget(self) -> None:
        """The partition may move (a rebalance): read the book again before the next batch."""
        self.book = None

    async def handle(self, messages: Sequence[Any]) -> list[Candidate]:
        """Book ``messages``, publish what closes, save; returns the admitted candidates."""
        before = self.book if self.book is not None else self.store.load(messages[0])
        book = before
        for message in messages:
            headers: Headers = list(message.headers or ())
            if any(name == MARK_HEADER for name, _ in headers):
                book = mark(book, *decode_mark(message.value))
                continue
            alert = decode_alert(message.value, headers)
            if not isinstance(alert, Alert):  # only workers write here; say so, never stop
                log.error("alert budget: skipped an undecodable candidate: %s", alert)
                continue
            found = candidate(alert, pack_message(message.value, headers))
            if found is None:
                continue
            metrics.BUDGET.labels("candidate").inc()
            book, booked = offer(book, found, self.k)
            if not booked and late(book, found):
                metrics.BUDGET.labels("late").inc()
                log.warning(
                    "alert budget: churn alert %s of %s arrived after its day was decided "
                    "(loss.alert_budget_grace_hours); not admitted",
                    found.alert_id,
                    _iso_day(found.day),
                )
        book, admitted = close_marked(book, self.partitions, self.grace_s)
        if admitted:
            self._publish(admitted)
            await self.outputs.flush(BUDGET_OWNER)
            metrics.BUDGET.labels("admitted").inc(len(admitted))
        self.store.save(messages[-1], before, book)
        self.book = book
        metrics.BUDGET_OPEN_DAY.set(max(0, book.open_from) * DAY_S)
        return admitted

    def _publish(self, admitted: list[Candidate]) -> None:
        rank: dict[tuple[str, int], int] = {}
        for cand in admitted:  # in (day, team, rank) order
            place = rank[(cand.team, cand.day)] = rank.get((cand.team, cand.day), 0) + 1
            value, headers = unpack_message(cand.payload)
            headers += [
                (RANK_HEADER, f"{place}/{self.k}".encode()),
                (DAY_HEADER, _iso_day(cand.day).encode()),
                (TEAM_HEADER, cand.team.encode()),
            ]
            key = cand.customer_id.encode()
            self.outputs.produce(self.admitted_topic, key, value, headers, owner=BUDGET_OWNER)


def _iso_day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_S, UTC).date().isoformat()


def register_budget_agent(
    app: faust.App, topics: Topics, agent: BudgetAgent, retry_pause: float = 1.0
) -> None:
    """Run ``agent`` on the budget topic; a failed batch is retried until it goes through."""

    @app.agent(app.topic(topics.alert_budget, partitions=1), name="alert-budget")
    async def alert_budget(stream: Any) -> None:
        async for events in stream.take_events(1000, 0.5):
            await finish_before_ack(_until_done(agent, [e.message for e in events], retry_pause))

    @app.on_partitions_revoked.connect
    async def forget_budget(sender: Any, *args: Any, **kwargs: Any) -> None:
        agent.forget()


async def _until_done(agent: BudgetAgent, messages: list[Any], pause: float) -> None:
    attempt = 0
    while True:
        try:
            await agent.handle(messages)
            return
        except Exception:  # the broker or the table: retried, the book as before the batch
            attempt += 1
            agent.forget()
            log.exception("alert budget: a batch failed (attempt %d), retrying", attempt)
            await asyncio.sleep(min(30.0, pause * attempt))


def register_budget(
    app: faust.App,
    cycle: BatchCycle,
    config: ModelConfig,
    kafka: KafkaSettings,
    topics: Topics,
    partitions: int,
) -> bool:
    """Feed the budget from ``cycle`` and run its agent, if ``config`` sets a budget."""
    k, grace_s = config.loss.alert_budget_per_day, config.loss.alert_budget_grace_hours * 3600
    if k <= 0:
        return False
    cycle.budget = BudgetFeed(topics.alert_budget, topics.alerts, cycle.outputs, grace_s)
    table = app.Table(BUDGET_TABLE, default=None, partitions=1, key_type=bytes, value_type=bytes)
    store = BudgetStore(table)
    agent = BudgetAgent(
        store, OutputProducer(kafka), topics.alerts_admitted, k, grace_s, partitions
    )
    register_budget_agent(app, topics, agent)
    return True
