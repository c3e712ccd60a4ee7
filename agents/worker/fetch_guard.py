"""Never let Faust see an input partition's records out of sequence: it would commit past the
ones it skipped.

Faust's consumer fetches on its own thread, and a fetch's records reach the main thread some
time after the thread fetched them. Around a rebalance that time matters. Faust seeks every
assigned partition back to its committed offset C, sometimes twice in a row. A fetch made
before a seek can arrive after it (records from before the seek), and a fetch made after the
seek can arrive while the main thread still runs the seek. When the first record Faust then
delivers for a partition has an offset X above C, ``Consumer._drain_messages`` records C+1..X-1
as a gap to commit (``_add_gap``), and the next commit skips every record in between, with
nothing logged. Full chaos soaks with ``--faust-fast-path`` lost hundreds of records that way
(docs/reliability.md, runs 9 and 11); the traces showed both orders.

The guard keeps, per input partition (topics Faust acknowledges), the next offset Faust must
see: the committed offset after a seek, then one past the last record handed on. A fetch's
records for a partition are handed on only when they start there. Records of a fetch that a
revocation or a seek overtook, or that arrive while a seek runs, or that start further on,
are dropped, and the partition is sought back to that offset before the next fetch, so they
are read again: every record reaches Faust once, in order, or the guard reads it again. Until
that seek, later records of the partition are dropped too: with no committed offset Faust does
not seek at all, aiokafka's position runs on, and passing the next fetch would commit past the
dropped records (a full soak, run 26b, lost 4,940 that way at a new worker's start).
A partition that starts further on again right after such a seek has a real hole there
(compaction, transaction markers, retention): that is handed on, as Faust would.

Changelog partitions (standby replicas, recovery) need one rule more. Faust's ``getmany``
drops records it was handed when the flow stops for a rebalance, when the generation changes,
or when their partition was paused meanwhile; for input partitions its seek back to the
committed offsets reads them again, but changelogs have no committed offsets, so a standby
skipped them for good and later took over with a partial table (docs/reliability.md,
defect 7). So records of a changelog partition that Faust did not pass on are read again from
the first of them, and nothing later of that partition passes until they are. Changelogs are
compacted, so a fetch starting further on than the last is normal there and passes.

The offsets and the rules above are kept in ``fetch_ledger.FetchLedger``; this module is the
consumer that feeds it and seeks where it says.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.worker.changelog import FlushingProducer
from agents.worker.fetch_ledger import FetchLedger

log = logging.getLogger(__name__)


class GuardedConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer whose input partitions reach Faust in sequence."""

    _fetch_epoch: int = 0
    _seeking: int = 0
    _handed_changelogs: dict[TP, list[Any]] | None = None  # the last fetch's, for Faust

    @property
    def ledger(self) -> FetchLedger:
        ledger: FetchLedger | None = self.__dict__.get("_cx_ledger")
        if ledger is None:
            ledger = self.__dict__["_cx_ledger"] = FetchLedger()
        return ledger

    def invalidate_fetches(self) -> None:
        """Records of fetches in flight now may lie ahead of the position about to be sought."""
        self._fetch_epoch += 1

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.invalidate_fetches()
        self.ledger.revoked()
        await super().on_partitions_revoked(revoked)

    async def perform_seek(self) -> None:
        self.invalidate_fetches()
        self._seeking += 1
        try:
            await super().perform_seek()
        finally:
            self._seeking -= 1
        self.ledger.sought(dict(self._read_offset), self.app.topics.acks_enabled_for)

    async def seek(self, partition: TP, offset: int) -> None:
        self.invalidate_fetches()
        await super().seek(partition, offset)
        self.ledger.sought({partition: offset}, self.app.topics.acks_enabled_for)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        """Recovery seeks changelog partitions (standbys, actives) to their stores' offsets:
        records Faust dropped before it are read again from there."""
        await super().seek_wait(partitions)
        for tp in partitions:  # recovery reads on from its store's offset, below those
            self.ledger.discarded.pop(tp, None)
        self.ledger.sought(dict(partitions), _any_topic)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:
        """Faust's, noting how far each changelog partition was passed on (see the module)."""
        passed: dict[TP, int] = {}
        async for tp, message in super().getmany(timeout):
            passed[tp] = message.offset
            yield tp, message
        fetched, self._handed_changelogs = self._handed_changelogs, None
        if fetched:
            self.ledger.not_passed_on(fetched, passed)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        if self.ledger.seek_back and not self._seeking:
            await self._seek_back()
        epoch = self._fetch_epoch
        records = await self._fetch(active_partitions, timeout)
        if not records:
            return records
        stale = epoch != self._fetch_epoch or self._seeking > 0
        is_input = self.app.topics.acks_enabled_for
        kept = self.ledger.screen(records, stale, is_input)
        self._handed_changelogs = {tp: b for tp, b in kept.items() if b and not is_input(tp.topic)}
        return kept

    async def _seek_back(self) -> None:
        """Seek where dropped records start; a failed seek (a rebalance under way) is retried
        before the next fetch, and the rebalance seeks back anyway.

        Records the scheduler (the worker's merge) still holds for a partition are dropped
        and read again too: the seek sets Faust's read offset, and Faust skips any record it
        is handed below that offset, so a held record left behind it would be lost.
        """
        drop_held = getattr(self.scheduler, "drop_held", None)
        pending = set(self.ledger.seek_back)
        held: dict[TP, int] = drop_held(pending) if pending and drop_held else {}
        due = self.ledger.take_seek_backs(set(self.assignment()), held)
        for tp, offset in due.items():
            try:
                await super().seek(tp, offset)  # Faust's: aiokafka and the read offset
            except Exception as exc:  # retried: the fetch loop must go on
                log.warning("seeking %s back to %d failed (%r): retried", tp, offset, exc)
                self.ledger.seek_back.setdefault(tp, offset)

    async def _fetch(self, active_partitions: Any, timeout: float) -> Any:
        """Faust's own fetch (``ThreadDelegateConsumer._getmany``, on the consumer's thread)."""
        return await super()._getmany(active_partitions, timeout)


def _any_topic(topic: str) -> bool:
    return True


class GuardedTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = GuardedConsumer
    Producer = FlushingProducer  # the changelog writer's records flush with Faust's own


def install_guard(
    app: faust.App, transport_class: type[GuardedTransport] = GuardedTransport
) -> GuardedTransport:
    """Give ``app`` a guarded consumer (``faust_overrides`` passes its transport, whose consumer
    includes the guard). Call right after creating the app: Faust creates its transport on
    first use (declaring a topic or an agent), and keeps it."""
    if app._transport is not None:
        raise RuntimeError("install_guard: the app's transport exists already")
    transport = transport_class(app.conf.broker_consumer, app)
    app.transport = transport
    return transport
