"""Overrides 4-6 of Faust's record path (issue 12): per-record bookkeeping nobody reads.

Installed with overrides 1-3 (:func:`agents.worker.faust_overrides.install`), on one app's
settings and transport, never patched into Faust's classes; pinned in
:mod:`agents.worker.faust_pins` like them.

4. **Lean monitor.** Faust's default sensor updates a dozen counters, deques and clocks for
   every record received, event streamed, message acknowledged, table read or write and
   message sent, for its statistics pages, which the worker does not serve (they follow
   ``debug``; its metrics are cxstream's own, on ``/metrics``). :class:`LeanMonitor` keeps
   the one per-record figure Faust reads back itself: when a stream last took an event from
   each partition (``verify_event_path`` logs a stalled stream from it). Commits, end
   offsets, rebalances and web requests are recorded as before.
5. **Producer buffer size.** Before every record is delivered, Faust checks that its producer
   buffer (table writes waiting for the changelog) holds at most 100 messages; reading that
   size goes through Faust's settings registry (``producer_threaded``) each time.
   :class:`LeanProducerBuffer` reads the queue directly (for the unthreaded producer Faust
   uses by default; the threaded one keeps Faust's buffer).
6. **Raw decode.** The worker's topics carry raw bytes; Faust's compiled decode still passes
   every key and value through the serializer registry and reads the ``Event`` class from
   the settings per record. :class:`RawSchema` builds the same event directly when both are
   raw and untyped, and falls back to Faust's decode otherwise.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.transport.producer import ProducerBuffer

from agents.worker.changelog import FlushingProducer


class LeanMonitor(Monitor):  # type: ignore[misc]
    """Override 4: Faust's monitor without its per-record counters."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()  # read by verify_event_path

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_table_del(self, table: Any, key: Any) -> None:
        return None

    def on_send_initiated(
        self, producer: Any, topic: str, message: Any, keysize: int, valsize: int
    ) -> None:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None


class LeanProducerBuffer(ProducerBuffer):  # type: ignore[misc]
    """Override 5: the unthreaded producer's buffer, its size read without the settings."""

    @property
    def size(self) -> int:
        return len(self.pending._queue)

    def put(self, fut: Any) -> None:
        self.pending.put_nowait(fut)

    async def wait_until_ebb(self) -> None:
        if len(self.pending._queue) > self.max_messages:
            await super().wait_until_ebb()


class LeanProducer(FlushingProducer):
    """The worker's Faust producer with :class:`LeanProducerBuffer` when it is unthreaded."""

    def __init__(self, transport: Any, loop: Any = None, **kwargs: Any) -> None:
        super().__init__(transport, loop=loop, **kwargs)
        if not self.app.conf.producer_threaded:
            self.buffer = LeanProducerBuffer(loop=self.loop, beacon=self.beacon)
            self.buffer.app = self.app


def _raw(serializer: Any, default: Any) -> bool:
    return bool((serializer or default) == "raw")


class RawSchema(faust.Schema):  # type: ignore[misc]
    """Override 6: raw, untyped keys and values become the event without the registry."""

    def compile(self, app: Any, **kwargs: Any) -> Any:
        conf = app.conf
        if (
            self.key_type is not None
            or self.value_type is not None
            or not _raw(self.key_serializer, conf.key_serializer)
            or not _raw(self.value_serializer, conf.value_serializer)
        ):
            return super().compile(app, **kwargs)
        event_class = conf.Event

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            # Faust's raw codec returns the bytes as they are (want_bytes); None stays None.
            return event_class(app, message.key, message.value, message.headers, message)

        return decode


def install_lean(app: faust.App) -> None:
    """Give ``app`` overrides 4 and 6 (5 comes with the transport, see ``FastTransport``)."""
    app.conf.Monitor = LeanMonitor
    app.conf.Schema = RawSchema
