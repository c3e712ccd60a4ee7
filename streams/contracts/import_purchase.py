"""A purchase row's money for ``cxstream import``: its currency, amount and kind.

The amount comes from one of three places: ``amount`` (12.50 in major units), ``amount_minor``
(1250) or, for a line-item export, ``unit_price`` times ``quantity`` (2.55 times 6 = 15.30, the
quantity then being the line's ``item_count``). Money is never rounded: a product with more
decimals than the currency has is refused, naming the line-total column as the fix. A negative
amount makes the row a ``refund`` unless a kind column says otherwise (a negative quantity
times a price is a negative amount). A quantity next to an ``amount`` only counts the items. A
row whose mapped ``status`` says the order was never bought is no purchase (``never_bought``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from streams.contracts.import_money import parse_amount, to_minor
from streams.contracts.import_times import ImportSetupError

AMOUNT = "amount"  # a purchase's amount in major units (12.50), read into amount_minor
UNIT_PRICE = "unit_price"  # a line's price per unit, in major units
QUANTITY = "quantity"  # a line's number of units
STATUS = "status"  # an order status: an order that was never bought is skipped, not imported
PURCHASE_FIELDS = (AMOUNT, UNIT_PRICE, QUANTITY, STATUS)  # fields beyond the contract's own
MAPPED_ONLY = (UNIT_PRICE, QUANTITY, STATUS)  # never taken from a column by its name alone
#: an order status (any case) beginning with one of these is an order that was not bought:
#: Olist's canceled/unavailable, Shopify's refunded/voided, WooCommerce's failed/cancelled
NOT_BOUGHT = ("cancel", "refund", "void", "fail", "declin", "unavailable", "return", "reject")
#: (field, row) -> (value, where it came from); the value is None when the cell is empty
Cell = Callable[[str, Mapping[str, Any]], tuple[Any, str]]


class RowError(ValueError):
    """Why one row cannot become an event: a reason code, the field and a sentence."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


def never_bought(status: str) -> bool:
    """Whether an order status says the order was cancelled, refunded, voided or failed."""
    return status.strip().lower().startswith(NOT_BOUGHT)


def price_field(given: Mapping[str, str]) -> str | None:
    """The field a purchase's money is read from (``amount`` or ``unit_price``), if any."""
    return next((name for name in (AMOUNT, UNIT_PRICE) if name in given), None)


def check_price_columns(columns: Mapping[str, str], constants: Mapping[str, str]) -> None:
    """Exactly one source of the amount; a unit price comes with a quantity."""
    given = [n for n in (AMOUNT, "amount_minor", UNIT_PRICE) if n in columns or n in constants]
    if len(given) != 1:
        raise ImportSetupError(
            "purchases need one amount column: --map COLUMN=amount (12.50), "
            "--map COLUMN=amount_minor (1250 in minor units) or, for line items, "
            "--map COLUMN=unit_price with --map COLUMN=quantity"
            + (f" (given: {', '.join(given)})" if given else "")
        )
    if UNIT_PRICE in given and not (QUANTITY in columns or QUANTITY in constants):
        raise ImportSetupError(
            "a line's amount is unit_price times quantity: map both (--map COLUMN=unit_price "
            "--map COLUMN=quantity), or map the line total as amount"
        )


class PurchasePlan(Protocol):
    """What the purchase fields need of an import plan."""

    @property
    def columns(self) -> Mapping[str, str]: ...
    @property
    def constants(self) -> Mapping[str, str]: ...
    @property
    def currency(self) -> str | None: ...


def fill_purchase(
    plan: PurchasePlan, cell: Cell, decimal_mark: str, row: Mapping[str, Any], out: dict[str, Any]
) -> None:
    """Currency, amount in minor units, item count and, unless given, the kind by the sign."""
    currency = str(out.get("currency") or plan.currency or "").upper() or None
    out.setdefault("item_count", 0)
    source = price_field({**plan.columns, **plan.constants})
    if source is None:
        if currency is None:
            raise RowError("missing_currency", "currency", "no currency: add --currency EUR")
        out["currency"] = currency
    else:
        value, where = cell(source, row)
        if value is None:
            raise RowError("missing_value", source, f"{where} is empty: an amount is needed")
        try:
            amount = parse_amount(value, decimal_mark)
        except ValueError as exc:
            raise RowError("invalid_amount", source, f"{where}: {exc}") from None
        currency = _currency(currency, amount.currencies, value, where)
        total = amount.value
        if QUANTITY in plan.columns or QUANTITY in plan.constants:
            quantity = _quantity(cell, row)
            if source == UNIT_PRICE:
                total *= quantity
            counted = "item_count" in plan.columns or "item_count" in plan.constants
            if not counted and quantity == quantity.to_integral_value():
                out["item_count"] = abs(int(quantity))
        try:
            out["amount_minor"] = to_minor(total, currency)
        except ValueError as exc:
            fix = "; map the line total as amount" if source == UNIT_PRICE else ""
            raise RowError("invalid_amount", source, f"{where}: {exc}{fix}") from None
        out["currency"] = currency
    if "kind" not in out:
        out["kind"] = "refund" if out["amount_minor"] < 0 else "order_placed"


def _currency(currency: str | None, written: tuple[str, ...], value: Any, where: str) -> str:
    if currency is None and len(written) == 1:
        currency = written[0]
    if currency is None:
        means = f" ({value!r} may be {', '.join(written)})"
        detail = f"no currency{means if written else ''}: add --currency EUR"
        raise RowError("missing_currency", "currency", detail + " or a currency column")
    if written and currency not in written:
        raise RowError(
            "currency_mismatch",
            "currency",
            f"{where} {value!r} is in {'/'.join(written)}, the row's currency is {currency}: "
            "cxstream does not convert currencies",
        )
    return currency


def _quantity(cell: Cell, row: Mapping[str, Any]) -> Decimal:
    value, where = cell(QUANTITY, row)
    text = str(value).strip() if value is not None else ""
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        quantity = Decimal("NaN")
    if not text or not quantity.is_finite():
        raise RowError(
            "invalid_quantity", QUANTITY, f"{where}: {text[:20]!r} is not a number of units"
        )
    return quantity
