"""On-call config checks: Prometheus rules and their unit tests, Alertmanager routing, runbooks,
and the Grafana dashboard.

promtool and amtool are required (Debian packages ``prometheus`` and
``prometheus-alertmanager``; CI installs them): a missing tool FAILS these tests, because a
skipped check would let a broken alerting config ship silently.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "ops" / "prometheus"
RULES = PROM / "rules" / "cxstream.rules.yml"
RULE_TESTS = sorted((PROM / "tests").glob("*.test.yml"))
ALERTMANAGER = ROOT / "ops" / "alertmanager" / "alertmanager.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "cxstream.json"
RUNBOOK_PREFIX = "https://github.com/cxstream/cxstream/blob/main/"

# Metric names the worker exposes (the contract with the lead's metrics module).
KNOWN_METRICS = {
    "up",
    "cxstream_events_total",
    "cxstream_dead_letters_total",
    "cxstream_alerts_total",
    "cxstream_customers",
    "cxstream_customers_by_health_band",
    "cxstream_stream_time_lag_seconds",
    "cxstream_consumer_lag_messages",
    "cxstream_redis_write_failures_total",
    "cxstream_alert_deliveries_total",
    "cxstream_agent_failures_total",
    "cxstream_model_parameters_default",
    "cxstream_model_compiled",
    "cxstream_alert_budget_total",
    "cxstream_alert_budget_open_day",
    "cxstream_input_partitions_stalled",
    "cxstream_rebalance_seconds",
    # feedback loop (agents/worker/loop_metrics.py, issue 16)
    "cxstream_alert_outcomes_total",
    "cxstream_churn_alert_precision",
    "cxstream_churn_alert_judged",
    "cxstream_churn_alerts_actioned_ratio",
    "cxstream_holdout_retained_ratio",
    "cxstream_holdout_uplift",
} | {
    f"{hist}{suffix}"
    for hist in ("cxstream_event_latency_seconds", "cxstream_processing_latency_seconds")
    for suffix in ("_bucket", "_sum", "_count")
}


def run_tool(name: str, *args: str) -> str:
    """Run a CLI tool, failing (never skipping) if it is missing, and show its output on error."""
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(
            f"{name} is not installed: install the Debian package "
            f"{'prometheus' if name == 'promtool' else 'prometheus-alertmanager'} "
            "(CI does); these checks must not be skipped."
        )
    proc = subprocess.run(
        [exe, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    output = f"$ {name} {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, output
    return output


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule for group in load_yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule
    ]


# --- Prometheus -----------------------------------------------------------------------------


def test_promtool_check_config_and_rules() -> None:
    run_tool("promtool", "check", "config", str(PROM / "prometheus.yml"))
    run_tool("promtool", "check", "rules", str(RULES))


def test_promtool_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no ops/prometheus/tests/*.test.yml files"
    out = run_tool("promtool", "test", "rules", *map(str, RULE_TESTS))
    assert "SUCCESS" in out


def test_scrape_config_targets_the_worker() -> None:
    config = load_yaml(PROM / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker = jobs["cxstream"]
    assert worker.get("metrics_path", "/metrics") == "/metrics"
    assert worker["static_configs"][0]["targets"] == ["worker:6066"]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts without a firing test case"
    assert names - silent == set(), "alerts without a not-firing test case"


def test_alerts_carry_severity_team_and_annotations() -> None:
    for rule in alert_rules():
        labels, notes = rule.get("labels", {}), rule.get("annotations", {})
        assert labels.get("severity") in {"critical", "warning", "info"}, rule["alert"]
        assert labels.get("team") in {"platform", "cx"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= notes.keys(), rule["alert"]


def test_the_runbook_index_lists_every_alert() -> None:
    index = (ROOT / "docs" / "runbooks" / "README.md").read_text(encoding="utf-8")
    missing = [rule["alert"] for rule in alert_rules() if rule["alert"] not in index]
    assert missing == [], "alerts missing from docs/runbooks/README.md"


def test_runbook_urls_point_at_existing_runbooks() -> None:
    pattern = re.compile(re.escape(RUNBOOK_PREFIX) + r"(docs/runbooks/[a-z0-9-]+\.md)$")
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        match = pattern.match(url)
        assert match, f"{rule['alert']}: runbook_url {url!r} is not a docs/runbooks/*.md link"
        assert (ROOT / match.group(1)).is_file(), f"{rule['alert']}: {match.group(1)} missing"


def test_churn_volume_anomaly_is_a_cx_business_alert() -> None:
    rule = next(r for r in alert_rules() if r["alert"] == "CxstreamChurnAlertVolumeAnomaly")
    assert rule["labels"]["team"] == "cx"
    assert "offset 1d" in rule["expr"]


# --- Alertmanager ---------------------------------------------------------------------------


def test_amtool_check_config() -> None:
    run_tool("amtool", "check-config", str(ALERTMANAGER))


def routes_test(receivers: str, labels: list[str]) -> None:
    run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        f"--verify.receivers={receivers}",
        *labels,
    )


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "team=platform"], "oncall-pager"),
        (["severity=warning", "team=cx"], "cx-webhook"),
        (["severity=critical", "team=cx"], "cx-webhook,oncall-pager"),
        (["severity=warning", "team=platform"], "platform-webhook"),
        (["severity=info"], "platform-webhook"),
    ],
)
def test_amtool_routes(labels: list[str], receivers: str) -> None:
    routes_test(receivers, labels)


def test_amtool_rejects_a_wrong_route() -> None:
    """Guards the test above: amtool must exit non-zero when receivers do not match."""
    with pytest.raises(AssertionError):
        routes_test("cx-webhook", ["severity=critical", "team=platform"])


def expected_receivers(labels: dict[str, str]) -> str:
    wanted = []
    if labels.get("team") == "cx":
        wanted.append("cx-webhook")
    if labels.get("severity") == "critical":
        wanted.append("oncall-pager")
    return ",".join(wanted) or "platform-webhook"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_each_alert_routes_to_its_receivers(rule: dict[str, Any]) -> None:
    labels = {"alertname": rule["alert"], **rule["labels"]}
    routes_test(expected_receivers(labels), [f"{k}={v}" for k, v in labels.items()])


# --- Grafana --------------------------------------------------------------------------------

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\$\w+", "", expr)  # dashboard variables
    idents = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", expr)
    return {name for name, call in idents if not call and name.lower() not in PROMQL_WORDS}


def test_metric_name_extraction() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(x_bucket{le="1"}[$__rate_interval]))) > 1'
    assert metric_names(expr) == {"x_bucket"}
    assert metric_names("sum(up{job='a'}) or vector(0)") == {"up"}


def dashboard_targets(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in dashboard_targets(v)]
    if isinstance(node, list):
        return [e for v in node for e in dashboard_targets(v)]
    return []


def test_grafana_dashboard_uses_only_exposed_metrics() -> None:
    exprs = dashboard_targets(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    assert len(exprs) >= 10
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - KNOWN_METRICS == set(), "dashboard uses metrics the worker does not expose"
    # The panels the on-call needs are all there.
    for required in (
        "cxstream_events_total", "cxstream_consumer_lag_messages",
        "cxstream_processing_latency_seconds_bucket", "cxstream_alerts_total",
        "cxstream_customers", "cxstream_customers_by_health_band",
        "cxstream_dead_letters_total", "cxstream_redis_write_failures_total",
        "cxstream_alert_deliveries_total",
    ):  # fmt: skip
        assert required in used, required


def test_grafana_provisioning_points_at_prometheus() -> None:
    grafana = ROOT / "ops" / "grafana" / "provisioning"
    sources = load_yaml(grafana / "datasources" / "prometheus.yml")["datasources"]
    assert sources[0]["url"] == "http://prometheus:9090"
    uid = sources[0]["uid"]
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    assert all(p["datasource"]["uid"] == uid for p in panels if p["type"] != "row")
    providers = load_yaml(grafana / "dashboards" / "dashboards.yml")["providers"]
    assert providers[0]["options"]["path"]


def test_rule_metrics_are_exposed_metrics() -> None:
    recorded = {
        rule["record"]
        for group in load_yaml(RULES)["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    for group in load_yaml(RULES)["groups"]:
        for rule in group["rules"]:
            unknown = metric_names(rule["expr"]) - KNOWN_METRICS - recorded
            assert unknown == set(), (rule.get("alert") or rule.get("record"), unknown)
