"""The chaos soak, small: kills of workers, the broker and Redis under hostile traffic lose
nothing, count nothing twice and dead-letter every rejected record (``bench.chaos``)."""

from __future__ import annotations

import pytest

from bench.chaos import parse, run
from bench.chaos_faults import HOSTILE_KINDS, NO_EFFECT_KINDS

pytestmark = pytest.mark.e2e

#: Every kind, the two 1 MB ones included (4 records, sent by a second producer, so they can
#: land ahead of older records: docs/reliability.md, defect 2).
KINDS = tuple(HOSTILE_KINDS)


def test_a_short_chaos_soak_loses_nothing_and_dead_letters_every_rejected_record() -> None:
    report = run(
        parse(
            [
                "--workers", "2", "--kills", "3", "--broker-kills", "1", "--redis-restarts", "1",
                "--hostile", "300", "--big-records", "4", "--hostile-kinds", ",".join(KINDS),
                "--customers", "60", "--days", "240", "--live-customers", "40",
                "--live-days", "30", "--seconds", "40", "--drain-limit", "240", "--seed", "7",
            ]
        )
    )  # fmt: skip
    assert report.kills == 3 and report.broker_kills == 1 and report.redis_restarts == 1
    assert report.lost == 0, (report.states.lost[:5], report.alerts, report.dead_letters)
    assert report.double_counted == 0, (report.states.double_counted[:5], report.alerts)
    assert not report.states.differs, report.states.example
    assert report.alerts.same_id_different_content == 0
    dead = report.dead_letters
    for kind in KINDS:  # every hostile kind was sent, and each rejected one dead-lettered
        assert dead.sent[kind] > 0, kind
        assert dead.missing(kind) == 0, (kind, dead.sent[kind], dead.dead_lettered[kind])
    assert dead.matched == dead.rejected and dead.unknown == 0
    assert all(dead.dead_lettered[k] == 0 for k in NO_EFFECT_KINDS)
    health = report.health
    assert health.missing == 0 and health.equal_to_model == report.states.customers
    assert health.redis_equal == report.states.customers, health
    assert report.ok
