"""Times shown to people: French local time with its offset, whatever the computer's zone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from console.domain import localtime
from console.domain.localtime import (
    UnknownTimeZoneError,
    format_date,
    format_datetime,
    format_time,
    set_display_zone,
    to_local,
)
from console.reports.receipt import _date as receipt_date


@pytest.fixture(autouse=True)
def _computer_on_utc() -> Iterator[None]:
    """The computer's zone is UTC (a hospital workstation often is): it must not matter."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()
    set_display_zone(localtime.DEFAULT_ZONE)


def test_winter_and_summer_times_are_shown_in_paris_with_their_offset() -> None:
    winter = datetime(2026, 12, 8, 16, 22, 19, tzinfo=UTC)
    summer = datetime(2027, 7, 14, 16, 22, 19, tzinfo=UTC)
    assert format_datetime(winter, seconds=True, offset=True) == "08/12/2026 17:22:19 (UTC+01:00)"
    assert format_datetime(summer, seconds=True, offset=True) == "14/07/2027 18:22:19 (UTC+02:00)"
    assert format_time(winter) == "17:22"
    assert format_date(winter) == "08/12/2026"


def test_the_day_is_the_paris_day() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 1 January in Paris
    assert format_date(late) == "01/01/2027"
    assert format_date(date(2026, 12, 31)) == "31/12/2026"  # a date has no zone to move


def test_both_sides_of_a_dst_change() -> None:
    # 2027-03-28: 02:00 CET -> 03:00 CEST, at 01:00 UTC
    before = datetime(2027, 3, 28, 0, 59, 59, tzinfo=UTC)
    after = datetime(2027, 3, 28, 1, 0, 0, tzinfo=UTC)
    assert format_datetime(before, seconds=True, offset=True) == "28/03/2027 01:59:59 (UTC+01:00)"
    assert format_datetime(after, seconds=True, offset=True) == "28/03/2027 03:00:00 (UTC+02:00)"
    # 2027-10-31: 03:00 CEST -> 02:00 CET: 02:30 happens twice, told apart by the offset
    first = format_datetime(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), offset=True)
    second = format_datetime(datetime(2027, 10, 31, 1, 30, tzinfo=UTC), offset=True)
    assert first == "31/10/2027 02:30 (UTC+02:00)"
    assert second == "31/10/2027 02:30 (UTC+01:00)"


def test_a_naive_time_is_taken_as_utc_as_stored() -> None:
    assert to_local(datetime(2026, 6, 1, 10, 0)).hour == 12


def test_an_overseas_structure_sets_its_zone() -> None:
    set_display_zone("America/Martinique")
    assert format_datetime(datetime(2026, 12, 8, 16, 0, tzinfo=UTC), offset=True) == (
        "08/12/2026 12:00 (UTC-04:00)"
    )
    with pytest.raises(UnknownTimeZoneError):
        set_display_zone("Europe/Atlantis")


def test_receipts_say_paris_time_with_the_offset() -> None:
    assert receipt_date(datetime(2026, 12, 8, 16, 5, tzinfo=UTC)) == "08/12/2026 17:05 (UTC+01:00)"
    assert receipt_date(None) == "—"
