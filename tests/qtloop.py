"""A qasync event loop over pytest-qt's QApplication, for GUI tests (tests/gui and the
end-to-end ones in tests/integration).

``qtbot.waitUntil`` spins Qt but not the asyncio loop qasync drives; tests that need
coroutines to progress use ``aloop.wait_until(predicate)`` / ``aloop.run(coro)`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

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


class LiveLoop(AsyncLoop):
    """``AsyncLoop`` for real I/O: asyncio sees its loop running whenever Qt runs events.

    In the application Qt's loop never stops, and asyncio sees the qasync loop as running
    all along. A test stops it between two steps, and Qt still processes events then: qasync's
    ``run_until_complete`` does once more after unsetting the running loop, and pytest-qt
    does after each test phase. The callbacks ready at those moments (a task's next step after
    a PKCS#11 call or a socket read) ran with no running loop, and httpx,
    ``run_in_executor`` or ``asyncio.sleep`` failed there ("no running event loop"); with
    the fakes of tests/gui such moments are rare, with real I/O they come at nearly every
    step. Here the loop stays registered as running until :meth:`release`, as in the app.
    """

    def run(self, awaitable: Awaitable[T], timeout: float = 10.0) -> T:
        future = asyncio.ensure_future(asyncio.wait_for(awaitable, timeout), loop=self.loop)
        future.add_done_callback(lambda _done: self.loop.stop())
        try:
            self.loop.run_forever()
        finally:
            asyncio.events._set_running_loop(self.loop)  # qasync unset it
        if not future.done():
            future.cancel()
            raise RuntimeError("the event loop stopped before the awaitable completed")
        return future.result()

    def release(self) -> None:
        """Stop showing the loop as running, and unregister its Qt timers (before the loop
        is closed).

        qasync keeps a Qt timer for each ``call_later`` until it fires, cancelled or not:
        ``wait_for``'s timeouts, httpx's, the card monitor's sleeps (dozens per test here),
        up to 20 s after the test. Should the closed loop be collected on a worker thread
        meanwhile (the cyclic GC runs wherever it is triggered), its timer object dies there,
        its timers stay registered on the GUI thread, and the next one to fire crashes Qt in
        a later test (``QTimerInfoList::activateTimers``: segfault).
        """
        asyncio.events._set_running_loop(None)
        timers = cast(Any, self.loop)._timer  # qasync's _SimpleTimer
        callbacks: dict[int, asyncio.Handle] = timers._SimpleTimer__callbacks
        for timer_id in list(callbacks):
            timers.killTimer(timer_id)
            del callbacks[timer_id]


@pytest.fixture
def live(aloop: AsyncLoop) -> Iterator[LiveLoop]:
    loop = LiveLoop(aloop.loop)
    try:
        yield loop
    finally:
        loop.release()
