"""Start (or reuse) the real local Kafka + Redis stack for the test session.

A private stack lives in a temporary stack dir and is stopped by :func:`stop_stack`; a SIGTERM
or SIGHUP to the test process (CI cancelling, ``timeout``) is turned into KeyboardInterrupt
while a private stack runs, so fixtures' teardown still stops it instead of leaving a broker
and a redis-server behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
STACK_SH = ROOT / "ops" / "stack.sh"


@dataclass(frozen=True)
class RunningStack:
    kafka_bootstrap: str
    redis_url: str
    stack_dir: Path | None  # None when the stack was given through the environment


def _parse_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _stop_on_signals() -> None:
    """Only from the main thread, and only where nobody installed a handler already."""
    if sys.platform == "win32":
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _interrupt)
        except ValueError:  # not the main thread
            return


def stack_command(stack_dir: Path, *args: str, timeout: float = 300, log: str | None = None) -> str:
    """Run ``ops/stack.sh ARGS`` on a private stack (free ports); its stdout, or RuntimeError
    with its output and the tail of ``log`` (a file in the stack dir) when given."""
    env = {
        **os.environ,
        "CX_STACK_DIR": str(stack_dir),
        "KAFKA_PORT": "auto",
        "REDIS_PORT": "auto",
        "REGISTRY_PORT": "auto",
        "REGISTRY_MANAGEMENT_PORT": "auto",
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(STACK_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        path = stack_dir / log if log else None
        tail = path.read_text(errors="replace").splitlines()[-30:] if path and path.exists() else []
        raise RuntimeError(
            f"ops/stack.sh {' '.join(args)} failed ({result.returncode})\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            + (f"\n{log}:\n" + "\n".join(tail) if log else "")
        )
    return result.stdout


def start_stack(private: bool = False) -> RunningStack:
    """Use KAFKA_BOOTSTRAP_SERVERS/REDIS_URL when both are set (unless ``private``: a stack
    whose services may be killed), else start a private stack on free ports."""
    given_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    given_redis = os.environ.get("REDIS_URL")
    if given_kafka and given_redis and not private:
        return RunningStack(given_kafka, given_redis, None)
    stack_dir = Path(tempfile.mkdtemp(prefix="cxstream-test-stack-"))
    _stop_on_signals()
    try:
        out = stack_command(stack_dir, "up")
    except (RuntimeError, subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            stop_stack(RunningStack("", "", stack_dir))
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RuntimeError(
            "The local Kafka/Redis stack did not start (integration tests need it; "
            f"run ops/setup.sh first).\n{exc}"
        ) from exc
    values = _parse_env(out)
    return RunningStack(values["KAFKA_BOOTSTRAP_SERVERS"], values["REDIS_URL"], stack_dir)


def stop_stack(stack: RunningStack) -> None:
    """``ops/stack.sh down``: SIGTERM, then SIGKILL; both services are gone when it returns,
    and so is the stack dir (a session's broker data is ~250 MB) unless CX_KEEP_STACK_DIR is
    set for a post-mortem."""
    if stack.stack_dir is None:
        return
    stack_command(stack.stack_dir, "down", timeout=150)
    if not os.environ.get("CX_KEEP_STACK_DIR"):
        shutil.rmtree(stack.stack_dir, ignore_errors=True)
