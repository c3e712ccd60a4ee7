"""Model configuration: the packaged ``defaults.toml`` loaded into frozen, validated dataclasses.

A custom file is merged over the defaults, so it only names what it changes. Every problem
raises :class:`streams.errors.ConfigError` naming the dotted key and the reason, because a
wrong threshold silently changes who gets an alert.
"""

from streams.config.loading import config_from_mapping, load_config
from streams.config.sections import (
    ICP_ATTRIBUTES,
    AlertsConfig,
    ChurnAlertConfig,
    EngagementConfig,
    FitConfig,
    HealthConfig,
    IcpAttribute,
    IntegrityConfig,
    LoopConfig,
    LossConfig,
    LoyaltyConfig,
    ModelConfig,
    OrderingConfig,
    PAliveConfig,
    ReferralConfig,
    RhythmConfig,
    RiskConfig,
    StageConfig,
    SuccessConfig,
)

__all__ = [
    "ICP_ATTRIBUTES",
    "AlertsConfig",
    "ChurnAlertConfig",
    "EngagementConfig",
    "FitConfig",
    "HealthConfig",
    "IcpAttribute",
    "IntegrityConfig",
    "LoopConfig",
    "LossConfig",
    "LoyaltyConfig",
    "ModelConfig",
    "OrderingConfig",
    "PAliveConfig",
    "ReferralConfig",
    "RhythmConfig",
    "RiskConfig",
    "StageConfig",
    "SuccessConfig",
    "config_from_mapping",
    "load_config",
]
