"""The sandbox's clock, moved on request, to try a client on another day.

``DMP_SANDBOX_CLOCK_OFFSET=<seconds>`` (a float, negative for the past) runs the server's
clock that many seconds away from the machine's: token lifetimes, time boxes, audit times,
notification times, "today" for the seed's default reference date. The clock still ticks.
Processes given the same offset agree on the time, whenever each started: that is how the
project's tests move the console and the sandbox together to a leap day or a DST night.

Certificates are still issued on the machine's real time, so that TLS stacks that read the
real clock (OpenSSL, a browser) accept them; their validity (three years) covers any offset
of a few hundred days.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from datetime import date

__all__ = ["CLOCK_OFFSET_ENV", "ClockOffsetError", "moved_today", "offset_from_env", "start"]

CLOCK_OFFSET_ENV = "DMP_SANDBOX_CLOCK_OFFSET"
MAX_OFFSET_S = 50 * 365 * 86400.0
"""Fifty years either way: beyond, the value is surely a mistake (milliseconds?)."""


_moved_by: float | None = None
"""The offset this process's clock runs at (None: the machine's)."""


class ClockOffsetError(ValueError):
    """The offset in the environment is not a number of seconds the sandbox can use."""


def offset_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The offset asked for by the environment, in seconds (0 when none is set)."""
    raw = (os.environ if environ is None else environ).get(CLOCK_OFFSET_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ClockOffsetError(f"{CLOCK_OFFSET_ENV}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or abs(value) > MAX_OFFSET_S:
        raise ClockOffsetError(f"{CLOCK_OFFSET_ENV}={raw!r} is out of range (±50 years)")
    return value


def moved_today(offset_s: float) -> date:
    """The machine's local date, `offset_s` seconds away."""
    return date.fromtimestamp(time.time() + offset_s)


def start(offset_s: float) -> Callable[[], None]:
    """Move this process's clock by `offset_s` seconds (it keeps ticking); returns the stop.

    Python's wall clock is moved (``time.time``, ``datetime.now``, ``date.today``...), not the
    monotonic clock, which timeouts and the event loop use.
    """
    global _moved_by
    if offset_s == 0 or _moved_by == offset_s:
        # Nothing to move, or moved already (``serve`` run in a process that started the
        # offset itself, as the tests do): moving again would add the offset twice.
        return lambda: None
    if _moved_by is not None:
        raise RuntimeError(f"the clock is already moved by {_moved_by} s, not {offset_s} s")
    import time_machine  # only when asked for: the sandbox runs without it otherwise

    traveller = time_machine.travel(time.time() + offset_s, tick=True)
    traveller.start()
    _moved_by = offset_s

    def stop() -> None:
        global _moved_by
        traveller.stop()
        _moved_by = None

    return stop
