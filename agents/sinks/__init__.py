"""Sinks: side consumers that follow the worker's output topics into other systems.

Each runs on its own consumer group (``side_consumer``), so an outage of its system slows only
that sink, never the customer agent: the Redis read model (``redis_model``), webhook delivery
(``webhook``) with its Redis idempotency store (``idempotency``). ``services`` registers them
on a worker. A new sink goes here.

May import: ``agents.worker`` (metrics, health), ``agents.settings``, ``streams``; never
``agents.cli``, ``agents.demo`` or ``agents.app``.
"""
