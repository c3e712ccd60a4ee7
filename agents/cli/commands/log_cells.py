"""How the cells of one column of a purchase export become numbers, for ``cxstream backtest``
and ``fit``: dates to days since the epoch, money to floats, each as ``cxstream import`` reads
them, so an analyst's export reads the same in every command.

Both parse each distinct value once: a million orders over a few years cost a few thousand
parses. A value that cannot be read is refused naming the column and the option that fixes it.
"""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streams.contracts.import_money import learn_decimal_mark, parse_amount
from streams.contracts.import_times import (
    ImportSetupError,
    Moment,
    learn_day_first,
    parse_moment,
)
from streams.evaluation.backtest import BacktestError

#: strptime formats of dates the import's reader does not read itself (two-digit years, month
#: names between numbers, compact stamps), tried on refused values to name the option's value
_DAYS = ("%d-%b-%y", "%d %b %y", "%d/%b/%Y", "%d/%b/%y", "%b-%d-%y", "%d/%m/%y", "%m/%d/%y")
_MORE_DAYS = ("%d.%m.%y", "%d-%m-%y", "%m-%d-%y", "%y%m%d")
DAY_NUMBERS = 100_000  # whole numbers below this are day counts, not epoch times or dates
COMMON_FORMATS = (
    *(f"{day}{time}" for day in _DAYS + _MORE_DAYS for time in ("", " %H:%M", " %H:%M:%S")),
    *(f"{day} %I:%M %p" for day in _DAYS),
    "%Y%m%d%H%M%S",
    "%d%m%Y",
)


def _day_number(moment: Moment) -> float:
    """Days since the epoch of a parsed time; a time without an offset is read as UTC (the
    backtest counts whole days, so a zone moves an order by at most one day)."""
    if isinstance(moment.value, float):
        return moment.value / 86400.0
    value = moment.value if moment.value.tzinfo else moment.value.replace(tzinfo=dt.UTC)
    return value.timestamp() / 86400.0


def day_date(day: float) -> dt.date:
    """A day number (days since the epoch) as a date."""
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def iso_day(day: float) -> str:
    """A day number (days since the epoch) as an ISO date."""
    return day_date(day).isoformat()


def option_day(text: str, option: str, day_zero: float | None = None) -> float:
    """The day a ``--cutoff``/``--as-of``/``--day-zero`` option names: an ISO date, or with a
    ``day_zero`` also a day number of the log's own count."""
    if day_zero is not None:
        try:
            return day_zero + float(text)
        except ValueError:
            pass
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        numbers = " or a day number of the log's DAY column" if day_zero is not None else ""
        raise BacktestError(
            f"{option} {text!r}: expected a date such as 1997-09-30{numbers}"
        ) from exc
    return float((day - dt.date(1970, 1, 1)).days)


def day_zero(args: argparse.Namespace) -> float | None:
    """``--day-zero``'s day (backtest, fit and import), refused beside ``--date-format`` (one
    says how dates are written, the other that there are none)."""
    if args.day_zero is None:
        return None
    if args.date_format:
        raise BacktestError(
            "--day-zero reads a column of day numbers and --date-format a column of dates: "
            "give one of them"
        )
    return option_day(args.day_zero, "--day-zero")


def day_numbers(
    column: pa.ChunkedArray,
    name: str,
    fmt: str | None,
    notes: list[str],
    rows: np.ndarray,
    day_zero: float | None = None,
) -> np.ndarray:
    """Each row's day. Text is read as ``cxstream import`` reads times (ISO 8601,
    ``12/1/2010 8:26``, ``March 5, 2024``, epoch numbers), whether ``05/03/2024`` puts the day
    or the month first learned from the whole column, or with ``--date-format``. With
    ``day_zero`` the column counts days (dunnhumby's ``DAY`` 1..711): day N is ``day_zero + N``.
    ``rows``: each row's number as the user sees it in the file, for the refusals."""
    if column.null_count:
        missing = np.flatnonzero(pc.is_null(column).to_numpy(zero_copy_only=False))
        raise _no_date(name, len(missing), int(rows[missing[0]]))
    if day_zero is not None:
        notes.append(f"{name!r} read as day numbers: day 0 is {iso_day(day_zero)}")
        return day_zero + _counted_days(column, name, rows)
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        seconds = pc.cast(pc.cast(column, pa.timestamp("s"), safe=False), pa.int64()).to_numpy()
        return np.asarray(seconds, dtype=np.float64) / 86400.0
    texts = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False)
    uniq, first, inverse = np.unique(
        np.char.strip(texts.astype(str)), return_index=True, return_inverse=True
    )
    if uniq[0] == "":  # sorted first
        raise _no_date(name, int(np.count_nonzero(inverse == 0)), int(rows[first[0]]))
    try:
        day_first = (
            None
            if fmt
            else learn_day_first(zip(rows[first].tolist(), uniq.tolist(), strict=True), name)
        )
    except ImportSetupError as exc:
        raise BacktestError(str(exc)) from exc
    parsed, bad, forms = np.empty(len(uniq)), list[str](), set[str]()
    for i, text in enumerate(uniq):
        try:
            moment = parse_moment(str(text), day_first, fmt)
        except ValueError:
            bad.append(str(text))
            continue
        parsed[i] = _day_number(moment)
        forms.add(moment.form)
    if bad:
        raise BacktestError(
            f"unparseable dates in column {name!r}: {bad[0]!r} (and {len(bad) - 1} more "
            f"distinct); {_format_hint(bad, fmt)}"
        )
    read_as = sorted(f for f in forms if f not in ("ISO 8601", "typed timestamp", "typed date"))
    if read_as and not fmt:
        notes.append(f"dates in {name!r} read as {', '.join(read_as)}")
    return parsed[inverse]


