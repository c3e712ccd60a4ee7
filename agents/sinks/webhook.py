"""Deliver alerts to CX teams' chat webhooks (Slack-compatible), reliably and at most once per
alert action as far as one store can tell.

Per alert: skip actions/types not configured for delivery; skip keys already delivered (the
:class:`~streams.delivery.IdempotencyStore`) or in flight in this process; POST the formatted
message to the team's webhook with an ``Idempotency-Key`` header; retry connection errors,
timeouts, 5xx and 429 with exponential backoff and jitter (honouring ``Retry-After``); hand
anything that still fails, or gets a non-retryable 4xx, to the ``dead_letter`` callback; mark
the key only after a 2xx. Delivery is at-least-once: see :mod:`streams.delivery.idempotency`.

Webhook URLs embed secret tokens, so they never appear in logs, reasons or outcomes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from types import TracebackType
from typing import Any

import aiohttp

from streams.delivery import (
    IdempotencyStore,
    format_slack_message,
    idempotency_key,
    route,
    validate_customer_url_template,
    validate_routes,
)
from streams.delivery.action_links import validate_actions_url_template, with_action_links
from streams.domain import Alert, AlertAction, AlertType

log = logging.getLogger(__name__)

DeadLetter = Callable[[Alert, str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[Any]]

DEFAULT_ACTIONS: frozenset[AlertAction] = frozenset({AlertAction.OPENED})
DEFAULT_TYPES: frozenset[AlertType] = frozenset(AlertType)
_BODY_SNIPPET = 200


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"  # a webhook answered 2xx
    DUPLICATE = "duplicate"  # already delivered, or being delivered by a concurrent call
    SKIPPED = "skipped"  # action or type not configured for delivery
    FAILED = "failed"  # gave up; the dead_letter callback has the alert


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What :meth:`WebhookDelivery.deliver` did, for metrics and logs.

    Metrics map as: DELIVERED → ``outcome="delivered"``, FAILED → ``outcome="failed"``, and
    ``retries`` extra attempts → ``outcome="retried"``.
    """

    status: DeliveryStatus
    key: str
    attempts: int = 0
    reason: str = ""

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)


