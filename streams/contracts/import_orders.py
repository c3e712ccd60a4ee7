"""A line-item export's lines of one order, merged into one purchase, for ``cxstream import``.

Shops export orders one line per product (``Invoice, StockCode, Quantity, Price, Customer
ID``). Imported line by line, an invoice of five lines would be five orders: frequency, order
value and the value at risk would all be wrong. When the export names an order id (a column
mapped to ``order_id``) and no event id, the mapped records of one (customer, order id, kind)
become one record:

* ``amount_minor``: the lines' sum; ``occurred_at``: the earliest line's; ``item_count``: the
  lines' counts summed, or the number of lines when no count is known; every other field the
  earliest line's.
* ``event_id``: a hash of (kind, customer, order id) for an order of several lines, so a
  re-import of the export duplicates nothing; a one-line order keeps the row's own id, as
  without grouping.
* An order is imported whole or not at all: when one of its lines was rejected, or its lines
  name different currencies, every line is rejected, so fixing the line and importing again
  imports the order once, whole, instead of a part now and the whole later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.contracts.import_rows import ImportPlan, RowMapper

OrderKey = tuple[str, str]  # (customer_id, order_id) as the export writes them
Record = dict[str, Any]  # a mapped contract record (JSON wire form)


@dataclass(frozen=True, slots=True)
class LineRejection:
    """A line of an order that is not imported, and why (its row, reason, field, sentence)."""

    row: int
    reason: str
    field: str
    detail: str


@dataclass(slots=True)
class _Order:
    rows: list[int] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MergedOrders:
    """One record per order with its lines' rows (first row first), and the lines rejected."""

    orders: list[tuple[list[int], Record]]
    rejected: list[LineRejection]


def groups_order_lines(plan: ImportPlan) -> bool:
    """Whether the rows are lines of orders: purchases whose order id comes from a column and
    whose event id does not (an export that names each line's event id keeps its lines)."""
    derived_id = "event_id" not in plan.columns and "event_id" not in plan.constants
    return plan.kind == "purchases" and "order_id" in plan.columns and derived_id


def order_key(mapper: RowMapper, row: Mapping[str, Any]) -> OrderKey | None:
    """The (customer, order id) a row names, read as the mapping reads text; None when either
    is missing."""
    customer, order = mapper.text("customer_id", row), mapper.text("order_id", row)
    return None if customer is None or order is None else (customer, order)


def order_id_for(kind: str, key: OrderKey) -> str:
    """The event id of an order of several lines: the same on every import of the export."""
    content = json.dumps([kind, *key], separators=(",", ":"))
    return f"import-order-{hashlib.blake2b(content.encode(), digest_size=12).hexdigest()}"


def merge_order_lines(
    lines: Iterable[tuple[int, Record]], refused: Mapping[OrderKey, int]
) -> MergedOrders:
    """One record per (customer, order id, kind) of ``lines`` (``(row, record)`` in file order);
    ``refused`` maps the order keys of lines the mapping rejected to the first such row."""
    orders: dict[tuple[str, str, str], _Order] = {}
    for row, record in lines:
        order_id = str(record["order_id"]) or f"\x00row {row}"  # no id: an order of its own
        key = (str(record["customer_id"]), order_id, str(record["kind"]))
        order = orders.setdefault(key, _Order())
        order.rows.append(row)
        order.records.append(record)
    merged: list[tuple[list[int], Record]] = []
    rejected: list[LineRejection] = []
    for (customer, order_id, kind), order in orders.items():
        why = _why_not(order, refused.get((customer, order_id)), order_id)
        if why is not None:
            rejected.extend(LineRejection(row, *why) for row in order.rows)
            continue
        merged.append((order.rows, _merged(kind, (customer, order_id), order.records)))
    merged.sort(key=lambda entry: entry[0][0])
    return MergedOrders(merged, sorted(rejected, key=lambda r: r.row))


def incomplete(row: int, first: int, order_id: str) -> LineRejection:
    """A line not imported because its order's first line (``first``) was rejected."""
    return LineRejection(
        row,
        "order_incomplete",
        "order_id",
        f"row {first}, the first line of order {order_id!r}, was rejected: fix it and import "
        "again (the order's lines are imported together)",
    )


def _why_not(order: _Order, refused_row: int | None, order_id: str) -> tuple[str, str, str] | None:
    if refused_row is not None:
        return (
            "order_incomplete",
            "order_id",
            f"row {refused_row} of order {order_id!r} was rejected: fix it and import again "
            "(the order's lines are imported together, so it is imported once, whole)",
        )
    currencies = sorted({str(r.get("currency")) for r in order.records})
    if len(currencies) > 1:
        return (
            "order_currency_mismatch",
            "currency",
            f"order {order_id!r} has lines in {' and '.join(currencies)}: an order has one "
            "currency; fix the export or give each currency's lines their own order id",
        )
    return None


def _merged(kind: str, key: OrderKey, records: list[Record]) -> Record:
    if len(records) == 1:
        return records[0]
    first = min(records, key=lambda r: int(r["occurred_at"]))
    counts = [int(r.get("item_count") or 0) for r in records]
    return {
        **first,
        "event_id": order_id_for(kind, key),
        "occurred_at": first["occurred_at"],
        "amount_minor": sum(int(r["amount_minor"]) for r in records),
        "item_count": sum(counts) if all(counts) else len(records),
    }
