"""Faust's table router, made to work with an authenticated and possibly TLS-served API.

``GET /customers/{id}`` may reach any worker; Faust forwards it to the worker owning the
customer's partition. Faust's own router forwards the client's headers (so the bearer token
reaches the owner, which checks it again), but it keeps the client's scheme and trusts only the
system CAs, and the owner would count every forwarded request against the forwarding worker's
address. This router forwards to the owner's advertised scheme, verifies its certificate with
the configured peer SSL context, adds a peer proof so the owner does not rate-limit a request
the entry worker already counted, and answers 503 (never 500) when the owner is unreachable
or not yet known, with Retry-After.
A request with a body (``POST /alerts/{id}/actions``) is forwarded with its method and body.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from faust.app.router import Router
from faust.exceptions import SameNode
from yarl import URL

from agents.worker.api_security import ROUTED_HEADER, ApiGuard

DROPPED_HEADERS = frozenset({"host", "content-length", "connection", ROUTED_HEADER.lower()})
PASSED_BACK_HEADERS = ("Retry-After", "WWW-Authenticate")
NOT_READY = {
    "error": "restoring",
    "detail": "this worker is starting, rebalancing or restoring its tables from their "
    "changelogs, so its answer could be stale or a false not-found; retry after Retry-After "
    "seconds",
}
RETRY_AFTER = {"Retry-After": "1"}


class GuardedRouter(Router):  # type: ignore[misc]
    """Forwards table requests to their owner with the client's credentials and a peer proof."""

    async def route_req(self, table_name: str, key: Any, web: Any, request: Any) -> Any:
        """No owner is known before the first assignment (Faust: a bare 503) or before the
        producer loaded the changelog's metadata (aiokafka: a TypeError, so a 500): say why
        and when to retry, as the owner does while it restores."""
        try:
            dest_url: URL = self.app.router.key_store(table_name, key)
        except (KeyError, TypeError):
            return web.json(NOT_READY, status=503, headers=dict(RETRY_AFTER))
        return await self._route_req(dest_url, web, request)

    async def _route_req(self, dest_url: URL, web: Any, request: Any) -> Any:
        app = self.app
        host, port = self._urlident(dest_url)
        if (host, port) == self._urlident(app.conf.canonical_url):
            raise SameNode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        guard: ApiGuard | None = getattr(app, "cx_api_guard", None)
        if guard is not None and guard.routed_proof:
            headers[ROUTED_HEADER] = guard.routed_proof
        scheme = dest_url.scheme or request.url.scheme
        url = request.url.with_scheme(scheme).with_host(host).with_port(int(port))
        peer_ssl = getattr(app, "cx_peer_ssl", None)
        body = None if request.method in ("GET", "HEAD") else await request.read()
        try:
            async with app.http_client.request(
                method=request.method,
                headers=headers,
                url=url,
                data=body,
                ssl=peer_ssl if peer_ssl is not None else True,
                timeout=aiohttp.ClientTimeout(total=30),
            ) as response:
                passed = {
                    name: response.headers[name]
                    for name in PASSED_BACK_HEADERS
                    if name in response.headers
                }
                return web.text(
                    await response.text(),
                    content_type=response.content_type,
                    status=response.status,
                    headers=passed,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json(
                {
                    "error": "owner_unreachable",
                    "detail": f"the worker owning this key ({host}:{port}) did not answer "
                    f"({type(exc).__name__}); retry, or check its --advertised-url",
                },
                status=503,
                headers=dict(RETRY_AFTER),
            )
