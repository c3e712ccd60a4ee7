"""Start (or reuse) the real local Kafka + Redis stack for the test session."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunningStack:
    kafka_bootstrap: str
    redis_url: str
    stack_dir: Path | None  # None when the stack was given through the environment


def _parse_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def start_stack() -> RunningStack:
    """Use KAFKA_BOOTSTRAP_SERVERS/REDIS_URL when both are set, else start a private stack."""
    given_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    given_redis = os.environ.get("REDIS_URL")
    if given_kafka and given_redis:
        return RunningStack(given_kafka, given_redis, None)
    stack_dir = Path(tempfile.mkdtemp(prefix="cxstream-test-stack-"))
    env = {
        **os.environ,
        "CX_STACK_DIR": str(stack_dir),
        "KAFKA_PORT": "auto",
        "REDIS_PORT": "auto",
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(ROOT / "ops" / "stack.sh"), "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        stop_stack(RunningStack("", "", stack_dir))
        raise RuntimeError(
            "The local Kafka/Redis stack did not start (integration tests need it; "
            f"run ops/setup.sh first).\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    values = _parse_env(result.stdout)
    return RunningStack(values["KAFKA_BOOTSTRAP_SERVERS"], values["REDIS_URL"], stack_dir)


def stop_stack(stack: RunningStack) -> None:
    if stack.stack_dir is None:
        return
    subprocess.run(
        ["bash", str(ROOT / "ops" / "stack.sh"), "down"],
        env={**os.environ, "CX_STACK_DIR": str(stack.stack_dir), "PYTHON": sys.executable},
        capture_output=True,
        timeout=120,
    )
