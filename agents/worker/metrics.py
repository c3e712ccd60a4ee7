"""Prometheus metrics: aggregate and operational only, never a customer id as a label.

Names and labels are a contract with ``ops/prometheus`` rules and the Grafana dashboard.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.contracts import REASON_CODES, SKIP_REASONS
from streams.domain import AlertAction, AlertType, Priority

REGISTRY = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS = Counter(
    "cxstream_events",
    "Input events by topic and outcome (processed, duplicate, dead_letter).",
    ["topic", "outcome"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "cxstream_dead_letters", "Rejected input messages by reason.", ["reason"], registry=REGISTRY
)
EVENT_LATENCY = Histogram(
    "cxstream_event_latency_seconds",
    "Event time to emit of the resulting alert/snapshot (includes producer delay).",
    buckets=(*LATENCY_BUCKETS, 300.0, 3600.0),
    registry=REGISTRY,
)
PROCESSING_LATENCY = Histogram(
    "cxstream_processing_latency_seconds",
    "Consume (Kafka append time of the input) to emit of the resulting alert/snapshot.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
MERGE_OUT_OF_ORDER = Counter(
    "cxstream_merge_out_of_order",
    "Input records that reached the event-time merge older than a record it had already "
    "released on their partition (a --max-task-idle too short for the producers' spread).",
    registry=REGISTRY,
)
BATCH_WINDOW_SHORT = Counter(
    "cxstream_batch_window_short",
    "Batches whose take window was --batch-within-caught-up (less than a batch unread)",
    registry=REGISTRY,
)
STALE_FETCH_RECORDS = Counter(
    "cxstream_consumer_stale_fetch_records",
    "Input records dropped because they were fetched before a rebalance's seek back to the "
    "committed offsets (they are read again; delivering them would commit past others).",
    registry=REGISTRY,
)
CHANGELOG_RESENT = Counter(
    "cxstream_changelog_resent",
    "Customer-state changelog records re-sent after a passing delivery failure (the newest "
    "state of the customer is sent again; agents/worker/changelog.py).",
    registry=REGISTRY,
)
FOLD_AHEAD_REDONE = Counter(
    "cxstream_fold_ahead_redone",
    "Batches folded ahead (while the batch before was stored) that were handled again from the "
    "table instead, because a batch before them failed or the partitions were revoked.",
    registry=REGISTRY,
)
FOLD_PROCESS_FALLBACKS = Counter(
    "cxstream_fold_process_fallbacks",
    "Batches folded in the worker's own process instead of its fold process (--fold-process), "
    "by reason: died (a new one serves the next batch), stale (it was to start from a batch "
    "it did not fold, as after a restart) or error (the worker log says which).",
    ["reason"],
    registry=REGISTRY,
)
TABLE_RESTORE_RECORDS = Counter(
    "cxstream_table_restore_records",
    "Changelog records read into the tables with librdkafka ahead of Faust's recovery "
    "(--fast-restore); Faust's recovery reads the rest.",
    registry=REGISTRY,
)
ALERTS = Counter(
    "cxstream_alerts",
    "Alert actions emitted by type, action and priority.",
    ["type", "action", "priority"],
    registry=REGISTRY,
)
CUSTOMERS_BY_STAGE = Gauge(
    "cxstream_customers",
    "Customers owned by this worker, by life-cycle stage.",
    ["stage"],
    registry=REGISTRY,
)
CUSTOMERS_BY_BAND = Gauge(
    "cxstream_customers_by_health_band",
    "Customers owned by this worker, by health band.",
    ["band"],
    registry=REGISTRY,
)
STREAM_TIME_LAG = Gauge(
    "cxstream_stream_time_lag_seconds",
    "Wall-clock time minus stream (event) time, per input partition.",
    ["partition"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "cxstream_consumer_lag_messages",
    "End offset minus the group's committed offset, per input partition this worker owns "
    "(read from the broker, as kafka-consumer-groups shows it; see agents/worker/consumer_lag.py).",
    ["topic", "partition"],
    registry=REGISTRY,
)
INPUT_PARTITIONS_STALLED = Gauge(
    "cxstream_input_partitions_stalled",
    "Owned input partitions with records waiting whose committed offset has not moved for "
    "3 minutes (agents/worker/stall_watch.py); /healthz names them.",
    registry=REGISTRY,
)
REBALANCE_SECONDS = Gauge(
    "cxstream_rebalance_seconds",
    "Seconds the consumer-group rebalance under way (with its table recovery) has gone without "
    "progress (restored changelog records count), 0 when none is under way: no input is "
    "processed meanwhile (agents/worker/stall_watch.py).",
    registry=REGISTRY,
)
REDIS_WRITE_FAILURES = Counter(
    "cxstream_redis_write_failures", "Failed Redis read-model batch writes.", registry=REGISTRY
)
DELIVERIES = Counter(
    "cxstream_alert_deliveries",
    "Webhook alert deliveries by outcome (delivered, retried, failed).",
    ["outcome"],
    registry=REGISTRY,
)
AGENT_FAILURES = Counter(
    "cxstream_agent_failures",
    "Customer-agent batch attempts that raised, by exception class (the batch is retried, then "
    "handled record by record; see the customer-agent-failing runbook).",
    ["exception"],
    registry=REGISTRY,
)
MODEL_PARAMETERS_DEFAULT = Gauge(
    "cxstream_model_parameters_default",
    "1 while the worker judges customers with the packaged cold-start parameters (no fitted "
    "record read from the model-parameters topic yet), else 0.",
    registry=REGISTRY,
)
MODEL_COMPILED = Gauge(
    "cxstream_model_compiled",
    "1 when the model runs from the mypyc-compiled build of its source (ops/build_compiled.py), "
    "0 for the Python source (no build, a stale one, or CX_COMPILED_MODEL=0).",
    registry=REGISTRY,
)
BUDGET = Counter(
    "cxstream_alert_budget",
    "Churn openings through the alert budget (loss.alert_budget_per_day): candidate (offered "
    "to its team's day), admitted (among the day's K best, published), late (its day was "
    "already decided: an event that arrived after the grace, or a repeat of one decided).",
    ["outcome"],
    registry=REGISTRY,
)
BUDGET_OPEN_DAY = Gauge(
    "cxstream_alert_budget_open_day",
    "The first event-time day (UTC midnight, epoch seconds) the alert budget has not decided "
    "yet: it stops moving while an input partition's stream time stands still.",
    registry=REGISTRY,
)


def _expose_known_label_values() -> None:
    """Every known label value is exposed at 0 from the start: a series that first appears with
    a burst already counted hides that burst from rate() and increase() (the churn-volume
    alert missed the first burst after a worker start), and dashboards show 0, not "No data"."""
    for kind in AlertType:
        for action in AlertAction:
            for priority in Priority:
                ALERTS.labels(kind.value, action.value, priority.value)
    for outcome in ("delivered", "retried", "failed"):
        DELIVERIES.labels(outcome)
    for outcome in ("candidate", "admitted", "late"):
        BUDGET.labels(outcome)
    for reason in REASON_CODES:
        if reason not in SKIP_REASONS:
            DEAD_LETTERS.labels(reason)


_expose_known_label_values()
