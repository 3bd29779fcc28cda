"""The preview pane: PDF (QtPdf), text, CDA R2, images; unreadable bodies; async loading."""

from __future__ import annotations

import asyncio
import base64
import io
from datetime import UTC, datetime
from typing import cast

import pytest
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from pytestqt.qtbot import QtBot
from reportlab.pdfgen.canvas import Canvas

from console.domain.dossier import AccessGrant, PatientRecord
from console.domain.errors import AccessRefusedError
from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.views.preview import (
    PreviewPane,
    PreviewState,
    cda_content,
    decode_text,
    media_type,
)
from tests.gui.conftest import AsyncLoop

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

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
            raise self.error
        return self.bodies[document.id]


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


# -- PDF ------------------------------------------------------------------------------------------


def test_pdf_is_shown_with_pages_and_zoom(pane: PreviewPane) -> None:
    pane.show_content(make_pdf(pages=3), "application/pdf", "Compte rendu")
    assert pane.state == PreviewState.PDF
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
def test_unreadable_pdf_shows_a_message(pane: PreviewPane, data: bytes, message: str) -> None:
    pane.show_content(data, "application/pdf", "Scan")
    assert pane.state == PreviewState.MESSAGE
    assert message in pane.message
    assert pane.page_count() == 0


def test_a_good_pdf_after_a_bad_one_is_shown(pane: PreviewPane) -> None:
    pane.show_content(b"%PDF-broken", "application/pdf")
    pane.show_content(make_pdf(pages=1), "application/pdf")
    assert pane.state == PreviewState.PDF and pane.page_count() == 1


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


def test_cda_is_shown_as_readable_text(pane: PreviewPane) -> None:
    pane.show_content(STRUCTURED, "text/xml", "CR")
    assert pane.state == PreviewState.TEXT
    text = pane.text_view.toPlainText()
    lines = text.splitlines()
    assert lines[0] == "Compte rendu de consultation"
    assert "Date : 14/03/2025" in lines
    assert "Patient : Marie DURAND" in lines
    assert "Auteur : Claire MARTIN (Cabinet du Parc)" in lines
    assert "Motif" in lines
    assert "Douleur thoracique depuis 2 jours." in lines
    assert "Pas de fièvre." in lines and "Apyrétique." in lines
    assert "  Traitement" in lines  # a nested section is indented
    assert "  • Paracétamol 1 g" in lines
    assert "  ECG | normal" in lines
    assert "<" not in text


def test_cda_content_reads_the_structure() -> None:
    content = cda_content(STRUCTURED)
    assert content.title == "Compte rendu de consultation"
    assert [(s.title, s.depth) for s in content.sections] == [("Motif", 0), ("Traitement", 1)]
    assert content.embedded is None


def test_cda_with_an_embedded_pdf_shows_the_pdf(pane: PreviewPane) -> None:
    encoded = base64.encodebytes(make_pdf(pages=2)).decode()
    body = (
        '<nonXMLBody><text mediaType="application/pdf" representation="B64">'
        f"{encoded}</text></nonXMLBody>"
    )
    pane.show_content(cda(body), "text/xml")
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
