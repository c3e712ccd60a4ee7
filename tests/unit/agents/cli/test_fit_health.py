"""Statistics for the fit from health snapshots: the same x, t_x, T the model's outlook uses."""

from __future__ import annotations

import pytest

from agents.cli.commands.fit_health import stats_from_snapshots
from streams.errors import CxStreamError
from streams.model import load_config, new_state, snapshot
from tests.unit.model.conftest import DAY, T0, purchase, run, weekly_buyer


def test_statistics_from_snapshots_match_the_state() -> None:
    cfg = load_config()
    weekly, _ = run(weekly_buyer(5), cfg)
    once, _ = run([purchase(T0 + 3 * DAY, "o", 4000, cid="c2")], cfg)
    at = T0 + 70 * DAY
    snaps = {s.customer_id: snapshot(s, s.as_of, cfg) for s in (weekly, once)}
    snaps["none"] = snapshot(new_state("none", T0), T0, cfg)  # no purchase: not a customer yet
    stats, orders, mean_value, as_of = stats_from_snapshots(snaps, at)
    assert as_of == at and len(stats) == 2
    assert list(stats.x) == [4.0, 0.0] and list(orders) == [5.0, 1.0]
    assert stats.t_x[0] == pytest.approx(4.0) and stats.t_x[1] == 0.0  # weeks
    assert stats.T[0] == pytest.approx(10.0) and stats.T[1] == pytest.approx(67 / 7)
    assert list(mean_value) == [2500.0, 4000.0]
    with pytest.raises(CxStreamError, match="nothing to fit"):
        stats_from_snapshots({"none": snaps["none"]})
