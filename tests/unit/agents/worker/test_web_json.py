"""Strict JSON out of the API, and the guard as aiohttp middleware on a real local server."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from agents.settings import ApiAccess
from agents.worker.api_security import ApiGuard
from agents.worker.web import customer_view
from streams.envelope import encode_envelope, new_envelope
from streams.jsonable import dumps, to_jsonable
from streams.model import load_config
from streams.processing import process_event
from streams.simulator import iter_events

TOKEN = "unit-test-token-0123456789abcdef"


def strict(text: str | bytes) -> Any:
    """``json.loads`` that fails on NaN/Infinity, as JavaScript's JSON.parse does."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Thing:
    at: float
    colour: Colour
    seen: tuple[float, ...]


def test_non_finite_floats_become_null_everywhere() -> None:
    value = {"t": Thing(float("-inf"), Colour.RED, (1.5, float("nan"))), 2: {float("inf")}}
    assert to_jsonable(value) == {
        "t": {"at": None, "colour": "red", "seen": [1.5, None]},
        "2": [None],
    }
    assert strict(dumps(value))["t"]["at"] is None


def test_customer_view_of_a_real_state_parses_strictly() -> None:
    """Simulated states hold ``-inf`` ("never") times: the body must still be JSON."""
    config = load_config()
    state = None
    for event in iter_events(20, 120, 3):
        if event.customer_id == "c0000000":
            state, _ = process_event(state, event, config)
    assert state is not None and state.churn_resolved_at == float("-inf")
    body = strict(dumps(customer_view(encode_envelope(new_envelope(0, state)), config)))
    assert body["customer_id"] == "c0000000" and body["state"]["churn_resolved_at"] is None
    assert "Infinity" not in json.dumps(body)


async def serve(guard: ApiGuard) -> TestServer:
    async def customer(request: web.Request) -> web.Response:
        return web.json_response({"customer_id": request.match_info["cid"]})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[guard.middleware])
    app.router.add_get("/customers/{cid}", customer)
    app.router.add_get("/healthz", health)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.mark.asyncio
async def test_middleware_answers_with_the_right_status_headers_and_json() -> None:
    server = await serve(ApiGuard(ApiAccess(token=TOKEN, rate_per_second=0.01, burst=3)))
    try:
        async with ClientSession(base_url=str(server.make_url(""))) as http:
            async with http.get("/customers/c1") as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
                assert strict(await r.text())["error"] == "missing_token"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get("/customers/c1", headers=auth) as r:
                assert r.status == 200 and (await r.json())["customer_id"] == "c1"
            async with http.get("/healthz") as r:
                assert r.status == 200
            async with http.get("/customers/c2", headers=auth) as r:
                assert r.status == 200
            async with http.get("/customers/c3", headers=auth) as r:
                assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
                assert strict(await r.text())["error"] == "rate_limited"
    finally:
        await server.close()
