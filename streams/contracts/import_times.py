"""Dates and times of a shop or CRM export, read into epoch seconds for ``cxstream import``.

Exports write times every which way: ISO 8601, ``2024-03-05 14:22``, ``05/03/2024``,
``March 5, 2024``, epoch seconds or milliseconds, day numbers from a day zero the user names.
Two things are never guessed: the zone of a time without an offset (``--timezone`` must say
it) and whether ``05/03/2024`` is 5 March or May 3 (learned across the whole column, refused
when no value settles it).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.errors import CxStreamError

# Epoch numbers are told apart by magnitude: seconds, ms and µs of 2000..2100 do not overlap.
EPOCH_UNITS = (("epoch seconds", 1.0), ("epoch milliseconds", 1e3), ("epoch microseconds", 1e6))
FIRST, LAST = 946_684_800.0, 4_102_444_800.0  # 2000-01-01, 2100-01-01 (UTC)
SERIAL_DAYS = (36_526, 73_051)  # what a spreadsheet's serial dates of 2000..2099 look like

_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
} | {"sept": 9}
_TIME = (
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,6}))?)?"
    r"\s*(?P<ampm>[ap]\.?m\.?)?"
)
_TAIL = rf"(?:(?:[ t]+|,\s*|\s+at\s+){_TIME})?\s*(?P<tz>z|utc|gmt|[+-]\d{{2}}:?\d{{2}})?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_NUMERIC = re.compile(
    rf"(?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}){_TAIL}", re.I
)
_YEAR_FIRST = re.compile(
    rf"(?P<y>\d{{4}})(?P<sep>[/.-])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_TAIL}", re.I
)
_NAME_MONTH_FIRST = re.compile(
    rf"{_WEEKDAY}(?P<mon>[a-z]+)\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}}){_TAIL}",
    re.I,
)
_NAME_DAY_FIRST = re.compile(
    rf"{_WEEKDAY}(?P<d>\d{{1,2}})(?:st|nd|rd|th)?[\s-]+(?P<mon>[a-z]+)\.?,?[\s-]+(?P<y>\d{{4}}){_TAIL}",
    re.I,
)
_EPOCH = re.compile(r"\d{5,}(?:\.\d+)?")


class ImportSetupError(CxStreamError):
    """The export cannot be imported as asked; the message names the column and the fix."""


class NonexistentTime(ValueError):
    """A local time skipped by a daylight-saving change: no instant has it."""


def zone(name: str | None) -> tzinfo | None:
    """``--timezone``: an IANA zone name (``Europe/Berlin``) or ``UTC``."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportSetupError(
            f"--timezone {name!r} is not an IANA time zone: use a name such as Europe/Berlin, "
            "America/New_York or UTC"
        ) from None


def learn_day_first(values: Iterable[tuple[int, Any]], column: str) -> bool | None:
    """Whether the column's ``NN/NN/YYYY`` dates put the day first; None when it has none.

    A value with a first number over 12 shows day-first, one with a second number over 12
    month-first. Both in one column, or neither while some value reads two ways, is refused.
    """
    day_first = month_first = ambiguous = None
    seen = False
    for row, value in values:
        match = _NUMERIC.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            continue
        seen = True
        a, b = int(match["a"]), int(match["b"])
        if a > 12 and day_first is None:
            day_first = (row, value)
        elif b > 12 and month_first is None:
            month_first = (row, value)
        elif a != b and a <= 12 and b <= 12 and ambiguous is None:
            ambiguous = (row, value)
    if day_first and month_first:
        raise ImportSetupError(
            f"column {column!r} has day-first (row {day_first[0]}: {day_first[1]!r}) and "
            f"month-first (row {month_first[0]}: {month_first[1]!r}) dates: fix the export, or "
            "give --date-format (e.g. %d/%m/%Y) to refuse the rows that do not match"
        )
    if day_first or month_first:
        return day_first is not None
    if ambiguous:
        raise ImportSetupError(
            f"column {column!r}: {ambiguous[1]!r} (row {ambiguous[0]}) could be day/month or "
            "month/day and no date in the column settles it: give --date-format %d/%m/%Y or "
            "--date-format %m/%d/%Y"
        )
    return True if seen else None  # every date reads the same both ways (e.g. 03/03/2024)


@dataclass(frozen=True, slots=True)
class Moment:
    """A parsed time: an aware or naive datetime, or epoch seconds; ``form`` for the report."""

    value: datetime | float
    form: str


def _clock(m: re.Match[str]) -> tuple[int, int, int, int]:
    if m["H"] is None:
        return 0, 0, 0, 0
    hour, ampm = int(m["H"]), (m["ampm"] or "").lower()
    if ampm and not 1 <= hour <= 12:
        raise ValueError(f"hour {hour} with {ampm.upper()}")
    if ampm:
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    micro = int((m["f"] or "0").ljust(6, "0"))
    return hour, int(m["M"]), int(m["S"] or 0), micro


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text.lower() in ("z", "utc", "gmt"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _from_match(m: re.Match[str], year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, *_clock(m), tzinfo=_offset(m["tz"]))


def _month(name: str) -> int:
    number = _MONTHS.get(name.lower())
    if number is None:
        raise ValueError(f"{name!r} is not an English month name")
    return number


def _epoch(number: float) -> Moment:
    for form, per_second in EPOCH_UNITS:
        if FIRST <= number / per_second < LAST:
            return Moment(number / per_second, form)
    hint = ""
    if SERIAL_DAYS[0] <= number <= SERIAL_DAYS[1]:
        hint = " (it looks like a spreadsheet serial date: export dates as text)"
    elif 0 <= number < SERIAL_DAYS[0] and float(number).is_integer():
        hint = " (it looks like a day number: give --day-zero DATE, the date of day 0)"
    raise ValueError(f"not epoch seconds, ms or µs of 2000..2099{hint}")


def parse_moment(value: Any, day_first: bool | None, date_format: str | None = None) -> Moment:
    """One time value of an export; raises ValueError saying why it is not a time."""
    if isinstance(value, datetime):
        return Moment(value, "typed timestamp")
    if isinstance(value, date):
        return Moment(datetime(value.year, value.month, value.day), "typed date")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"a {type(value).__name__}, not a time")
    text = value.strip() if isinstance(value, str) else str(value)
    try:
        return _parse(value if not isinstance(value, str) else text, day_first, date_format)
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r}: {exc}") from None


