"""The fetch guard's bookkeeping: per input partition, the next offset Faust must see, and
which partitions must be sought back to read dropped records again.

Pure bookkeeping over offsets (no I/O): ``agents.worker.fetch_guard`` feeds it what each fetch
brought and what Faust sought, and seeks where it says. The merge asks it
(:func:`next_expected`) how far the worker has really received a partition. Why the rules are
what they are is in ``fetch_guard``'s docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

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

    def not_taken(self, lowest: Mapping[TP, int]) -> None:
        """Faust cleared these input records from its stream buffers before the agent took
        them (``cleared_inputs``): read each partition again from the lowest (defect 16)."""
        for tp, offset in lowest.items():
            again = min(offset, self.seek_back.get(tp, offset))
            self.seek_back[tp] = self.expected[tp] = again
            self.confirming.pop(tp, None)
            log.info("%s: Faust cleared input records from %d, read again from there", tp, again)

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


def lowest_offsets(events: Iterable[Any], wanted: Callable[[TP], bool]) -> dict[TP, int]:
    """The lowest offset per partition of queued Faust events whose partition is ``wanted``
    (what a cleared queue held, to be read again from there)."""
    lowest: dict[TP, int] = {}
    for event in events:
        message = getattr(event, "message", None)
        if message is None or not wanted(message.tp):
            continue
        lowest[message.tp] = min(message.offset, lowest.get(message.tp, message.offset))
    return lowest
