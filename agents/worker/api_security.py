"""Who may read the worker's HTTP API, and how often: bearer token, per-client rate limit.

The API serves customer data (purchases, spend, NPS, profile), so it is closed by default:
every path except ``/healthz`` and ``/metrics`` needs ``Authorization: Bearer <token>``, and a
worker without a token refuses those paths unless the operator chose ``--insecure-api``.
The rate limit covers known and unknown ids alike (and failed logins), so enumerating ids or
guessing tokens costs the same as reading. :meth:`ApiGuard.check` is pure (testable without a
server); :meth:`ApiGuard.middleware` applies it to every request before Faust's views and its
table router run, so a request is checked where it enters, and again on the owner it is
forwarded to (the router keeps the Authorization header; see ``agents.worker.web_router``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import Counter

from agents.settings import ApiAccess
from agents.worker.metrics import REGISTRY

OPEN_PATHS = frozenset({"/healthz", "/metrics"})
ROUTED_HEADER = "X-Cxstream-Routed"  # set by a peer worker forwarding a request (web_router)
TOKEN_SETTINGS = "--api-token-file, CX_API_TOKEN_FILE or CX_API_TOKEN"
HOW_TO_AUTHENTICATE = (
    "send the worker's API token as 'Authorization: Bearer <token>' "
    f"(the worker reads it from {TOKEN_SETTINGS}; `cxstream customer` takes the same settings)"
)

DENIED = Counter(
    "cxstream_api_denied",
    "HTTP API requests refused, by reason (unauthorized, rate_limited, no_token_configured).",
    ["reason"],
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class Denial:
    """An HTTP refusal: status, JSON body (never echoing a credential or an id), headers."""

    status: int
    reason: str
    body: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)


class TokenBuckets:
    """A token bucket per client address; memory bounded by evicting the least recent client."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 65_536,
    ) -> None:
        self.rate = rate
        self.burst = float(max(1, burst))
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def take(self, client: str) -> float:
        """0.0 when the request may go ahead, else the seconds until the client may retry."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether ``authorization`` is ``Bearer <expected>``, compared in constant time."""
    if not authorization:
        return False
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        presented.strip().encode("utf-8", "replace"), expected.encode("utf-8")
    )


def peer_proof(token: str) -> str:
    """What a worker forwarding a request adds, so the owner does not count it twice."""
    return hmac.new(token.encode(), b"cxstream routed request", hashlib.sha256).hexdigest()


class ApiGuard:
    """Applies :class:`ApiAccess` to requests: rate limit first, then the token."""

    def __init__(self, access: ApiAccess, clock: Callable[[], float] = time.monotonic) -> None:
        self.access = access
        self.buckets = TokenBuckets(access.rate_per_second, access.burst, clock)
        self._proof = peer_proof(access.token) if access.token else None

    def __repr__(self) -> str:
        return f"ApiGuard({self.access!r})"

    @property
    def routed_proof(self) -> str | None:
        return self._proof

    def check(
        self, path: str, client: str, authorization: str | None, routed: str | None = None
    ) -> Denial | None:
        """``None`` when the request may be served, else the refusal to send."""
        if path in OPEN_PATHS:
            return None
        if not self._is_peer(routed):
            wait = self.buckets.take(client)
            if wait > 0:
                return Denial(
                    429,
                    "rate_limited",
                    {
                        "error": "rate_limited",
                        "detail": f"more than {self.access.rate_per_second:g} requests/s "
                        f"(burst {self.access.burst}) from this address; retry later",
                    },
                    {"Retry-After": str(max(1, math.ceil(wait)))},
                )
        if self.access.token is None:
            if self.access.insecure:
                return None
            return Denial(
                403,
                "no_token_configured",
                {
                    "error": "api_token_not_configured",
                    "detail": "this worker has no API token, so it serves no customer data: "
                    f"start it with {TOKEN_SETTINGS} (or --insecure-api to serve without "
                    "authentication)",
                },
            )
        if token_matches(self.access.token, authorization):
            return None
        error = "invalid_token" if authorization else "missing_token"
        return Denial(
            401,
            "unauthorized",
            {"error": error, "detail": HOW_TO_AUTHENTICATE},
            {"WWW-Authenticate": f'Bearer realm="cxstream", error="{error}"'},
        )

    def _is_peer(self, routed: str | None) -> bool:
        return bool(routed and self._proof and hmac.compare_digest(routed, self._proof))

    @property
    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """An aiohttp middleware applying :meth:`check` before any view (and any routing)."""

        @web.middleware
        async def guard(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            denial = self.check(
                request.path,
                request.remote or "unknown",
                request.headers.get("Authorization"),
                request.headers.get(ROUTED_HEADER),
            )
            if denial is None:
                return await handler(request)
            DENIED.labels(denial.reason).inc()
            return web.json_response(
                dict(denial.body), status=denial.status, headers=dict(denial.headers)
            )

        return guard


def describe(access: ApiAccess) -> dict[str, Any]:
    """The access settings without the secret, for start-up logs."""
    mode = (
        "token"
        if access.token
        else "insecure (no authentication)"
        if access.insecure
        else ("closed (no token configured)")
    )
    return {"auth": mode, "rate_per_second": access.rate_per_second, "burst": access.burst}
