"""The preview pane: a document's body shown beside the table.

- PDF through QtPdf (imported on the first PDF only: it is heavy and the login window must
  come up fast), with pages, zoom and find. A PDF is first checked in a worker process
  bounded in size, time and memory (:mod:`console.views.pdf_render`): a corrupt, encrypted,
  huge or hostile PDF gives a clear message in the pane and never freezes the console.
- Plain text in a read-only editor, with find.
- CDA R2 rendered readable: a header (title, patient, author, date) then each section's title
  and its paragraphs, lists and tables, built as a QTextDocument through QTextCursor calls
  that insert plain text only (nothing from the network is ever parsed as HTML).
- Images through QImage.
- Export (a copy written atomically, through the dossier service) and print (QPrintDialog;
  PDF pages rendered one by one) of the document shown: only what the professional retrieved.

Whatever comes from the network is shown as plain text. A body that cannot be shown gives a
clear message in the pane, never an exception.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QFontDatabase,
    QImage,
    QKeySequence,
    QPixmap,
    QShortcut,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextLength,
    QTextListFormat,
    QTextTableFormat,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.errors import ConsoleError
from console.domain.models import DocumentMeta
from console.services.dossier import DossierService, OpenDossier
from console.views.consent import plain_label
from console.views.pdf_render import (
    PdfCheck,
    PdfChecker,
    PdfVerdict,
    default_pdf_checker,
    print_image,
    print_pdf,
    print_text_document,
)
from console.views.tasks import spawn

if TYPE_CHECKING:
    from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
    from PySide6.QtPdfWidgets import QPdfView
    from PySide6.QtPrintSupport import QPrinter

__all__ = [
    "CdaBlock",
    "CdaContent",
    "CdaList",
    "CdaParagraph",
    "CdaSection",
    "CdaTable",
    "PreviewPane",
    "PreviewState",
    "cda_content",
    "decode_text",
    "export_name",
    "narrative_blocks",
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
    CDA = "cda"
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
class CdaParagraph:
    """A paragraph of a CDA narrative (lines kept)."""

    text: str


@dataclass(frozen=True, slots=True)
class CdaList:
    """A list of a CDA narrative (nested lists are flattened into their item's text)."""

    items: tuple[str, ...]
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class CdaTable:
    """A table of a CDA narrative: rows of cell texts, the first ``header_rows`` are headers."""

    rows: tuple[tuple[str, ...], ...]
    header_rows: int = 0
    caption: str = ""

    @property
    def columns(self) -> int:
        return max((len(row) for row in self.rows), default=0)


CdaBlock = CdaParagraph | CdaList | CdaTable


@dataclass(frozen=True, slots=True)
class CdaSection:
    """A section of a CDA structured body: its title, narrative, nesting depth.

    ``text`` is the narrative as plain lines; ``blocks`` its structure (paragraphs, lists,
    tables) for the readable rendering.
    """

    title: str
    text: str
    depth: int = 0
    blocks: tuple[CdaBlock, ...] = ()


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


_INLINE_BREAKS = frozenset({"paragraph", "item", "tr", "list", "table", "caption"})


def _inline(node: ET.Element) -> str:
    """The text of ``node`` and its children: line breaks kept, spaces collapsed per line."""
    parts: list[str] = []

    def walk(element: ET.Element, top: bool) -> None:
        name = _local(element.tag)
        if name == "br":
            parts.append("\n")
        elif not top and name in _INLINE_BREAKS:
            parts.append("\n")
        if not top and name == "item":
            parts.append("– ")
        if element.text:
            parts.append(_SPACES.sub(" ", element.text))
        for child in element:
            walk(child, False)
            if _local(child.tag) in ("td", "th"):
                parts.append(" ")
            if child.tail:
                parts.append(_SPACES.sub(" ", child.tail))

    walk(node, True)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _table(element: ET.Element) -> CdaTable:
    header: list[tuple[str, ...]] = []
    body: list[tuple[str, ...]] = []
    for part in element:
        name = _local(part.tag)
        rows = [part] if name == "tr" else [r for r in part if _local(r.tag) == "tr"]
        for row in rows:
            cells = tuple(_inline(cell) for cell in row if _local(cell.tag) in ("td", "th"))
            if not cells:
                continue
            all_th = all(_local(cell.tag) == "th" for cell in row if _local(cell.tag) != "")
            if name == "thead" or (not body and all_th):
                header.append(cells)
            else:
                body.append(cells)
    caption = element.find(f"{HL7}caption")
    return CdaTable(
        tuple(header + body), len(header), _inline(caption) if caption is not None else ""
    )


def narrative_blocks(element: ET.Element | None) -> tuple[CdaBlock, ...]:
    """The structure of a CDA narrative block: paragraphs, lists and tables, in order."""
    if element is None:
        return ()
    blocks: list[CdaBlock] = []
    pending: list[str] = []

    def flush() -> None:
        lines = (" ".join(line.split()) for line in "".join(pending).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            blocks.append(CdaParagraph(text))
        pending.clear()

    if element.text:
        pending.append(_SPACES.sub(" ", element.text))
    for child in element:
        name = _local(child.tag)
        if name == "paragraph":
            flush()
            text = _inline(child)
            if text:
                blocks.append(CdaParagraph(text))
        elif name == "list":
            flush()
            items = tuple(
                text for item in child if _local(item.tag) == "item" and (text := _inline(item))
            )
            if items:
                blocks.append(CdaList(items, (child.get("listType") or "") == "ordered"))
        elif name == "table":
            flush()
            table = _table(child)
            if table.rows:
                blocks.append(table)
        elif name == "br":
            pending.append("\n")
        elif name != "renderMultiMedia":
            pending.append(_inline(child))
        if child.tail:
            pending.append(_SPACES.sub(" ", child.tail))
    flush()
    return tuple(blocks)


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
        narrative = section.find(f"{HL7}text")
        sections.append(
            CdaSection(
                _text(section.find(f"{HL7}title")),
                _narrative(narrative),
                depth,
                narrative_blocks(narrative),
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


_UNSAFE_NAME = re.compile(r"[^\w .,()'+-]+")
_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/x-pdf": ".pdf",
    "text/plain": ".txt",
    "text/xml": ".xml",
    "application/xml": ".xml",
    "application/hl7-v3+xml": ".xml",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tiff",
    "image/gif": ".gif",
}


def export_name(title: str, content_type: str) -> str:
    """A safe file name for a copy of a document titled ``title`` (network text): no path
    separators, no control characters, at most 80 characters, the type's extension."""
    base = unicodedata.normalize("NFC", title)
    base = _UNSAFE_NAME.sub(" ", base)
    base = " ".join(base.split()).strip(" .")[:80].strip(" .") or "document"
    kind, _ = media_type(content_type)
    return base + _EXTENSIONS.get(kind, ".bin")


# -- the pane ------------------------------------------------------------------------------------


class PreviewPane(QWidget):
    """Shows one document's body; fetches it through the dossier service.

    :meth:`load` retrieves a document (a loading state, cancelled when another document is
    loaded, by the "Annuler" button or Esc); :meth:`show_content` shows bytes already at
    hand; :meth:`clear` drops the document and its bytes. A PDF goes through the checker
    first (the loading state says so); :meth:`wait_shown` lets callers await the result.

    Args:
        dossier_service: Retrieves bodies and saves copies.
        pdf_checker: Checks PDFs before QtPdf loads them (the shared one by default).

    Signals:
        stateChanged(str): the new :class:`PreviewState` value.
        documentShown(str): the id of the document now shown (empty for bytes without id).
        statusMessage(str): a short result to show (copy saved, printed...).
    """

    stateChanged = Signal(str)
    documentShown = Signal(str)
    statusMessage = Signal(str)

    def __init__(
        self,
        dossier_service: DossierService,
        parent: QWidget | None = None,
        *,
        pdf_checker: PdfChecker | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = dossier_service
        self._checker = pdf_checker
        self._task: asyncio.Task[None] | None = None
        self._side_task: asyncio.Task[Any] | None = None
        self._state = PreviewState.EMPTY
        self._document_id = ""
        self._loading_id = ""
        self._data = b""
        self._content_type = ""
        self._title = ""
        self._pdf_document: QPdfDocument | None = None
        self._pdf_view: QPdfView | None = None
        self._pdf_buffer: QBuffer | None = None
        self._search_model: QPdfSearchModel | None = None
        self._find_index = -1
        self._export_dialog: QFileDialog | None = None
        self._print_dialog: QWidget | None = None

        self.title_label = plain_label()
        self.title_label.setStyleSheet("font-weight: bold;")
        self.detail_label = plain_label()

        # Actions on the document shown: find, export, print.
        self.find_edit = QLineEdit()
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.setPlaceholderText(self.tr("Rechercher dans le document"))
        self.find_edit.setAccessibleName(self.tr("Rechercher dans le document"))
        self.find_edit.textChanged.connect(self._find_text_changed)
        self.find_edit.returnPressed.connect(self.find_next)
        self.find_status = QLabel()
        self.find_status.setTextFormat(Qt.TextFormat.PlainText)
        self.find_previous_button = self._tool("▲", self.tr("Résultat précédent (Maj+F3)"))
        self.find_previous_button.clicked.connect(self.find_previous)
        self.find_next_button = self._tool("▼", self.tr("Résultat suivant (F3)"))
        self.find_next_button.clicked.connect(self.find_next)
        self.export_button = QPushButton(self.tr("Enregistrer une copie…"))
        self.export_button.clicked.connect(self.ask_export)
        self.print_button = QPushButton(self.tr("Imprimer…"))
        self.print_button.clicked.connect(self.ask_print)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.find_edit, 1)
        actions.addWidget(self.find_previous_button)
        actions.addWidget(self.find_next_button)
        actions.addWidget(self.find_status)
        actions.addStretch(0)
        actions.addWidget(self.export_button)
        actions.addWidget(self.print_button)
        self.actions_bar = QWidget()
        self.actions_bar.setLayout(actions)

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
        self.loading_label = plain_label(self.tr("Chargement du document…"))
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        loading_layout.addWidget(self.loading_label, 0, Qt.AlignmentFlag.AlignCenter)
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
        # Text page (text/plain).
        self.text_view = QPlainTextEdit()
        self.text_view.setReadOnly(True)
        self.text_view.setFont(monospace_font())
        self.text_view.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._stack.addWidget(self.text_view)
        # CDA page: a document built with plain-text insertions only.
        self.cda_view = QTextEdit()
        self.cda_view.setReadOnly(True)
        self.cda_view.setAcceptRichText(False)
        self.cda_view.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._stack.addWidget(self.cda_view)
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
        layout.addWidget(self.actions_bar)
        layout.addWidget(self._stack, 1)

        for key, slot in (
            (QKeySequence(Qt.Key.Key_Escape), self.cancel),
            (QKeySequence(Qt.Key.Key_F3), self.find_next),
            (QKeySequence("Shift+F3"), self.find_previous),
        ):
            shortcut = QShortcut(key, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._set_state(PreviewState.EMPTY)

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAccessibleName(tip)
        button.setAutoRaise(True)
        return button

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
    def data(self) -> bytes:
        """The body of the document shown ("" when none): what export saves."""
        return self._data

    @property
    def pdf_document(self) -> QPdfDocument | None:
        """The QPdfDocument of the PDF shown (None before the first PDF)."""
        return self._pdf_document

    @property
    def pdf_view(self) -> QPdfView | None:
        """The QPdfView (None before the first PDF)."""
        return self._pdf_view

    @property
    def busy(self) -> bool:
        """Whether a document is being retrieved or checked."""
        return self._task is not None and not self._task.done()

    def checker(self) -> PdfChecker:
        """The PDF checker (the shared one unless one was given)."""
        if self._checker is None:
            self._checker = default_pdf_checker()
        return self._checker

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
        self._set_loading(self.tr("Chargement du document…"))
        self._task = spawn(self._load(dossier, doc))

    def show_content(self, data: bytes, content_type: str, title: str = "") -> None:
        """Show ``data`` of ``content_type`` (no network); unreadable data gives a message.

        Text, CDA and images show at once; a PDF is checked first (see :attr:`busy`).
        """
        self._cancel_task()
        self._drop_content()
        self._set_header(title)
        self._keep(data, content_type, title)
        pending = self._display(data, content_type)
        if pending is not None:
            self._task = spawn(pending)

    def cancel(self) -> None:
        """Cancel the document being loaded (Esc); the pane says so."""
        if self._task is not None and not self._task.done():
            self._cancel_task()
            self._drop_content()
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

    # -- find ------------------------------------------------------------------------------------
    def can_find(self) -> bool:
        """Whether the document shown can be searched (PDF, text, CDA)."""
        return self._state in (PreviewState.PDF, PreviewState.TEXT, PreviewState.CDA)

    def focus_find(self) -> bool:
        """Put the keyboard in the find field (Ctrl+F in the pane); False if nothing to find."""
        if not self.can_find():
            return False
        self.find_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find_edit.selectAll()
        return True

    def find_text(self, text: str) -> None:
        """Search ``text`` in the document shown (PDF results arrive as pages are searched)."""
        self.find_edit.setText(text)

    def find_count(self) -> int:
        """How many matches of the searched text (so far, for a PDF)."""
        text = self.find_edit.text()
        if not text:
            return 0
        if self._state == PreviewState.PDF and self._search_model is not None:
            return int(self._search_model.count())
        document = self._text_document()
        if document is None:
            return 0
        count, cursor = 0, QTextCursor(document)
        while True:
            cursor = document.find(text, cursor)
            if cursor.isNull():
                return count
            count += 1

    def find_current(self) -> int:
        """The index of the current match (-1 if none)."""
        return self._find_index

    def find_page(self) -> int:
        """The page of the current PDF match (-1 if none)."""
        if self._search_model is None or self._find_index < 0:
            return -1
        return int(self._search_model.resultAtIndex(self._find_index).page())

    def find_next(self) -> None:
        self._find_step(+1)

    def find_previous(self) -> None:
        self._find_step(-1)

    def _find_text_changed(self, text: str) -> None:
        self._find_index = -1
        if self._state == PreviewState.PDF and self._search_model is not None:
            self._search_model.setSearchString(text)
            if self._pdf_view is not None:
                self._pdf_view.setCurrentSearchResultIndex(-1)
        elif self._state in (PreviewState.TEXT, PreviewState.CDA) and text:
            self._find_step(+1)
        self._update_find_status()

    def _find_step(self, step: int) -> None:
        text = self.find_edit.text()
        if not text or not self.can_find():
            return
        if self._state == PreviewState.PDF:
            model, view = self._search_model, self._pdf_view
            if model is None or view is None or model.count() == 0:
                self._update_find_status()
                return
            count = int(model.count())
            self._find_index = (
                (0 if step > 0 else count - 1)
                if self._find_index < 0
                else (self._find_index + step) % count
            )
            view.setCurrentSearchResultIndex(self._find_index)
            link = model.resultAtIndex(self._find_index)
            view.pageNavigator().jump(link.page(), link.location(), view.zoomFactor())
        else:
            editor: QPlainTextEdit | QTextEdit = (
                self.text_view if self._state == PreviewState.TEXT else self.cda_view
            )
            flags = QTextDocument.FindFlag.FindBackward if step < 0 else QTextDocument.FindFlag(0)
            if not editor.find(text, flags):
                # Wrap around: from the other end.
                editor.moveCursor(
                    QTextCursor.MoveOperation.End if step < 0 else QTextCursor.MoveOperation.Start
                )
                editor.find(text, flags)
            self._find_index = self._text_match_index(editor)
        self._update_find_status()

    def _text_match_index(self, editor: QPlainTextEdit | QTextEdit) -> int:
        selected = editor.textCursor()
        if not selected.hasSelection():
            return -1
        document = editor.document()
        index, cursor = 0, QTextCursor(document)
        while True:
            cursor = document.find(self.find_edit.text(), cursor)
            if cursor.isNull():
                return -1
            if cursor.selectionStart() == selected.selectionStart():
                return index
            index += 1

    def _update_find_status(self) -> None:
        if not self.find_edit.text():
            self.find_status.clear()
            return
        count = self.find_count()
        if count == 0:
            self.find_status.setText(self.tr("Aucun résultat"))
        elif self._find_index < 0:
            self.find_status.setText(self.tr("{count} résultat(s)").format(count=count))
        else:
            self.find_status.setText(
                self.tr("{index} sur {count}").format(index=self._find_index + 1, count=count)
            )

    def _search_count_changed(self) -> None:
        if self._find_index < 0 and self._search_model is not None and self._search_model.count():
            self._find_step(+1)  # the first match, as soon as it is found
        else:
            self._update_find_status()

    def _text_document(self) -> QTextDocument | None:
        if self._state == PreviewState.TEXT:
            return self.text_view.document()
        if self._state == PreviewState.CDA:
            return self.cda_view.document()
        return None

    # -- export and print ------------------------------------------------------------------------
    def can_export(self) -> bool:
        """Whether a document's body is at hand (shown, or refused by the preview only)."""
        return bool(self._data) and self._state not in (PreviewState.EMPTY, PreviewState.LOADING)

    def suggested_file_name(self) -> str:
        return export_name(self._title or self.tr("document"), self._content_type)

    def ask_export(self) -> QFileDialog | None:
        """Open the "save a copy" dialog (not blocking); the copy is written when accepted."""
        if not self.can_export():
            return None
        dialog = QFileDialog(self, self.tr("Enregistrer une copie du document"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.selectFile(self.suggested_file_name())
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.fileSelected.connect(lambda path: self._run_side(self.export_to(Path(path))))
        dialog.finished.connect(dialog.deleteLater)
        self._export_dialog = dialog
        dialog.open()
        return dialog

    async def export_to(self, path: Path) -> bool:
        """Write a copy of the document's body to ``path`` (atomically). False on failure."""
        if not self.can_export():
            return False
        try:
            await self._service.save_copy(self._data, path)
        except OSError as exc:
            self.statusMessage.emit(
                self.tr("Copie impossible : {reason}").format(reason=exc.strerror or str(exc))
            )
            return False
        self.statusMessage.emit(self.tr("Copie enregistrée : {path}").format(path=str(path)))
        return True

    def can_print(self) -> bool:
        return self._state in (
            PreviewState.PDF,
            PreviewState.TEXT,
            PreviewState.CDA,
            PreviewState.IMAGE,
        )

    def ask_print(self) -> QWidget | None:
        """Open the print dialog (not blocking); the document is printed when accepted."""
        if not self.can_print():
            return None
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setDocName(self._title or self.tr("Document"))
        dialog = QPrintDialog(printer, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(lambda: self._run_side(self.print_to(printer)))
        dialog.finished.connect(dialog.deleteLater)
        self._print_dialog = dialog
        QDialog.open(dialog)  # the window-modal open(), not QPrintDialog's open(receiver, slot)
        return dialog

    async def print_to(self, printer: QPrinter) -> bool:
        """Print the document shown on ``printer`` (a PDF's pages one per loop turn)."""
        done = False
        match self._state:
            case PreviewState.PDF if self._pdf_document is not None:
                done = await print_pdf(self._pdf_document, printer)
            case PreviewState.TEXT:
                done = print_text_document(self.text_view.document(), printer)
            case PreviewState.CDA:
                done = print_text_document(self.cda_view.document(), printer)
            case PreviewState.IMAGE:
                done = print_image(QImage.fromData(self._data), printer)
        self.statusMessage.emit(
            self.tr("Document envoyé à l'impression.")
            if done
            else self.tr("Impression impossible.")
        )
        return done

    def _run_side(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._side_task = spawn(coro)

    # -- loading ---------------------------------------------------------------------------------
    async def _load(self, dossier: OpenDossier, doc: DocumentMeta) -> None:
        if doc.content_type.split(";")[0].strip().lower() in PDF_TYPES:
            self.checker().prestart()  # its cold start overlaps the retrieve
        try:
            data = await self._service.retrieve(dossier, doc)
        except ConsoleError as exc:
            self._loading_id = ""
            self._document_id = doc.id
            self._show_message(
                self.tr("Impossible d'obtenir le document : {reason}").format(reason=str(exc))
            )
            return
        self._keep(data, doc.content_type, doc.title)
        pending = self._display(data, doc.content_type)
        if pending is not None:
            await pending
        self._loading_id = ""
        self._document_id = doc.id
        self.documentShown.emit(doc.id)

    def _keep(self, data: bytes, content_type: str, title: str) -> None:
        self._data, self._content_type, self._title = data, content_type, title

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
    def _display(
        self, data: bytes, content_type: str, *, nested: bool = False
    ) -> Coroutine[Any, Any, None] | None:
        """Show ``data``; a PDF returns the coroutine that checks then shows it."""
        kind, charset = media_type(content_type)
        if kind == "application/octet-stream" and data.startswith(b"%PDF-"):
            kind = "application/pdf"
        if kind in PDF_TYPES:
            self._set_loading(self.tr("Vérification du PDF…"))
            return self._check_and_show_pdf(data)
        if kind == "text/plain":
            self._show_text(decode_text(data, charset))
        elif kind in XML_TYPES and not nested:
            return self._show_cda(data)
        elif kind.startswith("image/"):
            self._show_image(data)
        else:
            self._show_message(
                self.tr("Aperçu non disponible pour ce format ({kind}).").format(kind=kind or "?")
            )
        return None

    def _show_text(self, text: str) -> None:
        self.text_view.setPlainText(text)
        self.text_view.moveCursor(QTextCursor.MoveOperation.Start)
        self._set_state(PreviewState.TEXT)

    def _show_cda(self, data: bytes) -> Coroutine[Any, Any, None] | None:
        try:
            cda = cda_content(data)
        except ValueError:
            self._show_message(self.tr("Ce document CDA est illisible (XML invalide)."))
            return None
        if cda.embedded is not None:
            return self._display(cda.embedded[1], cda.embedded[0], nested=True)
        self.cda_view.setDocument(self.cda_document(cda))
        self.cda_view.moveCursor(QTextCursor.MoveOperation.Start)
        self._set_state(PreviewState.CDA)
        return None

    def cda_document(self, cda: CdaContent) -> QTextDocument:
        """``cda`` as a readable document: a header, then each section's title and content.

        Built with QTextCursor insertions of plain text (titles, paragraphs, list items,
        table cells): nothing of the document is parsed as HTML.
        """
        document = QTextDocument(self.cda_view)
        document.setDocumentMargin(12)
        cursor = QTextCursor(document)
        body = QTextCharFormat()
        title = QTextCharFormat()
        title.setFontWeight(QFont.Weight.Bold)
        title.setFontPointSize(15)
        heading = QTextCharFormat()
        heading.setFontWeight(QFont.Weight.Bold)
        heading.setFontPointSize(12)
        muted = QTextCharFormat()
        muted.setForeground(Qt.GlobalColor.darkGray)
        strong = QTextCharFormat()
        strong.setFontWeight(QFont.Weight.Bold)

        cursor.insertText(cda.title or self.tr("Document CDA"), title)
        header: list[str] = []
        if cda.patient:
            header.append(self.tr("Patient : {name}").format(name=cda.patient))
        if cda.author:
            author = cda.author + (f" ({cda.organization})" if cda.organization else "")
            header.append(self.tr("Auteur : {name}").format(name=author))
        elif cda.organization:
            header.append(self.tr("Structure : {name}").format(name=cda.organization))
        if cda.effective is not None:
            header.append(self.tr("Date : {date}").format(date=cda.effective.strftime("%d/%m/%Y")))
        for line in header:
            cursor.insertBlock(QTextBlockFormat(), muted)
            cursor.insertText(line, muted)

        for section in cda.sections:
            indent = 24.0 * section.depth
            spaced = QTextBlockFormat()
            spaced.setTopMargin(12 if section.depth == 0 else 6)
            spaced.setLeftMargin(indent)
            if section.title:
                cursor.insertBlock(spaced, heading)
                cursor.insertText(section.title, heading)
            for block in section.blocks:
                paragraph = QTextBlockFormat()
                paragraph.setLeftMargin(indent)
                paragraph.setTopMargin(4)
                if isinstance(block, CdaParagraph):
                    for line in block.text.split("\n"):
                        cursor.insertBlock(paragraph, body)
                        cursor.insertText(line, body)
                        paragraph.setTopMargin(0)
                elif isinstance(block, CdaList):
                    cursor.insertBlock(paragraph, body)
                    style = QTextListFormat()
                    style.setStyle(
                        QTextListFormat.Style.ListDecimal
                        if block.ordered
                        else QTextListFormat.Style.ListDisc
                    )
                    style.setIndent(section.depth + 1)
                    cursor.insertList(style)
                    for number, item in enumerate(block.items):
                        if number:
                            cursor.insertBlock()
                        cursor.insertText(item.replace("\n", " "), body)
                elif block.rows:
                    if block.caption:
                        cursor.insertBlock(paragraph, strong)
                        cursor.insertText(block.caption, strong)
                    cursor.insertBlock(paragraph, body)
                    table_format = QTextTableFormat()
                    table_format.setCellPadding(3)
                    table_format.setCellSpacing(0)
                    table_format.setBorder(0.5)
                    table_format.setHeaderRowCount(block.header_rows)
                    table_format.setLeftMargin(indent)
                    table_format.setWidth(QTextLength(QTextLength.Type.PercentageLength, 100))
                    table = cursor.insertTable(len(block.rows), block.columns, table_format)
                    for r, row in enumerate(block.rows):
                        for c, text in enumerate(row):
                            cell = table.cellAt(r, c).firstCursorPosition()
                            cell.insertText(text, strong if r < block.header_rows else body)
                    cursor.movePosition(QTextCursor.MoveOperation.End)
        document.setModified(False)
        return document

    def _show_image(self, data: bytes) -> None:
        image = QImage.fromData(data)
        if image.isNull():
            self._show_message(self.tr("Cette image est illisible ou endommagée."))
            return
        self.image_label.setPixmap(QPixmap.fromImage(image))
        self._set_state(PreviewState.IMAGE)

    async def _check_and_show_pdf(self, data: bytes) -> None:
        check = await self.checker().check(data)
        if not check.ok:
            self._show_message(self.pdf_message(check, len(data)))
            return
        self._show_pdf(data, check.pages)

    def pdf_message(self, check: PdfCheck, size: int) -> str:
        """What the pane says of a PDF it will not show."""
        checker = self.checker()
        match check.verdict:
            case PdfVerdict.ENCRYPTED:
                return self.tr(
                    "Ce PDF est chiffré ou protégé par un mot de passe : l'aperçu est impossible."
                )
            case PdfVerdict.TOO_LARGE:
                return self.tr(
                    "Ce PDF est trop volumineux pour l'aperçu ({size} Mo, au plus {limit} Mo). "
                    "Enregistrez une copie pour l'ouvrir avec un autre lecteur."
                ).format(
                    size=f"{size / 1024 / 1024:.0f}", limit=f"{checker.max_bytes / 1024 / 1024:.0f}"
                )
            case PdfVerdict.TOO_MANY_PAGES:
                return self.tr(
                    "Ce PDF a trop de pages pour l'aperçu ({pages}, au plus {limit}). "
                    "Enregistrez une copie pour l'ouvrir avec un autre lecteur."
                ).format(pages=check.pages, limit=checker.max_pages)
            case PdfVerdict.TIMEOUT:
                return self.tr(
                    "Ce PDF met trop longtemps à s'ouvrir (plus de {seconds} s) : l'aperçu a "
                    "été interrompu. Il est peut-être endommagé."
                ).format(seconds=f"{checker.timeout_s:g}")
            case PdfVerdict.MEMORY:
                return self.tr(
                    "Ce PDF demande trop de mémoire pour l'aperçu : il a été écarté. "
                    "Il est peut-être endommagé."
                )
            case PdfVerdict.CRASHED:
                return self.tr(
                    "Ce PDF a fait échouer le lecteur PDF : il est probablement endommagé."
                )
            case PdfVerdict.UNAVAILABLE:
                return self.tr("Le contrôle des PDF n'a pas pu démarrer : l'aperçu est impossible.")
            case _:
                return self.tr("Ce PDF est illisible ou endommagé.")

    def _show_pdf(self, data: bytes, pages: int) -> None:
        from PySide6.QtPdf import QPdfDocument

        document, view = self._ensure_pdf()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        document.load(buffer)  # checked in the worker: it loads, fast, before returning
        self._pdf_buffer = buffer
        if document.status() != QPdfDocument.Status.Ready or document.pageCount() < 1:
            self._drop_pdf()
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
        if self.find_edit.text() and self._search_model is not None:
            self._search_model.setSearchString(self.find_edit.text())

    def _ensure_pdf(self) -> tuple[QPdfDocument, QPdfView]:
        if self._pdf_document is not None and self._pdf_view is not None:
            return self._pdf_document, self._pdf_view
        from PySide6.QtPdf import QPdfDocument, QPdfSearchModel
        from PySide6.QtPdfWidgets import QPdfView

        document = QPdfDocument(self)
        view = QPdfView()
        view.setDocument(document)
        view.setPageMode(QPdfView.PageMode.MultiPage)
        # Fit-to-width with an "as needed" vertical scrollbar can never settle when the page
        # is just taller than the viewport at full width and just shorter once the scrollbar
        # takes its width: the scrollbar then appears and disappears forever and the GUI
        # thread spins at 100 % (seen maximized at 1600 px). Keeping it always shown gives
        # the layout one width only.
        view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        view.zoomModeChanged.connect(lambda mode: _horizontal_bar_for(view, mode))
        view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        _horizontal_bar_for(view, view.zoomMode())
        search = QPdfSearchModel(self)
        search.setDocument(document)
        view.setSearchModel(search)
        search.countChanged.connect(self._search_count_changed)

        page = QWidget()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)

        def tool(
            text: str, tip: str, slot: Any, shortcut: QKeySequence.StandardKey | None = None
        ) -> None:
            button = self._tool(text, tip)
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
        self._search_model = search
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

    def _set_loading(self, text: str) -> None:
        self.loading_label.setText(text)
        self._set_state(PreviewState.LOADING)

    def _drop_pdf(self) -> None:
        if self._search_model is not None:
            self._search_model.setSearchString("")
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
        self.cda_view.clear()
        self.image_label.clear()
        self.message_label.clear()
        self._document_id = ""
        self._data, self._content_type, self._title = b"", "", ""
        self._find_index = -1
        self.find_status.clear()

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
            case PreviewState.CDA:
                page = self.cda_view
            case PreviewState.IMAGE:
                page = self._image_area
            case PreviewState.PDF:
                assert self._pdf_page is not None
                page = self._pdf_page
        self._stack.setCurrentWidget(page)
        searchable = self.can_find()
        for widget in (self.find_edit, self.find_previous_button, self.find_next_button):
            widget.setEnabled(searchable)
        self.export_button.setEnabled(self.can_export())
        self.print_button.setEnabled(self.can_print())
        self.actions_bar.setVisible(state not in (PreviewState.EMPTY, PreviewState.LOADING))
        self.stateChanged.emit(state.value)


def _horizontal_bar_for(view: QPdfView, mode: QPdfView.ZoomMode) -> None:
    """Fitted to the width there is nothing to scroll sideways, and an "as needed" horizontal
    scrollbar could loop on the height as the vertical one did on the width."""
    from PySide6.QtPdfWidgets import QPdfView

    view.setHorizontalScrollBarPolicy(
        Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        if mode == QPdfView.ZoomMode.FitToWidth
        else Qt.ScrollBarPolicy.ScrollBarAsNeeded
    )


def monospace_font() -> QFont:
    """The system's fixed-width font (for text documents laid out with spaces)."""
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
