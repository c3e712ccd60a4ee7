"""Rows of a shop or CRM export mapped onto cxstream's input contract, for ``cxstream import``.

A row becomes a record in the JSON wire format (the contract's field names, epoch-ms times,
minor units), which the caller then validates exactly as the worker would. What the export
lacks is derived, never invented per run:

* ``event_id``: a hash of the mapped record plus how many identical records came before it
  in the file, so importing the same export twice yields the same ids (the worker skips the
  repeats) while two identical rows stay two events;
* a purchase's ``kind``: ``refund`` when the amount is negative (``-12.50``, ``(12.50)``),
  else ``order_placed``; its ``order_id``: the event id; ``item_count``: the quantity, else 0
  (not known). Its money (amount, or unit price times quantity) is read by
  :mod:`streams.contracts.import_purchase`; the lines of one order become one purchase in
  :mod:`streams.contracts.import_orders`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import schemas
from streams.contracts.import_money import is_currency_code, learn_decimal_mark
from streams.contracts.import_purchase import (
    MAPPED_ONLY,
    PURCHASE_FIELDS,
    check_price_columns,
    fill_purchase,
    price_field,
)
from streams.contracts.import_purchase import RowError as RowError  # raised by RowMapper.record
from streams.contracts.import_times import (
    ImportSetupError,
    NonexistentTime,
    TimeReader,
    learn_day_first,
)
from streams.topics import EVENT_INPUT_KINDS

DEFAULT_SOURCE = "/cxstream/import"
REQUIRED_COLUMNS = ("customer_id", "occurred_at")
#: Fields the import fills itself when no column or --set gives them.
DERIVED = {
    "purchases": frozenset({"event_id", "source", "kind", "order_id", "currency", "item_count"}),
} | {kind: frozenset({"event_id", "source"}) for kind in ("tickets", "feedback", "profiles")}
_TRUE, _FALSE = {"true", "t", "yes", "y", "1"}, {"false", "f", "no", "n", "0"}


@dataclass(frozen=True, slots=True)
class FieldType:
    """One field of a contract record, as the Avro schema declares it."""

    name: str
    type: str  # string, int, bool, time or enum
    optional: bool  # a union with null: empty cells become null
    default: str | None = None  # an enum's default symbol
    symbols: tuple[str, ...] = ()  # an enum's symbols


@cache
def contract_fields(kind: str) -> dict[str, FieldType]:
    """The record fields of an input kind, read from its published schema."""
    out = {}
    for spec in schemas.load_schema(kind)["fields"]:
        t, optional = spec["type"], isinstance(spec["type"], list) and "null" in spec["type"]
        if isinstance(t, list):
            t = next(x for x in t if x != "null")
        default, symbols = None, ()
        if isinstance(t, dict) and t.get("logicalType") == "timestamp-millis":
            name = "time"
        elif isinstance(t, dict) and t.get("type") == "enum":
            name, default, symbols = "enum", t.get("default"), tuple(t["symbols"])
        else:
            name = {"int": "int", "long": "int", "boolean": "bool"}.get(t, "string")
        out[spec["name"]] = FieldType(spec["name"], name, optional, default, symbols)
    return out


def mappable_fields(kind: str) -> tuple[str, ...]:
    """What ``--map COLUMN=FIELD`` and ``--set FIELD=VALUE`` may name for ``kind``."""
    return (*contract_fields(kind), *(PURCHASE_FIELDS if kind == "purchases" else ()))


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """Where each field of the contract comes from: a column, a constant, or derived."""

    kind: str
    columns: Mapping[str, str]  # field -> column of the export
    constants: Mapping[str, str]  # field -> value for every row (--set)
    currency: str | None = None  # for amounts whose row names no currency
    source: str = DEFAULT_SOURCE


def make_plan(
    kind: str,
    available: Sequence[str],
    mapping: Mapping[str, str],
    constants: Mapping[str, str] | None = None,
    currency: str | None = None,
    source: str = DEFAULT_SOURCE,
) -> ImportPlan:
    """Check the mapping against the export's columns and the contract; name every fix."""
    if kind not in EVENT_INPUT_KINDS:
        raise ImportSetupError(f"--kind {kind!r}: expected one of {', '.join(EVENT_INPUT_KINDS)}")
    constants = dict(constants or {})
    fields = mappable_fields(kind)
    for name in [*mapping, *constants]:
        if name not in fields:
            raise ImportSetupError(f"{kind} have no field {name!r}; fields: {', '.join(fields)}")
    for name, column in mapping.items():
        if column not in available:
            raise ImportSetupError(
                f"--map {column}={name}: no column {column!r}; the export has "
                f"{', '.join(available)}"
            )
    columns = dict(mapping)
    lower = {c.lower(): c for c in available}
    for name in fields:  # a column named like a field needs no --map (but a line's price:
        # an export that imported before unit prices were read must keep its event ids)
        if name in MAPPED_ONLY:
            continue
        if name not in columns and name not in constants and name in lower:
            columns[name] = lower[name]
    for name in set(columns) & set(constants):
        raise ImportSetupError(f"{name} is both a column ({columns[name]}) and --set: drop one")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            raise ImportSetupError(f"no column for {name}: add --map COLUMN={name}")
    if kind == "purchases":
        check_price_columns(columns, constants)
    missing = [
        spec.name
        for spec in contract_fields(kind).values()
        if not (spec.name in columns or spec.name in constants or spec.name == "amount_minor")
        and not (spec.optional or spec.default or spec.name in DERIVED[kind])
    ]
    if missing:
        fixes = " ".join(f"--map COLUMN={name}" for name in missing)
        raise ImportSetupError(
            f"{kind} need {', '.join(missing)}: name their columns ({fixes}) or give one value "
            f"for every row (--set {missing[0]}=VALUE)"
        )
    if currency is not None and not is_currency_code(currency):
        raise ImportSetupError(f"--currency {currency!r}: give an ISO 4217 code such as EUR")
    return ImportPlan(kind, columns, constants, currency, source)


