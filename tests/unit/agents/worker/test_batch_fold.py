"""The batch processor folds records exactly once, in event-time order, and loses nothing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from agents.settings import connect_registry
from agents.worker.batch_fold import BatchFold
from streams.contracts import CONFLUENT_AVRO, ConfluentRegistry, encode_event
from streams.contracts.confluent import RegistryUnavailable
from streams.domain import (
    Channel,
    Event,
    Feedback,
    FeedbackKind,
    Purchase,
    PurchaseKind,
    Touchpoint,
)
from streams.envelope import Envelope, decode_envelope
from streams.loop_processing import process_loop_event
from streams.model import load_config
from streams.topics import Topics

TOPICS = Topics("u.")
DAY = 86_400.0
T0 = 1_700_000_000.0


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class DictStates:
    def __init__(self) -> None:
        self.data: dict[str, Envelope] = {}

    def get(self, customer_id: str, record: object) -> Envelope | None:
        return self.data.get(customer_id)

    def put(self, customer_id: str, envelope: Envelope, raw: bytes, record: object) -> None:
        assert decode_envelope(raw) == envelope, "the stored bytes are the envelope"
        self.data[customer_id] = envelope


def purchase(n: int, when: float, customer: str = "c1") -> Purchase:
    return Purchase(
        f"p{n}",
        "t",
        customer,
        when,
        PurchaseKind.ORDER_PLACED,
        f"o{n}",
        2500,
        "EUR",
        Channel.WEB,
        1,
    )


def detractor(n: int, when: float) -> Feedback:
    return Feedback(
        f"f{n}",
        "t",
        "c1",
        when,
        FeedbackKind.NPS,
        0,
        Touchpoint.AFTER_PURCHASE,
        Channel.SOCIAL,
        True,
        comment="awful",
    )


def rec(event: Event, offset: int) -> Rec:
    key, value, headers = encode_event(event)
    topic = TOPICS.purchases if isinstance(event, Purchase) else TOPICS.feedback
    return Rec(topic, 0, offset, key, value, event.occurred_at, headers)


def run(batches: list[list[Rec]]) -> tuple[DictStates, list[object], list[str]]:
    """The batches folded in turn: the states, the alerts and the dead letters' reasons."""
    processor = BatchFold(TOPICS, load_config(), clock=lambda: T0 + 400 * DAY)
    states, alerts, reasons = DictStates(), [], []
    for batch in batches:
        out = processor.process(batch, states)
        alerts += out.alerts
        reasons += out.dead_letter_reasons
        for customer_id, envelope, raw, record in out.states:
            states.put(customer_id, envelope, raw, record)
    return states, alerts, reasons


def test_a_redelivered_batch_changes_nothing_and_raises_no_alert_again() -> None:
    events = [purchase(1, T0), purchase(2, T0 + 20 * DAY), detractor(3, T0 + 21 * DAY)]
    records = [rec(e, i) for i, e in enumerate(events)]
    once, alerts_once, _ = run([records])
    twice, alerts_twice, _ = run([records, records])  # crash before commit: all redelivered
    assert twice.data["c1"] == once.data["c1"]
    assert alerts_twice == alerts_once and alerts_once, "the public detractor raises an alert"


def test_a_redelivered_batch_writes_the_state_again_so_the_changelog_has_it() -> None:
    """The local store may hold a state whose changelog record a crash lost; the worker
    commits the redelivered records only after writing that state again."""
    events = [purchase(1, T0), purchase(2, T0 + 20 * DAY)]
    records = [rec(e, i) for i, e in enumerate(events)]
    processor = BatchFold(TOPICS, load_config(), clock=lambda: T0 + 400 * DAY)
    states = DictStates()
    for customer_id, envelope, raw, record in processor.process(records, states).states:
        states.put(customer_id, envelope, raw, record)
    again = processor.process(records, states)
    rewritten = [(customer_id, envelope) for customer_id, envelope, _, _ in again.states]
    assert rewritten == [("c1", states.data["c1"])]
    assert again.alerts == [] and again.snapshots == [], "nothing is published twice"
    assert {outcome for _, outcome in again.outcomes} == {"duplicate"}


