"""Faust's ``Stream.take_events`` with the next batch filling while the agent handles this one.

Faust's take loop stops the stream while the agent handles a batch: the processor that fills
the buffer waits until the batch is handed back, so every record of the next batch goes
through the stream's per-record path (iteration, the merge's release, the buffer) only after.
That is the right trade when handling the batch keeps this process busy anyway. With
``--fold-process`` (``agents.worker.fold_process``) the batch is folded in another process
while this one waits, and the next batch's per-record work can be done meanwhile.

So this copy of Faust 0.15.3's loop (pinned in :data:`agents.worker.faust_pins.RELIES_ON`)
hands the agent the batch's events and starts a new buffer at once; only a full new buffer
waits for the batch to be handed back. Acknowledgements are unchanged: a batch's events are
acknowledged once the agent's loop moves on from it, so Faust never commits a record whose
batch is not done, and the next batch's records wait, unacknowledged, like any record not yet
handled. ``take_window.adapt_take_window`` works the same on both loops.

With ``acknowledge=False`` the caller acknowledges each batch itself, later (``fold_ahead``
stores a batch after the loop has moved on to the next ones); the records stay unacknowledged,
so uncommitted, until then.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any


def take_overlapped(
    stream: Any, max_: int, within: float, acknowledge: bool = True
) -> AsyncGenerator[list[Any], None]:
    """Batches of up to ``max_`` events, or what ``within`` seconds gathered (see module doc).

    Registered with the stream like Faust's own take loops, so stopping the stream closes it.
    """
    batches = _take(stream, max_, within, acknowledge)
    stream._active_agens.add(batches)
    return batches


async def _take(
    stream: Any, max_: int, within: float, acknowledge: bool
) -> AsyncGenerator[list[Any], None]:
    events: list[Any] = []
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    buffer_consumed.set()
    stream_enable_acks: bool = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        try:
            event = stream.current_event
            if event is None:
                raise RuntimeError("Take buffer found current_event is None")
            events.append(event)
            if len(events) >= max_:
                buffer_full.set()
                buffer_consumed.clear()
                await stream.wait(buffer_consumed)  # never more than max_ in one batch
        except asyncio.CancelledError:  # pragma: no cover
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False  # acknowledged below, once the agent is done with them
    stream.add_processor(add_to_buffer)
    stream._enable_passive(stream.channel.__aiter__())
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(buffer_full, timeout=within)
            if not events:
                continue
            batch = events[:]
            events.clear()
            buffer_full.clear()
            buffer_consumed.set()  # the next batch fills from here on
            try:
                yield batch
            finally:
                if acknowledge:
                    for event in batch:
                        await stream.ack(event)
    finally:
        stream.enable_acks = stream_enable_acks
        stream._processors.remove(add_to_buffer)
