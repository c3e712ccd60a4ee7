"""Alert outcomes from a live worker on a real broker: once an alert's observation window has
passed in event time, its verdict reaches the compacted outcomes topic and Redis (issue 16).

Two customers buy every ten days, fall silent, and a profile update after 62 days makes the
worker open their churn alerts (the scenario of ``test_alert_actions``). One buys again three
days after its alert opened, the other does not. With a 10-day window the verdicts are
``retained`` (naming the purchase that decided it) and ``lost``. A later profile update of
each customer moves their partition's stream time past the window plus the ticks' lateness
(the test worker's stream time follows event time only), so the window-end tick runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from confluent_kafka import Consumer
from redis import Redis

from agents.settings import KafkaSettings
from streams.alert_loop import AlertOutcome, OutcomeKind
from streams.contracts.actions import decode_outcome
from streams.domain import Channel, Purchase, PurchaseKind
from streams.topics import Topics
from tests.e2e.harness import Worker, produce
from tests.integration.test_alert_actions import DAY, buying, eventually, opening, profile

WINDOW_DAYS = 10
CONFIG = f"[loop]\nchurn_window_days = {WINDOW_DAYS}\n"


def outcomes_on_topic(bootstrap: str, topic: str, wanted: set[str]) -> dict[str, AlertOutcome]:
    """The decoded outcomes of ``wanted`` alerts, read from the topic's beginning."""
    conf = {"group.id": f"outcomes-{time.time_ns()}", "auto.offset.reset": "earliest"}
    consumer = Consumer(KafkaSettings(bootstrap).confluent(**conf))
    consumer.subscribe([topic])
    found: dict[str, AlertOutcome] = {}
    deadline = time.monotonic() + 60
    try:
        while set(found) != wanted and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            outcome = decode_outcome(msg.value(), msg.headers())
            assert isinstance(outcome, AlertOutcome), outcome
            if outcome.alert_id in wanted:
                found[outcome.alert_id] = outcome
    finally:
        consumer.close()
    return found


def test_a_live_worker_publishes_each_alerts_outcome_to_the_topic_and_redis(
    kafka_bootstrap: str, redis_url: str, topics: Topics, tmp_path: Path, unique_prefix: str
) -> None:
    config_path = tmp_path / "model.toml"
    config_path.write_text(CONFIG)
    t0 = round(time.time() - 330 * DAY)  # the last event (opening + 30 days) is in the past
    kept, gone = f"{unique_prefix}kept", f"{unique_prefix}gone"
    history = {cid: buying(cid, t0) for cid in (kept, gone)}
    alerts = {cid: opening(events, config_path) for cid, events in history.items()}
    kept_alert, opened_at = alerts[kept]
    came_back = Purchase(
        f"{kept}-back", "/shop", kept, round(opened_at + 3 * DAY), PurchaseKind.ORDER_PLACED,
        "o-back", 5000, "EUR", Channel.WEB, 1,
    )  # fmt: skip
    later = [profile(cid, round(at + 30 * DAY)) for cid, (_, at) in alerts.items()]
    produce(kafka_bootstrap, topics, [*history[kept], came_back, *history[gone], *later])
    worker = Worker(
        kafka_bootstrap, topics, f"{unique_prefix}app", tmp_path / "w1", redis_url,
        extra_args=["--config", str(config_path)],
    )  # fmt: skip
    keys = {cid: f"{topics.prefix.replace('.', ':')}outcome:{a}" for cid, (a, _) in alerts.items()}
    try:
        worker.start()
        with Redis.from_url(redis_url) as client:
            for cid, key in keys.items():
                eventually(lambda key=key: bool(client.exists(key)), f"{cid}: outcome in Redis")
            cached = {cid: json.loads(client.get(key) or b"{}") for cid, key in keys.items()}
    finally:
        worker.kill()
    wanted = {alert for alert, _ in alerts.values()}
    published = outcomes_on_topic(kafka_bootstrap, topics.alert_outcomes, wanted)
    retained, lost = published[kept_alert], published[alerts[gone][0]]
    assert (retained.outcome, lost.outcome) == (OutcomeKind.RETAINED, OutcomeKind.LOST)
    assert retained.succeeded_at == came_back.occurred_at and lost.succeeded_at is None
    for outcome in (retained, lost):
        assert outcome.decided_at == outcome.opened_at + WINDOW_DAYS * DAY
    assert (cached[kept]["outcome"], cached[gone]["outcome"]) == ("retained", "lost")
