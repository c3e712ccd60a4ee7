"""``python -m agents.cli``: the ``cxstream`` command without the installed script."""

import sys

from agents.cli.main import main

sys.exit(main())
