"""What crosses to the fold process (``fold_process``): records and the model's values, pickled.

The model's dataclasses pickle as their constructor arguments: mypyc-compiled classes cannot
restore their slots the way Python's frozen dataclasses do, and the config's read-only
mappings do not pickle at all. Registering here (on import, in the worker and in the child)
makes both pickle the same way whichever build is loaded.
"""

from __future__ import annotations

import copyreg
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any

from agents.worker.customer_fold import Item
from streams.alert_loop import AlertActionEvent, AlertOutcome
from streams.domain import (
    Alert,
    Contribution,
    CustomerProfile,
    Feedback,
    HealthSnapshot,
    Purchase,
    Reason,
    TicketEvent,
)

# (topic, partition, offset, key, value, timestamp, headers)
WireRecordTuple = tuple[str, int, int, bytes | None, bytes | None, float, list[tuple[str, bytes]]]
# (record, kind index, event, tick until, weight)
WireItem = tuple[WireRecordTuple, int, Any, float, float]


#: The dataclasses a job or its result holds (nested ones included).
WIRE_CLASSES: tuple[type, ...] = (
    Purchase,
    TicketEvent,
    Feedback,
    CustomerProfile,
    Reason,
    Alert,
    Contribution,
    HealthSnapshot,
    AlertActionEvent,
    AlertOutcome,
)


def _mapping_proxy(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(items)


def _reduce_proxy(proxy: types.MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _mapping_proxy, (dict(proxy),)


def _construct(cls: type, values: tuple[Any, ...]) -> Any:
    return cls(*values)


def _reducer(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    names = tuple(f.name for f in fields(cls))
    getter = attrgetter(*names)

    def reduce(obj: Any) -> tuple[Any, ...]:
        values = getter(obj)
        return _construct, (cls, values if len(names) > 1 else (values,))

    return reduce


# The model's config holds read-only mappings, which pickle cannot copy on its own.
copyreg.pickle(types.MappingProxyType, _reduce_proxy)
for _cls in WIRE_CLASSES:
    copyreg.pickle(_cls, _reducer(_cls))


@dataclass(slots=True)
class WireRecord:
    """A consumed record as the child sees it (the ``Record`` protocol, picklable)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float
    headers: Sequence[tuple[str, bytes]] | None


def wire_items(items: list[Item]) -> list[WireItem]:
    """``items`` as the child rebuilds them (records as tuples, events as pickle copies)."""
    wired: list[WireItem] = []
    for item in items:
        r = item.record
        headers = list(r.headers or ())
        record = (r.topic, r.partition, r.offset, r.key, r.value, r.timestamp, headers)
        wired.append((record, item.kind_index, item.event, item.tick_until, item.weight))
    return wired
