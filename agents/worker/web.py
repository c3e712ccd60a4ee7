"""HTTP views on the worker's Faust web server.

``GET /customers/{id}`` is answered by whichever worker is asked: Faust's table router forwards
the request to the worker owning the customer's partition. ``/healthz`` reports readiness and
open problems, ``/metrics`` serves Prometheus' text format. Who may call which path is decided
before any view runs, by ``agents.worker.api_security`` (a middleware set up in ``agents.app``).
Bodies are strict JSON (``streams.jsonable``): no ``NaN`` or ``Infinity``.
"""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import generate_latest

from agents.worker.batch_cycle import BatchCycle
from agents.worker.faust_internals import assigned_partitions, in_recovery
from agents.worker.health import HealthBoard
from agents.worker.metrics import REGISTRY
from agents.worker.web_router import NOT_READY, RETRY_AFTER
from streams.alert_history import action_history
from streams.envelope import decode_envelope
from streams.jsonable import dumps, to_jsonable
from streams.model import ModelConfig, snapshot

PROMETHEUS_TEXT = "text/plain; version=0.0.4"  # aiohttp refuses a charset here
JSON = "application/json"
NOT_FOUND = {"error": "not_found", "detail": "no customer with this id on this cluster"}


def customer_view(raw: bytes, config: ModelConfig) -> dict[str, Any]:
    """What the API shows for one customer: health with contributions, state, open alerts."""
    envelope = decode_envelope(raw)
    state = envelope.state
    snap = snapshot(state, state.as_of, config)  # as of the last event or tick folded in
    return {
        "customer_id": snap.customer_id,
        "health": to_jsonable(snap),
        "state": to_jsonable(state),
        "open_alerts": list(snap.open_alerts),
        "actions": action_history(state),  # what CX teams did with its alerts, and outcomes
        "partition": envelope.partition,
    }


def serving(app: faust.App, cycle: BatchCycle) -> bool:
    """The tables are this worker's and complete: assigned, not rebalancing, not restoring.
    Until then a missing customer may only be missing here, like Kafka Streams' "store not
    ready"."""
    return cycle.has_assignment and not app.rebalancing and not in_recovery(app)


def register_views(app: faust.App, customers: Any, cycle: BatchCycle, health: HealthBoard) -> None:
    """``/customers/{id}`` (routed to the owner), ``/healthz`` and ``/metrics``."""

    @app.page("/customers/{customer_id}")
    @app.table_route(table=customers, match_info="customer_id")
    async def get_customer(web: Any, request: Any, customer_id: str) -> Any:
        if not serving(app, cycle):  # a 404 now could be false
            return web.json(NOT_READY, status=503, headers=dict(RETRY_AFTER))
        raw = customers.get(customer_id)
        if not raw:  # generic: the body never confirms or echoes which ids exist
            return web.json(NOT_FOUND, status=404)
        view = customer_view(raw, cycle.fold.config)  # the parameters in use now
        return web.bytes(dumps(view).encode(), content_type=JSON)

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        problems = health.problems()
        status = "unhealthy" if problems else "ok" if serving(app, cycle) else "starting"
        assigned = assigned_partitions(app, cycle.topics.purchases)
        body = {
            "status": status,
            "problems": [{"name": p.name, "detail": p.detail, "since": p.since} for p in problems],
            "assigned_partitions": sorted(assigned),
            "pending_deadlines": cycle.deadlines.pending(),
            "deadline_index": "ready" if cycle.indexed == assigned else "rebuilding",
        }
        return web.json(body, status=200 if status == "ok" else 503)

    @app.page("/metrics")
    async def prometheus_metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(REGISTRY), content_type=PROMETHEUS_TEXT)
