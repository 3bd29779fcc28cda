"""An open patient's record: header, filter bar, document table and preview pane.

The table's rows are ordered and filtered by :mod:`console.domain.table` (pure functions
over precomputed keys, the order cached in a :class:`~console.domain.table.RowSet`);
:class:`~console.views.document_model.DocumentTableModel` only presents them. Pages from the
server are inserted in place as they arrive (O(page) work per page), so the first rows show
while the rest streams in; closing the record cancels the fetch.

The DMP's consultation rule (:mod:`console.services.visits`): the first opening lists the
last two years, said by a removable chip; a later opening fetches what was deposited since
the last visit, marks it new, and shows it beside what was known; the vaccination history is
always searched without a date limit.

Keyboard first: Ctrl+F goes to the filter (or to the preview's find when the keyboard is in
the preview), arrows move, Enter opens in the preview, typing jumps to a title (type-ahead on
the sorted text column, or the title).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime

from PySide6.QtCore import (
    QByteArray,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QKeySequence, QPainter, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.dossier import (
    NEW_SINCE_MARGIN,
    DocumentPage,
    DocumentQuery,
    ProfessionalLogin,
)
from console.domain.errors import ConsoleError
from console.domain.filters import FilterChoices, filter_choices
from console.domain.localtime import to_local
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.rules import UpdateAction
from console.domain.table import (
    TYPE_AHEAD_COLUMNS,
    Column,
    DocumentFilter,
    DocumentRow,
    RowSet,
    SortSpec,
    filter_rows,
    insertion_plan,
    make_row,
    make_rows,
    narrows,
    type_ahead,
)
from console.services.deposit import DepositService
from console.services.dossier import DossierService, OpenDossier
from console.services.dossier_header import DossierHeaderService
from console.services.entourage import EntourageService
from console.services.offline import is_offline_grant
from console.services.presets import MemoryPreferenceStore, PresetService
from console.services.vaccination import VaccinationService
from console.services.visits import InMemoryVisitStore, OpeningPlan, VisitService
from console.views.consent import plain_label
from console.views.document_actions import DocumentChange, document_menu_actions
from console.views.document_model import BADGES_ROLE, COLUMNS, DocumentTableModel
from console.views.dossier_header import DossierHeader, mode_badge_text
from console.views.entourage import EntourageView
from console.views.filter_bar import FilterBar
from console.views.pdf_render import PdfChecker
from console.views.preview import PreviewPane
from console.views.tasks import spawn
from console.views.vaccinations import VaccinationsTab

__all__ = ["BadgeDelegate", "DocumentTableView", "DossierView", "ensure_application"]

log = logging.getLogger(__name__)

LAYOUT_SAVE_DELAY_MS = 400
"""Pause after a header change before the layout is saved."""
STATUS_MS = 6000
"""How long a short status (copy saved...) stays."""

_MODE_STYLES = {
    AccessMode.NORMAL: "background: #e3ebf5; color: #1b3a5c;",
    AccessMode.BRIS_DE_GLACE: "background: #b3141a; color: white; font-weight: bold;",
    AccessMode.CENTRE_15: "background: #f0a020; color: #2b1a00; font-weight: bold;",
}
_OFFLINE_STYLE = "background: #e8e8e8;"
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


def ensure_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running QApplication, created if there is none (tools showing the view outside
    the console, such as ``python -m bench table``)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    return QApplication(list(argv or ["console"]))


class DocumentTableView(QTableView):
    """The document table, with type-ahead that ignores accents and case.

    Typing jumps to the next row whose text starts with what was typed (within the keyboard
    input interval), in the sorted column when it is the title, type or author, else in the
    title; typing the same letter again goes to the next such row.

    Signals:
        None of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._typed = ""
        self._typed_at = 0.0
        self.type_ahead_column = Column.TITLE
        # Said over the empty table: why it is empty, and the one click that fills it again.
        self.empty_state = QWidget(self.viewport())
        self.empty_state.setObjectName("emptyState")
        self.empty_label = QLabel()
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_button = QPushButton()
        self.empty_button.setObjectName("emptyStateAction")
        self.empty_button.clicked.connect(self._empty_action_clicked)
        empty_layout = self._empty_layout = QVBoxLayout(self.empty_state)
        empty_layout.addWidget(self.empty_label)
        empty_layout.addWidget(self.empty_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.empty_state.hide()
        self._empty_action: Callable[[], None] | None = None

    def show_empty_state(self, text: str, action: str, run: Callable[[], None]) -> None:
        """Say ``text`` over the (empty) table, with a button ``action`` that calls ``run``."""
        self.empty_label.setText(text)
        self.empty_button.setText(action)
        self._empty_action = run
        self._place_empty_state()
        self.empty_state.show()

    def hide_empty_state(self) -> None:
        self.empty_state.hide()
        self._empty_action = None

    def _empty_action_clicked(self) -> None:
        if self._empty_action is not None:
            self._empty_action()

    def _place_empty_state(self) -> None:
        area = self.viewport().rect()
        width = min(area.width() - 16, max(320, area.width() * 2 // 3))
        height = self._empty_layout.heightForWidth(width)
        height = max(height, self.empty_state.sizeHint().height())
        self.empty_state.setGeometry(
            area.x() + (area.width() - width) // 2, area.y() + area.height() // 4, width, height
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.empty_state.isVisible():
            self._place_empty_state()

    def keyboardSearch(self, search: str) -> None:
        model = self.model()
        if not search or not isinstance(model, DocumentTableModel) or model.rowCount() == 0:
            return
        now = time.monotonic()
        fresh = now - self._typed_at > QApplication.keyboardInputInterval() / 1000
        self._typed_at = now
        current = self.currentIndex()
        row = current.row() if current.isValid() else -1
        typed = search if fresh else self._typed + search
        start = row if not fresh and row >= 0 else row + 1
        if len(typed) > 1 and typed == typed[0] * len(typed):
            typed, start = typed[0], row + 1  # the same letter again: the next match
        found = type_ahead(model.rows(), self.type_ahead_column, typed, start)
        self._typed = typed
        if found is None:
            return
        index = model.index(found, current.column() if current.isValid() else 0)
        self.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.scrollTo(index)


class DossierTableModel(DocumentTableModel):
    """The view's document model: in bris de glace, a masked document's badge says that the
    emergency access revealed it (``revealed_label``, set by the view; None otherwise).

    Signals:
        None of its own.
    """

    revealed_label: str | None = None

    def badges(self, row: DocumentRow) -> list[tuple[Visibility, str]]:
        labels = super().badges(row)
        revealed = self.revealed_label
        if revealed is None:
            return labels
        return [
            (kind, revealed if kind == Visibility.MASQUE_PS else label) for kind, label in labels
        ]


LoginProvider = Callable[[], ProfessionalLogin | None]
"""Who is logged in now (None while the session is locked)."""


class DossierView(QWidget):
    """The open record: patient header, filter bar, document table, preview pane.

    :meth:`show_dossier` starts fetching the documents (pages appear as they arrive);
    :meth:`clear` cancels the fetch and drops every patient data; :meth:`close_dossier` ends
    the access mode on the server as well.

    Args:
        dossier_service: Documents, bodies, copies.
        presets: Saved filters and the table layout, per professional (in memory if None).
        visits: Last visits, for the "new since the last visit" rule (in memory if None).
        pdf_checker: The preview's PDF checker (the shared one if None).
        header: The full header (médecin traitant, notices) in place of the plain one.
        vaccinations: Adds the "Vaccinations" tab.
        entourage: Adds the "Entourage et volontés" tab (read when first shown).
        deposits: With ``login_provider``, the table's context menu (mask, replace...).
        login_provider: Who is logged in (for the context menu's rules).

    Signals:
        closeRequested(): the professional asked to close the record ("Fermer le dossier").
        loadingChanged(bool): the document list started or finished loading.
        listCompleted(): the whole list of an opening arrived (the visit is recorded).
    """

    closeRequested = Signal()
    loadingChanged = Signal(bool)
    listCompleted = Signal()

    def __init__(
        self,
        dossier_service: DossierService,
        parent: QWidget | None = None,
        *,
        presets: PresetService | None = None,
        visits: VisitService | None = None,
        pdf_checker: PdfChecker | None = None,
        header: DossierHeaderService | None = None,
        vaccinations: VaccinationService | None = None,
        entourage: EntourageService | None = None,
        deposits: DepositService | None = None,
        login_provider: LoginProvider | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = dossier_service
        self._deposits = deposits
        self._login_provider = login_provider
        self._entourage_pending = False
        """The entourage of the open record is still to be read (its tab not shown yet)."""
        self._presets = presets or PresetService(MemoryPreferenceStore())
        self._visits = visits or VisitService(InMemoryVisitStore())
        self._dossier: OpenDossier | None = None
        self._plan: OpeningPlan | None = None
        self._query = DocumentQuery()
        self._today: date | None = None
        self._professional = ""
        self._rows = RowSet()
        """Every row fetched, in arrival order, with the current order cached."""
        self._filter = DocumentFilter()
        self._sort = SortSpec()
        self._fetch_task: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._generation = 0
        self._loading = False
        self._total: int | None = None
        self._error = ""
        self._restoring_layout = False
        self._new_count = 0
        self._refreshed_at: datetime | None = None
        """When :meth:`refresh` last asked the server (None: not since the opening)."""
        self._refresh_wanted = False
        """A refresh was asked while the list was loading: it runs when the load ends."""

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
        modes = QVBoxLayout()
        modes.addWidget(self.mode_badge, 0, Qt.AlignmentFlag.AlignRight)
        modes.addWidget(self.mode_note, 0, Qt.AlignmentFlag.AlignRight)
        self.plain_header = QWidget()
        plain_layout = QHBoxLayout(self.plain_header)
        plain_layout.setContentsMargins(0, 0, 0, 0)
        plain_layout.addLayout(identity, 1)
        plain_layout.addLayout(modes)
        header_layout = QHBoxLayout()
        header_layout.addWidget(self.plain_header, 1)
        self.header_widget: DossierHeader | None = None
        if header is not None:
            self.header_widget = DossierHeader(header)
            self.plain_header.hide()
            header_layout.addWidget(self.header_widget, 1)
        header_layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)

        # Filter bar, with the date-limit chip of the consultation rule first among chips.
        self.filter_bar = FilterBar(self._presets)
        self.filter_bar.filterChanged.connect(self.set_filter)
        self.filter_bar.leaveRequested.connect(self.focus_table)
        self.filter_bar.set_choices_provider(self.filter_choices)
        self.date_chip = QFrame()
        self.date_chip.setObjectName("dateChip")
        self.date_chip.setStyleSheet(
            "#dateChip { background: #fff4d6; border: 1px solid #d9b24c; border-radius: 10px; }"
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
        self.filter_bar.add_leading_chip(self.date_chip)

        # Count, loading, errors, short statuses.
        self.count_label = plain_label()
        self.count_label.setWordWrap(False)
        self.new_label = plain_label()
        self.new_label.setWordWrap(False)
        self.new_label.setStyleSheet("color: #0b5cad; font-weight: bold;")
        self.loading_bar = QProgressBar()
        self.loading_bar.setRange(0, 0)
        self.loading_bar.setTextVisible(False)
        self.loading_bar.setMaximumWidth(100)
        self.loading_label = plain_label(self.tr("Chargement…"))
        self.loading_label.setWordWrap(False)
        self.error_label = plain_label()
        self.error_label.setStyleSheet(_ERROR_STYLE)
        self.status_label = plain_label()
        self.status_label.setWordWrap(False)
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.setInterval(STATUS_MS)
        self._status_timer.timeout.connect(self.status_label.clear)
        bar = QHBoxLayout()
        bar.addWidget(self.new_label)
        bar.addWidget(self.status_label)
        bar.addStretch(1)
        bar.addWidget(self.error_label, 2)
        bar.addWidget(self.loading_label)
        bar.addWidget(self.loading_bar)
        bar.addWidget(self.count_label)
        self.filter_bar.trailing.addLayout(bar, 1)

        # Table.
        self.model = DossierTableModel(self)
        self.table = DocumentTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        # Uniform rows: the view never asks the model for every row's size hint.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setAccessibleName(self.tr("Documents du patient"))
        self.table.setItemDelegateForColumn(self._section(Column.VISIBILITY), BadgeDelegate(self))
        head = self.table.horizontalHeader()
        head.setSectionsClickable(True)
        head.setSectionsMovable(True)
        head.setSortIndicatorShown(True)
        head.setHighlightSections(False)
        head.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        head.customContextMenuRequested.connect(self._header_menu)
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
        self._default_layout = QByteArray(head.saveState())
        head.sortIndicatorChanged.connect(self._sort_changed)
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(LAYOUT_SAVE_DELAY_MS)
        self._layout_timer.timeout.connect(self.save_layout)
        head.sectionResized.connect(self._layout_changed)
        head.sectionMoved.connect(self._layout_changed)
        head.sortIndicatorChanged.connect(self._layout_changed)
        self.table.doubleClicked.connect(self._open_index)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.open_current)

        self.preview = PreviewPane(dossier_service, pdf_checker=pdf_checker)
        self.preview.statusMessage.connect(self.show_status)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([900, 600])
        self.splitter.setChildrenCollapsible(False)

        if deposits is not None and login_provider is not None:
            self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            self.table.customContextMenuRequested.connect(self._document_menu)

        layout = QVBoxLayout(self)
        layout.addLayout(header_layout)
        self.tabs: QTabWidget | None = None
        self.vaccinations_tab: VaccinationsTab | None = None
        self.entourage_view: EntourageView | None = None
        if vaccinations is None and entourage is None:
            layout.addWidget(self.filter_bar)
            layout.addWidget(self.splitter, 1)
            self.documents_page: QWidget = self
        else:
            self.documents_page = QWidget()
            documents = QVBoxLayout(self.documents_page)
            documents.setContentsMargins(0, 0, 0, 0)
            documents.addWidget(self.filter_bar)
            documents.addWidget(self.splitter, 1)
            self.tabs = QTabWidget()
            self.tabs.setDocumentMode(True)
            self.tabs.addTab(self.documents_page, self.tr("Documents"))
            if vaccinations is not None:
                self.vaccinations_tab = VaccinationsTab(vaccinations)
                self.vaccinations_tab.documentActivated.connect(self.show_document)
                self.tabs.addTab(self.vaccinations_tab, self.tr("Vaccinations"))
            if entourage is not None:
                self.entourage_view = EntourageView(entourage)
                self.tabs.addTab(self.entourage_view, self.tr("Entourage et volontés"))
            self.tabs.currentChanged.connect(self._tab_changed)
            layout.addWidget(self.tabs, 1)

        # Ctrl+F: the filter, or the preview's find when the keyboard is in the preview. The
        # main window must not give Ctrl+F to another action while this view is shown.
        self.find_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.find_shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.find_shortcut.activated.connect(self.focus_filter)

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
        """The main server-side query of the current list."""
        return self._query

    @property
    def plan(self) -> OpeningPlan | None:
        """How the record was opened (first or later opening, what was known)."""
        return self._plan

    @property
    def sort_spec(self) -> SortSpec:
        """The table's current order."""
        return self._sort

    @property
    def current_filter(self) -> DocumentFilter:
        """The filter applied to the table."""
        return self._filter

    @property
    def fetched_rows(self) -> Sequence[DocumentRow]:
        """Every row fetched, in arrival order (before filter and sort)."""
        return self._rows.rows

    @property
    def professional(self) -> str:
        """The idNat of the professional the record was opened for ("" if unknown)."""
        return self._professional

    def show_dossier(self, dossier: OpenDossier, *, today: date | None = None) -> None:
        """Show ``dossier`` and fetch its documents (first or later opening, see module)."""
        self.clear()
        self._dossier = dossier
        self._today = today or date.today()
        self._show_header(dossier)
        if dossier.grant.mode == AccessMode.BRIS_DE_GLACE:
            self.model.revealed_label = self.tr("Masqué — révélé par le bris de glace")
        if self.header_widget is not None:
            self.header_widget.show_dossier(dossier)
        if self.vaccinations_tab is not None:
            self.vaccinations_tab.show_dossier(dossier)
        if self.entourage_view is not None:
            self._entourage_pending = True
            if self.tabs is not None and self.tabs.currentWidget() is self.entourage_view:
                self._load_entourage()
        try:
            self._professional = self._service.professional_id()
        except ConsoleError:
            self._professional = ""
        self.filter_bar.set_professional(self._professional)
        self.restore_layout()
        self._generation += 1
        self._set_loading(True)
        self._fetch_task = spawn(self._open(dossier, None, self._generation))
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)

    def refresh(self) -> None:
        """Fetch what was deposited since the list was fetched (after a deposit, a new
        version...): those documents join the table in place, marked as the opening marks
        them; nothing else is fetched again and the selection, filter and sort stay."""
        dossier, plan = self._dossier, self._plan
        if dossier is None or plan is None:
            return
        if self._loading:
            self._refresh_wanted = True  # the load in progress may have missed it
            return
        since = self._refreshed_at or plan.started_at
        self._refreshed_at = self._visits.now()
        query = DocumentQuery(
            deposited_since=since - NEW_SINCE_MARGIN, page_size=plan.query.page_size
        )
        self._generation += 1
        self._set_loading(True)
        self._fetch_task = spawn(self._fetch_since(dossier, plan, query, self._generation))

    async def _fetch_since(
        self, dossier: OpenDossier, plan: OpeningPlan, query: DocumentQuery, generation: int
    ) -> None:
        def add(page: DocumentPage) -> None:
            before = len(self._rows)
            self._add_rows(make_rows(page.documents, is_new=plan.is_new))
            if self._total is not None:
                self._total += len(self._rows) - before

        try:
            error = await self._stream(dossier, (query,), generation, add)
            if error is not None and generation == self._generation:
                self.status_label.setText(
                    self.tr("Actualisation impossible : {reason}").format(reason=str(error))
                )
        finally:
            if generation == self._generation:
                self._set_loading(False)
                self._update_count()

    def remove_date_limit(self) -> None:
        """Remove the "2 dernières années" limit: fetch the whole history (new ones kept new)."""
        if self._dossier is None or self._plan is None or not self._plan.date_limited:
            return
        plan = self._plan.whole_history(self._visits.now())
        self._show_plan(plan)
        self._start_fetch(plan)

    def set_filter(self, flt: DocumentFilter) -> None:
        """Keep only the rows ``flt`` matches (client side, over the rows fetched).

        A keystroke that only narrows the text filters the rows shown, not every row.
        """
        previous, self._filter = self._filter, flt
        if self.filter_bar.filter() != flt:
            self.filter_bar.set_filter(flt, emit=False)
        if flt == previous:
            return
        if narrows(previous, flt) and self.model.rowCount() * 3 < len(self._rows):
            # Fewer rows shown than the scan of all texts would read: filter those.
            self._show_rows(filter_rows(list(self.model.rows()), flt))
        else:
            self._refresh()

    def sort_by(self, column: Column, *, descending: bool = False) -> None:
        """Order the table by ``column`` (the header's indicator follows)."""
        self.table.horizontalHeader().setSortIndicator(
            self._section(column),
            Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder,
        )

    def filter_choices(self) -> FilterChoices:
        """The values present among the rows fetched (for the filter menus)."""
        return filter_choices(self._rows.rows)

    def focus_filter(self) -> None:
        """Ctrl+F: the preview's find if the keyboard is in the preview, else the filter."""
        if self.tabs is not None and self.tabs.currentWidget() is not self.documents_page:
            self.tabs.setCurrentWidget(self.documents_page)
        focus = QApplication.focusWidget()
        if focus is not None and self.preview.isAncestorOf(focus) and self.preview.focus_find():
            return
        self.filter_bar.focus_text()

    def focus_table(self) -> None:
        """Put the keyboard in the table, on the current row (the first if none)."""
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)
        if not self.table.currentIndex().isValid() and self.model.rowCount():
            self._select_row(0)

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

    def show_status(self, text: str) -> None:
        """A short status under the filter (a copy saved, a document printed...)."""
        self.status_label.setText(text)
        self._status_timer.start()

    def clear(self) -> None:
        """Cancel the fetch and drop every patient data: header, rows, preview, caches."""
        self._generation += 1
        if self._fetch_task is not None and not self._fetch_task.done():
            self._fetch_task.cancel()
        self._fetch_task = None
        self.preview.clear()
        self.model.clear()
        self._rows.clear()
        self._new_count = 0
        self._total = None
        self._error = ""
        self._refreshed_at = None
        self._refresh_wanted = False
        self._dossier = None
        self._plan = None
        self._query = DocumentQuery()
        self._filter = DocumentFilter()
        self.model.revealed_label = None
        self._entourage_pending = False
        if self.header_widget is not None:
            self.header_widget.clear()
        if self.vaccinations_tab is not None:
            self.vaccinations_tab.clear()
        if self.entourage_view is not None:
            self.entourage_view.clear()
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.documents_page)
        self.filter_bar.set_filter(self._filter, emit=False)
        for label in (self.name_label, self.birth_label, self.ins_label, self.mode_note):
            label.clear()
        self.mode_badge.clear()
        self.mode_badge.setStyleSheet("")
        self.mode_badge.hide()
        self.date_chip.hide()
        self.filter_bar.refresh_leading()
        self.error_label.clear()
        self.status_label.clear()
        self.new_label.clear()
        self._set_loading(False)
        self._update_count()

    def show_document(self, doc: DocumentMeta) -> None:
        """Show ``doc`` in the preview (a vaccination history document, say), on the
        "Documents" tab."""
        if self._dossier is None:
            return
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.documents_page)
        self._dossier.documents.setdefault(doc.id, doc)
        self.preview.load(self._dossier, doc)

    def document_actions(self, doc: DocumentMeta) -> list[QAction]:
        """The context-menu actions of ``doc`` (none without deposits, login or record)."""
        if self._deposits is None or self._login_provider is None or self._dossier is None:
            return []
        login = self._login_provider()
        if login is None:
            return []
        return document_menu_actions(
            self,
            doc,
            login,
            self._deposits,
            patient=self._dossier.patient,
            on_changed=self._document_changed,
        )

    def document_menu_at(self, position: QPoint) -> QMenu | None:
        """The context menu of the document under ``position`` (table viewport coordinates);
        None when there is no document there or nothing may be done."""
        index = self.table.indexAt(position)
        if not index.isValid():
            return None
        doc = self.model.row_at(index.row()).doc
        actions = self.document_actions(doc)
        if not actions:
            if self._login_provider is not None and self._login_provider() is None:
                self.show_status(
                    self.tr("Session verrouillée : reconnectez-vous avec votre carte.")
                )
            return None
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for action in actions:
            menu.addAction(action)
            # The actions belong to the view (their dialogs outlive the menu): drop them
            # with the menu, once it has done its work.
            menu.destroyed.connect(action.deleteLater)
        return menu

    def _document_menu(self, position: QPoint) -> None:
        menu = self.document_menu_at(position)
        if menu is not None:
            menu.popup(self.table.viewport().mapToGlobal(position))

    def _document_changed(self, change: DocumentChange) -> None:
        """A context-menu action succeeded: update the row (or fetch again) and say so."""
        dossier = self._dossier
        if dossier is None or dossier.patient.ins.value != change.before.patient_ins:
            return
        before = change.before
        if change.action is UpdateAction.REPLACE or (
            change.after is None and change.action is not UpdateAction.DELETE
        ):
            self.show_status(self.tr("Document remplacé : la liste est mise à jour."))
            if self._plan is not None:
                self._start_fetch(self._plan)
            return
        rows: list[DocumentRow] = []
        for row in self._rows.rows:
            if row.doc.id != before.id:
                rows.append(row)
            elif change.action is not UpdateAction.DELETE and change.after is not None:
                rows.append(make_row(change.after, is_new=row.is_new))
        if change.action is UpdateAction.DELETE:
            dossier.documents.pop(before.id, None)
        elif change.after is not None:
            dossier.documents[change.after.id] = change.after
        self._rows.clear()
        self._rows.add(rows)
        self._refresh()
        self.show_status(self._change_text(change.action))

    def _change_text(self, action: UpdateAction) -> str:
        match action:
            case UpdateAction.MASK:
                return self.tr("Document masqué aux professionnels.")
            case UpdateAction.UNMASK:
                return self.tr("Document de nouveau visible aux professionnels.")
            case UpdateAction.SHOW_TO_PATIENT:
                return self.tr("Document visible au patient.")
            case UpdateAction.HIDE_FROM_PATIENT:
                return self.tr("Document invisible au patient.")
            case UpdateAction.DELETE:
                return self.tr("Document supprimé du DMP.")
            case _:
                return self.tr("Document mis à jour.")

    def _tab_changed(self, _index: int) -> None:
        if self.tabs is not None and self.tabs.currentWidget() is self.entourage_view:
            self._load_entourage()

    def _load_entourage(self) -> None:
        """Read the entourage once per record, when its tab is first shown (a traced read)."""
        if self.entourage_view is None or self._dossier is None or not self._entourage_pending:
            return
        self._entourage_pending = False
        self.entourage_view.show_dossier(self._dossier)

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

    # -- column layout ---------------------------------------------------------------------------
    def _column_names(self) -> list[str]:
        return [definition.column.value for definition in COLUMNS]

    def save_layout(self) -> None:
        """Remember the header (widths, order, hidden columns, sort) for the professional."""
        self._layout_timer.stop()
        if self._professional and not self._restoring_layout:
            state = self.table.horizontalHeader().saveState()
            self._presets.save_table_layout(
                self._professional, self._column_names(), bytes(state.data())
            )

    def restore_layout(self) -> None:
        """Apply the professional's saved header, if any (else keep the current one)."""
        if not self._professional:
            return
        state = self._presets.table_layout(self._professional, self._column_names())
        if state is None:
            return
        head = self.table.horizontalHeader()
        self._restoring_layout = True
        try:
            head.blockSignals(True)
            ok = head.restoreState(QByteArray(state))
            head.blockSignals(False)
            if ok:
                section = head.sortIndicatorSection()
                if 0 <= section < len(COLUMNS):
                    self._sort = SortSpec(
                        COLUMNS[section].column,
                        head.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder,
                    )
                    self._update_type_ahead()
            head.viewport().update()
        finally:
            self._restoring_layout = False

    def reset_layout(self) -> None:
        """Back to the default columns, widths and order."""
        head = self.table.horizontalHeader()
        head.restoreState(self._default_layout)
        self.save_layout()

    def _layout_changed(self, *_args: object) -> None:
        if not self._restoring_layout and self._professional:
            self._layout_timer.start()

    def _header_menu(self, position: QPoint) -> None:
        head = self.table.horizontalHeader()
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for section, definition in enumerate(COLUMNS):
            action = menu.addAction(self.model.column_label(definition.column))
            action.setCheckable(True)
            action.setChecked(not head.isSectionHidden(section))
            # The title always stays: a table without it would be unusable.
            action.setEnabled(definition.column != Column.TITLE)
            action.toggled.connect(lambda checked, s=section: self._set_column_shown(s, checked))
        menu.addSeparator()
        menu.addAction(self.tr("Disposition par défaut"), self.reset_layout)
        menu.popup(head.mapToGlobal(position))

    def _set_column_shown(self, section: int, shown: bool) -> None:
        self.table.horizontalHeader().setSectionHidden(section, not shown)
        self._layout_changed()

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
        offline = is_offline_grant(dossier.grant)
        self.mode_badge.setText(mode_badge_text(mode, offline=offline))
        style = _OFFLINE_STYLE if offline else _MODE_STYLES.get(mode, "")
        self.mode_badge.setStyleSheet(style + " border-radius: 4px;")
        self.mode_badge.show()
        if mode == AccessMode.BRIS_DE_GLACE:
            until = to_local(dossier.grant.expires_at).strftime("%H:%M")
            self.mode_note.setText(
                self.tr(
                    "Accès d'urgence jusqu'à {time} : le patient en sera informé, "
                    "chaque consultation est tracée."
                ).format(time=until)
            )

    def _show_plan(self, plan: OpeningPlan) -> None:
        """The chip and notes that say how the list was opened."""
        self._plan = plan
        self._query = plan.query
        self.date_chip.setVisible(plan.date_limited)
        if plan.first_opening:
            start = plan.query.act_from
            self.date_chip_label.setText(self.tr("2 dernières années"))
            self.date_chip.setToolTip(
                self.tr(
                    "Règle du DMP : à la première ouverture, seuls les documents des deux "
                    "dernières années sont listés (depuis le {start})."
                ).format(start=start.strftime("%d/%m/%Y") if start else "")
            )
        else:
            assert plan.last_visit is not None
            since = to_local(plan.last_visit.at).strftime("%d/%m/%Y %H:%M")
            self.date_chip_label.setText(self.tr("2 dernières années"))
            self.date_chip.setToolTip(
                self.tr(
                    "Règle du DMP : les documents connus depuis votre première consultation "
                    "couvrent les deux dernières années ; seuls les dépôts depuis votre "
                    "dernière consultation ({since}) ont été recherchés."
                ).format(since=since)
            )
        self.filter_bar.refresh_leading()

    # -- fetching --------------------------------------------------------------------------------
    def _start_fetch(self, plan: OpeningPlan) -> None:
        if self._fetch_task is not None and not self._fetch_task.done():
            self._fetch_task.cancel()
        self._generation += 1
        self.preview.clear()
        self.model.clear()
        self._rows.clear()
        self._new_count = 0
        self._total = None
        self._error = ""
        self.error_label.clear()
        if self._dossier is None:
            return
        self._set_loading(True)
        self._fetch_task = spawn(self._open(self._dossier, plan, self._generation))

    async def _open(self, dossier: OpenDossier, plan: OpeningPlan | None, generation: int) -> None:
        """Plan the opening (if not given), show what is known, then stream the searches."""
        try:
            if plan is None:
                patient = dossier.patient.ins.value
                plan = await self._visits.plan(
                    self._professional, patient, dossier.grant.mode, self._today or date.today()
                )
                if generation != self._generation:
                    return
                self._show_plan(plan)
            if plan.known:
                self._service.adopt(dossier, plan.known)
                self._add_rows(make_rows(plan.known))
            completed = await self._fetch(dossier, plan, generation)
            if completed and generation == self._generation:
                await self._visits.record(plan, [row.doc for row in self._rows.rows])
                if generation == self._generation:
                    self.listCompleted.emit()
        finally:
            if generation == self._generation:
                self._set_loading(False)
                self._update_count()
                if self._refresh_wanted:
                    self._refresh_wanted = False
                    self.refresh()

    async def _fetch(self, dossier: OpenDossier, plan: OpeningPlan, generation: int) -> bool:
        """Stream the plan's searches into the table; whether the whole list arrived."""
        error = await self._stream(
            dossier, plan.queries, generation, lambda page: self._add_page(page, plan)
        )
        if error is not None:
            if generation == self._generation:
                self._error = self.tr("Liste incomplète : {reason}").format(reason=str(error))
                self.error_label.setText(self._error)
            return False
        return generation == self._generation

    async def _stream(
        self,
        dossier: OpenDossier,
        queries: Sequence[DocumentQuery],
        generation: int,
        on_page: Callable[[DocumentPage], None],
    ) -> ConsoleError | None:
        """Give each page of `queries` to `on_page` while `generation` is current (the search
        is closed in any case); the error that cut the list short, if any."""
        pages = self._service.search(dossier, queries)
        try:
            async for page in pages:
                if generation != self._generation:
                    return None
                on_page(page)
        except ConsoleError as exc:
            return exc
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
        return None

    def _add_page(self, page: DocumentPage, plan: OpeningPlan) -> None:
        if page.total is not None:
            # Each search of the plan announces its own total; the later ones (the undated
            # vaccination history) only add to the main one, so the announce is a lower
            # bound that never goes down (it said 453 and the list ended at 457).
            self._total = max(self._total or 0, page.total + len(plan.known))
        self._add_rows(make_rows(page.documents, is_new=plan.is_new))

    def _add_rows(self, rows: Sequence[DocumentRow]) -> None:
        """Add fetched rows: O(len(rows) log n) work, inserted in place (never a reset)."""
        added = self._rows.add(rows)
        self._new_count += sum(row.is_new for row in added)
        had_rows = self.model.rowCount() > 0
        incoming = filter_rows(added, self._filter)
        self.model.insert_blocks(insertion_plan(self.model.rows(), incoming, self._sort))
        if not had_rows and self.model.rowCount() > 0 and not self.table.currentIndex().isValid():
            # The first row becomes current (keyboard ready) without being opened: a
            # retrieve is a traced read, it waits for Enter.
            self._select_row(0)
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
            text = self.tr("{text} (au moins {total} annoncés)").format(
                text=text, total=self._total
            )
        self.count_label.setText(text)
        self._update_new_label()
        self._update_empty_state(shown, fetched)

    def _update_empty_state(self, shown: int, fetched: int) -> None:
        if shown or self._loading or self._dossier is None:
            self.table.hide_empty_state()
        elif fetched:
            self.table.show_empty_state(
                self.tr("Le document de ce dossier ne correspond pas aux filtres.")
                if fetched == 1
                else self.tr("Aucun des {total} documents ne correspond aux filtres.").format(
                    total=fetched
                ),
                self.tr("Effacer les filtres"),
                self.filter_bar.clear_filter,
            )
        elif self._plan is not None and self._plan.date_limited:
            self.table.show_empty_state(
                self.tr("Aucun document des deux dernières années."),
                self.tr("Voir tout l'historique"),
                self.remove_date_limit,
            )
        else:
            self.table.hide_empty_state()

    def _update_new_label(self) -> None:
        plan = self._plan
        if self._dossier is not None and is_offline_grant(self._dossier.grant):
            # Nothing could be looked for: "rien de nouveau" would be a guess.
            self.new_label.setText(self.tr("Hors ligne : la liste gardée sur ce poste"))
            return
        if plan is None or plan.first_opening:
            self.new_label.clear()
            return
        assert plan.last_visit is not None
        since = to_local(plan.last_visit.at).strftime("%d/%m/%Y %H:%M")
        new = self._new_count
        if new == 0:
            text = "" if self._loading else self.tr("Rien de nouveau depuis le {since}")
        elif new == 1:
            text = self.tr("1 nouveau document depuis le {since}")
        else:
            text = self.tr("{count} nouveaux documents depuis le {since}")
        self.new_label.setText(text.format(count=new, since=since))

    # -- sorting and opening ----------------------------------------------------------------------
    @staticmethod
    def _section(column: Column) -> int:
        return next(i for i, definition in enumerate(COLUMNS) if definition.column == column)

    def _sort_changed(self, section: int, order: Qt.SortOrder) -> None:
        if not 0 <= section < len(COLUMNS):
            return
        self._sort = SortSpec(COLUMNS[section].column, order == Qt.SortOrder.DescendingOrder)
        self._update_type_ahead()
        self._refresh()

    def _update_type_ahead(self) -> None:
        column = self._sort.column
        self.table.type_ahead_column = column if column in TYPE_AHEAD_COLUMNS else Column.TITLE

    def _refresh(self) -> None:
        """Show the fetched rows through the current filter and order; keep the current row."""
        self._show_rows(self._rows.view(self._filter, self._sort))

    def _show_rows(self, rows: list[DocumentRow]) -> None:
        index = self.table.currentIndex()
        current = self.model.row_at(index.row()) if index.isValid() else None
        self.model.show(rows)
        kept = None
        if current is not None:
            kept = self.model.position_of(current)
            if kept is not None:
                self._select_row(kept)
        shown = self.preview.document_id
        if (
            shown
            and not (kept is not None and current is not None and current.doc.id == shown)
            and not any(row.doc.id == shown for row in rows)
        ):
            # A document the filter removed from the table leaves the preview too: the pane
            # must never show what the list says is not there.
            self.preview.clear()
        self._update_count()

    def _select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid() and self._dossier is not None:
            self.preview.load(self._dossier, self.model.row_at(index.row()).doc)
