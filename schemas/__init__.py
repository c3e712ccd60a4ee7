"""Avro schemas (``*.avsc``) of every topic cxstream reads or writes: the public contract.

The JSON files are the source of truth; this module only finds and reads them so that the
codecs, the tests and other services load exactly the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent
HISTORY_DIR = SCHEMA_DIR / "history"  # superseded versions, still readable by fingerprint

# Record kind -> file name of the current version.
SCHEMA_FILES: dict[str, str] = {
    "purchases": "purchase.avsc",
    "tickets": "ticket_event.avsc",
    "feedback": "feedback.avsc",
    "profiles": "customer_profile.avsc",
    "alerts": "alert.avsc",
    "health": "health_snapshot.avsc",
    "alert_actions": "alert_action.avsc",
    "alert_outcomes": "alert_outcome.avsc",
}


def load_schema(kind: str) -> dict[str, Any]:
    """The current schema of ``kind`` (a key of :data:`SCHEMA_FILES`) as parsed JSON."""
    return load_schema_file(SCHEMA_DIR / SCHEMA_FILES[kind])


def load_schema_file(path: Path) -> dict[str, Any]:
    """One ``.avsc`` file as parsed JSON (a dict: every cxstream schema is a record)."""
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a cxstream schema must be a record (a JSON object)")
    return data


def history_schemas() -> Iterator[dict[str, Any]]:
    """Every schema version kept under ``history/``, in file-name order."""
    if HISTORY_DIR.is_dir():
        for path in sorted(HISTORY_DIR.glob("*.avsc")):
            yield load_schema_file(path)
