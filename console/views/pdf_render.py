"""PDF bodies checked before the preview shows them, and documents printed.

A PDF from the network may be corrupt, encrypted, huge or built to exhaust its reader. The
preview never hands one to QtPdf on the GUI thread before :class:`PdfChecker` said it loads:

- above :data:`MAX_PDF_BYTES` it is refused at once (no parsing at all);
- otherwise a worker *process* loads it with the same engine (QtPdf / PDFium) and renders its
  first pages. The process is bounded in memory (``RLIMIT_DATA`` on POSIX) and each check in
  time (:data:`CHECK_TIMEOUT_S`): past the bound, or if PDFium crashes, only the worker dies
  (it is started again for the next PDF), and the pane says why.

The worker is started on the first PDF (spawned: it imports QtCore and QtPdf only) and kept
for the next ones. The console polls it from the event loop (short sleeps between
non-blocking polls): the GUI thread never waits on it, and no other thread is involved.

Printing renders the PDF's pages one by one at a bounded resolution, giving the event loop
a turn between pages.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QSize, QSizeF, Qt
from PySide6.QtGui import QImage, QPainter, QTextDocument

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess

    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtPrintSupport import QPrinter

__all__ = [
    "CHECK_TIMEOUT_S",
    "MAX_PDF_BYTES",
    "MAX_PDF_PAGES",
    "WORKER_MEMORY_BYTES",
    "PdfCheck",
    "PdfChecker",
    "PdfVerdict",
    "check_pdf_bytes",
    "default_pdf_checker",
    "print_image",
    "print_pdf",
    "print_text_document",
]

log = logging.getLogger(__name__)

MAX_PDF_BYTES = 50 * 1024 * 1024
"""Larger PDFs are not previewed (they can still be exported)."""
MAX_PDF_PAGES = 5000
CHECK_TIMEOUT_S = 10.0
"""Longest a check may take once the worker runs."""
START_TIMEOUT_S = 30.0
"""Longest the worker may take to start (a cold start imports QtPdf)."""
WORKER_MEMORY_BYTES = 1536 * 1024 * 1024
"""The worker's data-segment limit (heap and private mappings)."""
RENDER_PAGES = 2
"""Pages the worker renders to prove the document draws, not only parses."""
PRINT_DPI = 300
"""Resolution pages are rendered at for printing (a 1200 dpi page would need 500 MB)."""


class PdfVerdict(StrEnum):
    """What the check found."""

    OK = "ok"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    TOO_MANY_PAGES = "too_many_pages"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASHED = "crashed"
    UNAVAILABLE = "unavailable"
    """The worker could not be started."""


@dataclass(frozen=True, slots=True)
class PdfCheck:
    verdict: PdfVerdict
    pages: int = 0

    @property
    def ok(self) -> bool:
        return self.verdict is PdfVerdict.OK


# -- in the worker process -------------------------------------------------------------------


def check_pdf_bytes(data: bytes) -> dict[str, Any]:
    """Load ``data`` with QtPdf and render its first pages (runs in the worker process)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtPdf import QPdfDocument

    document = QPdfDocument()
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document.load(buffer)
    try:
        if document.status() != QPdfDocument.Status.Ready:
            encrypted = document.error() in (
                QPdfDocument.Error.IncorrectPassword,
                QPdfDocument.Error.UnsupportedSecurityScheme,
            )
            return {"verdict": "encrypted" if encrypted else "corrupt", "pages": 0}
        pages = int(document.pageCount())
        if pages < 1:
            return {"verdict": "corrupt", "pages": 0}
        for page in range(min(pages, RENDER_PAGES)):
            size = document.pagePointSize(page)
            if size.width() <= 0 or size.height() <= 0:
                return {"verdict": "corrupt", "pages": pages}
            scale = 800 / max(size.width(), size.height())
            image = document.render(
                page, QSize(max(1, int(size.width() * scale)), max(1, int(size.height() * scale)))
            )
            if image.isNull():
                return {"verdict": "corrupt", "pages": pages}
        return {"verdict": "ok", "pages": pages}
    finally:
        document.close()
        buffer.close()


def pdf_worker(
    conn: Connection, memory_bytes: int, check: Callable[[bytes], dict[str, Any]]
) -> None:
    """The worker's loop: limit its memory, say it is ready, then check what it receives."""
    try:
        import resource

        limit = max(memory_bytes, 64 * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError):  # Windows: the time bound still holds
        pass
    conn.send({"ready": True})
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        number, data = int.from_bytes(request[:8], "big"), request[8:]
        del request
        try:
            result = check(data)
        except MemoryError:
            result = {"verdict": "memory", "pages": 0}
        except Exception as exc:  # any failure of the engine is a document it cannot read
            result = {"verdict": "corrupt", "pages": 0, "error": type(exc).__name__}
        del data
        result["id"] = number
        conn.send(result)


