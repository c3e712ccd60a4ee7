"""docker-compose.yml is valid for Docker users and agrees with the local stack."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from streams.topics import DEFAULT_TOPICS

ROOT = Path(__file__).resolve().parents[2]


def compose_config() -> dict[str, Any]:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose (Debian package) is missing: run ops/setup.sh"
    result = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_file_is_accepted_and_has_the_whole_stack() -> None:
    services = compose_config()["services"]
    expected = {"kafka", "redis", "prometheus", "alertmanager", "grafana", "worker"}
    assert expected <= set(services)


def test_compose_kafka_matches_the_pinned_local_broker() -> None:
    pom = (ROOT / "ops" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert match
    kafka = compose_config()["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{match.group(1)}"
    env = kafka["environment"]
    assert "broker,controller" in env["KAFKA_PROCESS_ROLES"]  # KRaft combined mode, like ours
    assert str(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == "1"


def test_compose_worker_uses_the_default_topic_names_and_mounted_configs_exist() -> None:
    services = compose_config()["services"]
    assert services["worker"]["environment"]["CX_TOPIC_PREFIX"] == DEFAULT_TOPICS.prefix
    for name in ("prometheus", "alertmanager", "grafana"):
        for volume in services[name].get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            assert Path(source).exists(), f"{name} mounts missing {source}"


def test_compose_worker_is_reachable_by_prometheus_and_needs_a_token() -> None:
    """Bound to all interfaces in its container, advertised by its service name, token from a
    secret file (never a literal in the compose file), and Prometheus scrapes that port."""
    config = compose_config()
    worker = config["services"]["worker"]
    argv = worker["command"]
    assert argv[argv.index("--web-host") + 1] == "0.0.0.0"
    port = argv[argv.index("--web-port") + 1]
    assert argv[argv.index("--advertised-url") + 1] == f"http://worker:{port}"
    secret = worker["secrets"][0]["source"]
    assert worker["environment"]["CX_API_TOKEN_FILE"] == f"/run/secrets/{secret}"
    assert config["secrets"][secret]["file"]
    assert "CX_API_TOKEN" not in worker["environment"]  # no token literal
    assert "--insecure-api" not in argv
    prometheus = yaml.safe_load((ROOT / "ops" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["cxstream"]["static_configs"][0]["targets"] == [f"worker:{port}"]
