"""The secretary's deposit-only screen: a batch of documents on behalf of a doctor.

No patient document list here (a secretary never reads the DMP). She chooses the doctor of
her structure (typed idNat, or one of the recent ones), drops files or a folder (with its
CSV manifest, if any), checks and edits the metadata in the table (prefilled from the
manifest or the file-name rule), validates the whole batch, then deposits it: progress bar,
per-file status, pause, resume and cancel, and the receipt PDF at the end.

Everything runs in :class:`~console.services.deposit.BatchDepositService`; the table model
only presents its :class:`~console.services.deposit.BatchItem` rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date
from enum import IntEnum
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.domain.deposit import (
    FILE_NAME_RULE,
    DepositDraft,
    InvalidIdentifierError,
    ItemStatus,
    Problem,
)
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import AccessRefusedError, ConsoleError
from console.domain.localtime import to_local, today
from console.domain.models import Actor, Visibility
from console.domain.terminology import terminology
from console.services.deposit import (
    BatchDepositService,
    BatchItem,
    BatchProgress,
    Doctor,
    PumpStop,
)
from console.views.consent import ask, plain_label
from console.views.deposit_dialog import (
    DATE_FORMAT,
    ERROR_STYLE,
    OK_STYLE,
    WARNING_STYLE,
    FileDropArea,
    save_receipt,
)
from console.views.tasks import spawn

__all__ = ["BatchColumn", "BatchDepositView", "BatchTableModel"]

_Index = QModelIndex | QPersistentModelIndex


KEY_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's :attr:`BatchItem.key`."""
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3
"""The row's :class:`ItemStatus` value."""


class BatchColumn(IntEnum):
    FILE = 0
    INS = 1
    TYPE = 2
    TITLE = 3
    DATE = 4
    MASKED = 5
    INVISIBLE_PATIENT = 6
    INVISIBLE_RL = 7
    STATUS = 8
    MESSAGE = 9


UNQUEUED_NAMES_SHOWN = 5
"""File names the banner lists (the others in its tooltip)."""

_FLAGS = {
    BatchColumn.MASKED: Visibility.MASQUE_PS,
    BatchColumn.INVISIBLE_PATIENT: Visibility.INVISIBLE_PATIENT,
    BatchColumn.INVISIBLE_RL: Visibility.INVISIBLE_REPRESENTANTS_LEGAUX,
}
_EDITABLE = {BatchColumn.INS, BatchColumn.TYPE, BatchColumn.TITLE, BatchColumn.DATE}
_RED, _GREEN, _ORANGE = QColor("#a11d1d"), QColor("#1f6f2b"), QColor("#8a5300")


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


