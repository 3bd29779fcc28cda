"""Run the suite on another day: ``STAFF_CONSOLE_TEST_DATE`` moves every clock of the run.

The value is an ISO date-time with its UTC offset (``2028-02-29T12:00:00+01:00``) or an offset
from now (``+1d``, ``+400d``, ``-3h``). At start-up the distance from now is computed once;
this process's wall clock is moved by it (time-machine: ``datetime.now``, ``date.today``,
``time.time``; the monotonic clock, which timeouts and the event loop use, is not) and
``DMP_SANDBOX_CLOCK_OFFSET`` carries it to every sandbox the tests start, so the console and
the sandbox agree on the day, and the clocks keep ticking (a run started at 23:59:30 crosses
midnight). ``./dev timetravel`` runs the date-sensitive tests at each date of the issue that
asked for it (today, +1 day, +400 days, 29 February 2028, New Year's Eve 23:59:30 and both
DST nights in Europe/Paris); ``./dev test`` runs one of them on every submission.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox import clock

TRAVEL_ENV = "STAFF_CONSOLE_TEST_DATE"

_RELATIVE = re.compile(r"^([+-])(\d+)([dhms])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_destination(text: str, now: datetime) -> datetime:
    """Where ``STAFF_CONSOLE_TEST_DATE`` asks to go, as an aware date-time."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        return now + delta if sign == "+" else now - delta
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{TRAVEL_ENV}={text!r}: expected an ISO date-time with its offset"
            " (2028-02-29T12:00:00+01:00) or +Nd, +Nh, -Nm..."
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{TRAVEL_ENV}={text!r}: give the UTC offset (+01:00), not a naive time")
    return moment


def start_from_env() -> tuple[datetime, Callable[[], None]] | None:
    """Move the clocks if ``STAFF_CONSOLE_TEST_DATE`` is set: (destination, stop), or None."""
    raw = os.environ.get(TRAVEL_ENV, "").strip()
    if not raw:
        return None
    now = datetime.fromtimestamp(time.time(), UTC)
    destination = parse_destination(raw, now)
    offset = (destination - now).total_seconds()
    os.environ[clock.CLOCK_OFFSET_ENV] = repr(offset)
    return destination, clock.start(offset)


PARIS = "Europe/Paris"


def _last_sunday(year: int, month: int) -> int:
    from calendar import monthrange

    last = monthrange(year, month)[1]
    return last - (datetime(year, month, last).weekday() + 1) % 7


def destinations(now: datetime) -> list[tuple[str, str]]:
    """The dates ``./dev timetravel`` runs at, as (label, STAFF_CONSOLE_TEST_DATE value).

    All are ahead of `now`: the sandbox's certificates are issued on the real time, so a run
    in the past would find cards not yet valid. Each is the next one of its kind."""
    from zoneinfo import ZoneInfo

    paris = ZoneInfo(PARIS)
    local = now.astimezone(paris)
    year = local.year

    def ahead(make: Callable[[int], datetime]) -> datetime:
        moment = make(year)
        return moment if moment > local else make(year + 1)

    leap = year
    while (
        not (leap % 4 == 0 and (leap % 100 != 0 or leap % 400 == 0))
        or datetime(leap, 2, 29, 12, tzinfo=paris) <= local
    ):
        leap += 1
    # 30 s before the change, so that the run crosses it (02:00 CET -> 03:00 CEST in March,
    # 03:00 CEST -> 02:00 CET in October; both at 01:00 UTC).
    spring = ahead(lambda y: datetime(y, 3, _last_sunday(y, 3), 0, 59, 30, tzinfo=UTC))
    autumn = ahead(lambda y: datetime(y, 10, _last_sunday(y, 10), 0, 59, 30, tzinfo=UTC))
    new_year = ahead(lambda y: datetime(y, 12, 31, 23, 59, 30, tzinfo=paris))
    return [
        ("+1 day", "+1d"),
        ("+400 days", "+400d"),
        ("29 February", datetime(leap, 2, 29, 12, tzinfo=paris).isoformat()),
        ("New Year's Eve 23:59:30 (Paris)", new_year.isoformat()),
        ("DST night, spring (Paris)", spring.astimezone(paris).isoformat()),
        ("DST night, autumn (Paris)", autumn.astimezone(paris).isoformat()),
    ]


if __name__ == "__main__":
    import sys

    found = destinations(datetime.now(UTC))
    if sys.argv[1:] == ["--pick"]:
        # One destination per day of the year, in turn: every CI run travels somewhere.
        label, value = found[datetime.now(UTC).timetuple().tm_yday % len(found)]
        print(f"{value}\t{label}")
    else:
        for label, value in found:
            print(f"{value}\t{label}")