# -- in the console --------------------------------------------------------------------------


class PdfChecker:
    """Checks PDFs in a worker process, bounded in size, time and memory.

    Everything runs on the event loop's thread: the worker is polled (``Connection.poll``
    with no wait, between short sleeps), so the GUI keeps turning while a check runs and no
    Qt object is ever touched, or collected, from another thread. Checks run one at a time;
    a cancelled check leaves its answer to be dropped by the next one (requests are
    numbered), so leaving a document does not cost a new worker.

    Args:
        timeout_s: Longest one check may take (the worker is killed past it).
        memory_bytes: The worker's memory limit (POSIX).
        max_bytes: Larger documents are refused without being parsed.
        max_pages: Documents with more pages are refused.
        check: The function the worker runs (tests give one that misbehaves).
        start_timeout_s: Longest the worker may take to start.
    """

    POLL_S = 0.01

    def __init__(
        self,
        *,
        timeout_s: float = CHECK_TIMEOUT_S,
        memory_bytes: int = WORKER_MEMORY_BYTES,
        max_bytes: int = MAX_PDF_BYTES,
        max_pages: int = MAX_PDF_PAGES,
        check: Callable[[bytes], dict[str, Any]] = check_pdf_bytes,
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_bytes = memory_bytes
        self.max_bytes = max_bytes
        self.max_pages = max_pages
        self._check = check
        self._start_timeout_s = start_timeout_s
        self._busy = False
        self._process: SpawnProcess | None = None
        self._conn: Connection | None = None
        self._ready = False
        self._started_at = 0.0
        self._requests = 0
        self._closed = False
        self.starts = 0
        """How many times the worker was started (tests: a killed worker is replaced)."""

    async def check(self, data: bytes) -> PdfCheck:
        """Whether ``data`` can be shown, and its page count (never raises)."""
        if len(data) > self.max_bytes:
            return PdfCheck(PdfVerdict.TOO_LARGE)
        while self._busy:  # one exchange at a time
            await asyncio.sleep(self.POLL_S)
        self._busy = True
        try:
            return await self._check_now(data)
        finally:
            self._busy = False

    def prestart(self) -> None:
        """Start the worker now if it is not running (its cold start overlaps other work)."""
        if not self._closed and self._process is None:
            self._start()

    def close(self) -> None:
        """Stop the worker (at exit; a later check would start it again)."""
        self._stop()
        self._closed = True

    # -- internals -------------------------------------------------------------------------------
    async def _check_now(self, data: bytes) -> PdfCheck:
        conn = await self._worker()
        if conn is None:
            return PdfCheck(PdfVerdict.UNAVAILABLE)
        loop = asyncio.get_running_loop()
        self._requests += 1
        number = self._requests
        try:
            # The worker waits in recv: a pipe copy, bounded by max_bytes.
            conn.send_bytes(number.to_bytes(8, "big") + data)
            deadline = loop.time() + self.timeout_s
            while True:
                while not conn.poll():
                    if loop.time() >= deadline:
                        log.warning(
                            "PDF check took more than %.1f s: worker stopped", self.timeout_s
                        )
                        self._stop()
                        return PdfCheck(PdfVerdict.TIMEOUT)
                    await asyncio.sleep(self.POLL_S)
                answer = conn.recv()
                # The answer to a check cancelled meanwhile (its document was left) is
                # dropped: the worker answers in order.
                if not isinstance(answer, dict) or answer.get("id") == number:
                    break
        except (EOFError, OSError):
            code = self._process.exitcode if self._process is not None else None
            log.warning("PDF check worker died (exit code %s)", code)
            self._stop()
            return PdfCheck(PdfVerdict.CRASHED)
        return self._verdict(answer)

    def _verdict(self, answer: Any) -> PdfCheck:
        if not isinstance(answer, dict):
            return PdfCheck(PdfVerdict.CORRUPT)
        try:
            verdict = PdfVerdict(str(answer.get("verdict")))
        except ValueError:
            return PdfCheck(PdfVerdict.CORRUPT)
        pages = answer.get("pages")
        count = pages if isinstance(pages, int) and pages >= 0 else 0
        if verdict is PdfVerdict.OK and count > self.max_pages:
            return PdfCheck(PdfVerdict.TOO_MANY_PAGES, count)
        return PdfCheck(verdict, count)

    def _start(self) -> None:
        self._stop()
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=True)
        process = context.Process(
            target=pdf_worker,
            args=(child, self.memory_bytes, self._check),
            name="console-pdf-check",
            daemon=True,
        )
        try:
            process.start()
        except OSError as exc:
            log.error("cannot start the PDF check worker: %s", exc)
            parent.close()
            child.close()
            return
        child.close()
        self._process, self._conn, self._ready = process, parent, False
        self._started_at = time.monotonic()
        self.starts += 1

    async def _worker(self) -> Connection | None:
        """The running worker's connection, started and waited for if needed."""
        if self._process is None or not self._process.is_alive():
            self._start()
        conn = self._conn
        if conn is None:
            return None
        try:
            while not self._ready:
                if conn.poll():
                    conn.recv()
                    self._ready = True
                elif time.monotonic() - self._started_at > self._start_timeout_s:
                    raise EOFError("not ready")
                else:
                    await asyncio.sleep(self.POLL_S)
        except (EOFError, OSError):
            log.error("the PDF check worker did not start")
            self._stop()
            return None
        return conn

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._ready = False
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
            process.close()


