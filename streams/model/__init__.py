"""The customer-lifecycle model: a pure functional core (stdlib only, no I/O, no clocks).

``apply`` folds an event into a bounded per-customer state, ``tick`` lets event time pass,
``snapshot`` reads health, ``next_deadline`` says when ``tick`` could next matter, and the
codec turns a state into compact versioned bytes for a table/changelog. Survey integrity is a
separate small model per agent/location. See docs/model.md for every formula and rule.
"""

from streams.config import ModelConfig, load_config
from streams.model.codec import (
    STATE_VERSION,
    integrity_from_bytes,
    integrity_to_bytes,
    state_from_bytes,
    state_to_bytes,
)
from streams.model.core import apply, is_late, new_state, snapshot, tick
from streams.model.deadline import next_deadline
from streams.model.integrity import IntegrityState, IntegrityVerdict, observe_feedback
from streams.model.loss import LossOutlook, config_with_record, loss_outlook
from streams.model.state import CustomerState

__all__ = [
    "STATE_VERSION",
    "CustomerState",
    "IntegrityState",
    "IntegrityVerdict",
    "LossOutlook",
    "ModelConfig",
    "apply",
    "config_with_record",
    "integrity_from_bytes",
    "integrity_to_bytes",
    "is_late",
    "load_config",
    "loss_outlook",
    "new_state",
    "next_deadline",
    "observe_feedback",
    "snapshot",
    "state_from_bytes",
    "state_to_bytes",
    "tick",
]
