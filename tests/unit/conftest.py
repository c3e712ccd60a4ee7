"""Fixtures shared across the unit tests' folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.compiled_model import ENV

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def compiled() -> dict[str, str]:
    """A compiled build current with the source (rebuilt here only if the model changed since
    setup); the environment that requires it. Skips only where no C compiler exists."""
    built = subprocess.run(
        [sys.executable, "ops/build_compiled.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    if "no C compiler" in built.stdout:
        pytest.skip("no C compiler on this machine: only the pure-Python model exists here")
    return {ENV: "1"}
