"""Paging end to end: a real Prometheus scrapes a real worker with the project's rules, and a
real Alertmanager routes what fires to an HTTP receiver the test runs.

One Prometheus/Alertmanager pair and one worker serve all scenarios, in file order: a killed
worker pages on-call, a burst of churn alerts pages the CX team, a stalled consumer pages the
platform team, and every Grafana panel's query returns data. Each page must carry its runbook
link and resolve once the cause is gone.

Test-only settings (tests/monitoring_stack.py): scrape and evaluation every second, every
alert's ``for:`` shortened to 2s in generated copies of the rule files (expressions unchanged),
Alertmanager's group_wait/group_interval 1s, receivers moved to the test's server.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from agents.settings import KafkaSettings
from agents.worker.topic_admin import KEEP_FOREVER, ensure_topics
from streams.domain import Channel, Event, Purchase, PurchaseKind
from streams.model import load_config
from streams.simulator import simulate
from streams.topics import Topics
from tests.e2e.harness import Worker, produce, reference_run, wait_drained
from tests.monitoring_stack import ROOT, Monitoring
from tests.ops.test_prometheus_rules import metric_names

pytestmark = pytest.mark.e2e

DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "cxstream.json"
RATE_INTERVAL = "15s"  # stands in for Grafana's $__rate_interval (>= 4 scrape intervals)
BASELINE_SAMPLES = 45  # seconds of a quiet churn-alert rate before the burst (see its test)
PAGE_TIMEOUT = 60.0


@dataclass
class Paging:
    monitoring: Monitoring
    worker: Worker
    bootstrap: str
    topics: Topics
    stream_time: float = 1_717_200_000.0  # latest event time produced (2024-06-01 to start)

    def produce(self, events: list[Event]) -> None:
        produce(self.bootstrap, self.topics, events)
        self.stream_time = max([self.stream_time, *(e.occurred_at for e in events)])

    def wait_drained(self) -> None:
        wait_drained(self.bootstrap, self.topics, self.worker.app_id)


@pytest.fixture(scope="module")
def paging(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Paging]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    topics = Topics(prefix)
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), topics, retention_ms=KEEP_FOREVER
    )
    workdir = tmp_path_factory.mktemp("paging")
    worker = Worker(kafka_bootstrap, topics, f"{prefix}app", workdir / "worker")
    monitoring = Monitoring(workdir, f"127.0.0.1:{worker.web_port}")
    try:
        try:
            monitoring.start()
        except RuntimeError as exc:
            pytest.fail(f"Prometheus/Alertmanager could not start: {exc}")
        worker.start()
        yield Paging(monitoring, worker, kafka_bootstrap, topics)
    finally:
        worker.kill()
        monitoring.stop()


def page(
    paging: Paging, alertname: str, receiver: str, status: str, since: float
) -> dict[str, Any] | None:
    """The first alert ``alertname`` with ``status`` posted to ``receiver`` after ``since``."""
    for path, alert in paging.monitoring.receiver.alerts(since):
        if (path, alert["labels"]["alertname"], alert["status"]) == (receiver, alertname, status):
            return alert
    return None


def wait_page(
    paging: Paging, alertname: str, receiver: str, status: str, since: float, timeout: float
) -> dict[str, Any]:
    def arrived() -> bool:
        return page(paging, alertname, receiver, status, since) is not None

    seen = [
        (p, a["labels"]["alertname"], a["status"]) for p, a in paging.monitoring.receiver.alerts()
    ]
    paging.monitoring.wait_for(
        f"{alertname} {status} at {receiver} (pages so far: {sorted(set(seen))})", arrived, timeout
    )
    alert = page(paging, alertname, receiver, status, since)
    assert alert is not None
    return alert


def assert_runbook(alert: dict[str, Any], runbook: str) -> None:
    url = alert["annotations"]["runbook_url"]
    assert url.endswith(f"/docs/runbooks/{runbook}"), url
    assert (ROOT / "docs" / "runbooks" / runbook).is_file(), url


def value(paging: Paging, expr: str) -> float:
    result = paging.monitoring.query(expr)
    return float(result[0]["value"][1]) if result else math.nan


def purchases(count: int, at: float, tag: str) -> list[Event]:
    """One order each from ``count`` new customers, all at event time ``at``."""
    return [
        Purchase(
            f"{tag}-{i}",
            "paging-test",
            f"{tag}-c{i}",
            at,
            PurchaseKind.ORDER_PLACED,
            f"{tag}-o{i}",
            2500,
            "EUR",
            Channel.WEB,
            1,
        )
        for i in range(count)
    ]


def test_a_killed_worker_pages_on_call_and_resolves_when_restarted(paging: Paging) -> None:
    paging.monitoring.wait_for(
        "the worker scraped", lambda: value(paging, 'up{job="cxstream"}') == 1, PAGE_TIMEOUT
    )
    killed = time.time()
    paging.worker.kill()
    alert = wait_page(paging, "CxstreamWorkerDown", "/oncall", "firing", killed, PAGE_TIMEOUT)
    assert_runbook(alert, "worker-down.md")
    assert alert["labels"]["instance"] == paging.monitoring.worker

    restarted = time.time()
    paging.worker.start()
    wait_page(paging, "CxstreamWorkerDown", "/oncall", "resolved", restarted, PAGE_TIMEOUT)


def test_a_burst_of_churn_alerts_pages_the_cx_team_then_resolves(paging: Paging) -> None:
    """The rule compares the last hour with yesterday (absent here: counts as 0) and with the
    24h average, which here spans only this Prometheus' few minutes: a quiet baseline comes
    first, and the page resolves once the burst is no longer unusual against that average."""
    rate = "cxstream:churn_alerts_opened:rate1h"
    paging.monitoring.wait_for(
        f"{BASELINE_SAMPLES}s of a quiet churn-alert rate",
        lambda: (
            value(paging, f"count_over_time({rate}[1d])") >= BASELINE_SAMPLES
            and value(paging, rate) == 0
        ),
        PAGE_TIMEOUT + BASELINE_SAMPLES,
    )
    history = simulate(customers=100, days=240, seed=11).events
    opened = sum(
        1
        for alerts in reference_run(history, load_config()).alerts.values()
        for a in alerts
        if (a.type.value, a.action.value) == ("churn_risk", "opened")
    )
    assert opened > 20, f"only {opened} churn alerts: under the rule's floor of 20/h"

    burst = time.time()
    paging.produce(history)
    alert = wait_page(
        paging, "CxstreamChurnAlertVolumeAnomaly", "/cx", "firing", burst, PAGE_TIMEOUT
    )
    assert_runbook(alert, "churn-alert-volume-anomaly.md")
    paging.monitoring.wait_for(  # the page is about this burst: the rule counted its alerts
        f"{opened} churn alerts opened in the last hour",
        lambda: abs(value(paging, f"{rate} * 3600") - opened) <= 0.2 * opened,
        PAGE_TIMEOUT,
    )
    wait_page(paging, "CxstreamChurnAlertVolumeAnomaly", "/cx", "resolved", burst, 2 * PAGE_TIMEOUT)


def set_health_topic_timestamp_limit(paging: Paging, refuse: bool) -> None:
    """Make the broker refuse (or accept again) every health snapshot the worker publishes."""
    op = AlterConfigOpType.SET if refuse else AlterConfigOpType.DELETE
    entry = ConfigEntry("message.timestamp.before.max.ms", "0", incremental_operation=op)
    resource = ConfigResource("topic", paging.topics.health, incremental_configs=[entry])
    admin = AdminClient({"bootstrap.servers": paging.bootstrap})
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def test_a_stalled_consumer_pages_the_platform_team_then_resolves(paging: Paging) -> None:
    """A stall with the worker up: the broker refuses its output (a timestamp policy on the
    health topic), so it retries its batch and consumes nothing while purchases pile up."""
    backlog = purchases(12_000, paging.stream_time, f"stall{uuid.uuid4().hex[:6]}")
    stalled = time.time()
    set_health_topic_timestamp_limit(paging, refuse=True)
    try:
        paging.produce(backlog)
        lag = wait_page(paging, "CxstreamConsumerLagHigh", "/platform", "firing", stalled, 90)
        assert_runbook(lag, "consumer-lag-high.md")
        assert lag["labels"]["topic"] == paging.topics.purchases
        failing = wait_page(
            paging, "CxstreamCustomerAgentFailing", "/oncall", "firing", stalled, PAGE_TIMEOUT
        )
        assert_runbook(failing, "customer-agent-failing.md")
    finally:
        fixed = time.time()
        set_health_topic_timestamp_limit(paging, refuse=False)
    wait_page(paging, "CxstreamConsumerLagHigh", "/platform", "resolved", fixed, 90)
    paging.wait_drained()
    assert value(paging, "sum(cxstream_dead_letters_total)") == 0, "a good record dead-lettered"


def panel_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [
        (panel["title"], target["expr"])
        for panel in panels
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


#: Exported from the first alert outcome on (agents/worker/loop_metrics.py).
AFTER_OUTCOMES = {
    "cxstream_alert_outcomes_total",
    "cxstream_churn_alert_precision",
    "cxstream_churn_alert_judged",
    "cxstream_churn_alerts_actioned_ratio",
    "cxstream_holdout_retained_ratio",
    "cxstream_holdout_uplift",
}


def declared_by_agents(metric: str) -> bool:
    """Whether some module under agents/ declares ``metric`` (counters without ``_total``)."""
    base = re.sub(r"_(total|bucket|sum|count|created)$", "", metric)
    sources = (path.read_text(encoding="utf-8") for path in (ROOT / "agents").rglob("*.py"))
    return any(f'"{base}"' in text for text in sources)


def test_every_dashboard_panel_returns_data_from_the_live_prometheus(paging: Paging) -> None:
    """Every panel query returns a finite value while a worker processes events, except the
    feedback loop's outcome metrics: they have samples only once an alert's observation window
    (90 days of event time) has closed, which this short run never reaches
    (tests/e2e/test_loop_uplift.py checks their values). Any other empty panel fails: a wrong
    query, a name no code declares, or a metric the worker never exports."""
    paging.produce(purchases(300, paging.stream_time, f"dash{uuid.uuid4().hex[:6]}"))
    paging.monitoring.wait_for(
        "events processed in the last rate interval",
        lambda: value(paging, f"sum(rate(cxstream_events_total[{RATE_INTERVAL}]))") > 0,
        PAGE_TIMEOUT,
    )
    scraped = {s["metric"]["__name__"] for s in paging.monitoring.query('{job="cxstream"}')}
    empty, unexported = [], []
    queries = panel_queries()
    for title, expr in queries:
        result = paging.monitoring.query(expr.replace("$__rate_interval", RATE_INTERVAL))
        if any(math.isfinite(float(series["value"][1])) for series in result):
            continue
        missing = metric_names(expr) - scraped - {"up"}
        if missing and missing == metric_names(expr) and all(map(declared_by_agents, missing)):
            unexported.append((title, sorted(missing)))
        else:  # a wrong query, or a name no code declares (a typo)
            empty.append((title, expr, result))
    assert len(queries) >= 10
    assert not empty, f"panels without data: {empty}"
    waiting = [(title, names) for title, names in unexported if set(names) <= AFTER_OUTCOMES]
    assert waiting == unexported, f"panels over metrics the worker never exports: {unexported}"


def test_prometheus_evaluates_every_rule_of_the_projects_rule_files(paging: Paging) -> None:
    """Guards the generated copies: every alert and recording rule of ops/prometheus/rules."""
    url = f"{paging.monitoring.prometheus_url}/api/v1/rules"
    with urllib.request.urlopen(url, timeout=10) as response:
        groups = json.loads(response.read())["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    wanted = {
        rule.get("alert") or rule.get("record")
        for path in sorted((ROOT / "ops" / "prometheus" / "rules").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    }
    assert wanted and wanted <= loaded, wanted - loaded