class BatchTableModel(QAbstractTableModel):
    """The batch's rows (the service's items), editable until they are queued.

    Display strings are built in :meth:`data`; edits go to
    :meth:`BatchDepositService.edit`, which tells the model back (:meth:`item_changed`).
    """

    def __init__(self, service: BatchDepositService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._items: list[BatchItem] = []
        self._rows: dict[int, int] = {}

    # -- feeding --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Show the service's items as they are now (rows added or removed)."""
        self.beginResetModel()
        self._items = list(self.service.items)
        self._rows = {item.key: row for row, item in enumerate(self._items)}
        self.endResetModel()

    def item_changed(self, item: BatchItem) -> None:
        row = self._rows.get(item.key)
        if row is None:
            position = len(self._items)
            self.beginInsertRows(QModelIndex(), position, position)
            self._items.append(item)
            self._rows[item.key] = position
            self.endInsertRows()
            return
        self._items[row] = item
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(BatchColumn) - 1))

    def item(self, row: int) -> BatchItem:
        return self._items[row]

    def row_of(self, key: int) -> int:
        return self._rows.get(key, -1)

    # -- Qt -------------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(BatchColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(BatchColumn):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                BatchColumn.FILE: self.tr("Fichier"),
                BatchColumn.INS: self.tr("INS du patient"),
                BatchColumn.TYPE: self.tr("Type"),
                BatchColumn.TITLE: self.tr("Titre"),
                BatchColumn.DATE: self.tr("Date de l'acte"),
                BatchColumn.MASKED: self.tr("Masqué"),
                BatchColumn.INVISIBLE_PATIENT: self.tr("Inv. patient"),
                BatchColumn.INVISIBLE_RL: self.tr("Inv. repr."),
                BatchColumn.STATUS: self.tr("Statut"),
                BatchColumn.MESSAGE: self.tr("Message"),
            }[BatchColumn(section)]
        if role == Qt.ItemDataRole.ToolTipRole and section in _FLAGS:
            return {
                BatchColumn.MASKED: self.tr("Masqué aux professionnels de santé"),
                BatchColumn.INVISIBLE_PATIENT: self.tr("Non visible par le patient"),
                BatchColumn.INVISIBLE_RL: self.tr("Non visible par les représentants légaux"),
            }[BatchColumn(section)]
        return None

    def status_text(self, status: ItemStatus) -> str:
        return {
            ItemStatus.DRAFT: self.tr("À vérifier"),
            ItemStatus.INVALID: self.tr("Refusé (vérification)"),
            ItemStatus.READY: self.tr("Prêt"),
            ItemStatus.QUEUED: self.tr("En file d'attente"),
            ItemStatus.SENDING: self.tr("Envoi en cours"),
            ItemStatus.RETRY_WAIT: self.tr("Nouvel essai programmé"),
            ItemStatus.SENT: self.tr("Déposé"),
            ItemStatus.FAILED: self.tr("Refusé par le DMP"),
            ItemStatus.CANCELLED: self.tr("Annulé (non envoyé)"),
            ItemStatus.UNCERTAIN: self.tr("En attente de reprise"),
        }[status]

    def _message(self, item: BatchItem) -> str:
        parts = [i.message for i in item.issues] if item.status is ItemStatus.INVALID else []
        if item.message:
            parts.append(item.message)
        if item.status is ItemStatus.RETRY_WAIT and item.retry_at is not None:
            at = to_local(item.retry_at).strftime("%H:%M:%S")
            parts.append(self.tr("nouvel essai à {time} (tentative {n})").format(
                time=at, n=item.attempts
            ))  # fmt: skip
        return " — ".join(parts)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        column = BatchColumn(index.column())
        draft = item.draft
        if role == KEY_ROLE:
            return item.key
        if role == STATUS_ROLE:
            return item.status.value
        if column in _FLAGS:
            if role == Qt.ItemDataRole.CheckStateRole:
                on = _FLAGS[column] in draft.visibility
                return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            edit = role == Qt.ItemDataRole.EditRole
            match column:
                case BatchColumn.FILE:
                    return item.file_name
                case BatchColumn.INS:
                    return draft.ins
                case BatchColumn.TYPE:
                    if edit:
                        return draft.type_code
                    dtype = terminology().types.get(draft.type_code)
                    return f"{dtype.label} ({dtype.code})" if dtype else draft.type_code
                case BatchColumn.TITLE:
                    return draft.title
                case BatchColumn.DATE:
                    if draft.act_date is None:
                        return None if edit else ""
                    return _qdate(draft.act_date) if edit else draft.act_date.strftime("%d/%m/%Y")
                case BatchColumn.STATUS:
                    return self.status_text(item.status)
                case BatchColumn.MESSAGE:
                    return self._message(item)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is BatchColumn.MESSAGE or column is BatchColumn.STATUS:
                text = self._message(item)
                if item.master_id:
                    text += ("\n" if text else "") + self.tr(
                        "Référence du dépôt : {master}"
                    ).format(master=item.master_id)
                if item.server_id:
                    text += f"\nDMP : {item.server_id}"
                return text or None
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column in (
            BatchColumn.STATUS,
            BatchColumn.MESSAGE,
        ):
            color = {
                ItemStatus.INVALID: _RED,
                ItemStatus.FAILED: _RED,
                ItemStatus.SENT: _GREEN,
                ItemStatus.RETRY_WAIT: _ORANGE,
                ItemStatus.UNCERTAIN: _ORANGE,
            }.get(item.status)
            return QBrush(color) if color is not None else None
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if not index.isValid():
            return base
        item = self._items[index.row()]
        column = BatchColumn(index.column())
        if not item.editable:
            return base
        if column in _FLAGS:
            return base | Qt.ItemFlag.ItemIsUserCheckable
        if column in _EDITABLE:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        item = self._items[index.row()]
        if not item.editable:
            return False
        column = BatchColumn(index.column())
        draft = item.draft
        if column in _FLAGS and role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            flags = set(draft.visibility)
            (flags.add if checked else flags.discard)(_FLAGS[column])
            new = DepositDraft(draft.ins, draft.type_code, draft.title, draft.act_date,
                               frozenset(flags))  # fmt: skip
        elif role == Qt.ItemDataRole.EditRole and column in _EDITABLE:
            new = self._edited(draft, column, value)
        else:
            return False
        self.service.edit(item.key, new)
        return True

    @staticmethod
    def _edited(draft: DepositDraft, column: BatchColumn, value: Any) -> DepositDraft:
        ins, code, title, act = draft.ins, draft.type_code, draft.title, draft.act_date
        match column:
            case BatchColumn.INS:
                ins = str(value or "").strip()
            case BatchColumn.TYPE:
                code = str(value or "").strip()
            case BatchColumn.TITLE:
                title = str(value or "")
            case BatchColumn.DATE:
                if isinstance(value, QDate) and value.isValid():
                    act = date(value.year(), value.month(), value.day())
                elif isinstance(value, date):
                    act = value
        return DepositDraft(ins, code, title, act, draft.visibility)


