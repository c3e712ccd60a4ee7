"""Load the mypyc-compiled build of the model instead of its Python source, when asked to.

``ops/build_compiled.py`` compiles ``streams/model``, ``streams/btyd``, ``streams/domain.py``
and the fold's glue (the same source, no second implementation) into
``<venv>/cxstream-compiled`` and installs a ``.pth`` hook that imports this module at
interpreter start-up when ``CX_COMPILED_MODEL`` is set:

- ``CX_COMPILED_MODEL=1``: use the compiled modules; refuse to start (ImportError naming the
  fix) when the build is missing or was built from different source;
- ``CX_COMPILED_MODEL=auto``: use them when a current build exists, else the Python source;
- ``CX_COMPILED_MODEL=0``: the Python source;
- unset: the ``cxstream`` command (worker, replay, backtest, fit...) uses a current build when
  there is one (:func:`prefer_build`), like ``auto`` but silent when nothing was ever built
  (no C compiler at setup, the Docker image); any other program, a test run included, gets the
  Python source.

The check compares each module's SHA-256 with the one recorded at build time, so an edited
model is never silently served by a stale build. Stdlib only: this runs before anything else.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ENV = "CX_COMPILED_MODEL"
DIR_ENV = "CX_COMPILED_DIR"
MANIFEST = "manifest.json"
SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the directory holding ``streams/``
#: Settings of ``CX_COMPILED_MODEL`` that ask for the Python source.
OFF = ("0", "no", "false", "off")
#: The modules the build must be installed before (they import the rest of the model).
MODEL_ROOTS = ("streams.domain", "streams.model")
REBUILD = "python ops/build_compiled.py (ops/setup.sh runs it when a C compiler is present)"


class CompiledModelError(ImportError):
    """The compiled model was required (``CX_COMPILED_MODEL=1``) but cannot be used."""


def build_dir() -> Path:
    """Where the build lives: ``$CX_COMPILED_DIR``, else ``cxstream-compiled`` in the venv."""
    return Path(os.environ.get(DIR_ENV) or Path(sys.prefix) / "cxstream-compiled")


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stale_sources(manifest: dict[str, object], root: Path = SOURCE_ROOT) -> list[str]:
    """Sources whose content differs from what the build was compiled from (or that vanished)."""
    sources = manifest.get("sources")
    if not isinstance(sources, dict):
        return ["<manifest without sources>"]
    stale = []
    for rel, digest in sources.items():
        path = root / rel
        if not path.is_file() or source_digest(path) != digest:
            stale.append(rel)
    return sorted(stale)


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Serves the compiled extension for each module the build holds; defers the rest.

    With ``refusal`` set (the build was required but cannot be used), importing any model
    module raises it instead: a ``.pth`` hook cannot stop the interpreter, but this stops
    every program that would otherwise run the model it did not ask for.
    """

    def __init__(self, modules: dict[str, Path], refusal: str = "") -> None:
        self.modules = modules
        self.refusal = refusal

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if self.refusal and (fullname == "streams.domain" or fullname.startswith("streams.model")):
            raise CompiledModelError(self.refusal)
        so = self.modules.get(fullname)
        if so is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, so, loader=loader)


def _problem(base: Path) -> tuple[str, dict[str, Path]]:
    """(why the build cannot be used or "", module name -> extension path)."""
    manifest_path = base / MANIFEST
    if not manifest_path.is_file():
        return f"no compiled model at {base}: build it with {REBUILD}", {}
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("python") != sys.implementation.cache_tag:
        return (
            f"the compiled model at {base} was built for {manifest.get('python')}, "
            f"this is {sys.implementation.cache_tag}: rebuild it with {REBUILD}"
        ), {}
    stale = stale_sources(manifest)
    if stale:
        return (
            f"the compiled model at {base} was built from other source ({', '.join(stale)} "
            f"changed since): rebuild it with {REBUILD}"
        ), {}
    modules = {name: base / rel for name, rel in manifest["modules"].items()}
    return "", modules


def install(mode: str | None = None) -> bool:
    """Put the compiled modules ahead of the source per ``mode`` (default ``$CX_COMPILED_MODEL``).

    Returns whether they are in use. Must run before ``streams.domain`` or ``streams.model``
    is first imported (the ``.pth`` hook runs it at start-up). When the build is required but
    unusable, importing the model raises :class:`CompiledModelError` saying why.
    """
    mode = (os.environ.get(ENV, "") if mode is None else mode).strip().lower()
    if mode in ("", *OFF):
        return False
    problem, modules = "", dict[str, Path]()
    if mode not in ("1", "yes", "true", "on", "auto"):
        problem = f"{mode!r} is not a setting: use 1 (require), auto or 0 (pure Python)"
    else:
        problem, modules = _problem(build_dir())
    already = [m for m in MODEL_ROOTS if m in sys.modules]
    if not problem and already:
        problem = f"{', '.join(already)} imported before the compiled model was installed"
    if problem and mode == "auto":
        warnings.warn(f"pure-Python model in use: {problem}", RuntimeWarning, stacklevel=2)
        return False
    if not any(isinstance(f, _CompiledFinder) for f in sys.meta_path):
        refusal = f"{ENV}={mode}: {problem}" if problem else ""
        sys.meta_path.insert(0, _CompiledFinder(modules, refusal))
    return not problem


def prefer_build() -> bool:
    """The ``cxstream`` command's default: the build when current; returns whether it installed
    it.

    Does nothing when ``CX_COMPILED_MODEL`` is set (the start-up hook applied it) or when the
    model is already imported (an in-process caller, such as a test, chose it). A build that
    exists but is stale or for another Python is skipped with ``auto``'s warning, naming the
    rebuild; no build at all is skipped silently.
    """
    if os.environ.get(ENV, "").strip() or any(m in sys.modules for m in MODEL_ROOTS):
        return False
    if not (build_dir() / MANIFEST).is_file():
        return False
    return install("auto")


def build_problem() -> str:
    """Why the build cannot serve the model (missing, stale, another Python), or "" if it can."""
    return _problem(build_dir())[0]


def in_use() -> bool:
    """True when the model's modules were loaded from the compiled build."""
    import streams.model.core as core

    return not str(core.__file__).endswith(".py")


if os.environ.get(ENV):  # imported by the .pth hook at start-up
    install()
