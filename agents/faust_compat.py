"""The one place cxstream reaches into Faust internals, with why.

Faust decides which changelog partition and which RocksDB partition a table write goes to from
the *current event* (a context variable set while a stream iterates). Batch processing with
``stream.take_events`` leaves that variable pointing at the last event of the batch, which would
send every customer's state to one partition. ``event_context`` sets it to the record that the
state belongs to for the duration of one table access.

Faust rewinds its partitions to their committed offsets after a rebalance, and whenever it
discards a fetch because flow stopped. aiokafka's ``seek_to_committed`` skips partitions that
have no committed offset yet, so records fetched (but discarded) for such a partition are
never fetched again by that consumer: a fresh group could leave a partition unprocessed and
uncommitted. :class:`RewindingApp` rewinds those partitions to the beginning instead, which is
what ``auto_offset_reset="earliest"`` promises.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP


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


class RewindingConsumer(aiokafka_driver.Consumer):
    """Seek to committed offsets, and to the beginning where nothing was committed yet."""

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        acking = self.app.topics.acks_enabled_for  # stream inputs; not changelogs (standbys)
        never = [
            tp
            for tp, offset in committed.items()
            if (offset is None or offset <= 0) and acking(tp.topic)
        ]
        if never:
            await self._thread.seek_to_beginning(*never)
        return dict(committed)


class RewindingTransport(aiokafka_driver.Transport):
    Consumer = RewindingConsumer


class RewindingApp(faust.App):
    """A Faust app whose consumer never skips records of a partition without commits."""

    def _new_transport(self) -> Any:
        return RewindingTransport(self.conf.broker_consumer, self)
