"""A qasync event loop over pytest-qt's QApplication, for GUI tests (tests/gui and the
end-to-end ones in tests/integration).

``qtbot.waitUntil`` spins Qt but not the asyncio loop qasync drives; tests that need
coroutines to progress use ``aloop.wait_until(predicate)`` / ``aloop.run(coro)`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


class AsyncLoop:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, awaitable: Awaitable[T], timeout: float = 10.0) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(awaitable, timeout))

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> None:
        """Run the loop (Qt events included) until ``predicate()`` is true."""

        async def poll() -> None:
            while not predicate():
                await asyncio.sleep(0.01)

        self.run(poll(), timeout)

    def spin(self, seconds: float) -> None:
        self.run(asyncio.sleep(seconds), seconds + 5)


@pytest.fixture
def aloop(qapp: QApplication) -> Iterator[AsyncLoop]:
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield AsyncLoop(loop)
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        _kill_qt_timers(loop)
        loop.close()
        asyncio.set_event_loop(None)


def _kill_qt_timers(loop: asyncio.AbstractEventLoop) -> None:
    """Unregister the Qt timers qasync keeps for every ``call_later`` (cancelled or not)
    until it fires: left behind a closed loop, the next one to fire crashes Qt in a later
    test (``QTimerInfoList::activateTimers``)."""
    timers = getattr(loop, "_timer", None)
    callbacks = getattr(timers, "_SimpleTimer__callbacks", None)
    if timers is None or not isinstance(callbacks, dict):
        return
    for timer_id in list(callbacks):
        timers.killTimer(timer_id)
        del callbacks[timer_id]
