"""Reading an export's amounts: grouping, decimal marks, symbols, refunds, exact minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts.import_money import (
    Amount,
    learn_decimal_mark,
    minor_exponent,
    parse_amount,
    to_minor,
)
from streams.contracts.import_times import ImportSetupError

FAST = settings(max_examples=300, deadline=None)
DOLLAR = ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN")  # what "$" may mean


@pytest.mark.parametrize(
    ("text", "mark", "value", "currencies"),
    [
        ("1,234.50", ".", "1234.50", ()),
        ("1.234,50", ",", "1234.50", ()),
        ("1 234,50 €", ",", "1234.50", ("EUR",)),
        ("1\u00a0234,50", ",", "1234.50", ()),
        ("1'234.50", ".", "1234.50", ()),
        ("€45.00", ".", "45.00", ("EUR",)),
        ("EUR 45", ".", "45", ("EUR",)),
        ("45.00 GBP", ".", "45.00", ("GBP",)),
        ("US$ 7.10", ".", "7.10", ("USD",)),
        ("(12.50)", ".", "-12.50", ()),
        ("(€12.50)", ".", "-12.50", ("EUR",)),
        ("-12.50", ".", "-12.50", ()),
        ("\u221212.50", ".", "-12.50", ()),  # the Unicode minus sign
        ("12.50-", ".", "-12.50", ()),
        ("-$5", ".", "-5", DOLLAR),
        ("$-5", ".", "-5", DOLLAR),
        ("+3", ".", "3", ()),
        ("12,5", ",", "12.5", ()),
        ("1,234", ".", "1234", ()),
    ],
)
def test_amount_text(text: str, mark: str, value: str, currencies: tuple[str, ...]) -> None:
    assert parse_amount(text, mark) == Amount(Decimal(value), currencies)


def test_typed_amounts_are_exact() -> None:
    assert parse_amount(19.99).value == Decimal("19.99")  # not 19.989999999999998...
    assert parse_amount(3).value == Decimal(3)
    with pytest.raises(ValueError):
        parse_amount(float("nan"))
    with pytest.raises(ValueError, match="not an amount"):
        parse_amount(True)


@pytest.mark.parametrize(
    ("text", "mark", "says"),
    [
        ("abc", ".", "not an amount"),
        ("", ".", "not an amount"),
        ("1,23.4", ".", "decimal mark '.'"),
        ("12.50", ",", "decimal mark ','"),
        ("1.2.3,4", ",", "thousands grouped by three"),
        ("12..5", ".", "decimal mark"),
    ],
)
def test_malformed_amounts_say_why(text: str, mark: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_amount(text, mark)


def test_minor_units_follow_the_currency_and_never_round() -> None:
    assert to_minor(Decimal("1234.50"), "EUR") == 123450
    assert to_minor(Decimal("1234"), "JPY") == 1234 and minor_exponent("JPY") == 0
    assert to_minor(Decimal("1.234"), "KWD") == 1234
    assert to_minor(Decimal("-12.50"), "EUR") == -1250
    assert to_minor(Decimal("12.500"), "EUR") == 1250  # trailing zeros are exact
    with pytest.raises(ValueError, match="more decimals than EUR has"):
        to_minor(Decimal("1.005"), "EUR")
    with pytest.raises(ValueError, match="more decimals than JPY has"):
        to_minor(Decimal("10.5"), "JPY")


def test_decimal_mark_is_learned_from_the_values_that_show_it() -> None:
    assert learn_decimal_mark([(2, "1,234.50"), (3, "12")], "t") == "."
    assert learn_decimal_mark([(2, "1.234"), (3, "12,5")], "t") == ","
    assert learn_decimal_mark([(2, "1.234.567")], "t") == ","  # a repeated mark groups
    assert learn_decimal_mark([(2, "1,234"), (3, 12.5), (4, None)], "t") == "."  # no evidence
    with pytest.raises(ImportSetupError, match=r"row 2: '1,234.50'.*row 3: '12,50'"):
        learn_decimal_mark([(2, "1,234.50"), (3, "12,50")], "total")


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[int, str, str]:
    """Minor units and one way an export might write them, with its decimal mark."""
    minor = draw(st.integers(min_value=-(10**12), max_value=10**12))
    mark = draw(st.sampled_from([".", ","]))
    group = draw(st.sampled_from(["", " ", "\u00a0", "'", "," if mark == "." else "."]))
    whole, cents = divmod(abs(minor), 100)
    digits = f"{whole:,}".replace(",", group)
    number = f"{digits}{mark}{cents:02d}"
    symbol = draw(st.sampled_from(["", "€", "EUR ", " EUR"]))
    text = f"{symbol}{number}" if not symbol.startswith(" ") else f"{number}{symbol}"
    if minor < 0:
        style = draw(st.sampled_from(["-{}", "({})", "{}-"]))
        text = style.format(text)
    return minor, mark, text


@FAST
@given(written_amounts())
def test_any_written_amount_reads_back_to_its_exact_minor_units(case: tuple[int, str, str]) -> None:
    minor, mark, text = case
    amount = parse_amount(text, mark)
    assert to_minor(amount.value, "EUR") == minor
    assert amount.currencies in ((), ("EUR",))


@FAST
@given(st.lists(written_amounts(), min_size=1, max_size=20), st.sampled_from([".", ","]))
def test_a_column_in_one_decimal_mark_is_never_learned_as_the_other(
    cases: list[tuple[int, str, str]], mark: str
) -> None:
    texts = [text for _, m, text in cases if m == mark]  # every one shows its cents
    assert learn_decimal_mark(enumerate(texts, 2), "t") == (mark if texts else ".")