class TypeDelegate(QStyledItemDelegate):
    """Edits a type: an editable list of the DMP's types, completed on label or code."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: _Index) -> QWidget:
        combo = QComboBox(parent)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for dtype in sorted(terminology().types.values(), key=lambda t: t.label.casefold()):
            combo.addItem(f"{dtype.label} ({dtype.code})", dtype.code)
        completer = QCompleter(combo.model(), combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        combo.setCompleter(completer)
        return combo

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        if isinstance(editor, QComboBox):
            code = index.data(Qt.ItemDataRole.EditRole)
            row = editor.findData(code)
            if row >= 0:
                editor.setCurrentIndex(row)
            else:
                editor.setEditText(str(code or ""))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: _Index) -> None:
        if not isinstance(editor, QComboBox):
            return
        text = editor.currentText().strip()
        row = editor.findText(text)
        code = editor.itemData(row) if row >= 0 else text.rsplit("(", 1)[-1].rstrip(")").strip()
        model.setData(index, code, Qt.ItemDataRole.EditRole)


class DateDelegate(QStyledItemDelegate):
    """Edits a date of the act (French format, never in the future)."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: _Index) -> QWidget:
        edit = QDateEdit(parent)
        edit.setDisplayFormat(DATE_FORMAT)
        edit.setCalendarPopup(True)
        edit.setMaximumDate(_qdate(today()))
        return edit

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        if isinstance(editor, QDateEdit):
            value = index.data(Qt.ItemDataRole.EditRole)
            editor.setDate(value if isinstance(value, QDate) else _qdate(today()))


