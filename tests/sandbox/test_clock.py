"""The sandbox's moved clock (DMP_SANDBOX_CLOCK_OFFSET) and the tests' time travel."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from sandbox import clock
from tests.timetravel import destinations, parse_destination


@pytest.mark.parametrize(
    ("raw", "expected"), [("", 0.0), ("  ", 0.0), ("3600", 3600.0), ("-86400.5", -86400.5)]
)
def test_offset_from_env(raw: str, expected: float) -> None:
    assert clock.offset_from_env({clock.CLOCK_OFFSET_ENV: raw}) == expected


@pytest.mark.parametrize("raw", ["tomorrow", "nan", "inf", "1e12", "3600s"])
def test_a_bad_offset_is_refused_with_its_name(raw: str) -> None:
    with pytest.raises(clock.ClockOffsetError, match=clock.CLOCK_OFFSET_ENV):
        clock.offset_from_env({clock.CLOCK_OFFSET_ENV: raw})


def test_a_served_sandbox_runs_on_the_moved_clock() -> None:
    """A child given the offset agrees with this process's (moved or not) clock."""
    offset = 400 * 86400.0
    code = (
        "from sandbox import clock; import datetime; clock.start(clock.offset_from_env());"
        "print(datetime.datetime.now(datetime.UTC).isoformat())"
    )
    env = {"PATH": "/usr/bin:/bin", clock.CLOCK_OFFSET_ENV: repr(offset)}
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    child = datetime.fromisoformat(shown.strip())
    # this process may itself be moved (./dev timetravel): compare with its own clock
    here = datetime.now(UTC) + timedelta(seconds=offset - clock.offset_from_env())
    assert abs((child - here).total_seconds()) < 30


def test_the_bad_offset_stops_serve_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.cli import main

    monkeypatch.setenv(clock.CLOCK_OFFSET_ENV, "soon")
    assert main(["serve", "/nonexistent"]) == 2


def test_travel_destinations() -> None:
    now = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    assert parse_destination("+400d", now) == now + timedelta(days=400)
    assert parse_destination("-3h", now) == now - timedelta(hours=3)
    with pytest.raises(ValueError, match="offset"):
        parse_destination("2028-02-29T12:00:00", now)
    found = dict((label, value) for label, value in destinations(now))
    assert found["29 February"] == "2028-02-29T12:00:00+01:00"
    assert found["New Year's Eve 23:59:30 (Paris)"] == "2026-12-31T23:59:30+01:00"
    assert found["DST night, spring (Paris)"] == "2027-03-28T01:59:30+01:00"
    assert found["DST night, autumn (Paris)"] == "2027-10-31T02:59:30+02:00"
    # every destination is ahead (certificates are issued on the real time)
    later = datetime(2028, 3, 1, tzinfo=UTC)
    for _label, value in destinations(later):
        if not value.startswith(("+", "-")):
            assert datetime.fromisoformat(value) > later
