"""The ``cxstream`` command: ``main`` (the entry point), one module per sub-command in
``commands/`` (a new command goes there and into ``main.COMMANDS``), terminal rendering
(``render``) and event producing (``producing``).

May import anything in ``agents`` and ``streams``; nothing imports it but the demo (which
produces and renders like the CLI).
"""