class BatchDepositView(QWidget):
    """The batch screen (see the module doc). Call :meth:`initialize` once shown.

    Args:
        service: The batch service (one batch at a time).
        login: The logged person (a secretary with her CPE card, or a professional).
    """

    def __init__(
        self,
        service: BatchDepositService,
        login: ProfessionalLogin,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.login = login
        self.depositor: Actor | None = None
        self.last_stop: PumpStop | None = None
        self._task: asyncio.Task[Any] | None = None
        self.setAcceptDrops(True)

        self.depositor_label = plain_label(self.tr("Identification…"))
        self.depositor_label.setObjectName("depositorLabel")
        self.doctor_combo = QComboBox()
        self.doctor_combo.setObjectName("doctorCombo")
        self.doctor_combo.setEditable(True)
        self.doctor_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.doctor_combo.setMinimumWidth(260)
        line = self.doctor_combo.lineEdit()
        if line is not None:
            line.setPlaceholderText(self.tr("Identifiant national du médecin (8 + RPPS)"))
        self.doctor_name_edit = QLineEdit()
        self.doctor_name_edit.setObjectName("doctorName")
        self.doctor_name_edit.setPlaceholderText(self.tr("Nom du médecin (pour mémoire)"))
        self.doctor_status = plain_label()
        self.doctor_status.setObjectName("doctorStatus")
        self.persistence_label = plain_label()
        self.persistence_label.setObjectName("persistenceLabel")
        self.persistence_label.setStyleSheet(WARNING_STYLE)
        self.persistence_label.hide()

        self.resume_banner = QWidget()
        self.resume_label = plain_label()
        self.resume_label.setObjectName("resumeLabel")
        self.resume_button = QPushButton(self.tr("Reprendre l'envoi"))
        self.resume_button.setObjectName("resumeBannerButton")
        banner = QHBoxLayout(self.resume_banner)
        banner.setContentsMargins(0, 0, 0, 0)
        banner.addWidget(self.resume_label, 1)
        banner.addWidget(self.resume_button)
        self.resume_banner.hide()

        self.unqueued_banner = QWidget()
        self.unqueued_banner.setObjectName("unqueuedBanner")
        self.unqueued_label = plain_label()
        self.unqueued_label.setObjectName("unqueuedLabel")
        self.unqueued_label.setStyleSheet(WARNING_STYLE)
        self.unqueued_label.setWordWrap(True)
        self.readd_button = QPushButton(self.tr("Les ajouter à nouveau"))
        self.readd_button.setObjectName("readdUnqueued")
        self.dismiss_button = QPushButton(self.tr("Ne pas les ajouter"))
        self.dismiss_button.setObjectName("dismissUnqueued")
        unqueued = QHBoxLayout(self.unqueued_banner)
        unqueued.setContentsMargins(0, 0, 0, 0)
        unqueued.addWidget(self.unqueued_label, 1)
        unqueued.addWidget(self.readd_button)
        unqueued.addWidget(self.dismiss_button)
        self.unqueued_banner.hide()

        self.drop_area = FileDropArea(
            self.tr("Déposez ici des documents, un dossier ou un manifeste CSV."),
            multiple=True,
            parent=self,
        )
        self.folder_button = QPushButton(self.tr("Ajouter un dossier…"))
        self.folder_button.setObjectName("addFolder")
        self.manifest_button = QPushButton(self.tr("Charger un manifeste CSV…"))
        self.manifest_button.setObjectName("loadManifest")
        self.rule_label = plain_label(
            self.tr(
                "Sans manifeste, les informations sont lues dans le nom du fichier : {rule} "
                "(ex. 255081416802538_11488-4_20250620_Compte_rendu.pdf)."
            ).format(rule=FILE_NAME_RULE)
        )
        self.rule_label.setStyleSheet("color: palette(mid);")
        self.manifest_label = plain_label()
        self.manifest_label.setObjectName("manifestLabel")
        self.manifest_label.setStyleSheet(WARNING_STYLE)
        self.manifest_label.hide()

        self.model = BatchTableModel(service, self)
        self.table = QTableView()
        self.table.setObjectName("batchTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.setItemDelegateForColumn(BatchColumn.TYPE, TypeDelegate(self.table))
        self.table.setItemDelegateForColumn(BatchColumn.DATE, DateDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(BatchColumn.MESSAGE, QHeaderView.ResizeMode.Stretch)
        # Widths in characters: the INS whole (15 digits), each status whole, the flags as
        # narrow as their header (their tooltip says what they mean); the message takes the
        # rest (its tooltip holds all of it).
        char = self.table.fontMetrics().averageCharWidth()
        digit = self.table.fontMetrics().horizontalAdvance("0")
        widths = {
            BatchColumn.FILE: 24 * char,
            BatchColumn.INS: 15 * digit + 16,
            BatchColumn.TYPE: 24 * char,
            BatchColumn.TITLE: 20 * char,
            BatchColumn.DATE: 10 * digit + 16,
            BatchColumn.STATUS: max(
                self.table.fontMetrics().horizontalAdvance(self.model.status_text(status))
                for status in ItemStatus
            )
            + 16,
        }
        for column, width in widths.items():
            header.resizeSection(column, width)
        for column in _FLAGS:
            header.resizeSection(column, header.sectionSizeFromContents(column).width())
        self.table.verticalHeader().setDefaultSectionSize(22)

        self.remove_button = QPushButton(self.tr("Retirer la sélection"))
        self.remove_button.setObjectName("removeRows")
        self.anyway_button = QPushButton(self.tr("Déposer quand même"))
        self.anyway_button.setObjectName("depositAnyway")
        self.anyway_button.setToolTip(
            self.tr(
                "Les lignes choisies, signalées comme déjà déposées, sont de vraies nouvelles "
                "versions : elles seront déposées."
            )
        )
        self.validate_button = QPushButton(self.tr("Vérifier le lot"))
        self.validate_button.setObjectName("validateButton")
        self.deposit_button = QPushButton(self.tr("Déposer le lot"))
        self.deposit_button.setObjectName("depositButton")
        self.pause_button = QPushButton(self.tr("Pause"))
        self.pause_button.setObjectName("pauseButton")
        self.continue_button = QPushButton(self.tr("Reprendre"))
        self.continue_button.setObjectName("continueButton")
        self.cancel_button = QPushButton(self.tr("Annuler l'envoi"))
        self.cancel_button.setObjectName("cancelButton")
        self.receipt_button = QPushButton(self.tr("Enregistrer l'accusé (PDF)…"))
        self.receipt_button.setObjectName("receiptButton")
        self.progress = QProgressBar()
        self.progress.setObjectName("batchProgress")
        self.progress.setFormat(self.tr("%v / %m"))
        self.summary_label = plain_label()
        self.summary_label.setObjectName("summaryLabel")
        self.status_label = plain_label()
        self.status_label.setObjectName("statusLabel")

        who = QHBoxLayout()
        who.addWidget(QLabel(self.tr("Pour le compte de :")))
        who.addWidget(self.doctor_combo)
        who.addWidget(self.doctor_name_edit, 1)
        adding = QHBoxLayout()
        adding.addWidget(self.drop_area, 1)
        adding.addWidget(self.folder_button)
        adding.addWidget(self.manifest_button)
        actions = QHBoxLayout()
        for button in (
            self.remove_button,
            self.anyway_button,
            self.validate_button,
            self.deposit_button,
            self.pause_button,
            self.continue_button,
            self.cancel_button,
        ):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.receipt_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.depositor_label)
        layout.addLayout(who)
        layout.addWidget(self.doctor_status)
        layout.addWidget(self.persistence_label)
        layout.addWidget(self.resume_banner)
        layout.addWidget(self.unqueued_banner)
        layout.addLayout(adding)
        layout.addWidget(self.rule_label)
        layout.addWidget(self.manifest_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.status_label)

        service.set_listeners(self._item_changed, self._progress_changed)
        self.drop_area.pathsDropped.connect(self.add_paths)
        self.folder_button.clicked.connect(self._choose_folder)
        self.manifest_button.clicked.connect(self._choose_manifest)
        self.remove_button.clicked.connect(self.remove_selected)
        self.anyway_button.clicked.connect(self.deposit_anyway)
        self.readd_button.clicked.connect(self.add_unqueued)
        self.dismiss_button.clicked.connect(self.dismiss_unqueued)
        self.validate_button.clicked.connect(self.validate)
        self.deposit_button.clicked.connect(self.deposit)
        self.pause_button.clicked.connect(self.pause)
        self.continue_button.clicked.connect(self.resume)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.receipt_button.clicked.connect(self.save_receipt)
        self.doctor_combo.activated.connect(self._doctor_picked)
        if line is not None:
            line.editingFinished.connect(self.choose_doctor)
        self.doctor_name_edit.editingFinished.connect(self.choose_doctor)
        self._fill_recent_doctors()
        self._update_controls()

    # -- set up ---------------------------------------------------------------------------------

    def initialize(self) -> asyncio.Task[None]:
        """Who is logged in (structure), and what an earlier run left in the queue."""
        return self._run(self._initialize())

    async def _initialize(self) -> None:
        try:
            depositor = await self.service.depositor(self.login)
        except ConsoleError as exc:
            self.depositor_label.setText(
                self.tr("Identité du déposant inconnue : {reason}").format(reason=str(exc))
            )
            return
        self.depositor = depositor
        structure = depositor.structure_name or depositor.structure_id or "—"
        self.depositor_label.setText(
            self.tr("Saisi par : {name} — {structure}").format(
                name=depositor.display_name, structure=structure
            )
        )
        if not depositor.is_secretary:
            self.doctor_combo.setEnabled(False)
            self.doctor_name_edit.setEnabled(False)
            self.doctor_status.setText(self.tr("Vous déposez en votre nom (vous êtes l'auteur)."))
        if not self.service.persistent:
            self.persistence_label.setText(
                self.tr(
                    "Aucun cache chiffré n'est ouvert : la file d'envoi est en mémoire. Un arrêt "
                    "de la console pendant l'envoi la perdrait ; vérifiez l'accusé avant de "
                    "fermer."
                )
            )
            self.persistence_label.show()
        restored = await self.service.restore()
        self.model.refresh()
        if restored:
            waiting = sum(1 for i in restored if not i.status.final)
            self.resume_label.setText(
                self.tr(
                    "{n} dépôt(s) d'une session précédente n'ont pas été confirmés par le DMP. "
                    "Ils seront renvoyés avec le même identifiant : le DMP n'en gardera qu'un "
                    "exemplaire."
                ).format(n=waiting)
            )
            self.resume_banner.setVisible(waiting > 0)
        self._show_unqueued()
        self._update_controls()

    def _show_unqueued(self) -> None:
        files = self.service.unqueued
        if not files:
            self.unqueued_banner.hide()
            return
        names = [u.file.file_name for u in files]
        shown = ", ".join(names[:UNQUEUED_NAMES_SHOWN])
        if len(names) > UNQUEUED_NAMES_SHOWN:
            shown += self.tr(" et {n} autre(s)").format(n=len(names) - UNQUEUED_NAMES_SHOWN)
        planned = min(u.planned for u in files).astimezone()
        self.unqueued_label.setText(
            self.tr(
                "La console s'est arrêtée pendant la mise en file du lot du {date} à {time} : "
                "{n} fichier(s) n'ont jamais été mis en file ni envoyés : {names}."
            ).format(
                date=planned.strftime("%d/%m/%Y"),
                time=planned.strftime("%H:%M"),
                n=len(names),
                names=shown,
            )
        )
        self.unqueued_label.setToolTip("\n".join(names))
        self.unqueued_banner.show()

    def add_unqueued(self) -> asyncio.Task[None]:
        """Add the never-queued files of an earlier batch again (to be checked and sent)."""
        return self._run(self._add_unqueued())

    async def _add_unqueued(self) -> None:
        added, gone = await self.service.add_unqueued()
        self.model.refresh()
        self._show_unqueued()
        if gone:
            self._status(
                self.tr(
                    "{n} fichier(s) ajouté(s) ; {gone} introuvable(s) sur le disque : {names}."
                ).format(
                    n=len(added),
                    gone=len(gone),
                    names=", ".join(u.file.file_name for u in gone),
                ),
                error=True,
            )
        else:
            self._status(
                self.tr("{n} fichier(s) ajouté(s) : vérifiez le lot.").format(n=len(added))
            )

    def dismiss_unqueued(self) -> asyncio.Task[None]:
        return self._run(self._dismiss_unqueued())

    async def _dismiss_unqueued(self) -> None:
        await self.service.dismiss_unqueued()
        self._show_unqueued()

    def deposit_anyway(self) -> asyncio.Task[None] | None:
        """ "Déposer quand même": the selected duplicate rows are real new versions."""
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        keys = [
            self.model.item(r).key
            for r in rows
            if any(i.problem is Problem.DUPLICATE for i in self.model.item(r).issues)
        ]
        if not keys:
            self._status(
                self.tr("Choisissez les lignes signalées comme déjà déposées."), error=True
            )
            return None
        self.service.deposit_anyway(keys)
        self.model.refresh()
        return self.validate()

    def _fill_recent_doctors(self) -> None:
        self.doctor_combo.clear()
        for doctor in self.service.recent_doctors():
            self.doctor_combo.addItem(doctor.display, doctor.id_nat)
        self.doctor_combo.setCurrentIndex(-1)
        self.doctor_combo.setEditText("")

    def _doctor_picked(self, row: int) -> None:
        id_nat = self.doctor_combo.itemData(row)
        label = next((d.label for d in self.service.recent_doctors() if d.id_nat == id_nat), "")
        self.doctor_name_edit.setText(label)
        self.doctor_combo.setEditText(str(id_nat or ""))
        self.choose_doctor()

    def choose_doctor(self) -> Doctor | None:
        """Take the typed (or picked) doctor; says what is wrong with the identifier."""
        text = self.doctor_combo.currentText().strip()
        if "(" in text and text.endswith(")"):
            text = text.rsplit("(", 1)[-1].rstrip(")").strip()
        if not text:
            self.doctor_status.setText("")
            self._update_controls()
            return None
        try:
            doctor = self.service.set_doctor(Doctor(text, self.doctor_name_edit.text()))
        except InvalidIdentifierError as exc:
            self.doctor_status.setStyleSheet(ERROR_STYLE)
            self.doctor_status.setText(str(exc))
            self._update_controls()
            return None
        self.doctor_status.setStyleSheet(OK_STYLE)
        self.doctor_status.setText(
            self.tr("Les documents seront déposés pour le compte de {doctor}.").format(
                doctor=doctor.display
            )
        )
        self._update_controls()
        return doctor

    # -- files ----------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and not self.service.running:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def add_paths(self, paths: Iterable[Path]) -> asyncio.Task[None]:
        """Add files, folders and manifests (read off the GUI thread)."""
        return self._run(self._add(list(paths)))

    async def _add(self, paths: list[Path]) -> None:
        try:
            added = await self.service.add_paths(paths)
        except ConsoleError as exc:
            self._status(str(exc), error=True)
            return
        self.model.refresh()
        self._show_manifest()
        self._status(self.tr("{n} fichier(s) ajouté(s) : vérifiez le lot.").format(n=len(added)))

    def _choose_folder(self) -> None:
        dialog = QFileDialog(self, self.tr("Choisir un dossier de documents"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(lambda folder: self.add_paths([Path(folder)]))
        dialog.open()

    def _choose_manifest(self) -> None:
        dialog = QFileDialog(self, self.tr("Choisir le manifeste CSV"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter(self.tr("Manifestes CSV (*.csv)"))
        dialog.fileSelected.connect(lambda path: self.load_manifest(Path(path)))
        dialog.open()

    def load_manifest(self, path: Path) -> asyncio.Task[None]:
        return self._run(self._load_manifest(path))

    async def _load_manifest(self, path: Path) -> None:
        try:
            await self.service.load_manifest(path)
        except ConsoleError as exc:
            self._status(str(exc), error=True)
            return
        self.model.refresh()
        self._show_manifest()

    def _show_manifest(self) -> None:
        manifest = self.service.manifest
        if manifest is None:
            self.manifest_label.hide()
            return
        lines = [
            self.tr("Manifeste : {n} ligne(s) lue(s).").format(n=len(manifest.entries)),
            *(error.message for error in manifest.errors),
        ]
        self.manifest_label.setText("\n".join(lines))
        self.manifest_label.setStyleSheet(WARNING_STYLE if manifest.errors else "")
        self.manifest_label.show()

    def remove_selected(self) -> None:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        keys = [self.model.item(r).key for r in rows]
        self.service.remove(keys)
        self.model.refresh()
        self._update_controls()

    # -- the batch ------------------------------------------------------------------------------

    def validate(self) -> asyncio.Task[None]:
        return self._run(self._validate())

    async def _validate(self) -> None:
        self._status(self.tr("Vérification du lot…"))
        progress = await self.service.validate()
        ready = sum(1 for i in self.service.items if i.status is ItemStatus.READY)
        if progress.invalid:
            self._status(
                self.tr(
                    "{ready} document(s) prêt(s), {invalid} refusé(s) à la vérification : "
                    "corrigez-les ou retirez-les ; les autres peuvent partir."
                ).format(ready=ready, invalid=progress.invalid),
                error=True,
            )
        else:
            self._status(self.tr("{ready} document(s) prêt(s) à déposer.").format(ready=ready))

    def deposit(self) -> asyncio.Task[None]:
        return self._run(self._deposit())

    async def _deposit(self) -> None:
        if (
            self.depositor is not None
            and self.depositor.is_secretary
            and self.choose_doctor() is None
        ):
            self._status(
                self.tr("Indiquez le médecin pour le compte duquel vous déposez."), error=True
            )
            return
        ready = sum(1 for i in self.service.items if i.status is ItemStatus.READY)
        doctor = self.service.doctor.display if self.service.doctor else self.login.display_name
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Déposer le lot"),
            self.tr("Déposer {n} document(s) dans le DMP pour le compte de {doctor} ?").format(
                n=ready, doctor=doctor
            ),
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        ok = box.button(QMessageBox.StandardButton.Ok)
        ok.setText(self.tr("Déposer"))
        await ask(box)
        if box.clickedButton() is not ok:
            return
        self.resume_banner.hide()
        self._status(self.tr("Mise en file d'attente du lot…"))
        try:
            result = await self.service.start(self.login)
        except AccessRefusedError as exc:
            self._status(self.tr("Dépôt refusé : {reason}").format(reason=str(exc)), error=True)
            return
        except ConsoleError as exc:
            self._status(str(exc), error=True)
            return
        self._finished(result.stop, result.message)

    def pause(self) -> None:
        self.service.pause()
        self._status(self.tr("Mise en pause : les envois en cours se terminent…"))

    def resume(self) -> asyncio.Task[None]:
        return self._run(self._resume())

    async def _resume(self) -> None:
        self.resume_banner.hide()
        self._status(self.tr("Reprise de l'envoi…"))
        try:
            result = await self.service.resume(self.login)
        except ConsoleError as exc:
            self._status(str(exc), error=True)
            return
        self._finished(result.stop, result.message)

    def cancel(self) -> None:
        if self.service.running:
            self.service.cancel()
            self._status(self.tr("Annulation : les envois en cours se terminent…"))
        else:
            self._run(self._cancel_waiting())

    async def _cancel_waiting(self) -> None:
        dropped = await self.service.cancel_waiting()
        self._status(self.tr("{n} document(s) retiré(s) de la file.").format(n=dropped))

    def _finished(self, stop: PumpStop, message: str) -> None:
        self.last_stop = stop
        progress = self.service.progress()
        texts = {
            PumpStop.DONE: self.tr("Envoi terminé : {sent} déposé(s), {refused} refusé(s).").format(
                sent=progress.sent, refused=progress.refused
            ),
            PumpStop.PAUSED: self.tr("En pause : {n} document(s) en attente.").format(
                n=progress.waiting
            ),
            PumpStop.CANCELLED: self.tr("Envoi annulé."),
            PumpStop.AUTH: self.tr(
                "Session expirée : reconnectez-vous puis reprenez l'envoi ({reason})."
            ).format(reason=message),
            PumpStop.BATCH_REFUSED: self.tr(
                "Le DMP refuse les dépôts pour ce médecin : {reason}"
            ).format(reason=message),
            PumpStop.CACHE_CLOSED: self.tr(
                "Session verrouillée : les documents restent en file ; reprenez après reconnexion."
            ),
        }
        error = stop in (PumpStop.AUTH, PumpStop.BATCH_REFUSED, PumpStop.CACHE_CLOSED)
        self._status(texts[stop], error=error or progress.refused > 0)

    def save_receipt(self) -> asyncio.Task[None]:
        return spawn(self._save_receipt())

    async def _save_receipt(self) -> None:
        try:
            path = await save_receipt(self, self.service.receipt(), "accuse-depot-lot.pdf")
        except OSError as exc:
            self._status(
                self.tr("L'accusé n'a pas pu être écrit : {reason}").format(
                    reason=exc.strerror or str(exc)
                ),
                error=True,
            )
            return
        if path is not None:
            self._status(self.tr("Accusé enregistré : {path}").format(path=str(path)))

    # -- plumbing -------------------------------------------------------------------------------

    def _run(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = spawn(coro)
        self._task = task
        self._update_controls()
        task.add_done_callback(lambda _t: self._update_controls())
        return task

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)

    def _item_changed(self, item: BatchItem) -> None:
        self.model.item_changed(item)

    def _progress_changed(self, progress: BatchProgress) -> None:
        total = max(progress.total, 0)
        self.progress.setRange(0, max(total, 1))
        if total:
            self.progress.setValue(min(progress.done, total))
        else:
            self.progress.reset()  # no text: an empty batch said "0 / 1"
        self.summary_label.setText(
            self.tr(
                "Déposés : {sent} — refusés : {refused} — en attente : {waiting} — "
                "refusés à la vérification : {invalid}"
            ).format(
                sent=progress.sent,
                refused=progress.refused,
                waiting=progress.waiting,
                invalid=progress.invalid,
            )
        )
        self._update_controls()

    def _update_controls(self) -> None:
        running = self.service.running
        busy = self.busy and not running
        idle = not running and not busy
        items = self.service.items
        editable = any(i.editable for i in items)
        ready = any(i.status is ItemStatus.READY for i in items)
        waiting = any(
            i.status in (ItemStatus.QUEUED, ItemStatus.RETRY_WAIT, ItemStatus.UNCERTAIN)
            for i in items
        )
        doctor_ok = self.service.doctor is not None or (
            self.depositor is not None and not self.depositor.is_secretary
        )
        for widget in (self.drop_area, self.folder_button, self.manifest_button):
            widget.setEnabled(idle)
        self.remove_button.setEnabled(idle and editable)
        self.anyway_button.setEnabled(
            idle
            and any(
                i.editable and any(p.problem is Problem.DUPLICATE for p in i.issues) for i in items
            )
        )
        self.readd_button.setEnabled(idle)
        self.dismiss_button.setEnabled(idle)
        self.validate_button.setEnabled(idle and editable)
        self.deposit_button.setEnabled(idle and ready and self.service.validated and doctor_ok)
        self.pause_button.setEnabled(running)
        self.continue_button.setEnabled(idle and waiting)
        self.cancel_button.setEnabled(running or (idle and waiting))
        self.receipt_button.setEnabled(idle and any(i.master_id for i in items))
        self.doctor_combo.setEnabled(
            idle and (self.depositor is None or self.depositor.is_secretary)
        )
