"""Idle lock: no user input for ``timeout_s`` -> lock the session (pure asyncio, no Qt).

The view layer feeds :meth:`IdleLock.touch` from an application-wide event filter (every key
and mouse event of every window, modal dialogs included) and calls :meth:`IdleLock.check`
from a timer (``console.app`` uses a QTimer every ``tick_s``; :meth:`IdleLock.run` is the
same loop for an asyncio host); ``on_idle`` is called once the professional has been away
long enough. The clock (and the pause) are injected, so tests make ten minutes pass at once.

It is armed while a session is ACTIVE only (the session service's listener arms and disarms
it); arming counts as activity (a login is input).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

__all__ = ["IdleLock"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class IdleLock:
    """Calls ``on_idle`` after ``timeout_s`` seconds without :meth:`touch` while armed.

    Args:
        timeout_s: Inactivity before the lock; 0 or less disables the idle lock.
        on_idle: What to do (lock the session); called once per idle period.
        clock: Monotonic seconds.
        tick_s: Longest pause between two checks (the lock comes at most this late).
        sleep: Awaited between checks.
    """

    def __init__(
        self,
        timeout_s: float,
        on_idle: Callable[[], object],
        *,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = 1.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be positive")
        self.timeout_s = timeout_s
        self._on_idle = on_idle
        self._clock = clock
        self._tick_s = tick_s
        self._sleep = sleep
        self._last = clock()
        self._armed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0

    @property
    def armed(self) -> bool:
        return self._armed

    def touch(self) -> None:
        """User input now (called for every input event: keep it cheap)."""
        self._last = self._clock()

    def arm(self) -> None:
        """Start counting (a session became ACTIVE)."""
        self._armed = True
        self.touch()

    def disarm(self) -> None:
        """Stop counting (locked, logged out)."""
        self._armed = False

    def idle_for(self) -> float:
        """Seconds since the last input."""
        return max(0.0, self._clock() - self._last)

    def remaining(self) -> float:
        """Seconds before the lock (inf when disarmed or disabled)."""
        if not self._armed or not self.enabled:
            return float("inf")
        return max(0.0, self.timeout_s - self.idle_for())

    def check(self) -> bool:
        """Lock now if idle long enough; whether ``on_idle`` was called."""
        if not self._armed or not self.enabled or self.idle_for() < self.timeout_s:
            return False
        self._armed = False  # once per idle period; the next ACTIVE state arms again
        log.info("no input for %.0f s: idle lock", self.timeout_s)
        self._on_idle()
        return True

    async def run(self) -> None:
        """Check until cancelled."""
        while True:
            await self._sleep(min(self._tick_s, self.remaining()))
            try:
                self.check()
            except Exception:  # the watch must go on
                log.exception("idle lock failed")

    def start(self) -> None:
        """Run :meth:`run` as a task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Cancel the task started by :meth:`start`."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
