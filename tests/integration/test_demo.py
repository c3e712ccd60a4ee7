"""``cxstream demo`` against the real stack: it shows the system working and leaves nothing behind.

The demo runs as a subprocess, as ``make demo`` runs it, with ``--bootstrap-servers`` so it uses
the test stack instead of starting its own, and ``--plain`` so its output can be read line by
line. Its worker's data directory goes under a temporary ``CX_STACK_DIR``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from agents.demo.feeds import Picture, RiskRow, parse_metrics
from agents.demo.live_view import Where, render
from agents.demo.stack import free_port
from streams.domain import Alert, AlertAction, AlertType, Priority, Reason

pytestmark = pytest.mark.integration

ALERT_LINE = re.compile(
    r"^alert (opened|updated|resolved) +(churn_risk|referral_opportunity) .+ — \w"
)


class Demo:
    """A ``cxstream demo --plain`` subprocess whose output is collected as it comes."""

    def __init__(self, kafka: str, redis_url: str, prefix: str, tmp: Path, *extra: str) -> None:
        argv = [sys.executable, "-m", "agents.cli", "demo", "--plain"]
        argv += ["--bootstrap-servers", kafka, "--redis-url", redis_url, "--topic-prefix", prefix]
        argv += ["--customers", "100", "--rate", "400", "--web-port", str(free_port())]
        argv += extra
        env = {**os.environ, "CX_STACK_DIR": str(tmp)}
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if any(re.search(pattern, line) for line in self.lines):
                return
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r}:\n{self.output}")

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout:g}s later:\n{self.output}") from None
        self._reader.join(5)
        return code

    def close(self) -> None:
        """After a failed assertion: stop the demo (and so its worker) anyway."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def start_demo(
    kafka_bootstrap: str, redis_url: str, unique_prefix: str, tmp_path: Path
) -> Iterator[Callable[..., Demo]]:
    started: list[Demo] = []

    def start(*extra: str) -> Demo:
        started.append(Demo(kafka_bootstrap, redis_url, unique_prefix, tmp_path, *extra))
        return started[-1]

    yield start
    for demo in started:
        demo.close()


def workers_with(prefix: str) -> list[str]:
    """Command lines of live ``cxstream worker`` processes using ``prefix``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended while we looked
        text = " ".join(a.decode(errors="replace") for a in args)
        if "agents.cli" in text and " worker " in f"{text} " and prefix in text:
            found.append(text)
    return found


def test_demo_shows_events_alerts_and_stages_then_stops_its_worker(
    start_demo: Callable[..., Demo], unique_prefix: str
) -> None:
    demo = start_demo("--duration", "20")
    assert demo.finish(timeout=120) == 0, demo.output
    out = demo.output
    processed = [int(n) for n in re.findall(r"processed (\d+) \(", out)]
    assert processed and max(processed) > 0, out
    assert any(ALERT_LINE.match(line) for line in demo.lines), out
    stages = re.findall(r"stages new=\d+ onboarding=\d+ active=(\d+)", out)
    assert stages and int(stages[-1]) > 0, out
    assert re.search(r"cxstream demo ran \d+:\d\d: [\d,]+ events produced", out), out
    assert f"--topic-prefix {unique_prefix}" in out  # where to look next
    assert workers_with(unique_prefix) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_demo_and_its_worker(
    start_demo: Callable[..., Demo], unique_prefix: str, sig: int
) -> None:
    demo = start_demo("--rate", "100")
    demo.wait_for(r"^cxstream demo: topics", timeout=90)  # the worker is up and ready
    assert workers_with(unique_prefix), "the demo's worker should be running"
    demo.process.send_signal(sig)
    # bounded by design: feeds 10 s, worker 20 s then SIGKILL; the rest is a loaded machine
    assert demo.finish(timeout=120) in (0, 130), demo.output
    assert "cxstream demo ran" in demo.output
    assert workers_with(unique_prefix) == []


def test_metrics_text_gives_processed_events_stages_and_bands() -> None:
    text = (
        'cxstream_events_total{topic="cx.purchases",outcome="processed"} 7.0\n'
        'cxstream_events_total{topic="cx.feedback",outcome="processed"} 3.0\n'
        'cxstream_events_total{topic="cx.feedback",outcome="dead_letter"} 1.0\n'
        'cxstream_customers{stage="active"} 4.0\n'
        'cxstream_customers_by_health_band{band="red"} 2.0\n'
    )
    metrics = parse_metrics(text)
    assert (metrics.processed, metrics.dead_letters) == (10, 1)
    assert dict(metrics.stages) == {"active": 4} and dict(metrics.bands) == {"red": 2}


def test_the_live_screen_says_where_things_are_and_why_alerts_fired() -> None:
    reason = Reason("inactive", "no purchase for 40 days, 3 times the usual gap", 40.0)
    alert = Alert(
        "a1",
        "c0000042",
        AlertType.CHURN_RISK,
        AlertAction.OPENED,
        Priority.HIGH,
        71.0,
        (reason,),
        "call them",
        1.72e9,
        1.72e9,
    )
    picture = Picture(
        produced=120,
        processed=100,
        recent=(alert,),
        stages={"active": 5},
        bands={"red": 1},
        alert_counts={("churn_risk", "opened"): 1},
        top_risks=(RiskRow("c0000042", "high", 71.0, reason.message),),
    )
    where = Where("k:9092", "demoabc123.", "http://127.0.0.1:6066", "redis://r:6379/0", 5, 30, 1)
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render(where, picture, height=40))
    screen = console.export_text()
    for expected in (
        "http://127.0.0.1:6066/customers/<id>",
        "http://127.0.0.1:6066/metrics",
        "ZREVRANGE demoabc123:open:churn_risk",
        "Ctrl-C",
        "processed 100",
        "no purchase for 40 days",
        "c0000042",
        "active 5",
        "red 1",
    ):
        assert expected in screen, screen
