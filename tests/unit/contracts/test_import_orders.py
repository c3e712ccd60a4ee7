"""Merging a line-item export's lines into one purchase per order (``cxstream import``)."""

from __future__ import annotations

from typing import Any

from streams.contracts.import_orders import merge_order_lines, order_id_for


def line(order: str, at: int, minor: int, kind: str = "order_placed") -> dict[str, Any]:
    return {
        "event_id": f"import-row-{order}-{at}-{minor}",
        "customer_id": "c1",
        "occurred_at": at,
        "kind": kind,
        "order_id": order,
        "amount_minor": minor,
        "currency": "EUR",
        "item_count": 0,
    }


def test_an_order_and_its_refund_stay_two_purchases_and_one_line_orders_are_untouched() -> None:
    single = line("o2", 50, 300)
    merged = merge_order_lines(
        [
            (2, line("o1", 20, 500)),
            (3, line("o1", 10, 250)),
            (4, single),
            (5, line("o1", 90, -500, "refund")),
            (6, line("o1", 95, -250, "refund")),
        ],
        {},
    )
    rows = [(row, r["kind"], r["amount_minor"], r["occurred_at"]) for [row, *_], r in merged.orders]
    assert rows == [
        (2, "order_placed", 750, 10),
        (4, "order_placed", 300, 50),
        (5, "refund", -750, 90),
    ]
    assert merged.orders[0][1]["event_id"] == order_id_for("order_placed", ("c1", "o1"))
    assert merged.orders[1][1] is single  # its own row's id, as without grouping
    assert [rows for rows, _ in merged.orders] == [[2, 3], [4], [5, 6]]
    assert merged.rejected == []


def test_an_order_with_a_rejected_line_is_not_imported_in_part() -> None:
    merged = merge_order_lines([(2, line("o1", 1, 5)), (4, line("o1", 1, 6))], {("c1", "o1"): 3})
    assert merged.orders == []
    assert [(r.row, r.reason, r.field) for r in merged.rejected] == [
        (2, "order_incomplete", "order_id"),
        (4, "order_incomplete", "order_id"),
    ]
    assert "row 3 of order 'o1' was rejected" in merged.rejected[0].detail


def test_lines_without_an_order_id_are_each_their_own_order() -> None:
    merged = merge_order_lines([(2, line("", 1, 5)), (3, line("", 2, 6))], {})
    assert [rows for rows, _ in merged.orders] == [[2], [3]]  # each is then rejected, by row
