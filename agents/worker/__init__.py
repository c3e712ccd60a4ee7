"""The worker: consume the inputs, fold them into customer state, publish what that produced.

The customer agent (``customer_agent``) hands each batch to its cycle (``batch_cycle``: fold,
publish, acknowledge, store), whose fold (``batch_fold``, ``customer_fold``) is Faust-free.
``merge`` orders the inputs by event time, ``tables`` and ``outputs`` keep state and publish,
``faust_internals`` is the only module that touches private Faust/aiokafka attributes. The
HTTP API (``web*``, ``api_security``, ``action_api``), metrics, health, model parameters,
topic administration and start-up checks live here too.

May import: ``agents.settings``, ``streams`` and third-party libraries; never ``agents.sinks``,
``agents.cli``, ``agents.demo`` or ``agents.app``.
"""
