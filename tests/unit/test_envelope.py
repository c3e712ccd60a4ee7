"""The table value round-trips and its offset marks make redelivery exact."""

from __future__ import annotations

import struct

import pytest

from streams.domain import Channel, Purchase, PurchaseKind
from streams.envelope import ACTIONS_INDEX, decode_envelope, encode_envelope, new_envelope
from streams.errors import CxStreamError
from streams.model import load_config, state_to_bytes
from streams.processing import process_event


def a_state():  # type: ignore[no-untyped-def]
    event = Purchase(
        "e1",
        "t",
        "c1",
        1_700_000_000.0,
        PurchaseKind.ORDER_PLACED,
        "o1",
        1000,
        "EUR",
        Channel.WEB,
        1,
    )
    state, _ = process_event(None, event, load_config())
    return state


def test_round_trip_keeps_offsets_labels_and_state() -> None:
    envelope = new_envelope(3, a_state()).advanced(0, 41, a_state(), 1_700_000_000.0)
    envelope = envelope.with_labels("onboarding", "amber")
    back = decode_envelope(encode_envelope(envelope))
    assert back.partition == 3
    assert back.offsets == (41, -1, -1, -1, -1)
    assert (back.stage, back.band, back.event_time) == ("onboarding", "amber", 1_700_000_000.0)
    assert encode_envelope(back) == encode_envelope(envelope)


def test_offsets_at_or_below_the_mark_are_seen_per_topic() -> None:
    envelope = new_envelope(0, a_state()).advanced(1, 10, a_state(), 0.0)
    assert envelope.seen(1, 10) and envelope.seen(1, 3)
    assert not envelope.seen(1, 11)
    assert not envelope.seen(0, 0)  # another topic's offsets are independent


def test_unknown_version_is_a_clear_error() -> None:
    data = bytearray(encode_envelope(new_envelope(0, a_state())))
    data[0] = 99
    with pytest.raises(CxStreamError, match="version 99"):
        decode_envelope(bytes(data))


def _version_1(partition: int, offsets: tuple[int, ...], state: object) -> bytes:
    """An envelope as workers before the alert-actions topic wrote it (four offset marks)."""
    header = struct.pack(">BH4q16s8sd", 1, partition, *offsets, b"active", b"green", 1.5e9)
    return header + state_to_bytes(state)  # type: ignore[arg-type]


def test_a_version_1_envelope_decodes_with_no_action_folded() -> None:
    old = _version_1(2, (7, 8, 9, 10), a_state())
    back = decode_envelope(old)
    assert back.offsets == (7, 8, 9, 10, -1)
    assert (back.partition, back.stage, back.band, back.event_time) == (2, "active", "green", 1.5e9)
    assert back.state == a_state()
    assert not back.seen(ACTIONS_INDEX, 0)  # the first action is folded, not skipped
    assert encode_envelope(back) == old  # nobody acted: written exactly as before


def test_an_action_mark_moves_to_version_2_and_round_trips() -> None:
    envelope = new_envelope(1, a_state()).advanced(ACTIONS_INDEX, 5, a_state(), 0.0)
    raw = encode_envelope(envelope)
    assert raw[0] == 2
    back = decode_envelope(raw)
    assert back.offsets == (-1, -1, -1, -1, 5) and back.seen(ACTIONS_INDEX, 5)
    assert encode_envelope(back) == raw
