"""Running coroutines from Qt signals (qasync) with one error path.

``asyncSlot`` of qasync 0.28 fails on signals without arguments, and hides the task; views
start their work with :func:`spawn` instead, keep the task to cancel it, and every
uncaught error reaches :data:`error_handler` (set by the app to log and show it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

ErrorHandler = Callable[[BaseException], None]


def _default_handler(exc: BaseException) -> None:
    log.error("unhandled error in a background task", exc_info=exc)


error_handler: ErrorHandler = _default_handler


def set_error_handler(handler: ErrorHandler) -> None:
    global error_handler
    error_handler = handler


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Schedule ``coro`` on the running qasync loop; report its failure once."""
    task = asyncio.ensure_future(coro)
    task.add_done_callback(_report)
    return task


def _report(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        error_handler(exc)
