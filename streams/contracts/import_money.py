"""Money of a shop or CRM export (``1,234.50``, ``€ 12,50``, ``(3.00)``) in exact minor units.

Amounts are parsed as decimals, never floats, and are refused rather than rounded when they
have more decimals than their currency's minor unit. Whether ``,`` or ``.`` is the decimal
mark is learned across the whole column (``1,234`` alone reads both ways).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streams.contracts.import_times import ImportSetupError

#: ISO 4217 currencies whose minor unit is not 1/100 (the rest have two decimals).
EXPONENTS = {
    **{code: 0 for code in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG")},
    **{code: 0 for code in ("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")},
    **{code: 3 for code in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")},
}
#: Currency marks an export may put beside an amount, and the currencies each may mean.
SYMBOLS: dict[str, tuple[str, ...]] = {
    "US$": ("USD",),
    "R$": ("BRL",),
    "CHF": ("CHF",),
    "zł": ("PLN",),
    "kr": ("SEK", "NOK", "DKK", "ISK"),
    "€": ("EUR",),
    "£": ("GBP",),
    "₹": ("INR",),
    "₩": ("KRW",),
    "¥": ("JPY", "CNY"),
    "$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"),
}
_CODE = re.compile(r"(?:^[A-Z]{3}(?=[\s\d(+-])|(?<=[\s\d)])[A-Z]{3}$)")
_NUMBER = re.compile(r"\d[\d,.' \u00a0\u202f]*")
_MINUS = "-\u2212"  # ASCII hyphen-minus and the Unicode minus sign


def is_currency_code(code: str) -> bool:
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def minor_exponent(currency: str) -> int:
    """Decimals of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD)."""
    return EXPONENTS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Amount:
    """A parsed amount and the currencies its symbol or code allows (empty: none written)."""

    value: Decimal
    currencies: tuple[str, ...] = ()


def _strip_marks(text: str) -> tuple[str, bool, tuple[str, ...]]:
    """``text`` without sign, parentheses and currency marks; negative?; currencies named."""
    negative, rest = False, text.strip()
    currencies: tuple[str, ...] = ()
    for _ in range(4):  # e.g. "-€ 12.50", "(€12.50)", "12.50 EUR-": peel both ends
        before = rest
        if rest.startswith("(") and rest.endswith(")"):
            negative, rest = not negative, rest[1:-1].strip()
        if rest and (rest[0] in _MINUS or rest[-1] in _MINUS):
            negative = not negative
            rest = rest[1:] if rest[0] in _MINUS else rest[:-1]
        rest = rest.lstrip("+").strip()
        if code := _CODE.search(rest):
            currencies = (code.group(),)
            rest = (rest[: code.start()] + rest[code.end() :]).strip()
        for symbol, means in SYMBOLS.items():
            if rest.startswith(symbol) or rest.endswith(symbol):
                currencies = currencies or means
                rest = rest.removeprefix(symbol).removesuffix(symbol).strip()
                break
        if rest == before:
            break
    return rest, negative, currencies


def learn_decimal_mark(values: Iterable[tuple[int, Any]], column: str) -> str:
    """``"."`` or ``","``: the column's decimal mark, from the values that show it.

    ``1,234.50`` and ``12,5`` show theirs; ``1,234`` shows none. A column showing both is
    refused, naming a row of each; one showing none reads ``.`` as the decimal mark.
    """
    seen: dict[str, tuple[int, str]] = {}
    for row, value in values:
        if not isinstance(value, str):
            continue
        number = re.sub(r"[^\d.,]", "", value)
        marks = [c for c in number if c in ".,"]
        if not marks:
            continue
        if len(set(marks)) == 2:
            mark = marks[-1]
        elif len(marks) > 1:
            mark = "." if marks[0] == "," else ","  # repeated: a thousands separator
        elif len(number) - number.index(marks[0]) - 1 != 3:
            mark = marks[0]
        else:
            continue  # 1,234: either way
        seen.setdefault(mark, (row, value))
    if len(seen) == 2:
        (r1, v1), (r2, v2) = seen["."], seen[","]
        raise ImportSetupError(
            f"column {column!r} uses both '.' (row {r1}: {v1!r}) and ',' (row {r2}: {v2!r}) "
            "as the decimal mark: export the amounts with one decimal mark"
        )
    return next(iter(seen), ".")


def parse_amount(value: Any, decimal_mark: str = ".") -> Amount:
    """An amount cell: a number, or text with grouping, sign, parentheses and currency marks.

    Raises ValueError saying what is wrong with it.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"a {type(value).__name__}, not an amount")
    if isinstance(value, int | float | Decimal):
        # a float becomes the shortest decimal that reads as it (19.99, not 19.989999...)
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{value} is not an amount")
        return Amount(number)
    rest, negative, currencies = _strip_marks(value)
    if not _NUMBER.fullmatch(rest):
        raise ValueError(f"{value[:40]!r} is not an amount such as 1,234.50 or (12.00)")
    whole, _, fraction = rest.rpartition(decimal_mark) if decimal_mark in rest else (rest, "", "")
    groups = re.split(r"[,.' \u00a0\u202f]", whole)  # thousands separators
    misplaced = (fraction and not fraction.isdigit()) or any(not g.isdigit() for g in groups)
    if misplaced or (
        len(groups) > 1 and (len(groups[0]) > 3 or {len(g) for g in groups[1:]} != {3})
    ):
        raise ValueError(
            f"{value[:40]!r}: separators do not fit the column's decimal mark {decimal_mark!r} "
            "with thousands grouped by three"
        )
    number = Decimal("".join(groups) + ("." + fraction if fraction else ""))
    return Amount(-number if negative else number, currencies)


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact minor units of ``amount`` in ``currency``; ValueError if it would need rounding."""
    minor = amount.scaleb(minor_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(
            f"{amount} has more decimals than {currency} has ({minor_exponent(currency)}):"
            " cxstream does not round money; fix the amount or the currency"
        )
    return int(minor)
