"""Mapping export rows onto the contract: the plan's checks, refunds, currencies, event ids."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts import JSON, REPLAY_WINDOW, Decoded, decode_event
from streams.contracts.import_rows import (
    ImportPlan,
    RowError,
    RowMapper,
    learn_mapper,
    make_plan,
)
from streams.contracts.import_times import ImportSetupError, TimeReader

COLUMNS = ["order", "customer", "date", "total", "currency"]
MAPPING = {"order_id": "order", "customer_id": "customer", "occurred_at": "date", "amount": "total"}


def purchases(**changes: Any) -> ImportPlan:
    return make_plan("purchases", COLUMNS, MAPPING, **changes)


def row(**cells: Any) -> dict[str, Any]:
    base = {"order": "A-1", "customer": "c-1", "date": "2024-03-05T14:22:00Z", "total": "12.50"}
    return base | cells


def mapper(plan: ImportPlan, rows: Sequence[Mapping[str, Any]] | None = None) -> RowMapper:
    numbered = list(enumerate(rows or [row()], 2))
    return learn_mapper(plan, lambda c: ((n, r.get(c)) for n, r in numbered), TimeReader(UTC))


def record(plan: ImportPlan, **cells: Any) -> dict[str, Any]:
    return mapper(plan).record(row(**cells), 2)


def decodes(kind: str, rec: dict[str, Any]) -> bool:
    headers = [("content-type", JSON.encode())]
    result = decode_event(
        kind,
        None,
        json.dumps(rec).encode(),
        headers,
        now=time.time(),
        window=REPLAY_WINDOW,
        require_key=False,
    )
    return isinstance(result, Decoded)


def test_a_purchase_row_becomes_a_contract_record_the_pipeline_accepts() -> None:
    rec = record(purchases(currency="EUR"), total="1,234.50")
    assert rec["customer_id"] == "c-1" and rec["order_id"] == "A-1"
    assert rec["occurred_at"] == 1709648520000
    assert (rec["amount_minor"], rec["currency"], rec["kind"]) == (123450, "EUR", "order_placed")
    assert (rec["channel"], rec["item_count"], rec["source"]) == ("other", 0, "/cxstream/import")
    assert rec["event_id"].startswith("import-")
    assert decodes("purchases", rec)


@pytest.mark.parametrize("total", ["-12.50", "(12.50)", "12.50-", "(€12.50)"])
def test_a_negative_amount_is_a_refund_which_the_contract_accepts(total: str) -> None:
    rec = record(purchases(currency="EUR"), total=total)
    assert (rec["kind"], rec["amount_minor"]) == ("refund", -1250)
    assert decodes("purchases", rec)


def test_a_kind_column_wins_over_the_sign() -> None:
    plan = make_plan("purchases", [*COLUMNS, "type"], {**MAPPING, "kind": "type"}, currency="EUR")
    rec = mapper(plan).record(row(type="Subscription Renewed"), 2)
    assert rec["kind"] == "subscription_renewed"
    with pytest.raises(RowError, match="'Sale' is not one of order_placed, refund") as caught:
        mapper(plan).record(row(type="Sale"), 2)
    assert (caught.value.reason, caught.value.field) == ("unknown_symbol", "kind")
    negative_order = mapper(plan).record(row(type="order_placed", total="-3"), 2)
    assert not decodes("purchases", negative_order)  # the contract: only refunds are negative


def test_currency_comes_from_the_row_then_currency_flag_then_an_unambiguous_symbol() -> None:
    plan = make_plan("purchases", COLUMNS, {**MAPPING, "currency": "currency"}, currency="EUR")
    assert mapper(plan).record(row(currency="gbp"), 2)["currency"] == "GBP"
    assert mapper(plan).record(row(currency=""), 2)["currency"] == "EUR"
    assert record(purchases(), total="£3.00")["currency"] == "GBP"
    with pytest.raises(RowError, match="may be USD, CAD") as caught:
        record(purchases(), total="$3.00")
    assert (caught.value.reason, caught.value.field) == ("missing_currency", "currency")
    with pytest.raises(RowError, match="does not convert currencies") as caught:
        record(purchases(currency="EUR"), total="$3.00")
    assert caught.value.reason == "currency_mismatch"
    with pytest.raises(RowError, match="more decimals than JPY"):
        record(purchases(currency="JPY"), total="3.50")


@pytest.mark.parametrize(
    ("cells", "reason", "field"),
    [
        ({"date": ""}, "missing_value", "occurred_at"),
        ({"date": "soon"}, "invalid_time", "occurred_at"),
        ({"total": ""}, "missing_value", "amount"),
        ({"total": "12,5,0"}, "invalid_amount", "amount"),
    ],
)
def test_bad_cells_are_row_errors_naming_field_and_column(
    cells: dict[str, str], reason: str, field: str
) -> None:
    with pytest.raises(RowError) as caught:
        record(purchases(currency="EUR"), **cells)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    assert caught.value.detail.startswith(MAPPING[field])  # names the export's column


def test_a_missing_customer_id_is_left_to_the_contract() -> None:
    rec = record(purchases(currency="EUR"), customer="  ")
    assert rec["customer_id"] == "" and not decodes("purchases", rec)  # empty_customer_id


def test_event_ids_are_stable_across_runs_and_identical_rows_stay_distinct() -> None:
    rows = [row(), row(total="3"), row()]  # rows 1 and 3 are identical
    first = mapper(purchases(currency="EUR"), rows)
    ids = [first.record(r, n)["event_id"] for n, r in enumerate(rows, 2)]
    again = mapper(purchases(currency="EUR"), rows)
    assert [again.record(r, n)["event_id"] for n, r in enumerate(rows, 2)] == ids
    assert len(set(ids)) == 3
    given_ids = make_plan(
        "purchases", [*COLUMNS, "id"], {**MAPPING, "event_id": "id"}, currency="EUR"
    )
    assert mapper(given_ids).record(row(id="ev-9"), 2)["event_id"] == "ev-9"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=15, unique=True),
    st.randoms(),
)
def test_event_ids_do_not_depend_on_row_order(totals: list[int], rnd: Any) -> None:
    rows = [row(total=str(t)) for t in totals]
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    ids = {mapper(purchases(currency="EUR"), rows).record(r, 2)["event_id"] for r in rows}
    m = mapper(purchases(currency="EUR"), shuffled)
    assert {m.record(r, n)["event_id"] for n, r in enumerate(shuffled, 2)} == ids


def test_the_plan_names_what_is_missing_and_how_to_fix_it() -> None:
    with pytest.raises(ImportSetupError, match=r"no column 'nope'; the export has order, customer"):
        make_plan("purchases", COLUMNS, {**MAPPING, "amount": "nope"})
    with pytest.raises(
        ImportSetupError, match="no column for occurred_at: add --map COLUMN=occurred_at"
    ):
        make_plan("purchases", ["customer_id", "total"], {"amount": "total"})
    with pytest.raises(ImportSetupError, match="one amount column"):
        make_plan("purchases", ["customer_id", "occurred_at"], {})
    with pytest.raises(ImportSetupError, match="have no field 'colour'"):
        make_plan("purchases", COLUMNS, {**MAPPING, "colour": "total"})
    with pytest.raises(
        ImportSetupError, match=r"tickets need action, ticket_id, priority, category"
    ):
        make_plan("tickets", ["customer_id", "occurred_at"], {})
    with pytest.raises(ImportSetupError, match="--currency 'euro'"):
        purchases(currency="euro")


def test_columns_named_like_fields_need_no_map() -> None:
    plan = make_plan("purchases", ["Customer_ID", "occurred_at", "amount", "channel"], {})
    assert plan.columns == {
        "customer_id": "Customer_ID",
        "occurred_at": "occurred_at",
        "amount": "amount",
        "channel": "channel",
    }


def test_other_kinds_with_constants_for_every_row() -> None:
    plan = make_plan(
        "feedback",
        ["customer", "answered", "score", "public"],
        {"customer_id": "customer", "occurred_at": "answered", "is_public": "public"},
        constants={"kind": "nps", "touchpoint": "after_ticket"},
    )
    m = mapper(
        plan,
        [{"customer": "c-1", "answered": "2024-03-05T14:22:00Z", "score": "9", "public": "yes"}],
    )
    rec = m.record(
        {"customer": "c-1", "answered": "2024-03-05T14:22:00Z", "score": "9", "public": "yes"}, 2
    )
    assert (rec["kind"], rec["score"], rec["is_public"], rec["touchpoint"]) == (
        "nps",
        9,
        True,
        "after_ticket",
    )
    assert rec["comment"] is None and decodes("feedback", rec)
    with pytest.raises(RowError, match="not true/false") as caught:
        m.record(
            {
                "customer": "c-1",
                "answered": "2024-03-05T14:22:00Z",
                "score": "9",
                "public": "maybe",
            },
            3,
        )
    assert caught.value.reason == "invalid_boolean"
    with pytest.raises(RowError) as caught:
        m.record(
            {"customer": "c-1", "answered": "2024-03-05T14:22:00Z", "score": "9.5", "public": "no"},
            4,
        )
    assert (caught.value.reason, caught.value.field) == ("invalid_number", "score")
