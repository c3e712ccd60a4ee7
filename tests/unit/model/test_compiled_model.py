"""The mypyc-compiled model gives exactly what the Python source gives.

ops/setup.sh compiles the model (``streams/model``, ``streams/btyd``, ``streams/domain.py`` and
the fold's glue) when a C compiler is present
(ops/build_compiled.py); ``CX_COMPILED_MODEL=1`` loads that build. Here the golden-equivalence
and property tests run again in a fresh interpreter with the compiled modules (the normal run
of the same files covers the Python source), after checking the build is really the one in use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from streams.compiled_model import ENV, MANIFEST, build_dir

ROOT = Path(__file__).resolve().parents[3]
MODEL_TESTS = [  # the golden digests and every hypothesis property of the model
    "tests/unit/model/test_golden_equivalence.py",
    "tests/unit/model/test_properties.py",
    "tests/unit/model/test_budget.py",
    "tests/unit/model/test_loop.py",
    "tests/unit/model/test_positional.py",  # the fast constructors on the compiled classes
    "tests/unit/btyd/test_nbd.py",  # the buy-till-you-die maths against published figures
    "tests/unit/agents/worker/test_fold_process.py",  # compiled classes cross to the child
    "tests/unit/agents/worker/test_fold_ahead.py",
]


def _run(args: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    """``args`` in a fresh interpreter, with ``CX_COMPILED_MODEL`` only if ``env`` sets it."""
    inherited = {k: v for k, v in os.environ.items() if k != ENV}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_compiled_modules_are_the_ones_loaded(compiled: dict[str, str]) -> None:
    probe = (
        "import streams.compiled_model as c, streams.domain, streams.model.core,"
        " streams.btyd.nbd, streams.loop_processing;"
        "print(c.in_use(), streams.domain.__file__, streams.model.core.__file__,"
        " streams.btyd.nbd.__file__, streams.loop_processing.__file__)"
    )
    result = _run(["-c", probe], timeout=60, **compiled)
    assert result.returncode == 0, result.stderr
    in_use, *files = result.stdout.split()
    assert in_use == "True"
    for file in files:  # the domain, the model, its maths and the fold's glue
        assert file.startswith(str(build_dir())) and not file.endswith(".py"), file


def test_golden_and_property_tests_pass_on_the_compiled_model(compiled: dict[str, str]) -> None:
    result = _run(["-m", "pytest", "-q", "-p", "no:cacheprovider", *MODEL_TESTS], 300, **compiled)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_a_stale_or_missing_build_is_refused_naming_the_fix(
    compiled: dict[str, str], tmp_path: Path
) -> None:
    """An edited model is never served by the build of its old source."""
    manifest = json.loads((build_dir() / MANIFEST).read_text())
    manifest["sources"]["streams/domain.py"] = "0" * 64  # as if domain.py changed since
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    stale = _run(["-c", "import streams.model"], 60, CX_COMPILED_DIR=str(tmp_path), **compiled)
    assert stale.returncode != 0
    assert "streams/domain.py changed since" in stale.stderr
    assert "ops/build_compiled.py" in stale.stderr
    missing = _run(
        ["-c", "import streams.model"], 60, CX_COMPILED_DIR=str(tmp_path / "x"), **compiled
    )
    assert missing.returncode != 0 and "no compiled model" in missing.stderr
    fallback = _run(
        ["-c", "import streams.compiled_model as c; print(c.in_use())"],
        60,
        CX_COMPILED_DIR=str(tmp_path),
        **{ENV: "auto"},
    )
    assert fallback.stdout.split() == ["False"]  # auto: the Python source, with a warning
    assert "pure-Python model in use" in fallback.stderr


def test_the_cxstream_command_prefers_a_current_build_and_is_quiet_without_one(
    compiled: dict[str, str], tmp_path: Path
) -> None:
    """Unset, the command uses the build setup made; no build means the source, silently."""
    probe = "import streams.compiled_model as c; c.prefer_build(); print(c.in_use())"

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return _run(["-c", probe], 60, **env)

    current = run()
    assert current.stdout.split() == ["True"], current.stderr
    never_built = run(CX_COMPILED_DIR=str(tmp_path / "none"))
    assert never_built.stdout.split() == ["False"] and not never_built.stderr
    manifest = json.loads((build_dir() / MANIFEST).read_text())
    manifest["sources"]["streams/model/core.py"] = "0" * 64  # as if core.py changed since
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    stale = run(CX_COMPILED_DIR=str(tmp_path))
    assert stale.stdout.split() == ["False"]
    assert "streams/model/core.py changed since" in stale.stderr  # the rebuild is named
    assert run(**{ENV: "0"}).stdout.split() == ["False"]  # an explicit choice wins


def test_the_command_entry_point_applies_it_before_any_model_import(
    compiled: dict[str, str],
) -> None:
    """``cxstream`` imports nothing of the model before ``main`` chooses the build (its command
    modules, which ``--version`` loads to build the parser, import the model)."""
    probe = (
        "import sys, agents.cli.main as m; "
        "assert 'streams.domain' not in sys.modules and 'streams.model' not in sys.modules\n"
        "try: m.main(['--version'])\nexcept SystemExit: pass\n"
        "import streams.compiled_model as c; print(c.in_use())"
    )
    result = _run(["-c", probe], 60)
    assert result.stdout.split()[-1] == "True", result.stdout + result.stderr  # after --version