def test_a_batch_is_folded_in_event_time_order_like_the_pure_model() -> None:
    events = [purchase(1, T0), purchase(2, T0 + 30 * DAY), detractor(3, T0 + 31 * DAY)]
    shuffled = [rec(events[2], 0), rec(events[0], 0), rec(events[1], 1)]  # across topics
    states, _, _ = run([shuffled])
    expected = None
    for event in events:  # the worker's fold: the model plus the feedback loop
        expected, _, _ = process_loop_event(expected, event, load_config())
    assert states.data["c1"].state == expected


def test_malformed_records_become_dead_letters_with_their_bytes_intact() -> None:
    good = rec(purchase(1, T0), 0)
    bad = Rec(TOPICS.purchases, 0, 1, b"c1", b"\x00garbage", headers=[("content-type", b"x/y")])
    processor = BatchFold(TOPICS, load_config(), clock=lambda: T0)
    out = processor.process([good, bad], DictStates())
    assert len(out.states) == 1
    [(key, value, headers)] = out.dead_letters
    assert (key, value) == (b"c1", b"\x00garbage")
    names = dict(headers)
    assert names["dlq.reason"] == b"unknown_content_type"
    assert names["dlq.source.offset"] == b"1"


class FlakyRegistryClient:
    """A registry that is down for the first ``failures`` look-ups, then answers."""

    def __init__(self, inner: object, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def schema_str(self, schema_id: int) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("registry unreachable")
        return str(self.inner.schema_str(schema_id))  # type: ignore[attr-defined]

    def register_avro(self, subject: str, schema_json: str) -> int:
        return int(self.inner.register_avro(subject, schema_json))  # type: ignore[attr-defined]


def test_a_registry_outage_is_waited_out_instead_of_dead_lettering_good_messages() -> None:
    writer = connect_registry("mock://processor-test")
    key, value, headers = encode_event(purchase(1, T0), CONFLUENT_AVRO, registry=writer)
    record = Rec(TOPICS.purchases, 0, 0, key, value, T0, headers)

    flaky = ConfluentRegistry(FlakyRegistryClient(writer.client, failures=2))
    patient = BatchFold(
        TOPICS, load_config(), clock=lambda: T0, registry=flaky, retry_delays=(0.0, 0.0, 0.0)
    )
    out = patient.process([record], DictStates())
    assert not out.dead_letters and len(out.states) == 1

    # A longer outage fails the batch (the pipeline retries it), never dead-letters the record.
    down = ConfluentRegistry(FlakyRegistryClient(writer.client, failures=99))
    impatient = BatchFold(
        TOPICS, load_config(), clock=lambda: T0, registry=down, retry_delays=(0.0,)
    )
    with pytest.raises(RegistryUnavailable, match="registry unreachable"):
        impatient.process([record], DictStates())


def test_a_record_stamped_later_than_it_occurred_is_late_whatever_batch_it_shares() -> None:
    """Its record timestamp puts it after the customer's newer purchase (the merge's order),
    its payload five days before: it is too late to check for duplicates, in the same batch
    as that purchase or in the next one (folding by payload time made it depend on that)."""
    newer = purchase(2, T0 + 10 * DAY)
    late = dataclasses.replace(purchase(3, T0 + 5 * DAY), order_id="o-late")
    records = [rec(purchase(1, T0), 0), rec(newer, 1)]
    stamped_later = dataclasses.replace(rec(late, 2), timestamp=newer.occurred_at + DAY)
    for batches in ([[*records, stamped_later]], [records, [stamped_later]]):
        states, _, reasons = run(batches)
        assert reasons == ["late_event"]
        assert states.data["c1"].state.purchases.orders == 2
