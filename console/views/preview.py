"""The preview pane: a document's body shown beside the table.

PDF through QtPdf (imported on the first PDF only: it is heavy and the login window must come
up fast), plain text in a read-only editor, CDA R2 as readable plain text, images through
QImage. Whatever comes from the network is shown as plain text, never as rich text. A body
that cannot be shown (corrupt or encrypted PDF, unreadable image or XML) gives a clear message
in the pane, never an exception.

Issue 4 renders PDF off the GUI thread with time and memory bounds, adds find-in-text,
export and print, and renders CDA with its structure.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.errors import ConsoleError
from console.domain.models import DocumentMeta
from console.services.dossier import DossierService, OpenDossier
from console.views.consent import plain_label
from console.views.tasks import spawn

if TYPE_CHECKING:
    from PySide6.QtPdf import QPdfDocument
    from PySide6.QtPdfWidgets import QPdfView

__all__ = [
    "CdaContent",
    "CdaSection",
    "PreviewPane",
    "PreviewState",
    "cda_content",
    "decode_text",
]

HL7 = "{urn:hl7-org:v3}"
PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
XML_TYPES = frozenset({"text/xml", "application/xml", "application/hl7-v3+xml"})
ZOOM_STEP = 1.25
ZOOM_MIN, ZOOM_MAX = 0.1, 8.0


class PreviewState(StrEnum):
    """What the pane shows."""

    EMPTY = "empty"
    LOADING = "loading"
    PDF = "pdf"
    TEXT = "text"
    IMAGE = "image"
    MESSAGE = "message"
    """A message instead of the document (unreadable, unsupported, refused, network...)."""


# -- pure helpers (no Qt) ----------------------------------------------------------------------


def media_type(content_type: str) -> tuple[str, str | None]:
    """``"text/plain; charset=ISO-8859-1"`` -> ``("text/plain", "iso-8859-1")``."""
    base, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return base.strip().lower(), charset


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Text of ``data``: the declared charset, else UTF-8, else Windows-1252 (French
    software's usual fallback); never raises."""
    for encoding in (charset, "utf-8-sig", "cp1252"):
        if not encoding:
            continue
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class CdaSection:
    """A section of a CDA structured body: its title, narrative text, nesting depth."""

    title: str
    text: str
    depth: int = 0


@dataclass(frozen=True, slots=True)
class CdaContent:
    """What the preview shows of a CDA R2 document."""

    title: str
    effective: date | None = None
    patient: str = ""
    author: str = ""
    organization: str = ""
    sections: tuple[CdaSection, ...] = ()
    embedded: tuple[str, bytes] | None = None
    """A non-XML body (``nonXMLBody``, base64): its media type and bytes (often a PDF)."""


_BLOCKS = frozenset({"paragraph", "item", "tr", "caption", "list", "table", "thead", "tbody"})
_SPACES = re.compile(r"\s+")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return " ".join("".join(element.itertext()).split())


def _narrative(element: ET.Element | None) -> str:
    """The readable text of a CDA narrative block (paragraphs, lists, tables, line breaks)."""
    if element is None:
        return ""
    parts: list[str] = []

    def inline(text: str | None) -> None:
        if text:
            parts.append(_SPACES.sub(" ", text))

    def walk(node: ET.Element) -> None:
        name = _local(node.tag)
        if name in _BLOCKS:
            parts.append("\n")
        if name == "item":
            parts.append("• ")
        if name == "br":
            parts.append("\n")
        inline(node.text)
        for child in node:
            walk(child)
        if name in ("td", "th"):
            parts.append(" | ")
        if name in _BLOCKS:
            parts.append("\n")
        inline(node.tail)

    inline(element.text)
    for child in element:
        walk(child)
    lines = [line.strip().removesuffix("|").strip() for line in "".join(parts).split("\n")]
    return "\n".join(line for line in lines if line)


def _cda_date(value: str | None) -> date | None:
    if not value or len(value) < 8 or not value[:8].isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def _person(name: ET.Element | None) -> str:
    if name is None:
        return ""
    given = " ".join(_text(g) for g in name.findall(f"{HL7}given"))
    family = " ".join(_text(f).upper() for f in name.findall(f"{HL7}family"))
    return " ".join(p for p in (given, family) if p) or _text(name)


