"""The alert budget in the worker: the customer agent's candidates and marks, and the budget
agent that admits each team's K best per day, with fakes for the broker and the table."""

from __future__ import annotations

import asyncio
from typing import Any

from agents.sinks.services import _to_notify
from agents.worker.budget_agent import (
    DAY_HEADER,
    RANK_HEADER,
    BudgetAgent,
    BudgetStore,
    unpack_message,
)
from agents.worker.budget_feed import MARK_HEADER, BudgetFeed, decode_mark, encode_mark
from agents.worker.outputs import OutputProducer
from streams.contracts import decode_alert, encode_alert
from streams.domain import Alert
from tests.unit.agents.worker.test_batch_cycle import LATENESS, cycle, history
from tests.unit.agents.worker.test_batch_fold import DAY, T0, TOPICS, Rec, purchase, rec
from tests.unit.model.test_budget import HOUR, churn_alert

MIDNIGHT = 1_700_006_400.0  # the test alerts' day starts here


class Client:
    """librdkafka's producer as OutputProducer uses it, acknowledging everything at once."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def produce(self, topic: str, value: bytes | None, key: bytes | None, **kw: Any) -> None:
        self.sent.append({"topic": topic, "key": key, "value": value, **kw})

    def flush(self, timeout: float) -> int:
        return 0

    def poll(self, timeout: float) -> int:
        return 0


def candidate_record(alert: Alert, offset: int) -> Rec:
    _, value, headers = encode_alert(alert)
    return Rec(TOPICS.alert_budget, 0, offset, (alert.cx_team or "").encode(), value, 0.0, headers)


def mark_record(partition: int, at: float, offset: int) -> Rec:
    value, headers = encode_mark(partition, at)
    return Rec(TOPICS.alert_budget, 0, offset, b"", value, 0.0, headers)


def agent(table: dict[bytes, bytes], k: int = 1) -> tuple[BudgetAgent, Client]:
    client = Client()
    outputs = OutputProducer(None, client=client)  # type: ignore[arg-type]
    made = BudgetAgent(BudgetStore(table), outputs, TOPICS.alerts_admitted, k, HOUR, partitions=2)
    return made, client


def test_each_team_gets_its_k_best_of_the_day_once_every_partition_has_passed_it() -> None:
    alerts = [
        churn_alert(1, 0.90, "eu"),
        churn_alert(2, 0.80, "eu"),
        churn_alert(3, 0.95, "eu"),
        churn_alert(4, 0.70, "us"),
        churn_alert(5, 0.99, "eu", at=MIDNIGHT + DAY + HOUR),  # the next day: not decided
    ]
    table: dict[bytes, bytes] = {}
    budget, client = agent(table)
    records = [candidate_record(a, i) for i, a in enumerate(alerts)]
    records += [mark_record(0, MIDNIGHT + DAY + 2 * HOUR, 10)]
    assert asyncio.run(budget.handle(records)) == [], "partition 1 may still open one"

    restarted, client = agent(table)  # the book is read back from the table
    admitted = asyncio.run(restarted.handle([mark_record(1, MIDNIGHT + DAY + HOUR, 11)]))
    assert sorted(c.alert_id for c in admitted) == ["a0003", "a0004"]
    published = {decode_alert(m["value"], m["headers"]).alert_id: m for m in client.sent}  # type: ignore[union-attr]
    assert set(published) == {"a0003", "a0004"}
    eu = dict(published["a0003"]["headers"])
    assert eu[RANK_HEADER] == b"1/1" and eu[DAY_HEADER] == b"2023-11-15"
    assert published["a0003"]["topic"] == TOPICS.alerts_admitted
    assert published["a0003"]["key"] == b"c3"
    assert {k for k in table if k.startswith(b"p\x00")} == {b"p\x00a0005"}, "decided: dropped"


def test_a_candidate_for_a_decided_day_is_refused_as_late_and_never_admitted() -> None:
    table: dict[bytes, bytes] = {}
    budget, client = agent(table)
    marks = [mark_record(p, MIDNIGHT + DAY + HOUR, p) for p in (0, 1)]
    first = asyncio.run(budget.handle([candidate_record(churn_alert(1, 0.5), 0), *marks]))
    assert [c.alert_id for c in first] == ["a0001"]
    late = churn_alert(2, 0.99)  # same day, better, but the day is decided
    assert asyncio.run(budget.handle([candidate_record(late, 3), *marks])) == []
    assert len(client.sent) == 1


def test_the_feed_sends_churn_openings_and_marks_held_back_by_ticks_on_their_way() -> None:
    table: dict[str, bytes] = {}
    worker, broker = cycle(table)
    worker.budget = BudgetFeed(TOPICS.alert_budget, TOPICS.alerts, broker, grace_s=HOUR)  # type: ignore[arg-type]
    asyncio.run(worker.handle_safely(history("c1", 0)))
    later = T0 + 400 * DAY
    asyncio.run(worker.handle_safely([rec(purchase(500, later, "other"), 500)]))
    deadline = worker.deadlines.mark(0)
    assert deadline < later - LATENESS, "c1's pending deadline holds partition 0 back"
    assert asyncio.run(worker.send_ticks()) >= 1
    assert asyncio.run(worker.budget.send_marks(worker.deadlines, [0])) == 1
    assert decode_mark(broker.on(TOPICS.alert_budget)[-1]["value"]) == (0, deadline)

    [tick] = [m for m in broker.on(TOPICS.ticks) if m["key"] == b"c1"]
    back = Rec(TOPICS.ticks, 0, 0, tick["key"], tick["value"], tick["timestamp"])
    asyncio.run(worker.handle_safely([back]))
    assert asyncio.run(worker.budget.send_marks(worker.deadlines, [0])) == 1
    sent = broker.on(TOPICS.alert_budget)
    kinds = ["mark" if dict(m["headers"]).get(MARK_HEADER) else "candidate" for m in sent]
    assert kinds == ["mark", "candidate", "mark"], "the candidate precedes the mark covering it"
    opened = decode_alert(sent[1]["value"], sent[1]["headers"])
    assert isinstance(opened, Alert) and opened.customer_id == "c1"
    assert opened.opened_at >= decode_mark(sent[0]["value"])[1]
    assert decode_mark(sent[2]["value"])[1] > opened.opened_at
    assert asyncio.run(worker.budget.send_marks(worker.deadlines, [0])) == 0, "no new day"


def test_with_a_budget_the_webhook_posts_churn_openings_only_from_the_admitted_topic() -> None:
    class Message:
        def __init__(self, topic: str, alert: Alert) -> None:
            self._topic = topic
            _, self._value, self._headers = encode_alert(alert)

        def topic(self) -> str:
            return self._topic

        def value(self) -> bytes:
            return self._value

        def headers(self) -> list[tuple[str, bytes]]:
            return self._headers

    churn = churn_alert(1, 0.9)
    batch = [Message(TOPICS.alerts, churn), Message(TOPICS.alerts_admitted, churn)]
    assert len(_to_notify(batch)) == 2, "without a budget both look like openings"
    posted = _to_notify(batch, TOPICS.alerts_admitted)
    assert [a.alert_id for a in posted] == ["a0001"]


def test_packed_messages_keep_their_bytes_and_headers() -> None:
    from agents.worker.budget_agent import pack_message

    headers: list[tuple[str, bytes | None]] = [("a", b"\x00\xff"), ("b", None), (MARK_HEADER, b"")]
    assert unpack_message(pack_message(b"\x01\x02", headers)) == (b"\x01\x02", headers)


def test_the_feed_pairs_alerts_with_their_messages_even_when_a_batch_disagrees() -> None:
    """Each alert of a batch has its message, in order; if that ever breaks, the feed reads
    the alerts from the messages instead of failing the batch (which would stall the worker)."""
    from agents.worker.fold_ports import BatchOutput

    churn = churn_alert(1, 0.9)
    _, value, headers = encode_alert(churn)
    out = BatchOutput(alerts=[], messages=[(TOPICS.alerts, b"c1", value, headers)])
    client = Client()
    outputs = OutputProducer(None, client=client)  # type: ignore[arg-type]
    feed = BudgetFeed(TOPICS.alert_budget, TOPICS.alerts, outputs, grace_s=HOUR)
    assert feed.candidates(out) == 1
    assert client.sent[0]["topic"] == TOPICS.alert_budget and client.sent[0]["key"] == b"eu"
