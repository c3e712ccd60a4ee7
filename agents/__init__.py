"""cxstream's imperative shell around the pure core in ``streams``, one subpackage per role.

- ``worker/``: the stream processor (the customer agent, its batch fold, merge, outputs,
  tables, the HTTP API, metrics and health).
- ``sinks/``: side consumers of the worker's outputs (the Redis read model, webhook delivery).
- ``cli/``: the ``cxstream`` command, its rendering and event producing.
- ``demo/``: what ``cxstream demo`` runs besides a worker (stack, feeds, live view).
- ``app.py`` is the one composition root (it builds and runs a worker from its options);
  ``settings.py`` holds the connection settings and ``WorkerOptions``.

Who may import whom (tests/unit/test_architecture.py enforces it, with no import circles and no
framework or client library in ``streams``): ``settings`` only ``streams``; ``worker``
``settings``; ``sinks`` ``worker`` and ``settings``; ``app`` ``worker``, ``sinks`` and
``settings``; ``demo`` ``cli.producing``, ``cli.render``, ``cli.commands.worker`` (a worker's
command line) and ``settings``; ``cli`` any of them.
"""
