"""``cxstream demo``: the local stack and a worker process (``stack``), simulated customers
fed at a pace (``feeds``) and the live screen (``live_view``).

May import: ``agents.cli.producing``, ``agents.cli.render``, ``agents.cli.commands.worker_argv``
(the worker's command line), ``agents.settings``,
``streams``; the worker runs as a separate process, never imported.
"""