def cda_content(data: bytes) -> CdaContent:
    """Read a CDA R2 document into :class:`CdaContent`.

    A document with a DTD is refused (a CDA has none; entity expansion is an attack surface).

    Raises:
        ValueError: not well-formed XML, a DTD, or not a ``ClinicalDocument``.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("XML document with a DTD")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"malformed XML: {exc}") from exc
    if root.tag != f"{HL7}ClinicalDocument":
        raise ValueError("not a CDA R2 ClinicalDocument")
    effective = root.find(f"{HL7}effectiveTime")
    patient = root.find(f"{HL7}recordTarget/{HL7}patientRole/{HL7}patient/{HL7}name")
    author = root.find(f"{HL7}author/{HL7}assignedAuthor")
    organization = None if author is None else author.find(f"{HL7}representedOrganization")

    sections: list[CdaSection] = []

    def visit(section: ET.Element, depth: int) -> None:
        sections.append(
            CdaSection(
                _text(section.find(f"{HL7}title")),
                _narrative(section.find(f"{HL7}text")),
                depth,
            )
        )
        for sub in section.findall(f"{HL7}component/{HL7}section"):
            visit(sub, depth + 1)

    body = root.find(f"{HL7}component/{HL7}structuredBody")
    if body is not None:
        for section in body.findall(f"{HL7}component/{HL7}section"):
            visit(section, 0)
    embedded = None
    non_xml = root.find(f"{HL7}component/{HL7}nonXMLBody/{HL7}text")
    if non_xml is not None and (non_xml.get("representation") or "").upper() == "B64":
        try:
            raw = base64.b64decode("".join((non_xml.text or "").split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"unreadable nonXMLBody: {exc}") from exc
        embedded = ((non_xml.get("mediaType") or "application/octet-stream").lower(), raw)
    return CdaContent(
        title=_text(root.find(f"{HL7}title")),
        effective=_cda_date(None if effective is None else effective.get("value")),
        patient=_person(patient),
        author=_person(None if author is None else author.find(f"{HL7}assignedPerson/{HL7}name")),
        organization=_text(None if organization is None else organization.find(f"{HL7}name")),
        sections=tuple(sections),
        embedded=embedded,
    )


# -- the pane ------------------------------------------------------------------------------------


class PreviewPane(QWidget):
    """Shows one document's body; fetches it through the dossier service.

    :meth:`load` retrieves a document (a loading state, cancelled when another document is
    loaded, by the "Annuler" button or Esc); :meth:`show_content` shows bytes already at
    hand; :meth:`clear` drops the document and its bytes.

    Signals:
        stateChanged(str): the new :class:`PreviewState` value.
        documentShown(str): the id of the document now shown (empty for bytes without id).
    """

    stateChanged = Signal(str)
    documentShown = Signal(str)

    def __init__(self, dossier_service: DossierService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = dossier_service
        self._task: asyncio.Task[None] | None = None
        self._state = PreviewState.EMPTY
        self._document_id = ""
        self._loading_id = ""
        self._pdf_document: QPdfDocument | None = None
        self._pdf_view: QPdfView | None = None
        self._pdf_buffer: QBuffer | None = None

        self.title_label = plain_label()
        self.title_label.setStyleSheet("font-weight: bold;")
        self.detail_label = plain_label()

        self._stack = QStackedWidget()
        # Empty page.
        self.placeholder = plain_label(
            self.tr("Choisissez un document dans la liste puis appuyez sur Entrée.")
        )
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack.addWidget(self.placeholder)
        # Loading page.
        loading = QWidget()
        loading_layout = QVBoxLayout(loading)
        loading_layout.addStretch(1)
        loading_layout.addWidget(
            plain_label(self.tr("Chargement du document…")), 0, Qt.AlignmentFlag.AlignCenter
        )
        bar = QProgressBar()
        bar.setRange(0, 0)
        bar.setTextVisible(False)
        bar.setMaximumWidth(200)
        loading_layout.addWidget(bar, 0, Qt.AlignmentFlag.AlignCenter)
        self.cancel_button = QPushButton(self.tr("Annuler"))
        self.cancel_button.clicked.connect(self.cancel)
        loading_layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignCenter)
        loading_layout.addStretch(1)
        self._loading_page = loading
        self._stack.addWidget(loading)
        # Message page.
        self.message_label = plain_label()
        self.message_label.setObjectName("previewMessage")
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._stack.addWidget(self.message_label)
        # Text page (text/plain and CDA).
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setFont(monospace_font())
        self.text_view.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._stack.addWidget(self.text_view)
        # Image page.
        self.image_label = QLabel()
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._image_area = QScrollArea()
        self._image_area.setWidgetResizable(True)
        self._image_area.setWidget(self.image_label)
        self._stack.addWidget(self._image_area)
        # PDF page: built on the first PDF (QtPdf is imported then).
        self._pdf_page: QWidget | None = None
        self.page_spin: QSpinBox | None = None
        self.page_count_label: QLabel | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self._stack, 1)

        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.cancel)
        self._set_state(PreviewState.EMPTY)

    # -- public API ----------------------------------------------------------------------------
    @property
    def state(self) -> PreviewState:
        """What the pane shows now."""
        return self._state

    @property
    def message(self) -> str:
        """The message shown instead of a document (state MESSAGE), else empty."""
        return self.message_label.text() if self._state == PreviewState.MESSAGE else ""

    @property
    def document_id(self) -> str:
        """The id of the document shown or being loaded ("" when none)."""
        return self._loading_id or self._document_id

    @property
    def pdf_document(self) -> QPdfDocument | None:
        """The QPdfDocument of the PDF shown (None before the first PDF)."""
        return self._pdf_document

    @property
    def pdf_view(self) -> QPdfView | None:
        """The QPdfView (None before the first PDF)."""
        return self._pdf_view

    def load(self, dossier: OpenDossier, doc: DocumentMeta) -> None:
        """Retrieve ``doc`` and show it; cancels the load of another document.

        Loading the document already shown or being loaded does nothing (a double-click
        also activates: one retrieve, one trace on the server).
        """
        if doc.id == self.document_id and self._state != PreviewState.MESSAGE:
            return
        self._cancel_task()
        self._drop_content()
        self._loading_id = doc.id
        self._set_header(doc.title, doc)
        self._set_state(PreviewState.LOADING)
        self._task = spawn(self._load(dossier, doc))

    def show_content(self, data: bytes, content_type: str, title: str = "") -> None:
        """Show ``data`` of ``content_type`` (no network); unreadable data gives a message."""
        self._cancel_task()
        self._drop_content()
        self._set_header(title)
        self._display(data, content_type)

    def cancel(self) -> None:
        """Cancel the document being loaded (Esc); the pane says so."""
        if self._task is not None and not self._task.done():
            self._cancel_task()
            self._show_message(self.tr("Chargement annulé."))

    def clear(self) -> None:
        """Cancel any load and drop the document: bytes, pages, text, image, title."""
        self._cancel_task()
        self._drop_content()
        self.title_label.clear()
        self.detail_label.clear()
        self._set_state(PreviewState.EMPTY)

    # PDF navigation (no-ops without a PDF).
    def page_count(self) -> int:
        """Pages of the PDF shown (0 if none)."""
        if self._pdf_document is None or self._state != PreviewState.PDF:
            return 0
        return int(self._pdf_document.pageCount())

    def current_page(self) -> int:
        """The current PDF page, from 0."""
        if self._pdf_view is None:
            return 0
        return int(self._pdf_view.pageNavigator().currentPage())

    def go_to_page(self, page: int) -> None:
        """Show page ``page`` (from 0) of the PDF."""
        if self._pdf_view is None or not 0 <= page < self.page_count():
            return
        self._pdf_view.pageNavigator().jump(page, QPointF(), 0)

    def next_page(self) -> None:
        self.go_to_page(self.current_page() + 1)

    def previous_page(self) -> None:
        self.go_to_page(self.current_page() - 1)

    def zoom_in(self) -> None:
        self._zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom(1 / ZOOM_STEP)

    def fit_width(self) -> None:
        if self._pdf_view is not None:
            from PySide6.QtPdfWidgets import QPdfView

            self._pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)

    def fit_page(self) -> None:
        if self._pdf_view is not None:
            from PySide6.QtPdfWidgets import QPdfView

            self._pdf_view.setZoomMode(QPdfView.ZoomMode.FitInView)

    # -- loading ---------------------------------------------------------------------------------
    async def _load(self, dossier: OpenDossier, doc: DocumentMeta) -> None:
        try:
            data = await self._service.retrieve(dossier, doc)
        except ConsoleError as exc:
            self._loading_id = ""
            self._document_id = doc.id
            self._show_message(
                self.tr("Impossible d'obtenir le document : {reason}").format(reason=str(exc))
            )
            return
        self._loading_id = ""
        self._document_id = doc.id
        self._display(data, doc.content_type)
        self.documentShown.emit(doc.id)

    def _cancel_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._loading_id = ""

    def _set_header(self, title: str, doc: DocumentMeta | None = None) -> None:
        self.title_label.setText(title)
        if doc is None:
            self.detail_label.clear()
        else:
            self.detail_label.setText(
                self.tr("{author} · {structure}").format(
                    author=doc.author_name or doc.author_id_nat, structure=doc.structure_name
                )
            )

    # -- showing -----------------------------------------------------------------------------------
    def _display(self, data: bytes, content_type: str, *, nested: bool = False) -> None:
        kind, charset = media_type(content_type)
        if kind == "application/octet-stream" and data.startswith(b"%PDF-"):
            kind = "application/pdf"
        if kind in PDF_TYPES:
            self._show_pdf(data)
        elif kind == "text/plain":
            self._show_text(decode_text(data, charset))
        elif kind in XML_TYPES and not nested:
            self._show_cda(data)
        elif kind.startswith("image/"):
            self._show_image(data)
        else:
            self._show_message(
                self.tr("Aperçu non disponible pour ce format ({kind}).").format(kind=kind or "?")
            )

    def _show_text(self, text: str) -> None:
        self.text_view.setPlainText(text)
        self.text_view.moveCursor(self.text_view.textCursor().MoveOperation.Start)
        self._set_state(PreviewState.TEXT)

    def _show_cda(self, data: bytes) -> None:
        try:
            cda = cda_content(data)
        except ValueError:
            self._show_message(self.tr("Ce document CDA est illisible (XML invalide)."))
            return
        if cda.embedded is not None:
            self._display(cda.embedded[1], cda.embedded[0], nested=True)
            return
        self._show_text(self.cda_text(cda))

    def cda_text(self, cda: CdaContent) -> str:
        """``cda`` as readable plain text: title, header lines, then each section."""
        lines = [cda.title, "═" * max(len(cda.title), 3)]
        if cda.effective is not None:
            lines.append(self.tr("Date : {date}").format(date=cda.effective.strftime("%d/%m/%Y")))
        if cda.patient:
            lines.append(self.tr("Patient : {name}").format(name=cda.patient))
        if cda.author:
            author = cda.author + (f" ({cda.organization})" if cda.organization else "")
            lines.append(self.tr("Auteur : {name}").format(name=author))
        for section in cda.sections:
            indent = "  " * section.depth
            lines.append("")
            if section.title:
                lines.append(f"{indent}{section.title}")
                lines.append(f"{indent}{'─' * len(section.title)}")
            lines.extend(f"{indent}{line}" for line in section.text.splitlines())
        return "\n".join(lines) + "\n"

    def _show_image(self, data: bytes) -> None:
        image = QImage.fromData(data)
        if image.isNull():
            self._show_message(self.tr("Cette image est illisible ou endommagée."))
            return
        self.image_label.setPixmap(QPixmap.fromImage(image))
        self._set_state(PreviewState.IMAGE)

    def _show_pdf(self, data: bytes) -> None:
        from PySide6.QtPdf import QPdfDocument

        document, view = self._ensure_pdf()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        document.load(buffer)  # a QBuffer is not sequential: loads before returning
        self._pdf_buffer = buffer
        if document.status() != QPdfDocument.Status.Ready or document.pageCount() < 1:
            error = document.error()
            self._drop_pdf()
            if error in (
                QPdfDocument.Error.IncorrectPassword,
                QPdfDocument.Error.UnsupportedSecurityScheme,
            ):
                self._show_message(
                    self.tr(
                        "Ce PDF est chiffré ou protégé par un mot de passe : "
                        "l'aperçu est impossible."
                    )
                )
            else:
                self._show_message(self.tr("Ce PDF est illisible ou endommagé."))
            return
        assert self.page_spin is not None and self.page_count_label is not None
        count = int(document.pageCount())
        self.page_spin.blockSignals(True)
        self.page_spin.setRange(1, count)
        self.page_spin.setValue(1)
        self.page_spin.blockSignals(False)
        self.page_count_label.setText(self.tr("/ {count}").format(count=count))
        self._set_state(PreviewState.PDF)
        view.pageNavigator().jump(0, QPointF(), 0)

    def _ensure_pdf(self) -> tuple[QPdfDocument, QPdfView]:
        if self._pdf_document is not None and self._pdf_view is not None:
            return self._pdf_document, self._pdf_view
        from PySide6.QtPdf import QPdfDocument
        from PySide6.QtPdfWidgets import QPdfView

        document = QPdfDocument(self)
        view = QPdfView()
        view.setDocument(document)
        view.setPageMode(QPdfView.PageMode.MultiPage)
        view.setZoomMode(QPdfView.ZoomMode.FitToWidth)

        page = QWidget()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)

        def tool(
            text: str, tip: str, slot: Any, shortcut: QKeySequence.StandardKey | None = None
        ) -> None:
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(slot)
            if shortcut is not None:
                button.setShortcut(QKeySequence(shortcut))
            bar.addWidget(button)

        tool("◀", self.tr("Page précédente"), self.previous_page)
        self.page_spin = QSpinBox()
        self.page_spin.setAccessibleName(self.tr("Page"))
        self.page_spin.valueChanged.connect(lambda value: self.go_to_page(value - 1))
        bar.addWidget(self.page_spin)
        self.page_count_label = QLabel()
        bar.addWidget(self.page_count_label)
        tool("▶", self.tr("Page suivante"), self.next_page)
        bar.addStretch(1)
        tool("−", self.tr("Zoom arrière"), self.zoom_out, QKeySequence.StandardKey.ZoomOut)
        tool("+", self.tr("Zoom avant"), self.zoom_in, QKeySequence.StandardKey.ZoomIn)
        tool("↔", self.tr("Ajuster à la largeur"), self.fit_width)
        tool("▣", self.tr("Page entière"), self.fit_page)

        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(view, 1)
        view.pageNavigator().currentPageChanged.connect(self._page_changed)

        self._pdf_document, self._pdf_view, self._pdf_page = document, view, page
        self._stack.addWidget(page)
        return document, view

    def _page_changed(self, page: int) -> None:
        if self.page_spin is not None:
            self.page_spin.blockSignals(True)
            self.page_spin.setValue(page + 1)
            self.page_spin.blockSignals(False)

    def _zoom(self, factor: float) -> None:
        if self._pdf_view is None:
            return
        from PySide6.QtPdfWidgets import QPdfView

        zoom = min(ZOOM_MAX, max(ZOOM_MIN, self._pdf_view.zoomFactor() * factor))
        self._pdf_view.setZoomMode(QPdfView.ZoomMode.Custom)
        self._pdf_view.setZoomFactor(zoom)

    def _show_message(self, message: str) -> None:
        self.message_label.setText(message)
        self._set_state(PreviewState.MESSAGE)

    def _drop_pdf(self) -> None:
        if self._pdf_document is not None:
            self._pdf_document.close()
        if self._pdf_buffer is not None:
            self._pdf_buffer.close()
            self._pdf_buffer.setData(QByteArray())
            self._pdf_buffer.deleteLater()
            self._pdf_buffer = None

    def _drop_content(self) -> None:
        """Forget the document's bytes and everything derived from them."""
        self._drop_pdf()
        self.text_view.clear()
        self.image_label.clear()
        self.message_label.clear()
        self._document_id = ""

    def _set_state(self, state: PreviewState) -> None:
        self._state = state
        match state:
            case PreviewState.EMPTY:
                page: QWidget = self.placeholder
            case PreviewState.LOADING:
                page = self._loading_page
            case PreviewState.MESSAGE:
                page = self.message_label
            case PreviewState.TEXT:
                page = self.text_view
            case PreviewState.IMAGE:
                page = self._image_area
            case PreviewState.PDF:
                assert self._pdf_page is not None
                page = self._pdf_page
        self._stack.setCurrentWidget(page)
        self.stateChanged.emit(state.value)


def monospace_font() -> QFont:
    """The system's fixed-width font (for text documents laid out with spaces)."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
