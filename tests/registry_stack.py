"""Start a private schema registry (Apicurio, via ``ops/stack.sh start registry``) for tests.

It lives in its own stack dir on free ports, beside whatever Kafka the session uses, so only
the tests that need it pay its start-up (a few seconds). Schemas are kept in a file under that
dir: ``ops/stack.sh stop|start registry`` is an outage that loses nothing.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.stack import _parse_env, _stop_on_signals, stack_command


@dataclass(frozen=True)
class RunningRegistry:
    url: str  # the Confluent-compatible API, .../apis/ccompat/v7
    stack_dir: Path

    def command(self, *args: str, timeout: float = 180) -> str:
        """``ops/stack.sh ARGS`` on this registry's stack dir (e.g. ``stop registry``)."""
        return registry_command(self.stack_dir, *args, timeout=timeout)


def registry_command(stack_dir: Path, *args: str, timeout: float = 180) -> str:
    """``ops/stack.sh ARGS`` for the registry; a failure shows the registry's own log too."""
    return stack_command(stack_dir, *args, timeout=timeout, log="registry.out")


def start_registry() -> RunningRegistry:
    """A running registry, or RuntimeError saying why not (nothing is left running then)."""
    stack_dir = Path(tempfile.mkdtemp(prefix="cxstream-test-registry-"))
    _stop_on_signals()
    try:
        registry_command(stack_dir, "start", "registry")
        url = _parse_env(registry_command(stack_dir, "env"))["SCHEMA_REGISTRY_URL"]
    except (RuntimeError, subprocess.TimeoutExpired, KeyError, KeyboardInterrupt) as exc:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            registry_command(stack_dir, "stop", "registry")
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RuntimeError(
            "The schema registry (Apicurio, ops/stack.sh start registry) did not start; "
            f"run ops/setup.sh first (it fetches the registry and a Java >= 21).\n{exc}"
        ) from exc
    return RunningRegistry(url, stack_dir)


def stop_registry(registry: RunningRegistry) -> None:
    """SIGTERM, then SIGKILL: the registry is gone when this returns, and so is its dir."""
    registry.command("stop", "registry", timeout=150)
    shutil.rmtree(registry.stack_dir, ignore_errors=True)
