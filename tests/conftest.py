"""Session-wide test settings.

Garbage collection runs on the main thread only. Python's cyclic collector otherwise runs in
whichever thread happens to allocate: a worker (the PKCS#11 worker, the cache worker,
reportlab's executor) may then destroy Qt objects left in reference cycles by GUI tests,
which Qt forbids ("Timers cannot be stopped from another thread") and which can crash the
process. The application does the same (console.app: collection from a Qt timer).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from tests import timetravel
from tests.qtloop import aloop, live

__all__ = ["aloop", "live"]

_FULL_EVERY = 25
_count = 0
_travel: tuple[datetime, Callable[[], None]] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _travel
    # Qt widgets in tests never need a display (./dev test sets it too).
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    gc.disable()
    # Before anything reads the clock (STAFF_CONSOLE_TEST_DATE, see tests/timetravel.py).
    _travel = timetravel.start_from_env()


def pytest_report_header(config: pytest.Config) -> str | None:
    if _travel is None:
        return None
    return f"time travel: the run starts at {_travel[0].isoformat()} ({timetravel.TRAVEL_ENV})"


def pytest_unconfigure(config: pytest.Config) -> None:
    gc.enable()
    if _travel is not None:
        _travel[1]()


@pytest.fixture(autouse=True)
def _collect_on_the_main_thread() -> Iterator[None]:
    global _count
    yield
    _count += 1
    gc.collect(2 if _count % _FULL_EVERY == 0 else 1)
