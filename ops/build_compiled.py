"""Compile the model and the pure code it runs per event with mypyc, optionally.

``streams/model/*.py``, ``streams/domain.py``, the buy-till-you-die maths it calls for every
snapshot and deadline (``streams/btyd``) and the event-folding glue the worker calls
(``streams/processing.py``, ``streams/loop_processing.py``, ``streams/alert_loop.py``).

    python ops/build_compiled.py [--force] [--out DIR]

The same source is compiled, never a second implementation: the build goes to
``<venv>/cxstream-compiled`` (outside the source tree, so importing ``streams`` anywhere else
still gets the Python source) with a manifest of each source's SHA-256. The ``cxstream``
command uses it while it matches the source, and a ``.pth`` hook lets ``CX_COMPILED_MODEL=1``
(or ``auto``) load it in any program (see streams/compiled_model.py). Exits 0
without building when there is no C compiler (the pure-Python model is then the only one),
and does nothing when the current build already matches the source.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.compiled_model import (  # noqa: E402 - needs ROOT on the path when run as a script
    ENV,
    MANIFEST,
    build_dir,
    source_digest,
    stale_sources,
)

HOOK = "cxstream_compiled.pth"
HOOK_LINE = f'import os; os.environ.get("{ENV}") and __import__("streams.compiled_model")\n'
SETUP = """
import sys
from setuptools import setup
from mypyc.build import mypycify
target, lib, temp, *modules = sys.argv[1:]
setup(
    name="cxstream-compiled-model",
    ext_modules=mypycify(modules, opt_level="3", target_dir=target),
    script_args=["build_ext", "--build-lib", lib, "--build-temp", temp, "-j", "2"],
)
"""


PACKAGES = ("streams/model", "streams/btyd")  # every module; each ``__init__`` stays Python
MODULES = (
    "streams/domain.py",
    "streams/processing.py",
    "streams/loop_processing.py",
    "streams/alert_loop.py",
)


def model_sources() -> list[str]:
    """What the worker runs per event between decoding and encoding: the model packages
    (the maths alone was a tenth of the model's time left in Python) plus the fold's glue."""
    found = sorted(
        p for pkg in PACKAGES for p in (ROOT / pkg).glob("*.py") if p.name != "__init__.py"
    )
    return [str(p.relative_to(ROOT)) for p in found] + list(MODULES)


def compiler() -> str | None:
    name = str(sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(name) or shutil.which("cc") or shutil.which("gcc")


def current(out: Path, sources: list[str]) -> bool:
    path = out / MANIFEST
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    return (
        manifest.get("python") == sys.implementation.cache_tag
        and sorted(manifest.get("sources", {})) == sorted(sources)
        and not stale_sources(manifest, ROOT)
    )


def build(out: Path, sources: list[str]) -> None:
    """Compile into a scratch directory, then swap it in whole (never a half-built tree)."""
    with tempfile.TemporaryDirectory(prefix="cxmypyc-") as scratch:
        work = Path(scratch)
        lib = work / "lib"
        subprocess.run(
            [sys.executable, "-c", SETUP, str(work / "c"), str(lib), str(work / "tmp"), *sources],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        modules = {}
        for so in lib.rglob(f"*{suffix}"):
            rel = so.relative_to(lib)
            dotted = str(rel)[: -len(suffix)].replace("/", ".")
            modules[dotted] = str(rel)
        manifest = {
            "python": sys.implementation.cache_tag,
            "modules": modules,
            "sources": {rel: source_digest(ROOT / rel) for rel in sources},
        }
        (lib / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(lib), str(out))


def install_hook() -> Path:
    """The start-up hook in this interpreter's site-packages (idempotent)."""
    target = Path(sysconfig.get_paths()["purelib"]) / HOOK
    if not target.exists() or target.read_text() != HOOK_LINE:
        target.write_text(HOOK_LINE)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when current")
    parser.add_argument("--out", type=Path, default=None, help="default: <venv>/cxstream-compiled")
    args = parser.parse_args(argv)
    out = args.out or build_dir()
    if compiler() is None:
        print("no C compiler: the model stays pure Python (install gcc to compile it)")
        return 0
    sources = model_sources()
    hook = install_hook()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs build once, never half-swap
        if not args.force and current(out, sources):
            print(f"compiled model at {out} is current")
            return 0
        started = time.perf_counter()
        try:
            build(out, sources)
        except subprocess.CalledProcessError as exc:  # pure Python keeps working; say why
            print(f"mypyc build failed ({exc}): the model stays pure Python", file=sys.stderr)
            return 1
    print(
        f"compiled {len(sources)} model modules into {out} in "
        f"{time.perf_counter() - started:.0f} s (the cxstream command uses it; for other "
        f"programs: {ENV}=1, through the hook {hook})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
