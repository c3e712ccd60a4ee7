"""The fast record constructors and the shared fit table give exactly what the plain ones do."""

from __future__ import annotations

import dataclasses
import math

import pytest

from streams.config import load_config
from streams.domain import Contribution, HealthSnapshot
from streams.model import new_state, state_from_bytes, state_to_bytes
from streams.model.fit import _fit, _shared_fit
from streams.model.positional import positional
from streams.model.state import (
    NO_FEEDBACK,
    NO_PURCHASES,
    CustomerState,
    FeedbackAgg,
    Memo,
    Purchases,
    build_feedback,
    build_purchases,
    build_state,
)


def _values(record: object) -> tuple[object, ...]:
    return tuple(getattr(record, f.name) for f in dataclasses.fields(record))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cls", "build", "record"),
    [
        (Purchases, build_purchases, NO_PURCHASES),
        (FeedbackAgg, build_feedback, NO_FEEDBACK),
        (CustomerState, build_state, new_state("c-1", 1_700_000_000.0)),
    ],
)
def test_builder_equals_constructor(cls: type, build: object, record: object) -> None:
    values = _values(record)
    built = build(*values)  # type: ignore[operator]
    assert type(built) is cls
    assert built == cls(*values)
    assert _values(built) == values
    first = dataclasses.fields(built)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(built, first, None)  # frozen as ever
    if isinstance(built, Memo):
        assert not hasattr(built, "_memo_a")  # cache slots start empty


def test_builder_takes_names_and_requires_every_field() -> None:
    build = positional(Contribution)
    assert build(measure="fit", score=1.0, weight=0.5, detail="d") == Contribution(
        "fit", 1.0, 0.5, "d"
    )
    with pytest.raises(TypeError):
        build("fit", 1.0, 0.5)
    snap = positional(HealthSnapshot)
    args = ("c", 1.0, 50.0, "amber", 0.0, "new", 1.0, 0.0, 50.0, 0, None, (), (), None)
    args += (0.5, 0.9, 1200, "v1", 3, 0.5, 0.9, 4, 5000)
    assert snap(*args) == HealthSnapshot(*args)


def test_builder_refuses_classes_with_more_in_init() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: float

        def __post_init__(self) -> None:
            if math.isnan(self.x):
                raise ValueError("nan")

    with pytest.raises(TypeError):
        positional(Checked)


def test_codec_round_trip_still_exact() -> None:
    state = new_state("c-2", 1_700_000_000.0)
    data = state_to_bytes(state)
    assert state_from_bytes(data) == state
    assert state_to_bytes(state_from_bytes(data)) == data


def test_shared_fit_table_matches_direct_computation() -> None:
    fc = load_config().fit
    combos = [
        (None,) * 6,
        ("enterprise", None, None, None, None, None),
        ("smb", "pro", "retail", "11-50", "emea", "referral"),
    ]
    for attrs in combos * 2:  # second round hits the table
        assert _shared_fit(attrs, fc) == _fit(attrs, fc)
