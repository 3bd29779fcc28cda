"""An open patient's record: header, document table and preview pane.

The table's rows are ordered and filtered by :mod:`console.domain.table` (pure functions
over precomputed keys); :class:`~console.views.document_model.DocumentTableModel` only
presents them. Pages from the server are inserted in place as they arrive, so the first
rows show while the rest streams in. The first opening lists the last two years (the DMP's
usage rule) and says so in a removable filter chip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.dossier import DocumentPage, DocumentQuery
from console.domain.errors import ConsoleError
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.table import (
    Column,
    DocumentFilter,
    DocumentRow,
    SortSpec,
    filter_rows,
    insertion_plan,
    make_rows,
    view_rows,
)
from console.services.dossier import DossierService, OpenDossier, first_opening_query
from console.views.consent import plain_label
from console.views.document_model import BADGES_ROLE, COLUMNS, DocumentTableModel
from console.views.preview import PreviewPane
from console.views.tasks import spawn

__all__ = ["BadgeDelegate", "DossierView"]

log = logging.getLogger(__name__)

_MODE_STYLES = {
    AccessMode.NORMAL: "background: #e3ebf5; color: #1b3a5c;",
    AccessMode.BRIS_DE_GLACE: "background: #b3141a; color: white; font-weight: bold;",
    AccessMode.CENTRE_15: "background: #f0a020; color: #2b1a00; font-weight: bold;",
}
_BADGE_COLORS = {
    Visibility.MASQUE_PS: QColor(0xA1, 0x1D, 0x1D),
    Visibility.INVISIBLE_PATIENT: QColor(0x8A, 0x5A, 0x00),
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX: QColor(0x5A, 0x4A, 0x8A),
}
_ERROR_STYLE = "color: #a11d1d;"


class BadgeDelegate(QStyledItemDelegate):
    """Paints the visibility column's badges (``BADGES_ROLE``) as coloured pills.

    Signals:
        None of its own.
    """

    _PADDING = 6
    _GAP = 4

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        badges: list[tuple[Visibility, str]] | None = index.data(BADGES_ROLE)
        if not badges:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = opt.rect
        metrics = opt.fontMetrics
        height = metrics.height() + 2
        x = float(rect.left() + self._GAP)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setClipRect(rect)
        for kind, label in badges:
            width = metrics.horizontalAdvance(label) + 2 * self._PADDING
            pill = QRectF(x, rect.center().y() - height / 2 + 1, width, height)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(_BADGE_COLORS.get(Visibility(kind), QColor(0x55, 0x55, 0x55)))
            painter.drawRoundedRect(pill, height / 2, height / 2)
            painter.setPen(QColor("white"))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
            x += width + self._GAP
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        badges: list[tuple[Visibility, str]] | None = index.data(BADGES_ROLE)
        if badges:
            metrics = option.fontMetrics
            width = sum(
                metrics.horizontalAdvance(label) + 2 * self._PADDING + self._GAP
                for _, label in badges
            )
            size.setWidth(max(size.width(), width + self._GAP))
        return size


class DossierView(QWidget):
    """The open record: patient header, document table, preview pane.

    :meth:`show_dossier` starts fetching the documents (pages appear as they arrive);
    :meth:`clear` cancels the fetch and drops every patient data; :meth:`close_dossier` ends
    the access mode on the server as well.

    Signals:
        closeRequested(): the professional asked to close the record ("Fermer le dossier").
        loadingChanged(bool): the document list started or finished loading.
    """

    closeRequested = Signal()
    loadingChanged = Signal(bool)

    def __init__(self, dossier_service: DossierService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = dossier_service
        self._dossier: OpenDossier | None = None
        self._query = DocumentQuery()
        self._rows: list[DocumentRow] = []
        """Every row fetched, in arrival order (the model shows a filtered, sorted view)."""
        self._filter = DocumentFilter()
        self._sort = SortSpec()
        self._fetch_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._generation = 0
        self._loading = False
        self._total: int | None = None
        self._error = ""

        # Patient header.
        self.name_label = plain_label()
        self.name_label.setStyleSheet("font-size: 14pt; font-weight: bold;")
        self.birth_label = plain_label()
        self.birth_label.setWordWrap(False)
        self.ins_label = plain_label()
        self.ins_label.setWordWrap(False)
        self.ins_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.mode_badge = QLabel()
        self.mode_badge.setTextFormat(Qt.TextFormat.PlainText)
        self.mode_badge.setContentsMargins(8, 2, 8, 2)
        self.mode_note = plain_label()
        self.mode_note.setWordWrap(False)
        self.mode_note.setStyleSheet(_ERROR_STYLE)
        self.close_button = QPushButton(self.tr("Fermer le dossier"))
        self.close_button.clicked.connect(self.closeRequested)
        identity = QVBoxLayout()
        identity.setSpacing(2)
        identity.addWidget(self.name_label)
        line = QHBoxLayout()
        line.setSpacing(16)
        line.addWidget(self.birth_label)
        line.addWidget(self.ins_label)
        line.addStretch(1)
        identity.addLayout(line)
        header = QHBoxLayout()
        header.addLayout(identity, 1)
        modes = QVBoxLayout()
        modes.addWidget(self.mode_badge, 0, Qt.AlignmentFlag.AlignRight)
        modes.addWidget(self.mode_note, 0, Qt.AlignmentFlag.AlignRight)
        header.addLayout(modes)
        header.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

        # Filter chips, count, loading.
        self.date_chip = QFrame()
        self.date_chip.setObjectName("dateChip")
        self.date_chip.setStyleSheet(
            "#dateChip { background: #e3ebf5; border: 1px solid #9db4d0; border-radius: 10px; }"
        )
        chip_layout = QHBoxLayout(self.date_chip)
        chip_layout.setContentsMargins(8, 0, 2, 0)
        self.date_chip_label = plain_label(self.tr("2 dernières années"))
        self.date_chip_label.setWordWrap(False)
        self.date_chip_button = QToolButton()
        self.date_chip_button.setText("✕")
        self.date_chip_button.setAutoRaise(True)
        self.date_chip_button.setToolTip(
            self.tr("Retirer ce filtre : afficher tout l'historique du patient")
        )
        self.date_chip_button.setAccessibleName(self.tr("Retirer le filtre 2 dernières années"))
        self.date_chip_button.clicked.connect(self.remove_date_limit)
        chip_layout.addWidget(self.date_chip_label)
        chip_layout.addWidget(self.date_chip_button)
        self.date_chip.hide()
        self.count_label = plain_label()
        self.count_label.setWordWrap(False)
        self.loading_bar = QProgressBar()
        self.loading_bar.setRange(0, 0)
        self.loading_bar.setTextVisible(False)
        self.loading_bar.setMaximumWidth(100)
        self.loading_label = plain_label(self.tr("Chargement…"))
        self.loading_label.setWordWrap(False)
        self.error_label = plain_label()
        self.error_label.setStyleSheet(_ERROR_STYLE)
        bar = QHBoxLayout()
        bar.addWidget(self.date_chip)
        bar.addStretch(1)
        bar.addWidget(self.error_label, 2)
        bar.addWidget(self.loading_label)
        bar.addWidget(self.loading_bar)
        bar.addWidget(self.count_label)

        # Table.
        self.model = DocumentTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.setAccessibleName(self.tr("Documents du patient"))
        self.table.setItemDelegateForColumn(self._section(Column.VISIBILITY), BadgeDelegate(self))
        head = self.table.horizontalHeader()
        head.setSectionsClickable(True)
        head.setSortIndicatorShown(True)
        head.setHighlightSections(False)
        metrics = self.table.fontMetrics()
        self.table.verticalHeader().setDefaultSectionSize(metrics.height() + 8)
        for section, definition in enumerate(COLUMNS):
            label = self.model.column_label(definition.column)
            # Room for the header's text and its sort arrow, at least.
            minimum = head.fontMetrics().horizontalAdvance(label) + 28
            head.resizeSection(
                section, max(minimum, definition.width_chars * metrics.averageCharWidth() + 12)
            )
        head.setStretchLastSection(COLUMNS[-1].stretch)
        head.setSortIndicator(
            self._section(self._sort.column),
            Qt.SortOrder.DescendingOrder if self._sort.descending else Qt.SortOrder.AscendingOrder,
        )
        head.sortIndicatorChanged.connect(self._sort_changed)
        self.table.doubleClicked.connect(self._open_index)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.open_current)

        self.preview = PreviewPane(dossier_service)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([900, 600])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        self._set_loading(False)
        self._update_count()

    # -- public API ----------------------------------------------------------------------------
    @property
    def dossier(self) -> OpenDossier | None:
        """The record shown, if any."""
        return self._dossier

    @property
    def loading(self) -> bool:
        """Whether documents are being fetched."""
        return self._loading

    @property
    def query(self) -> DocumentQuery:
        """The server-side query of the current list."""
        return self._query

    @property
    def sort_spec(self) -> SortSpec:
        """The table's current order."""
        return self._sort

    @property
    def fetched_rows(self) -> Sequence[DocumentRow]:
        """Every row fetched, in arrival order (before filter and sort)."""
        return self._rows

    def show_dossier(self, dossier: OpenDossier, *, today: date | None = None) -> None:
        """Show ``dossier`` and fetch its documents (a first opening: the last 2 years)."""
        self.clear()
        self._dossier = dossier
        self._show_header(dossier)
        self._query = first_opening_query(today or date.today())
        self.date_chip.setVisible(self._query.act_from is not None)
        self.date_chip.setToolTip(
            self.tr(
                "Règle du DMP : à la première ouverture, seuls les documents des deux "
                "dernières années sont listés (depuis le {start})."
            ).format(
                start=self._query.act_from.strftime("%d/%m/%Y") if self._query.act_from else ""
            )
        )
        self._start_fetch()
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def remove_date_limit(self) -> None:
        """Remove the "2 dernières années" filter: fetch the whole history again."""
        if self._dossier is None or self._query.act_from is None:
            return
        self.date_chip.hide()
        self._query = DocumentQuery(
            type_codes=self._query.type_codes,
            class_codes=self._query.class_codes,
            include_archived=self._query.include_archived,
            page_size=self._query.page_size,
        )
        self._start_fetch()

    def set_filter(self, flt: DocumentFilter) -> None:
        """Keep only the rows ``flt`` matches (client side, over the rows fetched)."""
        self._filter = flt
        self._refresh()

    def sort_by(self, column: Column, *, descending: bool = False) -> None:
        """Order the table by ``column`` (the header's indicator follows)."""
        self.table.horizontalHeader().setSortIndicator(
            self._section(column),
            Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder,
        )

    def current_document(self) -> DocumentMeta | None:
        """The document of the table's current row."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.row_at(index.row()).doc

    def open_current(self) -> None:
        """Show the current row's document in the preview (Enter)."""
        doc = self.current_document()
        if doc is not None and self._dossier is not None:
            self.preview.load(self._dossier, doc)

    def clear(self) -> None:
        """Cancel the fetch and drop every patient data: header, rows, preview, caches."""
        self._generation += 1
        if self._fetch_task is not None and not self._fetch_task.done():
            self._fetch_task.cancel()
        self._fetch_task = None
        self.preview.clear()
        self.model.clear()
        self._rows = []
        self._total = None
        self._error = ""
        self._dossier = None
        self._query = DocumentQuery()
        self._filter = DocumentFilter()
        for label in (self.name_label, self.birth_label, self.ins_label, self.mode_note):
            label.clear()
        self.mode_badge.clear()
        self.mode_badge.setStyleSheet("")
        self.mode_badge.hide()
        self.date_chip.hide()
        self.error_label.clear()
        self._set_loading(False)
        self._update_count()

    def close_dossier(self) -> asyncio.Task[None] | None:
        """End the access mode on the server and drop the record from the view.

        The view is emptied at once (patient data must not outlive the decision to close);
        the server call runs in the background. Returns its task (None if nothing was open).
        """
        dossier = self._dossier
        self.clear()
        if dossier is None:
            return None
        self._close_task = spawn(self._service.close(dossier))
        return self._close_task

    # -- header ----------------------------------------------------------------------------------
    def _show_header(self, dossier: OpenDossier) -> None:
        patient = dossier.patient
        self.name_label.setText(patient.display_name)
        if patient.birth_date is None:
            born = self.tr("Date de naissance inconnue")
        else:
            day = patient.birth_date.strftime("%d/%m/%Y")
            born = (
                self.tr("Née le {date}").format(date=day)
                if patient.gender == "female"
                else self.tr("Né le {date}").format(date=day)
            )
        self.birth_label.setText(born)
        self.ins_label.setText(self.tr("INS {ins}").format(ins=patient.ins.value))
        mode = dossier.grant.mode
        self.mode_badge.setText(self.mode_text(mode))
        self.mode_badge.setStyleSheet(_MODE_STYLES.get(mode, "") + " border-radius: 4px;")
        self.mode_badge.show()
        if mode == AccessMode.BRIS_DE_GLACE:
            until = dossier.grant.expires_at.astimezone().strftime("%H:%M")
            self.mode_note.setText(
                self.tr(
                    "Accès d'urgence jusqu'à {time} : le patient en sera informé, "
                    "chaque consultation est tracée."
                ).format(time=until)
            )

    def mode_text(self, mode: AccessMode) -> str:
        """The header badge's text for ``mode``."""
        match mode:
            case AccessMode.NORMAL:
                return self.tr("Accès normal")
            case AccessMode.BRIS_DE_GLACE:
                return self.tr("BRIS DE GLACE")
            case AccessMode.CENTRE_15:
                return self.tr("Centre 15 (régulation)")

    # -- fetching --------------------------------------------------------------------------------
    def _start_fetch(self) -> None:
        if self._fetch_task is not None and not self._fetch_task.done():
            self._fetch_task.cancel()
        self._generation += 1
        self.preview.clear()
        self.model.clear()
        self._rows = []
        self._total = None
        self._error = ""
        self.error_label.clear()
        if self._dossier is None:
            return
        self._fetch_task = spawn(self._fetch(self._dossier, self._query, self._generation))

    async def _fetch(self, dossier: OpenDossier, query: DocumentQuery, generation: int) -> None:
        self._set_loading(True)
        pages = self._service.documents(dossier, query)
        try:
            async for page in pages:
                if generation != self._generation:
                    break
                self._add_page(page)
        except ConsoleError as exc:
            if generation == self._generation:
                self._error = self.tr("Liste incomplète : {reason}").format(reason=str(exc))
                self.error_label.setText(self._error)
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
            if generation == self._generation:
                self._set_loading(False)
                self._update_count()

    def _add_page(self, page: DocumentPage) -> None:
        rows = make_rows(page.documents)
        self._rows.extend(rows)
        if page.total is not None:
            self._total = page.total
        had_rows = self.model.rowCount() > 0
        incoming = filter_rows(rows, self._filter)
        self.model.insert_blocks(insertion_plan(self.model.rows(), incoming, self._sort))
        if not had_rows and self.model.rowCount() > 0 and not self.table.currentIndex().isValid():
            # The first row becomes current (keyboard ready) without being opened: a
            # retrieve is a traced read, it waits for Enter.
            self.table.selectionModel().setCurrentIndex(
                self.model.index(0, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        self._update_count()

    def _set_loading(self, loading: bool) -> None:
        changed = loading != self._loading
        self._loading = loading
        self.loading_bar.setVisible(loading)
        self.loading_label.setVisible(loading)
        self._update_count()
        if changed:
            self.loadingChanged.emit(loading)

    def _update_count(self) -> None:
        shown, fetched = self.model.rowCount(), len(self._rows)
        if shown != fetched:
            text = (
                self.tr("{shown} document sur {total}")
                if shown <= 1
                else self.tr("{shown} documents sur {total}")
            ).format(shown=shown, total=fetched)
        elif shown == 0:
            text = "" if self._loading else self.tr("Aucun document")
        elif shown == 1:
            text = self.tr("1 document")
        else:
            text = self.tr("{count} documents").format(count=shown)
        if self._loading and self._total is not None and self._total > fetched:
            text = self.tr("{text} (sur {total} annoncés)").format(text=text, total=self._total)
        self.count_label.setText(text)

    # -- sorting and opening ----------------------------------------------------------------------
    @staticmethod
    def _section(column: Column) -> int:
        return next(i for i, definition in enumerate(COLUMNS) if definition.column == column)

    def _sort_changed(self, section: int, order: Qt.SortOrder) -> None:
        if not 0 <= section < len(COLUMNS):
            return
        self._sort = SortSpec(COLUMNS[section].column, order == Qt.SortOrder.DescendingOrder)
        self._refresh()

    def _refresh(self) -> None:
        """Show the fetched rows through the current filter and order; keep the current row."""
        current = self.current_document()
        self.model.show(view_rows(self._rows, self._filter, self._sort))
        if current is not None:
            row = self.model.row_of(current.id)
            if row is not None:
                index = self.model.index(row, 0)
                self.table.selectionModel().setCurrentIndex(
                    index,
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
                self.table.scrollTo(index)
        self._update_count()

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid() and self._dossier is not None:
            self.preview.load(self._dossier, self.model.row_at(index.row()).doc)
