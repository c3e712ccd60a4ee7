"""The chaos soak reads the workers' logs for races a drained state comparison cannot see."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agents.worker import consumer_lag, fast_restore, merge
from agents.worker.health import HealthBoard
from agents.worker.stall_watch import Stalled
from bench.chaos_report import LOGGED, log_findings


def test_each_finding_matches_the_line_the_worker_really_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        consumer_lag.report_stalls([Stalled(("purchases", 1), 70, 600.0)], HealthBoard())
    stalled = caplog.records[-1].getMessage()
    lines = [
        stalled,
        "releasing purchases-1 out of timestamp order after 30s: feedback-1 (...) not caught up",
        "read 5010 changelog records of 2 partition(s) with librdkafka in 0.16 s",
        "read 59 changelog records of 1 partition(s) with librdkafka in 0.08 s",
        "changelog read with librdkafka failed, Faust recovers it: KafkaException(...)",
        "an unrelated line",
    ]
    (tmp_path / "w1.log").write_text("\n".join(lines[:3]) + "\n")
    (tmp_path / "w2.log").write_text("\n".join(lines[3:]) + "\n")

    found = log_findings([tmp_path / "w1.log", tmp_path / "w2.log", tmp_path / "gone.log"])

    assert (found.stalls, found.out_of_order) == (1, 1)
    assert (found.restore_reads, found.restore_failures) == (2, 1)


@pytest.mark.parametrize(
    ("finding", "module"),
    [
        ("stalls", consumer_lag),
        ("out_of_order", merge),
        ("restore_reads", fast_restore),
        ("restore_failures", fast_restore),
    ],
)
def test_the_worker_still_logs_each_line_the_soak_counts(finding: str, module: object) -> None:
    source = Path(str(getattr(module, "__file__", ""))).read_text()
    assert LOGGED[finding] in source, f"{module} no longer logs {LOGGED[finding]!r}"
