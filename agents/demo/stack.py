"""The demo's processes: the local stack (``ops/stack.sh``), one worker, and signals.

Both run in their own sessions (``start_new_session``), so a Ctrl-C in the terminal reaches
only the demo, which then stops them in order: the worker first (SIGTERM, SIGKILL after a
grace period), then the stack if the demo started it. The worker also gets SIGTERM from the
kernel if the demo itself dies (``PR_SET_PDEATHSIG``), so even ``kill -9`` of the demo leaves
no worker behind.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from agents.cli.commands.worker_argv import worker_argv
from agents.settings import KafkaSettings, Settings, WorkerOptions
from streams.errors import StackError

ROOT = Path(__file__).resolve().parents[2]
STACK_SH = ROOT / "ops" / "stack.sh"
DEFAULT_KAFKA_PORT, DEFAULT_REDIS_PORT = 9092, 6379
PR_SET_PDEATHSIG = 1


def stack_dir() -> Path:
    """Where ``ops/stack.sh`` keeps state (``CX_STACK_DIR``); the demo's worker lives below it."""
    return Path(os.environ.get("CX_STACK_DIR") or ROOT / ".stack")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int = 0) -> int:
    """``preferred`` when nothing listens there, else (or with no preference) any free port."""
    if preferred and port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    """Whether the worker at ``url`` answers ``/healthz`` with 200 (503 until it has partitions)."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stack_env() -> dict[str, str]:
    env = {**os.environ, "PYTHON": sys.executable, "CX_STACK_DIR": str(stack_dir())}
    for name, default in (("KAFKA_PORT", DEFAULT_KAFKA_PORT), ("REDIS_PORT", DEFAULT_REDIS_PORT)):
        if not os.environ.get(name):  # the default port, or any free one if it is taken
            env[name] = str(default) if port_free(default) else "auto"
    return env


def _stack(command: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ops/stack.sh command``; its ``[stack]`` progress lines go to our stderr."""
    return subprocess.run(
        ["bash", str(STACK_SH), command],
        env=_stack_env(),
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
        timeout=900,  # the first run resolves the Kafka jars from Maven Central
        start_new_session=True,
        check=False,
    )


def _parse_env(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


@dataclass
class LocalStack:
    """The local Kafka + Redis; ``owned`` when this demo started it and so must stop it."""

    kafka_bootstrap: str = ""
    redis_url: str = ""
    owned: bool = False

    def up(self) -> LocalStack:
        """Reuse a running stack as it is, or start one (``owned``, set before it can fail)."""
        status = _stack("status")
        self.owned = "running" not in status.stdout
        if status.returncode != 0:  # up is idempotent: it starts whichever part is missing
            result = _stack("up")
            if result.returncode != 0:
                raise StackError("ops/stack.sh up failed (see above); run ops/setup.sh first")
        values = _parse_env(_stack("env").stdout)
        self.kafka_bootstrap = values["KAFKA_BOOTSTRAP_SERVERS"]
        self.redis_url = values["REDIS_URL"]
        return self

    def down(self) -> None:
        if self.owned:
            _stack("down", capture=False)


def _load_prctl() -> Any:
    """libc's ``prctl``, resolved here: the forked child must not load libraries itself."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: Ctrl-C handling still stops the worker
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo process dies, however it dies."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class WorkerProcess:
    """One ``cxstream worker`` subprocess with its web port, data directory and log."""

    kafka: KafkaSettings
    redis_url: str
    prefix: str
    data_dir: Path
    web_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_suffix(".log")

    @property
    def api_token_file(self) -> Path:
        """The API bearer token the demo generates for its worker (owner-only file)."""
        return self.data_dir.with_suffix(".api-token")

    def argv(self) -> list[str]:
        """Replaying simulated history: stream time follows event time, never the wall clock."""
        options = WorkerOptions(
            settings=Settings(kafka=self.kafka, redis_url=self.redis_url, topic_prefix=self.prefix),
            app_id=f"cxstream-{self.prefix.rstrip('.')}",
            data_dir=self.data_dir,
            web_port=self.web_port,
            idle_wall_clock_after=None,
        )
        return worker_argv(options, log_level="warning", api_token_file=self.api_token_file)

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.api_token_file.exists():
            self.api_token_file.touch(mode=0o600)
            self.api_token_file.write_text(secrets.token_hex(32) + "\n")
        env = dict(os.environ)
        if self.kafka.sasl_password:  # never on the command line, where ps shows it
            env["KAFKA_SASL_PASSWORD"] = self.kafka.sasl_password
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=ROOT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout: float, stop: threading.Event) -> None:
        """Until ``/healthz`` says 200: it answers 503 until the partitions are assigned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop.is_set():
            if not self.alive():
                raise StackError(f"the worker exited during start-up:\n{self.log_tail()}")
            if healthy(self.url):
                return
            stop.wait(0.3)
        if not stop.is_set():
            raise StackError(f"the worker was not ready after {timeout:g}s:\n{self.log_tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM lets Faust commit offsets and close RocksDB; SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (KeyboardInterrupt), so it cleans up too.

    Ctrl-C's handler is set explicitly: a demo started from a background job inherits an
    ignored SIGINT, and Python then installs none, so Ctrl-C (or ``kill -INT``) did nothing.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, interrupt)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


@contextmanager
def signals_deferred(say: Callable[[str], None]) -> Iterator[None]:
    """While stopping, a second Ctrl-C must not abandon the worker or the stack half-way."""

    def patience(signum: int, frame: FrameType | None) -> None:
        say("still stopping: the worker gets SIGKILL if it takes longer than 20 s")

    previous = {s: signal.signal(s, patience) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def silence_stdout() -> None:
    """Send further output to /dev/null: the reader has gone, the clean-up must still run."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
