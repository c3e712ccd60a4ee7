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
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.worker.metrics import STALE_FETCH_RECORDS

log = logging.getLogger(__name__)


#: Where a partition with no known position is read again from: aiokafka's reset policy
#: (``earliest``) moves a seek below the log's first offset up to it.
LOG_START: Final = 0


def _why(stale: bool, behind_dropped: bool) -> str:
    if stale:
        return "fetched before a seek"
    if behind_dropped:
        return "after records waiting to be read again"
    return "ahead of the expected offset"


class FetchLedger:
    """Where each input partition must go on, and which partitions must be sought back."""

    def __init__(self) -> None:
        self.expected: dict[TP, int] = {}  # the next offset Faust must see
        self.seek_back: dict[TP, int] = {}  # dropped records: read them again from here
        self.confirming: dict[TP, int] = {}  # sought back to this offset, nothing seen since
        # changelog records Faust cleared, until sought (always in seek_back too)
        self.discarded: dict[TP, int] = {}

    def screen(
        self, records: Mapping[TP, list[Any]], stale: bool, is_input: Callable[[str], bool]
    ) -> dict[TP, list[Any]]:
        """The records Faust may see; the others are dropped and their partitions noted."""
        kept: dict[TP, list[Any]] = {}
        dropped = 0
        for tp, batch in records.items():
            if not batch:
                kept[tp] = batch
                continue
            if not is_input(tp.topic):
                if tp in self.seek_back:  # dropped or cleared records are read again first
                    dropped += len(batch)
                    log.info(
                        "%s: dropped changelog offsets %d..%d, read again from %d",
                        tp,
                        batch[0].offset,
                        batch[-1].offset,
                        self._seek_back_to(tp),
                    )
                else:
                    kept[tp] = batch
                continue
            first = batch[0].offset
            want = self.expected.get(tp)
            # records before these wait to be read again (unless these start where Faust is)
            behind_dropped = tp in self.seek_back and (want is None or first != want)
            ahead = want is not None and first > want
            if ahead and not stale and self.confirming.get(tp) == want:
                # sought back there, and the log still has no record there
                log.info("%s: offsets %s..%d are not in the log; going on", tp, want, first - 1)
                ahead = False
            if stale or ahead or behind_dropped:
                # No known position (no committed offset, or none since a revocation): Faust
                # takes whatever comes first as the start, so read again from the log's start.
                self.seek_back.setdefault(tp, LOG_START if want is None else want)
                dropped += len(batch)
                log.info(
                    "%s: dropped offsets %d..%d (%s; expected %s), read again from %d",
                    tp,
                    first,
                    batch[-1].offset,
                    _why(stale, behind_dropped),
                    want,
                    self._seek_back_to(tp),
                )
                continue
            kept[tp] = batch
            self.expected[tp] = batch[-1].offset + 1
            self.confirming.pop(tp, None)
            # These start where Faust is, so the records dropped before come again in order,
            # with no seek: a seek now would move Faust's read offset past these (held by the
            # merge, not yet delivered) and Faust would skip them (defect 14).
            self.seek_back.pop(tp, None)
        if dropped:
            STALE_FETCH_RECORDS.inc(dropped)
            log.info("dropped %d input records fetched out of sequence (read again)", dropped)
        return kept

    def sought(self, positions: Mapping[TP, int | None], is_input: Callable[[str], bool]) -> None:
        """Faust sought these partitions (None: no committed offset, the reset policy decides)."""
        for tp, offset in positions.items():
            if not is_input(tp.topic):
                continue
            self.confirming.pop(tp, None)
            if offset is None:
                self.expected.pop(tp, None)
            else:
                self.expected[tp] = offset

    def not_passed_on(self, fetched: Mapping[TP, list[Any]], passed: Mapping[TP, int]) -> None:
        """Faust passed on ``passed`` (the last offset per partition) of what it was handed:
        changelog records it dropped are read again from the first of them."""
        for tp, batch in fetched.items():
            last = passed.get(tp)
            if not batch or (last is not None and last >= batch[-1].offset):
                continue
            again = batch[0].offset if last is None else last + 1
            self.seek_back[tp] = self.expected[tp] = again
            log.info(
                "%s: Faust dropped changelog offsets %d..%d, read again from %d",
                tp,
                again,
                batch[-1].offset,
                again,
            )

    def not_delivered(self, lowest: Mapping[TP, int]) -> None:
        """Faust cleared these changelog records unapplied (``changelog_queue``): read each
        partition again from the lowest, unless recovery seeks it first."""
        for tp, offset in lowest.items():
            again = min(offset, self.discarded.get(tp, offset))
            self.discarded[tp] = self.seek_back[tp] = self.expected[tp] = again
            log.info(
                "%s: Faust cleared changelog records from %d, read again from there", tp, again
            )

    def _seek_back_to(self, tp: TP) -> int:
        """Where ``tp`` is read again from: where Faust sought it since the drop, if it did."""
        return self.expected.get(tp, self.seek_back[tp])

    def revoked(self) -> None:
        """Faust clears what it buffered and seeks back once reassigned: start over."""
        self.expected.clear()
        self.confirming.clear()
        self.seek_back.clear()  # a new assignment reads from the committed offsets anyway
        # ... but changelogs have none: cleared records wait for recovery's seek or ours
        self.seek_back.update(self.discarded)
        self.expected.update(self.discarded)

    def take_seek_backs(
        self, assigned: set[TP], held: Mapping[TP, int] | None = None
    ) -> dict[TP, int]:
        """The partitions to seek before the next fetch, and where (assigned ones only);
        ``held``: the oldest offset the merge still held per partition, read again too."""
        due = {tp: self._seek_back_to(tp) for tp in self.seek_back}
        for tp, oldest in (held or {}).items():
            if tp in due and oldest < due[tp]:
                log.info("%s: the merge held offsets from %d: read again from there", tp, oldest)
                due[tp] = oldest
        self.seek_back.clear()
        for tp in due:
            self.discarded.pop(tp, None)
        if due:
            log.info("seeking back: %s", ", ".join(f"{tp}@{offset}" for tp, offset in due.items()))
        for tp, offset in due.items():
            self.expected[tp] = offset
            self.confirming[tp] = offset
        return {tp: offset for tp, offset in due.items() if tp in assigned}


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


def next_expected(app: Any, tp: TP) -> int | None:
    """The next offset of ``tp`` Faust will be handed: what the worker has really received.

    aiokafka's fetch position runs ahead of it while dropped records wait to be read again,
    so "caught up" must be judged on this. None when the guard has no position for ``tp``
    (not sought yet, or the reset policy decides) and nothing to read again."""
    ledger: FetchLedger | None = getattr(getattr(app, "consumer", None), "ledger", None)
    if ledger is None:  # not a guarded consumer
        return None
    offset: int | None = ledger.expected.get(tp)
    again: int | None = ledger.seek_back.get(tp)
    if again is None:
        return offset
    return again if offset is None else min(offset, again)


class GuardedTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer = GuardedConsumer


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