@dataclass(frozen=True, slots=True)
class _Verdict:
    """Result of one HTTP attempt."""

    ok: bool
    retryable: bool = False
    reason: str = ""
    retry_after: float | None = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" zone: RFC 5322 says UTC of unknown origin
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class WebhookDelivery:
    """Async sender of alerts to webhooks; one instance per worker, used concurrently."""

    def __init__(
        self,
        routes: Mapping[str, str],
        default_url: str,
        *,
        max_attempts: int = 5,
        base_backoff: float = 0.2,
        max_backoff: float = 5.0,
        timeout: float = 5.0,
        idempotency: IdempotencyStore,
        dead_letter: DeadLetter,
        actions: Collection[AlertAction] = DEFAULT_ACTIONS,
        types: Collection[AlertType] = DEFAULT_TYPES,
        customer_url_template: str | None = None,
        actions_url_template: str | None = None,
        max_retry_after: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        validate_routes(routes, default_url)
        validate_customer_url_template(customer_url_template)
        validate_actions_url_template(actions_url_template)
        if max_attempts < 1 or base_backoff < 0 or max_backoff < base_backoff or timeout <= 0:
            raise ValueError(
                "need max_attempts >= 1, 0 <= base_backoff <= max_backoff, timeout > 0"
            )
        self._routes = dict(routes)
        self._default_url = default_url
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._max_backoff = max_backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._idempotency = idempotency
        self._dead_letter = dead_letter
        self._actions = frozenset(actions)
        self._types = frozenset(types)
        self._customer_url_template = customer_url_template
        self._actions_url_template = actions_url_template
        self._max_retry_after = max_retry_after
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._in_flight: set[str] = set()

    async def __aenter__(self) -> WebhookDelivery:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this instance created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, alert: Alert) -> DeliveryOutcome:
        """Send ``alert`` unless filtered out or already delivered; never raises for HTTP errors.

        Errors from the idempotency store's ``seen`` and from ``dead_letter`` propagate: losing
        track of alerts silently is worse than a visible crash and restart.
        """
        key = idempotency_key(alert)
        if alert.action is AlertAction.UPDATED:  # an escalation: once per priority reached
            key = f"{key}:{alert.priority.value}"
        if alert.action not in self._actions or alert.type not in self._types:
            return DeliveryOutcome(DeliveryStatus.SKIPPED, key)
        if key in self._in_flight or await self._idempotency.seen(key):
            return DeliveryOutcome(DeliveryStatus.DUPLICATE, key)
        self._in_flight.add(key)
        try:
            return await self._deliver_new(alert, key)
        finally:
            self._in_flight.discard(key)

    async def _deliver_new(self, alert: Alert, key: str) -> DeliveryOutcome:
        url = route(alert, self._routes, self._default_url)
        body = format_slack_message(alert, self._customer_url_template)
        if self._actions_url_template:
            body = with_action_links(body, alert, self._actions_url_template)
        attempts, error = await self._send(url, body, key)
        team = alert.cx_team or "<default>"
        if error is not None:
            log.warning("alert %s to team %s dead-lettered: %s", key, team, error)
            await self._dead_letter(alert, error)
            return DeliveryOutcome(DeliveryStatus.FAILED, key, attempts, error)
        try:
            await self._idempotency.mark(key)
        except Exception:  # the POST succeeded; failing now would only cause a re-send
            log.warning("alert %s delivered but not recorded; may be re-sent", key, exc_info=True)
        return DeliveryOutcome(DeliveryStatus.DELIVERED, key, attempts)

    async def _send(self, url: str, body: dict[str, Any], key: str) -> tuple[int, str | None]:
        """POST with retries; returns (attempts made, failure reason or None on success)."""
        session = self._get_session()
        verdict = _Verdict(ok=False)
        for attempt in range(1, self._max_attempts + 1):
            verdict = await self._attempt(session, url, body, key)
            if verdict.ok:
                return attempt, None
            if not verdict.retryable:
                return attempt, verdict.reason
            if attempt < self._max_attempts:
                await self._sleep(self._delay(attempt, verdict.retry_after))
        return self._max_attempts, f"{verdict.reason}; gave up after {self._max_attempts} attempts"

    async def _attempt(
        self, session: aiohttp.ClientSession, url: str, body: dict[str, Any], key: str
    ) -> _Verdict:
        headers = {"Idempotency-Key": key}
        try:
            async with session.post(url, json=body, headers=headers, timeout=self._timeout) as resp:
                if 200 <= resp.status < 300:
                    return _Verdict(ok=True)
                snippet = " ".join((await resp.text(errors="replace")).split())[:_BODY_SNIPPET]
                reason = f"HTTP {resp.status}" + (f": {snippet}" if snippet else "")
                if resp.status == 429 or resp.status >= 500:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    return _Verdict(False, True, reason, retry_after)
                return _Verdict(False, False, f"{reason} (not retried)")
        except TimeoutError:
            return _Verdict(False, True, f"timeout after {self._timeout.total}s")
        except aiohttp.ClientError as exc:  # the message may contain the URL: name the type only
            return _Verdict(False, True, f"connection error ({type(exc).__name__})")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Server's Retry-After (capped) if given, else exponential backoff with equal jitter,
        so that many workers retrying the same webhook do not hit it in lockstep."""
        if retry_after is not None:
            return min(retry_after, self._max_retry_after)
        cap = min(self._max_backoff, self._base_backoff * 2.0 ** (attempt - 1))
        return cap / 2 + self._rng.uniform(0, cap / 2)

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(raise_for_status=False)
        return self._session
