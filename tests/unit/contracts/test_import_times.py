"""Reading an export's times: formats, --timezone, day/month order, DST and epoch units."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.contracts.import_times import (
    ImportSetupError,
    NonexistentTime,
    TimeReader,
    learn_day_first,
    localize,
    zone,
)

BERLIN = ZoneInfo("Europe/Berlin")
T = datetime(2024, 3, 5, 14, 22, tzinfo=UTC).timestamp()  # 2024-03-05 14:22 UTC
FAST = settings(max_examples=200, deadline=None)


def utc(text: object, day_first: bool | None = True, tz: str = "UTC") -> float:
    return TimeReader(zone(tz), day_first={"c": day_first}).seconds("c", text, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T14:22:00Z", T),
        ("2024-03-05T15:22:00+01:00", T),
        ("2024-03-05 14:22", T),
        ("2024-03-05 14:22:00.000", T),
        ("05/03/2024 14:22", T),
        ("05.03.2024 14:22", T),
        ("5-3-2024 2:22 PM", T),
        ("2024/03/05 14:22", T),
        ("March 5, 2024 14:22", T),
        ("March 5, 2024 at 2:22 pm", T),
        ("Mar 5 2024 14:22", T),
        ("5 March 2024 14:22", T),
        ("05-Mar-2024 14:22", T),
        ("Tue, 05 Mar 2024 14:22:00 +0000", T),
        ("  2024-03-05 14:22  ", T),
        ("1709648520", T),  # epoch seconds
        ("1709648520000", T),  # epoch milliseconds
        ("1709648520000000", T),  # epoch microseconds
        ("2024-03-05", T - (14 * 3600 + 22 * 60)),  # a date alone: midnight
        ("20240305", T - (14 * 3600 + 22 * 60)),
    ],
)
def test_common_formats_read_as_the_same_instant(text: str, expected: float) -> None:
    assert utc(text) == expected


def test_typed_values_from_parquet_and_json() -> None:
    assert utc(1709648520) == T and utc(1709648520000) == T and utc(1709648520.0) == T
    assert utc(datetime(2024, 3, 5, 14, 22, tzinfo=UTC)) == T
    assert utc(datetime(2024, 3, 5, 15, 22), tz="Europe/Berlin") == T


def test_epoch_forms_are_counted_for_the_report() -> None:
    reader = TimeReader(UTC)
    for value in ("1709648520", "1709648520000", "1709648521", "2024-03-05T14:22:00Z"):
        reader.seconds("when", value, 2)
    assert reader.forms == {
        ("when", "epoch seconds"): 2,
        ("when", "epoch milliseconds"): 1,
        ("when", "ISO 8601"): 1,
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not a date", "not a date or time this import reads"),
        ("31/02/2024", "day is out of range"),
        ("45356", "spreadsheet serial date"),
        ("123456", "not epoch seconds, ms or µs"),
        ("Foo 5, 2024", "not an English month name"),
        ("13:00 PM 5 March 2024", "not a date or time"),
    ],
)
def test_bad_values_say_why(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as caught:
        utc(text)
    assert not isinstance(caught.value, ImportSetupError)


def test_naive_times_need_a_timezone_and_the_error_names_column_row_and_fix() -> None:
    reader = TimeReader(None)
    assert reader.seconds("order_date", "2024-03-05T14:22:00Z", 2) == T  # an offset: fine
    with pytest.raises(ImportSetupError, match=r"'order_date'.*row 7.*--timezone Europe/Berlin"):
        reader.seconds("order_date", "2024-03-05 14:22", 7)


def test_timezone_applies_to_naive_times_only() -> None:
    assert utc("2024-03-05 15:22", tz="Europe/Berlin") == T  # CET, UTC+1
    assert utc("2024-07-05 16:22", tz="Europe/Berlin") == T + 122 * 86400  # CEST, UTC+2
    assert utc("2024-03-05T14:22:00Z", tz="America/New_York") == T


def test_an_unknown_timezone_is_refused_with_examples() -> None:
    with pytest.raises(ImportSetupError, match="Europe/Berlin"):
        zone("Mars/Olympus")


def test_dst_gap_is_refused_and_fall_back_reads_the_first_occurrence() -> None:
    with pytest.raises(NonexistentTime, match="does not exist"):
        localize(datetime(2024, 3, 31, 2, 30), BERLIN)
    first, ambiguous = localize(datetime(2024, 10, 27, 2, 30), BERLIN)
    assert ambiguous and first.utcoffset() == timedelta(hours=2)
    reader = TimeReader(BERLIN)
    reader.seconds("c", "2024-10-27 02:30", 2)
    assert reader.ambiguous == {"c": 1}


def test_day_first_is_learned_from_a_day_over_twelve_anywhere_in_the_column() -> None:
    rows = [(2, "05/03/2024"), (3, "2024-03-09"), (4, "17/03/2024"), (5, None)]
    assert learn_day_first(rows, "d") is True
    assert learn_day_first([(2, "05/03/2024"), (3, "03/17/2024")], "d") is False
    assert learn_day_first([(2, "2024-03-05"), (3, "March 5, 2024")], "d") is None
    assert learn_day_first([(2, "03/03/2024")], "d") is True  # reads the same both ways


def test_ambiguous_day_month_order_is_refused_suggesting_date_format() -> None:
    with pytest.raises(ImportSetupError, match=r"'05/03/2024' \(row 2\).*--date-format %d/%m/%Y"):
        learn_day_first([(2, "05/03/2024"), (3, "01/02/2024")], "d")
    with pytest.raises(ImportSetupError, match=r"row 2.*row 3.*--date-format"):
        learn_day_first([(2, "31/01/2024"), (3, "01/31/2024")], "d")


def test_day_numbers_count_from_day_zero_at_local_midnight() -> None:
    reader = TimeReader(BERLIN, day_zero=date(2024, 1, 1))
    midnight = datetime(2024, 3, 5, tzinfo=BERLIN).timestamp()  # day 64, CET
    assert reader.seconds("DAY", "64", 2) == midnight
    assert reader.seconds("DAY", 64, 3) == reader.seconds("DAY", 64.0, 4) == midnight
    assert reader.seconds("DAY", "0", 5) == datetime(2024, 1, 1, tzinfo=BERLIN).timestamp()
    assert reader.forms == {("DAY", "day number from 2024-01-01"): 4}
    for bad in ("2024-03-05", "-3", "6.5", "day 4"):
        with pytest.raises(ValueError, match=r"not a day number.*drop --day-zero"):
            reader.seconds("DAY", bad, 6)
    with pytest.raises(ValueError, match="past the year 9999"):  # a row error, not a crash
        TimeReader(UTC, day_zero=date(9999, 1, 1)).seconds("DAY", "999", 7)
    with pytest.raises(ImportSetupError, match=r"'DAY'.*--timezone"):  # a day has no zone
        TimeReader(None, day_zero=date(2024, 1, 1)).seconds("DAY", "3", 2)


def test_a_small_whole_number_suggests_day_zero() -> None:
    with pytest.raises(ValueError, match=r"looks like a day number: give --day-zero DATE"):
        utc("711")
    with pytest.raises(ValueError) as caught:
        utc("711.5")
    assert "day number" not in str(caught.value)


def test_date_format_overrides_detection() -> None:
    reader = TimeReader(UTC, "%m/%d/%Y %H:%M")
    assert reader.seconds("c", "03/05/2024 14:22", 2) == T
    with pytest.raises(ValueError, match="does not match format"):
        reader.seconds("c", "2024-03-05 14:22", 3)


moments = st.datetimes(
    min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.none()
).map(lambda d: d.replace(microsecond=0))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])


@FAST
@given(moments, zones)
def test_every_written_form_reads_back_as_the_instant_it_names(when: datetime, tz: str) -> None:
    local = when.replace(tzinfo=ZoneInfo(tz))
    if localize(when, ZoneInfo(tz))[0].timestamp() != local.timestamp():
        return  # a wall time the zone skips or repeats: covered above
    instant = local.timestamp()
    day_first = when.day > 12 or when.day == when.month
    assert utc(local.isoformat()) == instant
    assert utc(when.strftime("%Y-%m-%d %H:%M:%S"), tz=tz) == instant
    assert utc(when.strftime("%d/%m/%Y %H:%M:%S"), True, tz) == instant
    assert utc(when.strftime("%m/%d/%Y %I:%M:%S %p"), False, tz) == instant
    assert utc(when.strftime("%B %d, %Y %H:%M:%S"), None, tz) == instant
    assert utc(str(int(instant)), day_first) == instant
    assert utc(str(int(instant * 1000))) == instant


@FAST
@given(st.lists(st.dates(min_value=date(2000, 1, 1)), min_size=1, max_size=30))
def test_a_day_first_column_is_never_learned_as_month_first(days: list[date]) -> None:
    rows = [(n, d.strftime("%d/%m/%Y")) for n, d in enumerate(days, 2)]
    try:
        assert learn_day_first(rows, "d") is True
    except ImportSetupError as exc:  # only when no day is over 12 and some read two ways
        assert all(d.day <= 12 for d in days) and "settles" in str(exc)
