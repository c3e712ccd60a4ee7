"""The one conversion of cxstream values into strict JSON, for the API, Redis and the CLI.

Model state holds ``-inf`` for "never" (e.g. no purchase yet); ``json.dumps`` would write it as
``-Infinity``, which is not JSON and breaks JavaScript and other strict clients. Non-finite
floats therefore become ``null`` here, and :func:`dumps` refuses any that slip past.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, tuples, sets and mappings as plain JSON values; NaN/±inf as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Strict JSON text of ``value`` (converted first); never ``NaN`` or ``Infinity``."""
    return json.dumps(to_jsonable(value), allow_nan=False, default=str)
