"""A real Prometheus and Alertmanager for the paging tests, configured from the project's files.

Prometheus runs ``ops/prometheus/prometheus.yml`` with only the addresses swapped for loopback
ones and shorter scrape/evaluation intervals; its rules are copies of
``ops/prometheus/rules/*.rules.yml`` in which only each alert's ``for:`` is shortened (the
production holds are minutes to hours). Alertmanager runs ``ops/alertmanager/alertmanager.yml``
with its routes and inhibitions unchanged, shorter group timings, and each receiver's URL moved
to the test's HTTP receiver (same path, so the test sees which receiver an alert reached).
Both bind free loopback ports, keep their data in a temporary directory and are stopped by
:meth:`Monitoring.stop`. A missing binary or a failed start raises, naming the fix: no skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from agents.demo.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_YML = ROOT / "ops" / "prometheus" / "prometheus.yml"
RULES_DIR = ROOT / "ops" / "prometheus" / "rules"
ALERTMANAGER_YML = ROOT / "ops" / "alertmanager" / "alertmanager.yml"
BINARIES = {  # what to run -> (names to look for, Debian package)
    "prometheus": (("prometheus",), "prometheus"),
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
}


def binary(kind: str) -> str:
    names, package = BINARIES[kind]
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        f"{kind} is not installed (looked for {', '.join(names)}): run ops/setup.sh, which "
        f"installs the Debian package {package}"
    )


@dataclass
class Notification:
    path: str  # the receiver's URL path: /oncall, /cx or /platform in alertmanager.yml
    received: float  # time.time()
    body: dict[str, Any]


class Receiver:
    """An HTTP server in a thread that keeps every webhook notification Alertmanager posts."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.notifications.append(Notification(self.path, time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def alerts(self, since: float = 0.0) -> list[tuple[str, dict[str, Any]]]:
        """(path, alert) for every alert in notifications received after ``since``."""
        with self._lock:
            got = [n for n in self.notifications if n.received >= since]
        return [(n.path, alert) for n in got for alert in n.body.get("alerts", [])]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def shortened_rules(target: Path, hold: str) -> Path:
    """Copies of the project's rule files with every alert's ``for:`` set to ``hold``."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(RULES_DIR.glob("*.rules.yml")):
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" in rule and "for" in rule:
                    rule["for"] = hold
        (target / source.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def prometheus_config(
    worker: str, alertmanager: str, prometheus: str, rules: Path, interval: str
) -> dict[str, Any]:
    """ops/prometheus/prometheus.yml with loopback addresses, ``rules`` and ``interval``."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    config["global"].update(
        scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval
    )
    config["rule_files"] = [str(rules / "*.rules.yml")]
    swap = {"worker:6066": worker, "alertmanager:9093": alertmanager, "localhost:9090": prometheus}
    for static in config["alerting"]["alertmanagers"][0]["static_configs"]:
        static["targets"] = [swap[t] for t in static["targets"]]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [swap[t] for t in static["targets"]]
    return config


def alertmanager_config(receiver_url: str, timing: str) -> dict[str, Any]:
    """ops/alertmanager/alertmanager.yml with group timings ``timing`` and receivers moved."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))

    def retime(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = timing
        for child in route.get("routes", []):
            retime(child)

    retime(config["route"])
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = receiver_url + urllib.parse.urlparse(hook["url"]).path
    return config


@dataclass
class Monitoring:
    """Prometheus + Alertmanager + the receiver; ``worker`` is the scraped ``host:port``."""

    workdir: Path
    worker: str
    interval: str = "1s"
    hold: str = "2s"
    receiver: Receiver = field(default_factory=Receiver)
    prometheus_port: int = field(default_factory=free_port)
    alertmanager_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.alertmanager_port}"

    def start(self, timeout: float = 60.0) -> Monitoring:
        am_config = self.workdir / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(alertmanager_config(self.receiver.url, self.interval)))
        self._launch(
            "alertmanager",
            f"--config.file={am_config}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.alertmanager_port}",
            "--cluster.listen-address=",  # no gossip port: a single local instance
        )
        rules = shortened_rules(self.workdir / "rules", self.hold)
        config = prometheus_config(
            self.worker,
            f"127.0.0.1:{self.alertmanager_port}",
            f"127.0.0.1:{self.prometheus_port}",
            rules,
            self.interval,
        )
        prom_config = self.workdir / "prometheus.yml"
        prom_config.write_text(yaml.safe_dump(config, sort_keys=False))
        self._launch(
            "prometheus",
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
        )
        for url in (self.alertmanager_url, self.prometheus_url):
            self._wait_ready(url, timeout)
        return self

    def _launch(self, kind: str, *args: str) -> None:
        log = open(self.workdir / f"{kind}.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen([binary(kind), *args], stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)

    def _wait_ready(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}):\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} not ready after {timeout}s:\n{self.logs()}")

    def logs(self, lines: int = 20) -> str:
        tails = []
        for path in sorted(self.workdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query's result vector (raises on a query error)."""
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(
        self, what: str, check: Callable[[], bool], timeout: float, poll: float = 0.5
    ) -> float:
        """Poll ``check`` until true; the seconds it took, or AssertionError naming ``what``."""
        started = time.monotonic()
        while not check():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{what}: not seen within {timeout}s\n{self.logs(8)}")
            time.sleep(poll)
        return time.monotonic() - started

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
        self.receiver.stop()
