"""Run a bench module on the compiled model: ``python -m bench.compiled_launch MODULE ARGS...``.

The Quix Streams peer lives in its own virtualenv, which has no start-up hook, so this installs
the build (``CX_COMPILED_DIR``, the main virtualenv's) before the module imports the model, as
the worker's ``cxstream`` command does. Prints ``COMPILED_MODEL True|False`` first and exits 3
without running the module when the build cannot serve (missing, stale, another Python).
"""

from __future__ import annotations

import runpy
import sys

from streams import compiled_model

NOT_COMPILED = 3


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python -m bench.compiled_launch MODULE [ARGS...]", file=sys.stderr)
        return 2
    module = sys.argv[1]
    sys.argv[1:] = sys.argv[2:]
    used = compiled_model.install("auto")
    print(f"COMPILED_MODEL {used}", flush=True)
    if not used:
        return NOT_COMPILED
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