def _parse(value: Any, day_first: bool | None, date_format: str | None) -> Moment:
    if not isinstance(value, str):
        return _epoch(float(value))
    if date_format is not None:
        return Moment(datetime.strptime(value, date_format), f"--date-format {date_format}")
    if (value[:4].isdigit() and value[4:5] == "-") or (len(value) == 8 and value.isdigit()):
        try:
            return Moment(datetime.fromisoformat(value), "ISO 8601")
        except ValueError:
            pass  # e.g. 2024-3-5: the patterns below read it
    if _EPOCH.fullmatch(value) or (value.isascii() and value.isdigit()):
        return _epoch(float(Decimal(value)))
    if m := _YEAR_FIRST.fullmatch(value):
        return Moment(_from_match(m, int(m["y"]), int(m["m"]), int(m["d"])), "YYYY/MM/DD")
    if m := _NUMERIC.fullmatch(value):
        a, b, sep = int(m["a"]), int(m["b"]), m["sep"]
        if day_first is None and a != b:
            raise ValueError("could be day/month or month/day: give --date-format")
        if day_first is False:
            return Moment(_from_match(m, int(m["y"]), a, b), f"MM{sep}DD{sep}YYYY")
        return Moment(_from_match(m, int(m["y"]), b, a), f"DD{sep}MM{sep}YYYY")
    if m := _NAME_MONTH_FIRST.fullmatch(value):
        return Moment(_from_match(m, int(m["y"]), _month(m["mon"]), int(m["d"])), "Month D, YYYY")
    if m := _NAME_DAY_FIRST.fullmatch(value):
        return Moment(_from_match(m, int(m["y"]), _month(m["mon"]), int(m["d"])), "D Month YYYY")
    raise ValueError(
        "not a date or time this import reads (ISO 8601, 2024-03-05 14:22, 05/03/2024, "
        "March 5, 2024, epoch seconds or ms): give --date-format"
    )


_DAY_NUMBER = re.compile(r"\d{1,6}(?:\.0*)?")


def day_moment(value: Any, day_zero: date) -> Moment:
    """A day count of the export's own (dunnhumby's ``DAY`` 1..711): day N is midnight of
    ``day_zero`` + N days, a wall time like any date without a zone."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError(f"a {type(value).__name__}, not a day number")
    text = value.strip() if isinstance(value, str) else str(value)
    if not _DAY_NUMBER.fullmatch(text):
        raise ValueError(
            f"{text[:40]!r}: not a day number (a whole number of days from --day-zero): fix "
            "the row, or drop --day-zero for a column of dates"
        )
    start = datetime(day_zero.year, day_zero.month, day_zero.day)
    try:
        when = start + timedelta(days=int(float(text)))
    except OverflowError:
        raise ValueError(f"{text!r}: day {day_zero} + {text} is past the year 9999") from None
    return Moment(when, f"day number from {day_zero}")


def localize(naive: datetime, tz: tzinfo) -> tuple[datetime, bool]:
    """``naive`` as a wall time in ``tz``, and whether it was ambiguous (DST fall-back).

    An ambiguous wall time is read as its first occurrence; one skipped by a spring-forward
    change does not exist and raises :class:`NonexistentTime`.
    """
    first, second = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first, False
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise NonexistentTime(f"{naive.isoformat(sep=' ')} does not exist in {tz} (DST change)")
    return first, True


@dataclass(slots=True)
class TimeReader:
    """Reads a column's times to epoch seconds, counting the forms it met for the report."""

    tz: tzinfo | None
    date_format: str | None = None
    day_zero: date | None = None  # --day-zero: every time is a day count from this date
    day_first: dict[str, bool | None] = field(default_factory=dict)  # column -> learned
    forms: Counter[tuple[str, str]] = field(default_factory=Counter)  # (column, form) -> n
    ambiguous: Counter[str] = field(default_factory=Counter)  # column -> DST fall-back times

    def seconds(self, column: str, value: Any, row: int) -> float:
        """Epoch seconds of ``value``; ValueError for a bad value, ImportSetupError for a
        naive time without ``--timezone`` (a fault of the command, not of the row)."""
        if self.day_zero is not None:
            moment = day_moment(value, self.day_zero)
        else:
            moment = parse_moment(value, self.day_first.get(column), self.date_format)
        self.forms[column, moment.form] += 1
        if isinstance(moment.value, float):
            return moment.value
        when = moment.value
        if when.tzinfo is None:
            if self.tz is None:
                raise ImportSetupError(
                    f"column {column!r} has times without a UTC offset (row {row}: "
                    f"{str(value)[:40]!r}): say which zone they are in with --timezone, "
                    "e.g. --timezone Europe/Berlin (or --timezone UTC)"
                )
            when, ambiguous = localize(when, self.tz)
            if ambiguous:
                self.ambiguous[column] += 1
        return when.timestamp()
