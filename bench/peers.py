"""Run the Quix Streams peer (bench.quix_pipeline) in the bench virtualenv, or say how to get it.

Quix Streams 3.28.1 requires confluent-kafka<2.13 and cxstream pins 2.16.1, so it cannot share
``.venv``: it lives in ``.venv-bench`` (``CX_BENCH_PYTHON`` names another interpreter). The
benchmark installs nothing itself; a missing peer stops it before any measurement, naming the
command that installs it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

from streams.compiled_model import DIR_ENV, ENV

ROOT = Path(__file__).resolve().parent.parent
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
INSTALL = (
    "python3 -m venv .venv-bench && "
    ".venv-bench/bin/pip install -c bench/constraints.txt -e '.[bench]'"
)


class PeerMissing(RuntimeError):
    """The Quix Streams peer cannot run here (message: why and the install command)."""


def quix_python() -> str:
    """The interpreter that has Quix Streams and cxstream's model; raises PeerMissing if none."""
    chosen = os.environ.get("CX_BENCH_PYTHON") or str(BENCH_PYTHON)
    if not Path(chosen).exists():
        raise PeerMissing(
            f"the Quix Streams peer needs the bench extra, in its own virtualenv ({chosen} is "
            f"missing; Quix Streams needs confluent-kafka<2.13, cxstream pins 2.16.1). "
            f"Install it from {ROOT} with: {INSTALL}"
        )
    probe = subprocess.run(
        [chosen, "-c", "import quixstreams, streams.model; print(quixstreams.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        raise PeerMissing(
            f"{chosen} cannot import quixstreams and cxstream ({probe.stderr.strip()[-300:]}). "
            f"Install the bench extra from {ROOT} with: {INSTALL}"
        )
    return chosen


def quix_rate(
    python: str,
    bootstrap: str,
    prefix: str,
    expected: int,
    state_dir: Path,
    compiled_dir: Path | None = None,
) -> float:
    """Events/s of the Quix Streams pipeline over the backlog (a fresh group and state).

    With ``compiled_dir`` it runs on that compiled build of the model (bench.compiled_launch),
    and is NaN, saying why, when the build cannot serve the bench virtualenv's Python.
    """
    args = [bootstrap, prefix, str(expected), str(state_dir)]
    env = dict(os.environ)
    env.pop(ENV, None)  # the launcher installs the build itself; the Python source otherwise
    if compiled_dir is None:
        command = [python, "-m", "bench.quix_pipeline", *args]
    else:
        command = [python, "-m", "bench.compiled_launch", "bench.quix_pipeline", *args]
        env[DIR_ENV] = str(compiled_dir)
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    output = result.stdout + result.stderr
    if compiled_dir is not None and "COMPILED_MODEL True" not in output:
        why = output.strip()[-500:]
        print(f"Quix Streams on the compiled model: row left empty ({why})", file=sys.stderr)
        return math.nan
    for line in output.splitlines():
        if line.startswith("QUIX_RATE"):
            return float(line.split()[1])
    raise RuntimeError(f"Quix Streams pipeline failed: {output[-3000:]}")


if __name__ == "__main__":  # python -m bench.peers: is the Quix peer ready?
    try:
        print(quix_python())
    except PeerMissing as exc:
        sys.exit(str(exc))
