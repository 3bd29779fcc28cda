"""The preview pane: PDF (QtPdf, checked in a bounded worker), find, export, print, text,
CDA R2 rendered readable, images; unreadable bodies; async loading."""

from __future__ import annotations

import asyncio
import base64
import copy
import gc
import io
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pypdf
import pytest
from PySide6.QtCore import QBuffer, QEvent, QIODevice, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QTextCursor, QTextList, QTextTable
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle
from pytestqt.qtbot import QtBot
from reportlab.pdfgen.canvas import Canvas

from console.domain.dossier import AccessGrant, PatientRecord
from console.domain.errors import AccessRefusedError
from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.views.pdf_render import MAX_PDF_BYTES, PdfChecker, PdfVerdict, check_pdf_bytes
from console.views.preview import (
    CdaList,
    CdaParagraph,
    CdaTable,
    PreviewPane,
    PreviewState,
    cda_content,
    decode_text,
    export_name,
    media_type,
)
from tests.gui.conftest import AsyncLoop

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """Widgets a test leaves in reference cycles (hypothesis keeps its examples' fixtures;
    a traceback keeps its frames) are destroyed here, on the GUI thread, once pytest-qt has
    closed them, never by a collection that happens to run on a worker thread (a Qt object
    must be destroyed on its own thread)."""
    yield
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


PATIENT = PatientRecord(INS.parse("255081416802538"), "Durand", "Marie", None, "female")
DOSSIER = OpenDossier(
    AccessGrant(PATIENT, AccessMode.NORMAL, "token", datetime(2030, 1, 1, tzinfo=UTC))
)


def make_pdf(pages: int = 2, **options: object) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, **options)
    for number in range(pages):
        canvas.drawString(72, 720, f"Compte rendu fictif, page {number + 1}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def make_png() -> bytes:
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("steelblue"))
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs want bytes, PySide str
    return bytes(buffer.data().data())


