"""The one place cxstream reaches into Faust internals, with why.

Faust decides which changelog partition and which RocksDB partition a table write goes to from
the *current event* (a context variable set while a stream iterates). Batch processing with
``stream.take_events`` leaves that variable pointing at the last event of the batch, which would
send every customer's state to one partition. ``event_context`` sets it to the record that the
state belongs to for the duration of one table access.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


class _EventLike:
    """The part of a Faust Event that tables and stores read: ``.message``."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Any) -> None:
        self.message = message


@contextmanager
def event_context(message: Any) -> Iterator[None]:
    holder = _EventLike(message)  # kept alive by this frame while the weakref is in use
    token = _current_event.set(weakref.ref(holder))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)
