"""The fetch guard's ledger (agents/worker/fetch_ledger.py): records from where Faust sought
pass and move the position on; anything else is dropped and its partition read again."""

from __future__ import annotations

from typing import Any

from faust.types import TP

from agents.worker.fetch_ledger import FetchLedger
from agents.worker.metrics import STALE_FETCH_RECORDS

PURCHASES = TP("purchases", 2)
CHANGELOG = TP("cxstream-customers-changelog", 2)


class Record:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def batch(first: int, last: int) -> list[Any]:
    return [Record(o) for o in range(first, last + 1)]


def is_input(topic: str) -> bool:
    return topic == PURCHASES.topic


def offsets(records: dict[TP, list[Any]], tp: TP = PURCHASES) -> list[int]:
    return [r.offset for r in records.get(tp, [])]


def test_records_from_where_faust_sought_pass_and_the_position_follows() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 7435}, is_input)
    assert offsets(ledger.screen({PURCHASES: batch(7435, 7440)}, False, is_input)) == list(
        range(7435, 7441)
    )
    assert offsets(ledger.screen({PURCHASES: batch(7441, 7441)}, False, is_input)) == [7441]
    assert not ledger.seek_back


def test_records_further_on_are_dropped_and_read_again_from_the_sought_offset() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 7435}, is_input)
    before = STALE_FETCH_RECORDS._value.get()
    kept = ledger.screen({PURCHASES: batch(7998, 8000), CHANGELOG: batch(40, 41)}, False, is_input)
    assert PURCHASES not in kept and offsets(kept, CHANGELOG) == [40, 41]  # changelogs untouched
    assert STALE_FETCH_RECORDS._value.get() - before == 3
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 7435}
    assert offsets(ledger.screen({PURCHASES: batch(7435, 7436)}, False, is_input)) == [7435, 7436]


def test_a_fetch_a_seek_overtook_is_dropped_even_when_it_starts_right() -> None:
    """Fetched after the thread sought but handed over while the main thread still seeks: it
    advanced the position, so dropping it needs a seek back (a soak lost such records)."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 25586}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(25586, 25601)}, True, is_input)
    assert ledger.take_seek_backs({PURCHASES, CHANGELOG}) == {PURCHASES: 25586}


def test_a_hole_still_there_after_seeking_back_is_real_and_passed_on() -> None:
    """Compaction, transaction markers or retention: Faust's own gap handling takes over."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 100}, is_input)
    ledger.screen({PURCHASES: batch(102, 105)}, False, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 100}
    assert offsets(ledger.screen({PURCHASES: batch(102, 105)}, False, is_input)) == [
        102,
        103,
        104,
        105,
    ]
    assert PURCHASES not in ledger.screen({PURCHASES: batch(110, 111)}, False, is_input)


def test_a_partition_no_longer_assigned_is_not_sought() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 5}, is_input)
    ledger.screen({PURCHASES: batch(9, 9)}, False, is_input)
    assert ledger.take_seek_backs(set()) == {}
    assert not ledger.seek_back


def test_without_a_committed_offset_the_dropped_records_are_read_again() -> None:
    ledger = FetchLedger()
    ledger.revoked()
    ledger.sought({PURCHASES: None}, is_input)  # a new group: the reset policy decides
    assert PURCHASES not in ledger.screen({PURCHASES: batch(0, 9)}, True, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}


def test_records_after_dropped_ones_wait_until_those_are_read_again() -> None:
    """Run 26b: a new worker's first fetches (no committed offset, fetched before Faust's seek)
    were dropped; Faust's seek left aiokafka's position where it was, so the next fetch went on
    from there and was handed over, and the seek back followed it: 4,940 records never read."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: None}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(0, 4939)}, True, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(4940, 6089)}, False, is_input)
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}
    assert offsets(ledger.screen({PURCHASES: batch(0, 1999)}, False, is_input)) == list(range(2000))


def test_a_fetch_from_where_faust_sought_passes_while_earlier_drops_wait() -> None:
    """Run 27a's trace: a fetch from before Faust's seek was dropped, then the fetch from the
    committed offset it sought arrived: in sequence, so it goes on (nothing read twice)."""
    ledger = FetchLedger()
    ledger.screen({PURCHASES: batch(17190, 17206)}, True, is_input)  # before the seek
    ledger.sought({PURCHASES: 17190}, is_input)
    kept = ledger.screen({PURCHASES: batch(17190, 17212)}, False, is_input)
    assert offsets(kept) == list(range(17190, 17213))
    assert ledger.take_seek_backs({PURCHASES}) == {}  # the dropped ones follow in order


def test_records_from_where_faust_is_make_the_seek_back_moot_so_none_overtakes_them() -> None:
    """Defect 14 (full soak 40, seed 15): after a fetch from before Faust's seek was dropped
    (23503..24251), the fetch from the committed offset passed (23503..24257), and the guard
    still sought "back" to 24258. The merge held 23503..24257 for the timestamp order; the seek
    set Faust's read offset past them, so Faust skipped them and committed past: 755 records
    lost. Nothing is sought now: the records after them come next anyway."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 23503}, is_input)
    assert PURCHASES not in ledger.screen({PURCHASES: batch(23503, 24251)}, True, is_input)
    kept = ledger.screen({PURCHASES: batch(23503, 24257)}, False, is_input)
    assert offsets(kept) == list(range(23503, 24258))
    assert ledger.take_seek_backs({PURCHASES}) == {}
    assert offsets(ledger.screen({PURCHASES: batch(24258, 24260)}, False, is_input)) == [
        24258,
        24259,
        24260,
    ]


