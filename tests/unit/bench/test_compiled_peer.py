"""The compiled-model peer row: the launcher serves the build or refuses, and the table says so."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

from bench.report import markdown
from streams.compiled_model import DIR_ENV, ENV

ROOT = Path(__file__).resolve().parents[3]
PROBE = "import sys, streams.compiled_model as c; print('RAN', c.in_use(), *sys.argv[1:])\n"


def launch(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "probe_module.py").write_text(PROBE)
    base = {k: v for k, v in os.environ.items() if k != ENV}
    path = os.pathsep.join([str(tmp_path), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "bench.compiled_launch", "probe_module", "a", "b"],
        cwd=ROOT,
        env={**base, "PYTHONPATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_usable_build_the_module_does_not_run(tmp_path: Path) -> None:
    result = launch(tmp_path, **{DIR_ENV: str(tmp_path / "no-build")})
    assert result.returncode == 3
    assert "COMPILED_MODEL False" in result.stdout and "RAN" not in result.stdout


def test_with_the_build_the_module_runs_on_it_with_its_arguments(
    compiled: dict[str, str], tmp_path: Path
) -> None:
    result = launch(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["COMPILED_MODEL", "True", "RAN", "True", "a", "b"]


def test_empty_compiled_rows_read_n_a_not_nan() -> None:
    keys = set(re.findall(r"f\[['\"](\w+)['\"]\]", (ROOT / "bench" / "report.py").read_text()))
    figures = dict.fromkeys(keys, 1_000.0)
    figures["quix_compiled_eps"] = figures["compiled_eps"] = math.nan  # no build
    table = markdown(figures, "python -m bench.pipeline")
    assert "| cxstream worker with the mypyc-compiled model | n/a |" in table
    assert "| Quix Streams + the same mypyc-compiled model | n/a |" in table
    assert "| ratio compiled worker ÷ Quix Streams with the compiled model | n/a |" in table
    assert "nan" not in table