_default: PdfChecker | None = None


def default_pdf_checker() -> PdfChecker:
    """The console's shared checker (its worker is stopped at exit)."""
    global _default
    if _default is None or _default._closed:
        _default = PdfChecker()
        atexit.register(_default.close)
    return _default


# -- printing ----------------------------------------------------------------------------------


def _target(printer: QPrinter) -> QRect:
    return printer.pageLayout().paintRectPixels(printer.resolution())


def _fit(size: QSizeF | QSize, box: QRect) -> QRect:
    """The largest rectangle of ``size``'s aspect centred in ``box``."""
    width, height = float(size.width()), float(size.height())
    if width <= 0 or height <= 0:
        return QRect(0, 0, box.width(), box.height())
    scale = min(box.width() / width, box.height() / height)
    w, h = int(width * scale), int(height * scale)
    return QRect((box.width() - w) // 2, (box.height() - h) // 2, w, h)


async def print_pdf(
    document: QPdfDocument,
    printer: QPrinter,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Print every page of ``document`` (one page per event-loop turn). False if it failed."""
    count = int(document.pageCount())
    if count < 1:
        return False
    painter = QPainter()
    if not painter.begin(printer):
        return False
    try:
        for page in range(count):
            if page:
                printer.newPage()
            points = document.pagePointSize(page)
            box = _target(printer)
            place = _fit(points, box)
            dpi = min(PRINT_DPI, printer.resolution())
            pixels = QSize(
                max(1, min(place.width(), int(points.width() * dpi / 72))),
                max(1, min(place.height(), int(points.height() * dpi / 72))),
            )
            image = document.render(page, pixels)
            if not image.isNull():
                painter.drawImage(place, image)
            if progress is not None:
                progress(page + 1, count)
            await asyncio.sleep(0)
    finally:
        painter.end()
    return True


def print_text_document(document: QTextDocument, printer: QPrinter) -> bool:
    """Print a text document (plain text or the CDA rendering)."""
    copy = document.clone()
    copy.print_(printer)
    return True


def print_image(image: QImage, printer: QPrinter) -> bool:
    """Print ``image`` fitted to the page."""
    if image.isNull():
        return False
    painter = QPainter()
    if not painter.begin(printer):
        return False
    try:
        place = _fit(image.size(), _target(printer))
        painter.drawImage(
            place,
            image.scaled(
                place.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            ),
        )
    finally:
        painter.end()
    return True
