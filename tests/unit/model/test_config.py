"""Config loading: defaults load, custom files merge, bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import config_from_mapping, load_config
from streams.errors import ConfigError


def test_defaults_load_and_are_frozen() -> None:
    cfg = load_config()
    assert cfg.alerts.churn_risk.open_at > cfg.alerts.churn_risk.close_below
    assert "segment" in cfg.fit.icp
    with pytest.raises(AttributeError):
        cfg.alerts.churn_risk.open_at = 1.0  # type: ignore[misc]


def test_custom_file_merges_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text("[alerts.referral]\ncooldown_days = 30.0\n")
    cfg = load_config(path)
    assert cfg.alerts.referral.cooldown_days == 30.0
    assert cfg.alerts.referral.min_fit == load_config().alerts.referral.min_fit


@pytest.mark.parametrize(
    ("data", "key", "why"),
    [
        ({"engagement": {"short_half_life_days": 0}}, "engagement.short_half_life_days", "> 0"),
        ({"risk": {"weight_overdue": 1.5}}, "risk.weight_overdue", "<= 1"),
        ({"risk": {"weight_overdue": "high"}}, "risk.weight_overdue", "expected a number"),
        ({"stage": {"history_size": 2.5}}, "stage.history_size", "integer"),
        (
            {"alerts": {"churn_risk": {"close_below": 70.0}}},
            "alerts.churn_risk.close_below",
            "below",
        ),
        ({"health": {"red_below": 80.0}}, "health.red_below", "below"),
        ({"rhythm": {"typo_days": 3}}, "rhythm.typo_days", "unknown setting"),
        ({"nonsense": {}}, "nonsense", "unknown section"),
        (
            {"success": {"repeat_window_days": 44.0}},
            "success.repeat_window_days",
            "raise the retention or shorten the window",
        ),
        ({"fit": {"icp": {"shoe_size": {"values": {}}}}}, "fit.icp.shoe_size", "unknown attribute"),
        (
            {"fit": {"icp": {"segment": {"values": {"smb": 2.0}}}}},
            "fit.icp.segment.values.smb",
            "<= 1",
        ),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str, why: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as err:
        config_from_mapping(data)
    assert str(err.value).startswith(key) and why in str(err.value)


def test_bad_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[alerts\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