def blank_cell(value: Any) -> bool:
    """A cell with nothing in it: missing, or text of only spaces (every export reader's rule)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id column that JSON or Parquet typed as a number
    return str(value).strip()


class RowMapper:
    """Maps rows of one export to contract records; learn it with :func:`learn_mapper`."""

    def __init__(self, plan: ImportPlan, times: TimeReader, decimal_mark: str = ".") -> None:
        self.plan, self.times, self.decimal_mark = plan, times, decimal_mark
        self.fields = contract_fields(plan.kind)
        self._seen: Counter[str] = Counter()

    def _cell(self, name: str, row: Mapping[str, Any]) -> tuple[Any, str]:
        """The raw value of a field (None when empty or blank) and where it came from (column
        name or ``--set``)."""
        value: Any
        if name in self.plan.constants:
            value, where = self.plan.constants[name], f"--set {name}"
        elif name in self.plan.columns:
            where = self.plan.columns[name]
            value = row.get(where)
        else:
            return None, name
        return (None if blank_cell(value) else value), where

    def text(self, name: str, row: Mapping[str, Any]) -> str | None:
        """A field's value in ``row`` as the mapping reads text; None when it is empty."""
        value, _ = self._cell(name, row)
        return None if value is None else _text(value)

    def _convert(self, spec: FieldType, value: Any, where: str, number: int) -> Any:
        if isinstance(value, dict | list):
            raise RowError("invalid_value", spec.name, f"{where}: a nested value, not a field")
        if blank_cell(value):
            if spec.optional:
                return None
            if spec.type == "string":
                return ""  # the contract says which ids may not be empty
            if spec.default is not None:
                return spec.default
            raise RowError("missing_value", spec.name, f"{where} is empty: {spec.name} is needed")
        try:
            if spec.type == "time":
                return round(self.times.seconds(where, value, number) * 1000)
            if spec.type == "int":
                number_value = Decimal(_text(value))
                if number_value != number_value.to_integral_value():
                    raise ValueError("not a whole number")
                return int(number_value)
        except NonexistentTime as exc:
            raise RowError("nonexistent_local_time", spec.name, f"{where}: {exc}") from None
        except (ValueError, InvalidOperation) as exc:
            reason = "invalid_time" if spec.type == "time" else "invalid_number"
            raise RowError(reason, spec.name, f"{where}: {exc or 'not a number'}") from None
        if spec.type == "bool":
            text = _text(value).lower()
            if text not in _TRUE | _FALSE:
                detail = f"{where}: {text[:20]!r} is not true/false or yes/no"
                raise RowError("invalid_boolean", spec.name, detail)
            return text in _TRUE
        if spec.type == "enum":
            symbol = _text(value).lower().replace(" ", "_").replace("-", "_")
            if symbol not in spec.symbols and spec.default is None:  # no safe meaning
                detail = f"{where}: {_text(value)[:40]!r} is not one of {', '.join(spec.symbols)}"
                raise RowError("unknown_symbol", spec.name, detail)
            return symbol  # an unknown one of an enum with a default reads as the default
        return _text(value)

    def record(self, row: Mapping[str, Any], number: int) -> dict[str, Any]:
        """The contract record (JSON form) of ``row``, the ``number``-th of the file.

        Raises :class:`RowError` for a row that cannot become an event.
        """
        plan, out = self.plan, dict[str, Any]()
        for name, spec in self.fields.items():
            if name in plan.columns or name in plan.constants:
                out[name] = self._convert(spec, *self._cell(name, row), number)
        if plan.kind == "purchases":
            fill_purchase(self.plan, self._cell, self.decimal_mark, row, out)
        for name, spec in self.fields.items():
            if name not in out and name not in ("event_id", "source", "order_id"):
                out[name] = self._convert(spec, None, name, number)
        out["source"] = out.get("source") or plan.source
        if not out.get("event_id"):
            content = json.dumps([plan.kind, out], sort_keys=True, separators=(",", ":"))
            nth = self._seen[content]
            self._seen[content] += 1
            digest = hashlib.blake2b(f"{content}\x1f{nth}".encode(), digest_size=12)
            out["event_id"] = f"import-{digest.hexdigest()}"
        if plan.kind == "purchases":
            out.setdefault("order_id", out["event_id"])
        return {name: out[name] for name in self.fields}  # in the schema's order


def learn_mapper(
    plan: ImportPlan, values: Callable[[str], Iterable[tuple[int, Any]]], times: TimeReader
) -> RowMapper:
    """A mapper whose day/month order (per time column) and decimal mark fit the whole file.

    ``values(column)`` gives every ``(row, cell)`` of a column.
    """
    fields = contract_fields(plan.kind)
    for name, column in plan.columns.items():
        if name in fields and fields[name].type == "time" and times.date_format is None:
            times.day_first[column] = learn_day_first(values(column), column)
    mark = "."
    if (money := price_field(plan.columns)) is not None:
        mark = learn_decimal_mark(values(plan.columns[money]), plan.columns[money])
    return RowMapper(plan, times, mark)
