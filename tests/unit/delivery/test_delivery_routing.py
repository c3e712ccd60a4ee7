"""Routing by cx_team, route validation, idempotency keys and the in-memory store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.sinks.webhook import DeliveryOutcome, DeliveryStatus, parse_retry_after
from streams.delivery import InMemoryIdempotencyStore, idempotency_key, route, validate_routes
from streams.domain import Alert, AlertAction, AlertType, Priority
from streams.errors import ConfigError

ALERT = Alert(
    alert_id="a1",
    customer_id="c1",
    type=AlertType.CHURN_RISK,
    action=AlertAction.OPENED,
    priority=Priority.HIGH,
    score=70.0,
    reasons=(),
    playbook="call",
    opened_at=0.0,
    occurred_at=0.0,
    cx_team="emea",
)
ROUTES = {"emea": "https://hooks.example.com/emea", "apac": "https://hooks.example.com/apac"}
DEFAULT = "https://hooks.example.com/default"


def test_route_by_team() -> None:
    assert route(ALERT, ROUTES, DEFAULT) == ROUTES["emea"]
    assert route(replace(ALERT, cx_team="apac"), ROUTES, DEFAULT) == ROUTES["apac"]


@pytest.mark.parametrize("team", [None, "unknown", "EMEA"])
def test_unrouted_alerts_go_to_the_default(team: str | None) -> None:
    assert route(replace(ALERT, cx_team=team), ROUTES, DEFAULT) == DEFAULT


def test_validate_routes_names_the_key_not_the_url() -> None:
    validate_routes(ROUTES, DEFAULT)
    with pytest.raises(ConfigError, match="'emea'") as info:
        validate_routes({"emea": "hooks.example.com/secret-token"}, DEFAULT)
    assert "secret-token" not in str(info.value)
    with pytest.raises(ConfigError, match="<default>"):
        validate_routes(ROUTES, "ftp://x/y")


def test_idempotency_key_is_per_alert_action() -> None:
    assert idempotency_key(ALERT) == "a1:opened"
    assert idempotency_key(replace(ALERT, action=AlertAction.RESOLVED)) == "a1:resolved"


async def test_in_memory_store_marks_once_and_expires() -> None:
    now = [0.0]
    store = InMemoryIdempotencyStore(ttl_seconds=10, clock=lambda: now[0])
    assert not await store.seen("k")
    assert await store.mark("k")
    assert await store.seen("k")
    assert not await store.mark("k")
    now[0] = 10.0
    assert not await store.seen("k")
    assert await store.mark("k")


async def test_in_memory_store_is_bounded_evicting_oldest() -> None:
    store = InMemoryIdempotencyStore(max_entries=2)
    for key in ("a", "b", "c"):
        assert await store.mark(key)
    assert len(store) == 2
    assert not await store.seen("a")
    assert await store.seen("b")
    assert await store.seen("c")


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("7", 7.0), (" 0 ", 0.0), ("soon", None), ("-3", None)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT")
    assert future is not None and future > 1e9


def test_outcome_counts_retries() -> None:
    assert DeliveryOutcome(DeliveryStatus.DELIVERED, "k", attempts=3).retries == 2
    assert DeliveryOutcome(DeliveryStatus.DUPLICATE, "k").retries == 0
