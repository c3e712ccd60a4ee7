"""Sub-commands of the ``cxstream`` CLI, one module each: ``add_parser`` and ``run``."""
