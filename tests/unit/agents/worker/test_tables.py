"""The worker's tables over a plain dict: survey-integrity weights and the customer-state cache.

A dict stands in for the Faust table (the accesses run in a Faust event context, which a dict
ignores): what is tested is what the worker stores and when, not Faust.
"""

from __future__ import annotations

import dataclasses

from agents.worker.tables import FaustIntegrity, FaustStates
from streams.domain import Channel, Feedback, FeedbackKind, Touchpoint
from streams.envelope import decode_envelope, encode_envelope, new_envelope
from streams.loop_processing import process_loop_event
from streams.model import CustomerState, load_config, observe_feedback
from streams.processing import integrity_key
from tests.unit.agents.worker.test_batch_fold import T0, TOPICS, Rec, purchase

CONFIG = load_config()
MINUTE = 60.0


def survey(n: int, agent: str | None = "a1", location: str | None = None) -> Feedback:
    return Feedback(
        f"f{n}",
        "t",
        f"c{n}",
        T0 + n * MINUTE,
        FeedbackKind.NPS,
        10,
        Touchpoint.AFTER_TICKET,
        Channel.EMAIL,
        True,
        agent_id=agent,
        location_id=location,
    )


def at(offset: int, partition: int = 2) -> Rec:
    return Rec(TOPICS.feedback, partition, offset, b"k", b"v")


def reference_weights(surveys: list[Feedback]) -> list[float]:
    state, out = None, []
    for fb in surveys:
        state, verdict = observe_feedback(state, fb, fb.occurred_at, CONFIG)
        out.append(verdict.weight)
    return out


def burst() -> list[Feedback]:
    """One agent's many perfect scores within minutes: the pattern coaching leaves."""
    return [survey(n) for n in range(40)]


def test_weights_are_the_models_and_reach_the_table_only_on_flush() -> None:
    table: dict[str, bytes] = {}
    integrity = FaustIntegrity(table, CONFIG)
    surveys = burst()
    weights = [integrity.weigh(fb, at(i)) for i, fb in enumerate(surveys)]
    assert weights == reference_weights(surveys)
    assert min(weights) < 1.0, "the burst is recognised as coached"
    assert table == {}, "nothing is written before the batch's outputs are acknowledged"
    integrity.flush()
    assert list(table) == [integrity_key(surveys[0], 2)] == ["2|agent:a1"]


def test_a_redelivered_feedback_gets_the_verdict_it_had() -> None:
    table: dict[str, bytes] = {}
    first = FaustIntegrity(table, CONFIG)
    surveys = burst()
    weights = [first.weigh(fb, at(i)) for i, fb in enumerate(surveys)]
    first.flush()
    after_crash = FaustIntegrity(table, CONFIG)  # a restarted worker reading the same table
    assert after_crash.weigh(surveys[-1], at(len(surveys) - 1)) == weights[-1]


class ChangelogTable(dict[str, bytes]):
    """A dict that also keeps every write, as a table's changelog does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, bytes]] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        super().__setitem__(key, value)
        self.writes.append((key, value))


def test_a_redelivered_feedback_writes_its_verdict_again_so_the_changelog_has_it() -> None:
    table = ChangelogTable()
    first = FaustIntegrity(table, CONFIG)
    surveys = burst()
    for i, fb in enumerate(surveys):
        first.weigh(fb, at(i))
    first.flush()
    stored = dict(table)
    table.writes.clear()  # as if the crash lost these changelog records
    after_crash = FaustIntegrity(table, CONFIG)
    after_crash.weigh(surveys[-1], at(len(surveys) - 1))
    after_crash.flush()
    assert table.writes == list(stored.items()), "the same bytes, written again"


def test_a_discarded_batch_is_weighed_again_the_same_way() -> None:
    table: dict[str, bytes] = {}
    integrity = FaustIntegrity(table, CONFIG)
    surveys = burst()
    once = [integrity.weigh(fb, at(i)) for i, fb in enumerate(surveys)]
    integrity.discard()  # the batch failed: it will be redelivered
    assert table == {}
    again = [integrity.weigh(fb, at(i)) for i, fb in enumerate(surveys)]
    assert again == once


def test_feedback_without_agent_or_location_weighs_fully_and_stores_nothing() -> None:
    table: dict[str, bytes] = {}
    integrity = FaustIntegrity(table, CONFIG)
    assert integrity.weigh(survey(1, agent=None), at(1)) == 1.0
    integrity.flush()
    assert table == {}


def test_shards_are_per_partition_and_locations_are_keyed_apart() -> None:
    table: dict[str, bytes] = {}
    integrity = FaustIntegrity(table, CONFIG)
    integrity.weigh(survey(1), at(1, partition=0))
    integrity.weigh(survey(2), at(2, partition=3))
    integrity.weigh(survey(3, agent=None, location="berlin"), at(3, partition=3))
    integrity.flush()
    assert sorted(table) == ["0|agent:a1", "3|agent:a1", "3|location:berlin"]


def test_states_are_decoded_once_and_forgotten_on_a_rebalance() -> None:
    envelope = new_envelope(1, _state())
    table = {"c1": encode_envelope(envelope)}
    states = FaustStates(table, capacity=1)
    assert states.get("c1", at(1)) == envelope
    moved = dataclasses.replace(envelope, partition=3)
    states.put("c1", moved, encode_envelope(moved), at(2))
    assert decode_envelope(table["c1"]) == moved, "a put reaches the table (and its changelog)"
    table["c1"] = encode_envelope(envelope)  # another worker owned it meanwhile
    assert states.get("c1", at(3)) == moved, "cached: this worker is the only writer"
    states.forget()
    assert states.get("c1", at(4)) == envelope
    assert states.get("nobody", at(5)) is None


def test_the_cache_keeps_only_the_most_recent_customers() -> None:
    states = FaustStates({}, capacity=2)
    for cid in ("a", "b", "c"):
        env = new_envelope(0, _state(cid))
        states.put(cid, env, encode_envelope(env), at(0))
    states.table.clear()  # only the cache is left
    assert [states.get(cid, at(0)) is not None for cid in ("a", "b", "c")] == [False, True, True]


def _state(customer_id: str = "c1") -> CustomerState:
    state, _, _ = process_loop_event(None, purchase(1, T0, customer_id), CONFIG)
    return state
