"""A worker's resident memory, its child processes included (bench rows of issue 12)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from tests.e2e.harness import Worker


def rss_bytes(worker: Worker) -> int:
    """The worker's resident memory with its child processes' (the fold process and
    multiprocessing's resource tracker)."""
    assert worker.process is not None
    return sum(_rss(pid) for pid in _with_children(worker.process.pid))


def _with_children(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids += [int(child) for child in task.read_text().split()]
    return pids


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # exited meanwhile
        return 0
    return 0
