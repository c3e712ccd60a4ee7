"""Alert delivery to CX teams: message formatting, routing and idempotency (no HTTP here).

The async sender and the Redis idempotency store live in :mod:`agents.sinks`; this package
stays framework-free.
"""

from streams.delivery.formatting import (
    fallback_text,
    format_slack_message,
    validate_customer_url_template,
)
from streams.delivery.idempotency import (
    IdempotencyStore,
    InMemoryIdempotencyStore,
    idempotency_key,
)
from streams.delivery.routing import route, validate_routes

__all__ = [
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "fallback_text",
    "format_slack_message",
    "idempotency_key",
    "route",
    "validate_customer_url_template",
    "validate_routes",
]