def test_without_a_known_position_dropped_records_are_read_again_from_the_log_start() -> None:
    """After a revocation the guard knows no position until Faust seeks. A fetch from before it
    starts wherever the old assignment had read to; with no committed offset, Faust takes the
    first record it is handed as the start, so the partition is read again from the start."""
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 3000}, is_input)
    ledger.screen({PURCHASES: batch(3000, 3999)}, False, is_input)
    ledger.revoked()
    assert PURCHASES not in ledger.screen({PURCHASES: batch(4000, 4999)}, True, is_input)
    ledger.sought({PURCHASES: None}, is_input)  # reassigned; nothing committed yet
    assert ledger.take_seek_backs({PURCHASES}) == {PURCHASES: 0}


def test_a_revocation_forgets_seek_backs_the_reassignment_makes_moot() -> None:
    ledger = FetchLedger()
    ledger.sought({PURCHASES: 5}, is_input)
    ledger.screen({PURCHASES: batch(9, 9)}, False, is_input)
    ledger.revoked()
    assert ledger.take_seek_backs({PURCHASES}) == {}


def test_changelog_records_faust_did_not_pass_on_are_read_again_before_anything_later() -> None:
    """Defect 7: a standby's changelog records dropped by Faust's getmany (the flow stopped for
    a rebalance) were skipped for good; changelogs have no committed offset to seek back to."""
    ledger = FetchLedger()
    ledger.sought({CHANGELOG: 0}, lambda topic: True)  # recovery: the standby reads from 0
    handed = ledger.screen({CHANGELOG: batch(0, 39)}, False, is_input)
    ledger.not_passed_on(handed, {CHANGELOG: 9})  # Faust yielded 0..9, then the flow stopped
    assert CHANGELOG not in ledger.screen({CHANGELOG: batch(40, 46)}, False, is_input)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 10}
    assert offsets(ledger.screen({CHANGELOG: batch(10, 46)}, False, is_input), CHANGELOG) == list(
        range(10, 47)
    )


def test_changelog_records_passed_on_in_full_need_no_seek_and_holes_are_compaction() -> None:
    ledger = FetchLedger()
    handed = ledger.screen({CHANGELOG: batch(0, 9)}, False, is_input)
    ledger.not_passed_on(handed, {CHANGELOG: 9, PURCHASES: 3})
    later = ledger.screen({CHANGELOG: batch(25, 30)}, False, is_input)  # 10..24 compacted away
    assert offsets(later, CHANGELOG) == list(range(25, 31)) and not ledger.seek_back


def test_changelog_records_dropped_before_a_recovery_seek_are_read_from_where_it_sought() -> None:
    """The store's offset, as recovery sought it, is where a standby must go on from."""
    ledger = FetchLedger()
    ledger.not_passed_on({CHANGELOG: batch(50, 59)}, {})
    ledger.sought({CHANGELOG: 44}, lambda topic: True)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 44}


def test_changelog_records_faust_cleared_are_read_again_and_nothing_later_passes() -> None:
    """Defect 13: Faust clears its changelog queue on a revocation; the standby then applied a
    later record and ignored the cleared ones for good."""
    ledger = FetchLedger()
    ledger.not_delivered({CHANGELOG: 11})
    ledger.revoked()  # a revocation keeps them: changelogs have no committed offset
    assert CHANGELOG not in ledger.screen({CHANGELOG: batch(161, 170)}, False, is_input)
    assert ledger.take_seek_backs({CHANGELOG}) == {CHANGELOG: 11}
    assert not ledger.discarded
    assert offsets(ledger.screen({CHANGELOG: batch(11, 20)}, False, is_input), CHANGELOG) == list(
        range(11, 21)
    )
