"""Watches the card readers: tells when a card comes in or leaves.

Slot events (C_WaitForSlotEvent) are not reliable across PKCS#11 modules (SoftHSM2 has none,
some middleware only report them for PC/SC readers), so the monitor polls ``reader.tokens()``
about every second; a card removal is noticed within ``interval_s`` + the poll time. Cards are
compared by ``TokenInfo.key`` (slot and serial): the same card put back is the same key.

Pure asyncio: the callbacks are plain functions called on the event loop (with qasync, the Qt
thread), which must return quickly (e.g. emit a signal, or schedule a task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from console.domain.card import TokenInfo

__all__ = ["CardMonitor", "TokenSource"]

_log = logging.getLogger(__name__)

TokenCallback = Callable[[TokenInfo], object]
ErrorCallback = Callable[[Exception], object]


class TokenSource(Protocol):
    """What the monitor needs of a card reader."""

    async def tokens(self) -> list[TokenInfo]: ...


class CardMonitor:
    """Polls a card reader and reports card insertions and removals.

    Args:
        reader: The card reader (``Pkcs11CardReader``, ``FakeCardReader``...).
        interval_s: Pause between two polls.
        on_inserted: Called with each card that appears (including those present at start).
        on_removed: Called with each card that leaves (removals are reported before insertions
            of the same poll, so a card swapped in a slot gives removed, then inserted).
        on_changed: Called when a present card's listing changes (e.g. its PIN state).
        on_error: Called once when polling starts failing (not again until a poll succeeded).
        on_recovered: Called with the number of failed polls when a poll succeeds again
            after failures (a short failure reports no card, so without it whoever showed
            the error would keep showing it).
        forget_after_failures: After this many failed polls in a row, the cards are reported
            removed (their state is unknown: better lock than show data to someone else);
            they are reported inserted again when polling recovers. None: never.
        poll_timeout_s: A poll taking longer counts as failed (default: 5 s or 5 intervals).

    A callback that raises is logged and does not stop the monitor.
    """

    def __init__(
        self,
        reader: TokenSource,
        interval_s: float = 1.0,
        *,
        on_inserted: TokenCallback | None = None,
        on_removed: TokenCallback | None = None,
        on_changed: TokenCallback | None = None,
        on_error: ErrorCallback | None = None,
        on_recovered: Callable[[int], object] | None = None,
        forget_after_failures: int | None = 3,
        poll_timeout_s: float | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.on_inserted = on_inserted
        self.on_removed = on_removed
        self.on_changed = on_changed
        self.on_error = on_error
        self.on_recovered = on_recovered
        self.forget_after_failures = forget_after_failures
        self.poll_timeout_s = (
            poll_timeout_s if poll_timeout_s is not None else max(5.0, 5 * interval_s)
        )
        self._reader = reader
        self._known: dict[tuple[int, str], TokenInfo] = {}
        self._failures = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def tokens(self) -> list[TokenInfo]:
        """The cards present at the last successful poll."""
        return list(self._known.values())

    @property
    def running(self) -> bool:
        """Whether the polling task is running."""
        return self._task is not None and not self._task.done()

    @property
    def failing(self) -> bool:
        """Whether the last poll failed."""
        return self._failures > 0

    def start(self) -> None:
        """Start polling (the first poll runs at once). Needs a running event loop."""
        if self.running:
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="card-monitor")

    async def stop(self) -> None:
        """Stop polling (idempotent). The known cards are kept (see :attr:`tokens`)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        if task is asyncio.current_task():
            return  # stop() awaited from a callback's task: it ends at its next await
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def poll_once(self) -> None:
        """Poll now and report what changed (also used by the polling task)."""
        try:
            async with asyncio.timeout(self.poll_timeout_s):
                found = await self._reader.tokens()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(exc)
            return
        self._succeeded(found)

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self.interval_s)

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        if self._failures == 1:
            _log.warning(
                "card reader polling failed (%s): %s; still polling",
                type(exc).__name__,
                exc,
            )
            self._notify("on_error", self.on_error, exc)
        if (
            self.forget_after_failures is not None
            and self._failures == self.forget_after_failures
            and self._known
        ):
            _log.warning(
                "card reader failed %d times in a row: treating its cards as removed",
                self._failures,
            )
            gone = list(self._known.values())
            self._known = {}
            for token in gone:
                self._notify("on_removed", self.on_removed, token)

    def _succeeded(self, found: list[TokenInfo]) -> None:
        failures, self._failures = self._failures, 0
        if failures:
            _log.info("card reader polling works again after %d failures", failures)
            self._notify("on_recovered", self.on_recovered, failures)
        current = {token.key: token for token in found}
        removed = [token for key, token in self._known.items() if key not in current]
        inserted = [token for key, token in current.items() if key not in self._known]
        changed = [
            token
            for key, token in current.items()
            if key in self._known and self._known[key] != token
        ]
        self._known = current
        for token in removed:
            self._notify("on_removed", self.on_removed, token)
        for token in inserted:
            self._notify("on_inserted", self.on_inserted, token)
        for token in changed:
            self._notify("on_changed", self.on_changed, token)

    def _notify[A](self, name: str, callback: Callable[[A], object] | None, arg: A) -> None:
        if callback is None:
            return
        try:
            callback(arg)
        except Exception:
            _log.warning("card monitor callback %s failed", name, exc_info=True)