def _counted_days(column: pa.ChunkedArray, name: str, rows: np.ndarray) -> np.ndarray:
    """A day-number column as floats, a value that is no number refused by its row."""
    try:
        days = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        texts = pc.cast(column, pa.string()).to_numpy(zero_copy_only=False).astype(str)
        bad = next(i for i, t in enumerate(texts) if not _is_number(t))
        raise BacktestError(
            f"column {name!r} holds {str(texts[bad])!r} (row {int(rows[bad])}), not a day number; "
            "--day-zero reads a column of day numbers: drop it for a column of dates"
        ) from None
    out: np.ndarray = days.to_numpy(zero_copy_only=False)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _format_hint(bad: list[str], fmt: str | None) -> str:
    """The --date-format that reads every unread value, when one of the common ones does, or
    --day-zero when the values are day numbers."""
    if fmt:
        return f"they do not match --date-format {_quoted(fmt)}: give the format they are in"
    if all(b.isdigit() and int(b) < DAY_NUMBERS for b in bad):
        return (
            "they look like day numbers: give --day-zero DATE, the date of day 0 (day N is N "
            "days after it; --cutoff then also takes a day number)"
        )
    fits = [f for f in COMMON_FORMATS if all(_reads(text, f) for text in bad)]
    if len(fits) == 1:
        return f"give --date-format {_quoted(fits[0])} (it reads every one of them)"
    if fits:
        options = " or ".join(_quoted(f) for f in fits)
        return f"give the one they are in: --date-format {options}"
    return "give the format they are in with --date-format, e.g. --date-format %d-%b-%y"


def _reads(text: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


def _quoted(fmt: str) -> str:
    return f"'{fmt}'" if " " in fmt else fmt


def _no_date(column: str, rows: int, first: int) -> BacktestError:
    return BacktestError(
        f"{rows:,} rows have no date in column {column!r} (the first is row {first}): "
        "fill them in or filter them out of the export"
    )


def numbers(table: pa.Table, column: str, field: str) -> np.ndarray:
    """A numeric column as floats (missing: 0). Text is read as ``cxstream import`` reads
    money: ``1,234.50``, ``€ 12,50``, ``(3.00)``, the decimal mark learned from the column."""
    values = table[column]
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        try:
            values = pc.cast(values, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise BacktestError(
                f"column {column!r} ({field}) is {values.type}, not numbers; name another "
                f"column with --map COLUMN={field}"
            ) from exc
        return np.nan_to_num(np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64))
    texts = pc.fill_null(values, "").to_numpy(zero_copy_only=False).astype(str)
    uniq, inverse = np.unique(texts, return_inverse=True)
    try:
        mark = learn_decimal_mark(enumerate(uniq), column)
    except ImportSetupError as exc:
        raise BacktestError(str(exc)) from exc
    parsed = np.zeros(len(uniq))
    for i, text in enumerate(uniq):
        if not text.strip():
            continue
        try:
            parsed[i] = float(parse_amount(text, mark).value)
        except ValueError as exc:
            raise BacktestError(
                f"column {column!r} ({field}) holds values that are not numbers ({exc}); give "
                f"amounts such as 12.50 or 1,234.50, or name another column with "
                f"--map COLUMN={field}"
            ) from exc
    return parsed[inverse]