def cda(body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Compte rendu de consultation</title>
  <effectiveTime value="20250314103000+0100"/>
  <recordTarget><patientRole><patient>
    <name><given>Marie</given><family>Durand</family></name>
  </patient></patientRole></recordTarget>
  <author><assignedAuthor>
    <assignedPerson><name><given>Claire</given><family>Martin</family></name></assignedPerson>
    <representedOrganization><name>Cabinet du Parc</name></representedOrganization>
  </assignedAuthor></author>
  <component>{body}</component>
</ClinicalDocument>""".encode()


STRUCTURED = cda("""
  <structuredBody>
    <component><section>
      <title>Motif</title>
      <text><paragraph>Douleur   thoracique
        depuis 2 jours.</paragraph>
        <paragraph>Pas de <content>fièvre</content>.<br/>Apyrétique.</paragraph></text>
      <component><section>
        <title>Traitement</title>
        <text><list><item>Paracétamol 1 g</item><item>Repos</item></list>
        <table><tr><th>Examen</th><th>Résultat</th></tr><tr><td>ECG</td><td>normal</td></tr></table></text>
      </section></component>
    </section></component>
  </structuredBody>""")


def doc(number: int, content_type: str = "text/plain", title: str = "") -> DocumentMeta:
    moment = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    return DocumentMeta(
        id=f"doc-{number}",
        master_id=f"doc-{number}",
        patient_ins=PATIENT.ins.value,
        type_code="11488-4",
        class_code="10",
        title=title or f"Document {number}",
        author_id_nat="810000000001",
        created=moment,
        deposited=moment,
        author_name="Dr Claire MARTIN",
        structure_name="Cabinet du Parc",
        content_type=content_type,
    )


class FakeRetrieveService(DossierService):
    """Bodies by document id; a document listed in ``gates`` waits for its event."""

    def __init__(self) -> None:
        super().__init__(cast(DmpGateway, None), cast(SessionService, None))
        self.bodies: dict[str, bytes] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self.calls: list[str] = []
        self.cancelled: list[str] = []
        self.error: Exception | None = None

    async def retrieve(self, dossier: OpenDossier, document: DocumentMeta) -> bytes:
        self.calls.append(document.id)
        try:
            if document.id in self.gates:
                await self.gates[document.id].wait()
            await asyncio.sleep(0.005)
        except asyncio.CancelledError:
            self.cancelled.append(document.id)
            raise
        if self.error is not None:
            raise copy.copy(self.error)  # a fresh one: its traceback must not outlive the test
        return self.bodies[document.id]


# Misbehaving PDF engines, run by the checker's worker process (importable: spawned).


def slow_check(data: bytes) -> dict[str, object]:
    time.sleep(60)
    return {"verdict": "ok", "pages": 1}


def hungry_check(data: bytes) -> dict[str, object]:
    hog = bytearray(2 * 1024**3)  # beyond the worker's memory limit: MemoryError
    return {"verdict": "ok", "pages": len(hog)}


def crashing_check(data: bytes) -> dict[str, object]:
    os._exit(3)  # as PDFium dying on a hostile file would


def unhurried_check(data: bytes) -> dict[str, Any]:
    time.sleep(0.4)
    return check_pdf_bytes(data)


def many_pages_check(data: bytes) -> dict[str, object]:
    return {"verdict": "ok", "pages": 100_000}


@pytest.fixture
def service() -> FakeRetrieveService:
    return FakeRetrieveService()


@pytest.fixture
def pane(qtbot: QtBot, service: FakeRetrieveService, aloop: AsyncLoop) -> PreviewPane:
    widget = PreviewPane(service)
    qtbot.addWidget(widget)
    widget.resize(600, 800)
    widget.show()
    return widget


@pytest.fixture
def checkers() -> Iterator[list[PdfChecker]]:
    made: list[PdfChecker] = []
    yield made
    for checker in made:
        checker.close()


def pane_with(
    qtbot: QtBot, service: FakeRetrieveService, checkers: list[PdfChecker], **options: object
) -> PreviewPane:
    checker = PdfChecker(**options)  # type: ignore[arg-type]
    checkers.append(checker)
    widget = PreviewPane(service, pdf_checker=checker)
    qtbot.addWidget(widget)
    widget.resize(600, 800)
    widget.show()
    return widget


def show(
    pane: PreviewPane, aloop: AsyncLoop, data: bytes, content_type: str, title: str = ""
) -> None:
    """Show bytes and wait for the PDF check, if any."""
    pane.show_content(data, content_type, title)
    aloop.wait_until(lambda: not pane.busy, timeout=30)


# -- PDF ------------------------------------------------------------------------------------------


def test_pdf_is_shown_with_pages_and_zoom(pane: PreviewPane, aloop: AsyncLoop) -> None:
    pane.show_content(make_pdf(pages=3), "application/pdf", "Compte rendu")
    assert pane.state == PreviewState.LOADING  # checked first, off the GUI thread
    assert pane.loading_label.text() == "Vérification du PDF…"
    aloop.wait_until(lambda: pane.state == PreviewState.PDF, timeout=30)
    document = pane.pdf_document
    assert document is not None
    assert document.status() == QPdfDocument.Status.Ready
    assert document.pageCount() == 3 and pane.page_count() == 3
    view = pane.pdf_view
    assert view is not None and view.isVisible()

    pane.next_page()
    assert pane.current_page() == 1
    assert pane.page_spin is not None and pane.page_spin.value() == 2
    pane.go_to_page(2)
    pane.next_page()  # past the end: stays
    assert pane.current_page() == 2
    pane.previous_page()
    assert pane.current_page() == 1

    assert view.zoomMode() == QPdfView.ZoomMode.FitToWidth
    pane.zoom_in()
    zoomed = view.zoomFactor()
    assert view.zoomMode() == QPdfView.ZoomMode.Custom
    pane.zoom_out()
    assert view.zoomFactor() < zoomed
    pane.fit_page()
    assert view.zoomMode() == QPdfView.ZoomMode.FitInView
    pane.fit_width()
    assert view.zoomMode() == QPdfView.ZoomMode.FitToWidth


class _ScrollbarLoopBreaker(QObject):
    """Counts the times a view's vertical scrollbar is shown or hidden and, past a bound,
    breaks the loop itself (always shown) so that a test of a frozen view fails instead of
    hanging: processEvents() never returns while the loop runs."""

    BOUND = 50

    def __init__(self, view: QPdfView) -> None:
        super().__init__()
        self.toggles = 0
        self._view = view
        view.verticalScrollBar().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.toggles += 1
            if self.toggles == self.BOUND:
                self._view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        return False


def test_a_pdf_in_a_maximized_window_lets_the_event_loop_go_idle(
    qtbot: QtBot, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    """Fit-to-width with a page just taller than the viewport at full width and just shorter
    once the vertical scrollbar takes its width: the scrollbar appeared and disappeared in a
    loop and the maximized console froze (issue 17). The page is cut to that very height."""
    window = QMainWindow()
    qtbot.addWidget(window)
    pane = PreviewPane(service)
    window.setCentralWidget(pane)
    window.showMaximized()
    qtbot.waitExposed(window)
    show(pane, aloop, make_pdf(pages=1), "application/pdf")
    view = pane.pdf_view
    assert view is not None and window.isMaximized()
    frame = 2 * view.frameWidth()
    bar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, view)
    margins = view.documentMargins()
    width = view.width() - frame - margins.left() - margins.right()
    height = view.height() - frame - margins.top() - margins.bottom()
    assert width > 2 * bar and height > 2 * bar
    # Taller than the viewport at `width`, shorter at `width - bar`.
    ratio = height / (width - bar / 2)
    breaker = _ScrollbarLoopBreaker(view)
    show(pane, aloop, make_pdf(pages=1, pagesize=(500, 500 * ratio)), "application/pdf")
    assert pane.state == PreviewState.PDF
    for _ in range(200):
        QApplication.processEvents()
    view.verticalScrollBar().removeEventFilter(breaker)
    assert breaker.toggles <= 2  # it settles: shown once (or not at all), never in a loop
    assert view.zoomMode() == QPdfView.ZoomMode.FitToWidth
    assert view.viewport().width() == view.width() - frame - bar  # its room is kept for it


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4\n" + b"\x00garbage" * 50, "Ce PDF est illisible ou endommagé."),
        (make_pdf()[:400], "Ce PDF est illisible ou endommagé."),
        (b"", "Ce PDF est illisible ou endommagé."),
        (make_pdf(encrypt="secret"), "chiffré ou protégé par un mot de passe"),
    ],
    ids=["garbage", "truncated", "empty", "encrypted"],
)
def test_unreadable_pdf_shows_a_message(
    pane: PreviewPane, aloop: AsyncLoop, data: bytes, message: str
) -> None:
    show(pane, aloop, data, "application/pdf", "Scan")
    assert pane.state == PreviewState.MESSAGE
    assert message in pane.message
    assert pane.page_count() == 0


def test_a_huge_pdf_is_refused_at_once_and_can_still_be_saved(
    qtbot: QtBot,
    aloop: AsyncLoop,
    service: FakeRetrieveService,
    checkers: list[PdfChecker],
    tmp_path: Path,
) -> None:
    pane = pane_with(qtbot, service, checkers)
    huge = make_pdf(pages=1) + b"%" + b"0" * (MAX_PDF_BYTES + 1)
    show(pane, aloop, huge, "application/pdf", "Scanner")
    assert checkers[0].starts == 0  # refused on its size: never parsed, no worker
    assert pane.state == PreviewState.MESSAGE
    assert pane.message.startswith(
        "Ce PDF est trop volumineux pour l'aperçu (50 Mo, au plus 50 Mo)"
    )
    assert pane.export_button.isEnabled()
    assert aloop.run(pane.export_to(tmp_path / "scanner.pdf"))
    assert (tmp_path / "scanner.pdf").stat().st_size == len(huge)


def test_a_good_pdf_after_a_bad_one_is_shown(pane: PreviewPane, aloop: AsyncLoop) -> None:
    show(pane, aloop, b"%PDF-broken", "application/pdf")
    assert pane.state == PreviewState.MESSAGE
    show(pane, aloop, make_pdf(pages=1), "application/pdf")
    assert pane.state == PreviewState.PDF and pane.page_count() == 1


def test_a_pdf_that_takes_too_long_is_stopped_and_the_console_stays_responsive(
    qtbot: QtBot,
    aloop: AsyncLoop,
    service: FakeRetrieveService,
    checkers: list[PdfChecker],
) -> None:
    pane = pane_with(qtbot, service, checkers, timeout_s=1.0, check=slow_check)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    pane.show_content(make_pdf(), "application/pdf", "Piège")
    assert pane.state == PreviewState.LOADING
    aloop.wait_until(lambda: pane.state == PreviewState.MESSAGE, timeout=40)
    timer.stop()
    assert pane.message.startswith("Ce PDF met trop longtemps à s'ouvrir (plus de 1 s)")
    # The GUI thread kept turning while the worker was stuck (a blocked thread would have
    # let the 20 ms timer fire once or twice in that second, not dozens of times).
    assert len(ticks) > 10


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_DATA is POSIX")
def test_a_pdf_that_needs_too_much_memory_is_stopped(
    qtbot: QtBot, aloop: AsyncLoop, service: FakeRetrieveService, checkers: list[PdfChecker]
) -> None:
    pane = pane_with(qtbot, service, checkers, memory_bytes=512 * 1024**2, check=hungry_check)
    show(pane, aloop, make_pdf(), "application/pdf")
    assert pane.message.startswith("Ce PDF demande trop de mémoire pour l'aperçu")


def test_a_pdf_that_crashes_the_engine_only_kills_the_worker(
    qtbot: QtBot, aloop: AsyncLoop, service: FakeRetrieveService, checkers: list[PdfChecker]
) -> None:
    pane = pane_with(qtbot, service, checkers, check=crashing_check)
    show(pane, aloop, make_pdf(), "application/pdf")
    assert pane.message == "Ce PDF a fait échouer le lecteur PDF : il est probablement endommagé."
    show(pane, aloop, make_pdf(), "application/pdf")
    assert pane.state == PreviewState.MESSAGE
    assert checkers[0].starts == 2  # a new worker for the next PDF


def test_leaving_a_pdf_being_checked_keeps_the_worker(
    qtbot: QtBot, aloop: AsyncLoop, service: FakeRetrieveService, checkers: list[PdfChecker]
) -> None:
    pane = pane_with(qtbot, service, checkers, check=unhurried_check)
    pane.show_content(make_pdf(pages=1), "application/pdf", "Premier")
    aloop.wait_until(lambda: checkers[0].starts == 1)
    aloop.spin(0.1)
    pane.cancel()
    assert pane.message == "Chargement annulé."
    show(pane, aloop, make_pdf(pages=3), "application/pdf", "Second")
    # The answer about the first PDF was dropped: the pane shows the second one.
    assert pane.state == PreviewState.PDF and pane.page_count() == 3
    assert checkers[0].starts == 1


def test_a_pdf_with_too_many_pages_is_refused(
    qtbot: QtBot, aloop: AsyncLoop, service: FakeRetrieveService, checkers: list[PdfChecker]
) -> None:
    pane = pane_with(qtbot, service, checkers, check=many_pages_check)
    show(pane, aloop, make_pdf(), "application/pdf")
    assert pane.message.startswith("Ce PDF a trop de pages pour l'aperçu (100000, au plus 5000)")


def test_the_checker_refuses_without_a_worker_above_the_size_limit(aloop: AsyncLoop) -> None:
    checker = PdfChecker(max_bytes=100)
    try:
        assert aloop.run(checker.check(b"0" * 101)).verdict is PdfVerdict.TOO_LARGE
        assert checker.starts == 0
        assert aloop.run(checker.check(make_pdf(pages=2))).pages == 0  # 1.8 kB: too large too
    finally:
        checker.close()


# -- find -----------------------------------------------------------------------------------------


def test_find_text_in_a_pdf(pane: PreviewPane, aloop: AsyncLoop, qtbot: QtBot) -> None:
    show(pane, aloop, make_pdf(pages=3), "application/pdf")
    assert pane.focus_find()
    qtbot.keyClicks(pane.find_edit, "fictif")
    aloop.wait_until(lambda: pane.find_count() == 3)
    aloop.wait_until(lambda: pane.find_current() == 0)  # the first match, as soon as found
    assert pane.find_page() == 0
    assert pane.find_status.text() == "1 sur 3"
    qtbot.keyClick(pane.find_edit, Qt.Key.Key_Return)
    assert pane.find_current() == 1 and pane.find_page() == 1
    assert pane.pdf_view is not None and pane.pdf_view.currentSearchResultIndex() == 1
    pane.find_next()
    pane.find_next()  # wraps
    assert pane.find_current() == 0
    pane.find_previous()
    assert pane.find_current() == 2 and pane.find_status.text() == "3 sur 3"
    pane.find_text("absent du document")
    aloop.spin(0.3)
    assert pane.find_count() == 0 and pane.find_status.text() == "Aucun résultat"


def test_find_text_in_plain_text_and_cda(pane: PreviewPane, qtbot: QtBot) -> None:
    pane.show_content(b"Tension 12/8\nRevoir la tension dans 1 mois.\n", "text/plain")
    pane.focus_find()
    qtbot.keyClicks(pane.find_edit, "tension")
    assert pane.find_count() == 2
    assert pane.find_current() == 0 and pane.text_view.textCursor().selectedText() == "Tension"
    pane.find_next()
    assert pane.find_current() == 1 and pane.find_status.text() == "2 sur 2"
    pane.find_next()  # wraps to the first
    assert pane.find_current() == 0
    pane.show_content(STRUCTURED, "text/xml")
    pane.find_text("ECG")
    assert pane.find_count() == 1
    assert pane.cda_view.textCursor().selectedText() == "ECG"


def test_find_is_disabled_without_a_document(pane: PreviewPane) -> None:
    assert not pane.focus_find()
    pane.show_content(make_png(), "image/png")
    assert not pane.find_edit.isEnabled() and not pane.focus_find()


# -- export and print -----------------------------------------------------------------------------


def test_export_writes_a_copy_atomically(
    pane: PreviewPane, aloop: AsyncLoop, tmp_path: Path
) -> None:
    body = b"Compte rendu : <b>rien</b>\n"
    pane.show_content(body, "text/plain", "CR du 14/03 : consultation")
    assert pane.suggested_file_name() == "CR du 14 03 consultation.txt"
    target = tmp_path / "copie.txt"
    target.write_bytes(b"ancienne version")
    messages: list[str] = []
    pane.statusMessage.connect(messages.append)
    assert aloop.run(pane.export_to(target))
    assert target.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copie.txt"]  # no temporary left
    assert messages == [f"Copie enregistrée : {target}"]
    assert not aloop.run(pane.export_to(tmp_path / "absent" / "copie.txt"))
    assert messages[-1].startswith("Copie impossible : ")


def test_export_through_the_save_dialog(
    pane: PreviewPane, aloop: AsyncLoop, tmp_path: Path
) -> None:
    show(pane, aloop, make_pdf(pages=2), "application/pdf", "Radio")
    dialog = pane.ask_export()
    assert dialog is not None and dialog.isVisible()
    target = tmp_path / "radio.pdf"
    dialog.selectFile(str(target))
    dialog.accept()
    aloop.wait_until(target.exists)
    assert target.read_bytes() == pane.data


def test_nothing_to_export_or_print_when_empty(pane: PreviewPane) -> None:
    assert pane.ask_export() is None and pane.ask_print() is None
    assert not pane.export_button.isEnabled() and not pane.print_button.isEnabled()


def pdf_printer(path: Path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer


def printed_text(path: Path) -> str:
    return " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(path).pages).split())


def test_print_a_pdf_to_a_pdf_file(pane: PreviewPane, aloop: AsyncLoop, tmp_path: Path) -> None:
    show(pane, aloop, make_pdf(pages=3), "application/pdf", "CR")
    out = tmp_path / "imprime.pdf"
    assert aloop.run(pane.print_to(pdf_printer(out)))
    printed = pypdf.PdfReader(out)
    assert len(printed.pages) == 3
    assert all(page.images for page in printed.pages)  # each page rendered


def test_print_text_and_cda_to_a_pdf_file(
    pane: PreviewPane, aloop: AsyncLoop, tmp_path: Path
) -> None:
    pane.show_content(b"Tension 12/8, revoir dans un mois.", "text/plain")
    out = tmp_path / "texte.pdf"
    assert aloop.run(pane.print_to(pdf_printer(out)))
    assert "Tension 12/8" in printed_text(out)
    pane.show_content(STRUCTURED, "text/xml")
    out = tmp_path / "cda.pdf"
    assert aloop.run(pane.print_to(pdf_printer(out)))
    text = printed_text(out)
    assert "Compte rendu de consultation" in text and "Paracétamol 1 g" in text
    pane.show_content(make_png(), "image/png")
    assert aloop.run(pane.print_to(pdf_printer(tmp_path / "image.pdf")))
    assert pypdf.PdfReader(tmp_path / "image.pdf").pages[0].images


def test_the_print_dialog_opens_for_the_document(pane: PreviewPane) -> None:
    pane.show_content(b"texte", "text/plain")
    dialog = pane.ask_print()
    assert dialog is not None and dialog.isVisible()
    dialog.close()


# -- text, CDA, images ----------------------------------------------------------------------------


def test_plain_text_is_shown_read_only(pane: PreviewPane) -> None:
    pane.show_content(b"Tension 12/8\n<b>pas du HTML</b>", "text/plain", "Note")
    assert pane.state == PreviewState.TEXT
    assert pane.text_view.toPlainText() == "Tension 12/8\n<b>pas du HTML</b>"
    assert pane.text_view.isReadOnly()
    assert pane.title_label.text() == "Note"
    assert pane.title_label.textFormat() == Qt.TextFormat.PlainText


def test_text_charsets() -> None:
    assert media_type('Text/Plain; charset="ISO-8859-1"') == ("text/plain", "iso-8859-1")
    assert decode_text("Éric".encode("latin-1"), "iso-8859-1") == "Éric"
    assert decode_text("Éric".encode("cp1252")) == "Éric"  # not UTF-8: Windows-1252
    assert decode_text("Éric €".encode()) == "Éric €"
    assert decode_text(b"x", "no-such-charset") == "x"


def test_export_names_are_safe() -> None:
    assert export_name("../../etc/passwd", "text/plain") == "etc passwd.txt"
    assert export_name("CR\x00 <script>", "application/pdf") == "CR script.pdf"
    assert export_name("", "image/png") == "document.png"
    assert export_name("Œdème", "application/zip") == "Œdème.bin"
    assert len(export_name("x" * 500, "text/xml")) == 84


def cda_tables(pane: PreviewPane) -> list[QTextTable]:
    document = pane.cda_view.document()
    tables: list[QTextTable] = []
    block = document.begin()
    while block.isValid():
        table = QTextCursor(block).currentTable()
        if table is not None and table not in tables:
            tables.append(table)
        block = block.next()
    return tables


def test_cda_is_rendered_readable(pane: PreviewPane) -> None:
    pane.show_content(STRUCTURED, "text/xml", "CR")
    assert pane.state == PreviewState.CDA
    text = pane.cda_view.toPlainText()
    lines = text.splitlines()
    assert lines[0] == "Compte rendu de consultation"
    assert lines[1:4] == [
        "Patient : Marie DURAND",
        "Auteur : Claire MARTIN (Cabinet du Parc)",
        "Date : 14/03/2025",
    ]
    assert "Motif" in lines and "Traitement" in lines
    assert "Douleur thoracique depuis 2 jours." in lines
    assert "Pas de fièvre." in lines and "Apyrétique." in lines
    document = pane.cda_view.document()
    # The list is a real list of two items ...
    lists = {
        id(lst): lst
        for block in iter_blocks(document)
        if isinstance(lst := block.textList(), QTextList)
    }
    assert [lst.count() for lst in lists.values()] == [2]
    # ... and the table a real table, its header row bold.
    (table,) = cda_tables(pane)
    assert (table.rows(), table.columns()) == (2, 2)
    cells = [
        table.cellAt(r, c).firstCursorPosition().block().text() for r in range(2) for c in range(2)
    ]
    assert cells == ["Examen", "Résultat", "ECG", "normal"]
    header = table.cellAt(0, 0).firstCursorPosition()
    header.movePosition(QTextCursor.MoveOperation.NextCharacter)
    assert header.charFormat().fontWeight() > 500
    assert table.format().headerRowCount() == 1


def iter_blocks(document: object) -> Iterator[object]:
    block = document.begin()  # type: ignore[attr-defined]
    while block.isValid():
        yield block
        block = block.next()


def test_cda_markup_in_the_text_is_shown_as_typed(pane: PreviewPane) -> None:
    hostile = cda("""
      <structuredBody><component><section>
        <title>&lt;img src=x onerror=alert(1)&gt;</title>
        <text><paragraph>&lt;b&gt;gras&lt;/b&gt; &amp;
          <content>&lt;a href="x"&gt;lien&lt;/a&gt;</content></paragraph></text>
      </section></component></structuredBody>""")
    pane.show_content(hostile, "text/xml")
    text = pane.cda_view.toPlainText()
    assert "<img src=x onerror=alert(1)>" in text
    assert '<b>gras</b> & <a href="x">lien</a>' in text
    html = pane.cda_view.toHtml()
    assert "&lt;b&gt;gras&lt;/b&gt;" in html and "<b>" not in html
    assert "<img" not in html and "<a " not in html


def test_cda_content_reads_the_structure() -> None:
    content = cda_content(STRUCTURED)
    assert content.title == "Compte rendu de consultation"
    assert [(s.title, s.depth) for s in content.sections] == [("Motif", 0), ("Traitement", 1)]
    assert content.sections[0].blocks == (
        CdaParagraph("Douleur thoracique depuis 2 jours."),
        CdaParagraph("Pas de fièvre.\nApyrétique."),
    )
    assert content.sections[1].blocks == (
        CdaList(("Paracétamol 1 g", "Repos")),
        CdaTable((("Examen", "Résultat"), ("ECG", "normal")), header_rows=1),
    )
    assert content.embedded is None


def test_cda_with_an_embedded_pdf_shows_the_pdf(pane: PreviewPane, aloop: AsyncLoop) -> None:
    encoded = base64.encodebytes(make_pdf(pages=2)).decode()
    body = (
        '<nonXMLBody><text mediaType="application/pdf" representation="B64">'
        f"{encoded}</text></nonXMLBody>"
    )
    show(pane, aloop, cda(body), "text/xml")
    assert pane.state == PreviewState.PDF and pane.page_count() == 2


@pytest.mark.parametrize(
    "data",
    [
        b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>unclosed",
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><ClinicalDocument/>",
        b"<html><body>not a CDA</body></html>",
    ],
    ids=["malformed", "dtd", "not-cda"],
)
def test_unreadable_cda_shows_a_message(pane: PreviewPane, data: bytes) -> None:
    pane.show_content(data, "text/xml")
    assert pane.state == PreviewState.MESSAGE
    assert pane.message == "Ce document CDA est illisible (XML invalide)."


def test_images_are_shown(pane: PreviewPane) -> None:
    pane.show_content(make_png(), "image/png")
    assert pane.state == PreviewState.IMAGE
    assert pane.image_label.pixmap().width() == 40


def test_a_broken_image_is_explained(pane: PreviewPane) -> None:
    pane.show_content(b"\x89PNG not really", "image/png")
    assert pane.state == PreviewState.MESSAGE
    assert pane.message == "Cette image est illisible ou endommagée."


def test_unknown_format_is_explained(pane: PreviewPane) -> None:
    pane.show_content(b"PK\x03\x04", "application/zip")
    assert pane.message == "Aperçu non disponible pour ce format (application/zip)."


# -- loading through the service ------------------------------------------------------------------


def test_load_shows_a_loading_state_then_the_document(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    service.bodies["doc-1"] = make_pdf(pages=2)
    service.gates["doc-1"] = asyncio.Event()
    pane.load(DOSSIER, doc(1, "application/pdf", "Radio du thorax"))
    assert pane.state == PreviewState.LOADING
    assert pane.title_label.text() == "Radio du thorax"
    service.gates["doc-1"].set()
    aloop.wait_until(lambda: pane.state == PreviewState.PDF)
    assert pane.page_count() == 2 and pane.document_id == "doc-1"


def test_loading_another_document_cancels_the_first(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    service.bodies.update({"doc-1": b"first", "doc-2": b"second"})
    service.gates["doc-1"] = asyncio.Event()  # never set
    pane.load(DOSSIER, doc(1))
    aloop.wait_until(lambda: service.calls == ["doc-1"])
    pane.load(DOSSIER, doc(2))
    aloop.wait_until(lambda: pane.state == PreviewState.TEXT)
    assert service.cancelled == ["doc-1"]
    assert pane.text_view.toPlainText() == "second"
    assert pane.document_id == "doc-2"


def test_escape_cancels_loading(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    service.gates["doc-1"] = asyncio.Event()
    pane.load(DOSSIER, doc(1))
    aloop.wait_until(lambda: service.calls == ["doc-1"])
    pane.cancel_button.setFocus()
    qtbot.keyClick(pane.cancel_button, Qt.Key.Key_Escape)
    aloop.wait_until(lambda: service.cancelled == ["doc-1"])
    assert pane.message == "Chargement annulé."


def test_a_refused_retrieve_is_explained(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    service.error = AccessRefusedError("Document inconnu de ce dossier.", "unknown_document")
    pane.load(DOSSIER, doc(1))
    aloop.wait_until(lambda: pane.state == PreviewState.MESSAGE)
    assert pane.message == "Impossible d'obtenir le document : Document inconnu de ce dossier."


def test_clear_drops_the_document(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    service.bodies["doc-1"] = make_pdf()
    pane.load(DOSSIER, doc(1, "application/pdf"))
    aloop.wait_until(lambda: pane.state == PreviewState.PDF)
    document = pane.pdf_document
    assert document is not None
    pane.clear()
    assert pane.state == PreviewState.EMPTY
    assert document.status() == QPdfDocument.Status.Null and document.pageCount() == 0
    assert pane.title_label.text() == "" and pane.document_id == ""
    pane.show_content(b"texte", "text/plain")
    pane.clear()
    assert pane.text_view.toPlainText() == ""


def test_clear_cancels_a_load(
    pane: PreviewPane, service: FakeRetrieveService, aloop: AsyncLoop
) -> None:
    service.gates["doc-1"] = asyncio.Event()
    pane.load(DOSSIER, doc(1))
    aloop.wait_until(lambda: service.calls == ["doc-1"])
    pane.clear()
    aloop.wait_until(lambda: service.cancelled == ["doc-1"])
    assert pane.state == PreviewState.EMPTY
