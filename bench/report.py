"""bench.pipeline's compiled-model rows and its Markdown table."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.loads import group_rate
from streams.compiled_model import ENV, build_dir
from streams.topics import Topics
from tests.e2e.harness import Worker

ROOT = Path(__file__).resolve().parent.parent


def compiled_available() -> bool:
    probe = "import streams.compiled_model as c; print(c.in_use())"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, ENV: "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip() == "True"


def catch_up(worker: Worker, expected: int) -> float:
    """Events/s of ``worker`` (a fresh group) over the backlog (``loads.sustained_rate``)."""
    return group_rate([worker], expected)


def compiled_catch_up(bootstrap: str, topics: Topics, scratch: Path, expected: int) -> float:
    """The worker's catch-up with the compiled model (NaN when there is no current build)."""
    if not compiled_available():
        print(f"no current compiled model in {build_dir()}: row left empty", file=sys.stderr)
        return math.nan
    worker = Worker(bootstrap, topics, f"{topics.prefix}compiled", scratch / "wc")
    before = os.environ.get(ENV)
    os.environ[ENV] = "1"  # the harness passes its environment to the worker
    try:
        return catch_up(worker, expected)
    finally:
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


def model_speeds(customers: int) -> dict[str, float]:
    """µs per event in process (bench.model_speed), pure then compiled (NaN without a build)."""
    out: dict[str, float] = {}
    for name, mode in (("pure", "0"), ("compiled", "1")):
        result = subprocess.run(
            [sys.executable, "-m", "bench.model_speed", "--customers", str(customers)],
            cwd=ROOT,
            env={**os.environ, ENV: mode},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        values = dict(line.split(None, 1) for line in result.stdout.splitlines() if " " in line)
        ok = result.returncode == 0 and values.get("COMPILED") == str(mode == "1")
        out[f"{name}_model_us"] = float(values["MODEL_US"]) if ok else math.nan
        out[f"{name}_path_us"] = float(values["PATH_US"]) if ok else math.nan
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and not (math.isnan(a) or math.isnan(b)) else "n/a"


def _eps(rate: float) -> str:
    return "n/a" if math.isnan(rate) else f"{rate:,.0f} events/s"


def markdown(figures: dict[str, float], command: str) -> str:
    f = figures
    rows = [
        ("events in the backlog", f"{f['events']:,.0f} ({f['customers']:,.0f} customers)"),
        ("bare confluent-kafka consume→produce loop", f"{f['bare_eps']:,.0f} events/s"),
        ("Faust agent that only counts (framework ceiling)", f"{f['faust_eps']:,.0f} events/s"),
        (
            "Faust agent that only counts, with the worker's Faust overrides",
            f"{f['faust_fast_eps']:,.0f} events/s",
        ),
        ("plain confluent-kafka loop + same model, dict state", f"{f['plain_eps']:,.0f} events/s"),
        (
            "Quix Streams + same model (RocksDB state, changelog, timestamp-aligned topics)",
            f"{f['quix_eps']:,.0f} events/s",
        ),
        ("**cxstream worker**, sustained (catch-up)", f"**{f['cxstream_eps']:,.0f} events/s**"),
        ("cxstream worker with the mypyc-compiled model", _eps(f["compiled_eps"])),
        ("Quix Streams + the same mypyc-compiled model", _eps(f["quix_compiled_eps"])),
        (
            "cxstream worker with Faust unchanged (`--no-faust-fast-path`)",
            f"{f['stock_eps']:,.0f} events/s",
        ),
        (
            "cxstream worker folding in its own process (`--no-fold-process`)",
            _eps(f["in_process_eps"]),
        ),
        (
            "cxstream worker not folding ahead (`--no-fold-ahead`)",
            _eps(f["not_ahead_eps"]),
        ),
        (
            "cxstream worker with states to the changelog via Faust (`--no-fast-changelog`)",
            _eps(f["faust_changelog_eps"]),
        ),
        ("ratio cxstream ÷ Quix Streams", _ratio(f["cxstream_eps"], f["quix_eps"])),
        ("ratio cxstream ÷ bare", _ratio(f["cxstream_eps"], f["bare_eps"])),
        ("ratio Faust-only ÷ bare", _ratio(f["faust_eps"], f["bare_eps"])),
        ("ratio Faust-only with the overrides ÷ bare", _ratio(f["faust_fast_eps"], f["bare_eps"])),
        ("ratio worker with ÷ without the overrides", _ratio(f["cxstream_eps"], f["stock_eps"])),
        (
            "ratio worker with ÷ without the fold process",
            _ratio(f["cxstream_eps"], f["in_process_eps"]),
        ),
        (
            "ratio worker with ÷ without folding ahead",
            _ratio(f["cxstream_eps"], f["not_ahead_eps"]),
        ),
        (
            "ratio worker with ÷ without the librdkafka changelog writer",
            _ratio(f["cxstream_eps"], f["faust_changelog_eps"]),
        ),
        ("ratio compiled ÷ pure worker", _ratio(f["compiled_eps"], f["cxstream_eps"])),
        (
            "ratio compiled worker ÷ Quix Streams with the compiled model",
            _ratio(f["compiled_eps"], f["quix_compiled_eps"]),
        ),
        (
            "two workers in one group (one per core, same broker)",
            f"{f['two_workers_eps']:,.0f} events/s ({_ratio(f['two_workers_eps'], f['bare_eps'])}"
            " of bare)",
        ),
        ("offered rate for latency", f"{f['offered_rate']:,.0f} events/s"),
        ("produce → health snapshot, p50 / p99", f"{f['p50_ms']:.0f} ms / {f['p99_ms']:.0f} ms"),
        (
            f"produce → alert, p50 / p99 ({f['alerts_measured']:.0f} alerts)",
            f"{f['alert_p50_ms']:.0f} ms / {f['alert_p99_ms']:.0f} ms",
        ),
        (
            f"… in the {f['memory_customers']:,.0f}-customer wave's wake (the 10 s right after it):"
            " snapshot, alert",
            f"{f['burst_p50_ms']:.0f} / {f['burst_p99_ms']:.0f} ms, "
            f"{f['burst_alert_p50_ms']:.0f} / {f['burst_alert_p99_ms']:.0f} ms",
        ),
        (
            "… with `--max-task-idle 0.05 --batch-within 0.005`: snapshot, alert",
            f"{f['low_p50_ms']:.0f} / {f['low_p99_ms']:.0f} ms, "
            f"{f['low_alert_p50_ms']:.0f} / {f['low_alert_p99_ms']:.0f} ms",
        ),
        (
            "worker RSS at start / after the backlog",
            f"{f['rss_start_mb']:,.0f} MB / {f['rss_loaded_mb']:,.0f} MB",
        ),
        (
            f"RSS per million customers (slope, 2nd half of {f['memory_customers']:,.0f} new)",
            f"{f['rss_per_million_mb']:,.0f} MB",
        ),
    ]
    if "restore_customers" in f:
        per = f["restore_rss_mb"] * 2**20 / f["restore_customers"]
        net = (f["restore_rss_mb"] - f["rss_start_mb"]) * 2**20 / f["restore_customers"]
        rows += [
            (
                f"changelog restore of {f['restore_customers']:,.0f} customers "
                f"({f['restore_value_bytes']:,.0f} B per envelope): launch → /healthz ready",
                f"{f['restore_ready_s']:.0f} s",
            ),
            (
                "… → deadline index rebuilt from the restored table (slowest /healthz meanwhile)",
                f"{f['restore_index_s']:.0f} s ({f['restore_index_slowest_health_s']:.2f} s)",
            ),
            (
                "worker RSS after the restore, per customer (total / above an empty worker)",
                f"{f['restore_rss_mb']:,.0f} MB: {per:,.0f} B / {net:,.0f} B",
            ),
        ]
    rows += [
        (
            "model in process, µs per event: fold + snapshot + deadline, pure / compiled",
            f"{f['pure_model_us']:.0f} / {f['compiled_model_us']:.0f} "
            f"({_ratio(f['pure_model_us'], f['compiled_model_us'])} times faster)",
        ),
        (
            "… with decode and output encoding, pure / compiled",
            f"{f['pure_path_us']:.0f} / {f['compiled_path_us']:.0f} "
            f"({_ratio(f['pure_path_us'], f['compiled_path_us'])} times faster)",
        ),
    ]
    head = [
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; Kafka 4.1 (local KRaft), one worker.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    return "\n".join(head + [f"| {name} | {value} |" for name, value in rows])
