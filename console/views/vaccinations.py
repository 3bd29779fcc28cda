"""The "Vaccinations" tab of an open record: the patient's immunizations in a sortable
table, the "Ajouter une vaccination" form, and the vaccination history documents (11369-6)
listed without a date limit.

The table model presents rows ordered by :func:`~console.domain.vaccination.sort_immunizations`
(raw keys: dates as dates, text folded), never by comparing display strings. The form checks
what was typed with the domain's rules before anything is sent, shows each problem under its
field, and writes nothing on bad input; the server's refusals (422) are shown the same way.
Everything that came from the network is shown as plain text.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.models import DocumentMeta
from console.domain.vaccination import (
    Field,
    Immunization,
    ImmunizationColumn,
    ImmunizationDraft,
    InvalidImmunizationError,
    Problem,
    Vaccine,
    VaccineCatalogue,
    ValidationIssue,
    sort_immunizations,
    sort_key,
)
from console.services.dossier import OpenDossier
from console.services.vaccination import VaccinationService
from console.views.tasks import spawn

__all__ = [
    "IMMUNIZATION_ROLE",
    "SORT_ROLE",
    "ImmunizationTableModel",
    "VaccinationForm",
    "VaccinationsTab",
]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's sort key for the column (a Python tuple, for tests and tools)."""
IMMUNIZATION_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's :class:`~console.domain.vaccination.Immunization`."""

DATE_FORMAT = "dd/MM/yyyy"
_ERROR_STYLE = "color: #a11d1d;"
_OK_STYLE = "color: #1f6f2b;"
_COLUMNS: tuple[ImmunizationColumn, ...] = tuple(ImmunizationColumn)
_ITEM_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)

AnyIndex = QModelIndex | QPersistentModelIndex


def _plain_label(text: str = "") -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setText(text)
    return label


def _plain_tooltip(text: str) -> str:
    """``text`` as a tooltip shown literally (Qt guesses rich text otherwise)."""
    return f"<qt>{html.escape(text, quote=False)}</qt>"


def french_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


# -- the table -------------------------------------------------------------------------------------
class ImmunizationTableModel(QAbstractTableModel):
    """The patient's vaccinations, in the order chosen by :meth:`sort` (newest first by
    default). The order is decided by the domain's sort keys, never by display strings."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Immunization] = []
        self._column = ImmunizationColumn.DATE
        self._descending = True

    # -- content -----------------------------------------------------------------------------
    def set_immunizations(self, immunizations: Sequence[Immunization]) -> None:
        """Show ``immunizations`` (in the current order)."""
        self.beginResetModel()
        self._rows = sort_immunizations(immunizations, self._column, descending=self._descending)
        self.endResetModel()

    def add(self, immunization: Immunization) -> int:
        """Insert one vaccination at its place in the current order; return its row."""
        ordered = sort_immunizations(
            [*self._rows, immunization], self._column, descending=self._descending
        )
        row = next(i for i, item in enumerate(ordered) if item is immunization)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows = ordered
        self.endInsertRows()
        return row

    def clear(self) -> None:
        self.set_immunizations([])

    @property
    def immunizations(self) -> Sequence[Immunization]:
        """The rows, in display order."""
        return tuple(self._rows)

    def immunization(self, row: int) -> Immunization:
        return self._rows[row]

    @property
    def sort_column(self) -> ImmunizationColumn:
        return self._column

    @property
    def descending(self) -> bool:
        return self._descending

    def column_label(self, column: ImmunizationColumn) -> str:
        match column:
            case ImmunizationColumn.DATE:
                return self.tr("Date")
            case ImmunizationColumn.VACCINE:
                return self.tr("Vaccin")
            case ImmunizationColumn.CODE:
                return self.tr("Code ATC")
            case ImmunizationColumn.LOT:
                return self.tr("Lot")
            case ImmunizationColumn.PERFORMER:
                return self.tr("Vaccinateur")

    # -- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(_COLUMNS)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(_COLUMNS)
        ):
            return self.column_label(_COLUMNS[section])
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(_COLUMNS):
            return None
        item = self._rows[index.row()]
        column = _COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column is ImmunizationColumn.VACCINE:
                return _plain_tooltip(item.vaccine.label)
            return None
        if role == SORT_ROLE:
            return sort_key(item, column)
        if role == IMMUNIZATION_ROLE:
            return item
        return None

    @staticmethod
    def _text(item: Immunization, column: ImmunizationColumn) -> str:
        match column:
            case ImmunizationColumn.DATE:
                return french_date(item.occurrence)
            case ImmunizationColumn.VACCINE:
                return item.vaccine.display or item.vaccine.code
            case ImmunizationColumn.CODE:
                return item.vaccine.code
            case ImmunizationColumn.LOT:
                return item.lot_number
            case ImmunizationColumn.PERFORMER:
                return "" if item.performer is None else item.performer.display_name

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by ``column`` (the view's header calls this)."""
        if not 0 <= column < len(_COLUMNS):
            return
        self._column = _COLUMNS[column]
        self._descending = order == Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        moved = [self._rows[index.row()] for index in before]
        self._rows = sort_immunizations(self._rows, self._column, descending=self._descending)
        position = {id(item): row for row, item in enumerate(self._rows)}
        after = [
            self.index(position[id(item)], index.column())
            for item, index in zip(moved, before, strict=True)
        ]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()


# -- the form --------------------------------------------------------------------------------------
class VaccinationForm(QGroupBox):
    """ "Ajouter une vaccination": the vaccine (searched in the coded list), the date (French
    format), the lot number; the performer is the professional logged in (shown, not asked).

    Signals:
        submitted(): "Enregistrer" was pressed (the tab checks and sends).
        cancelled(): "Annuler" was pressed.
    """

    submitted = Signal()
    cancelled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle(self.tr("Ajouter une vaccination"))
        self._catalogue: VaccineCatalogue | None = None

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("vaccineSearch")
        self.search_edit.setPlaceholderText(self.tr("Rechercher : nom, code ATC ou marque"))
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName(self.tr("Rechercher un vaccin"))
        self.vaccine_combo = QComboBox()
        self.vaccine_combo.setObjectName("vaccineCombo")
        self.vaccine_combo.setAccessibleName(self.tr("Vaccin"))
        self.vaccine_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.vaccine_combo.setMinimumContentsLength(30)
        self.vaccine_error = self._error_label("vaccineError")

        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("vaccinationDate")
        self.date_edit.setLocale(QLocale(QLocale.Language.French, QLocale.Country.France))
        self.date_edit.setDisplayFormat(DATE_FORMAT)
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setMinimumDate(QDate(1900, 1, 1))
        self.date_edit.setAccessibleName(self.tr("Date de la vaccination"))
        self.date_error = self._error_label("dateError")

        self.lot_edit = QLineEdit()
        self.lot_edit.setObjectName("lotNumber")
        self.lot_edit.setMaxLength(64)
        self.lot_edit.setPlaceholderText(self.tr("Numéro de lot inscrit sur le conditionnement"))
        self.lot_edit.setAccessibleName(self.tr("Numéro de lot"))
        self.lot_error = self._error_label("lotError")

        self.performer_label = _plain_label()
        self.performer_label.setObjectName("performer")
        self.performer_error = self._error_label("performerError")
        self.form_error = self._error_label("formError")

        self.save_button = QPushButton(self.tr("Enregistrer la vaccination"))
        self.save_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Annuler"))

        vaccine_box = QVBoxLayout()
        vaccine_box.setSpacing(2)
        vaccine_box.addWidget(self.search_edit)
        vaccine_box.addWidget(self.vaccine_combo)
        vaccine_box.addWidget(self.vaccine_error)
        date_box = QVBoxLayout()
        date_box.setSpacing(2)
        date_box.addWidget(self.date_edit)
        date_box.addWidget(self.date_error)
        lot_box = QVBoxLayout()
        lot_box.setSpacing(2)
        lot_box.addWidget(self.lot_edit)
        lot_box.addWidget(self.lot_error)
        performer_box = QVBoxLayout()
        performer_box.setSpacing(2)
        performer_box.addWidget(self.performer_label)
        performer_box.addWidget(self.performer_error)
        form = QFormLayout()
        form.addRow(self.tr("Vaccin :"), vaccine_box)
        form.addRow(self.tr("Date :"), date_box)
        form.addRow(self.tr("Lot :"), lot_box)
        form.addRow(self.tr("Vaccinateur :"), performer_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.form_error, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)

        self.search_edit.textChanged.connect(self._search)
        self.search_edit.returnPressed.connect(self.vaccine_combo.setFocus)
        self.lot_edit.returnPressed.connect(self.submitted)
        self.save_button.clicked.connect(self.submitted)
        self.cancel_button.clicked.connect(self.cancelled)
        self.setTabOrder(self.search_edit, self.vaccine_combo)
        self.setTabOrder(self.vaccine_combo, self.date_edit)
        self.setTabOrder(self.date_edit, self.lot_edit)
        self.setTabOrder(self.lot_edit, self.save_button)

    @staticmethod
    def _error_label(name: str) -> QLabel:
        label = _plain_label()
        label.setObjectName(name)
        label.setStyleSheet(_ERROR_STYLE)
        label.hide()
        return label

    # -- content -------------------------------------------------------------------------------
    def set_catalogue(self, catalogue: VaccineCatalogue) -> None:
        """The coded list to choose from."""
        self._catalogue = catalogue
        self._search()

    def listed(self) -> list[Vaccine]:
        """The vaccines the list offers now (after the search)."""
        codes = [self.vaccine_combo.itemData(i) for i in range(self.vaccine_combo.count())]
        catalogue = self._catalogue
        if catalogue is None:
            return []
        return [v for code in codes if code and (v := catalogue.get(code)) is not None]

    def set_performer(self, name: str) -> None:
        self.performer_label.setText(self.tr("%1 (vous)").replace("%1", name))

    def reset(self, today: date) -> None:
        """An empty form dated ``today``."""
        self.search_edit.clear()
        self._search()
        self.vaccine_combo.setCurrentIndex(0)
        self.date_edit.setDate(QDate(today.year, today.month, today.day))
        self.lot_edit.clear()
        self.clear_issues()

    def _search(self) -> None:
        text = self.search_edit.text()
        chosen = self.vaccine_code()
        searching = bool(text.strip())
        matches = () if self._catalogue is None else self._catalogue.search(text)
        self.vaccine_combo.blockSignals(True)
        self.vaccine_combo.clear()
        if not matches:
            self.vaccine_combo.addItem(self.tr("Aucun vaccin ne correspond à la recherche"), "")
        elif not (searching and len(matches) == 1):
            # A search that leaves one vaccine selects it; otherwise choose explicitly.
            self.vaccine_combo.addItem(self.tr("— Choisir un vaccin —"), "")
        for vaccine in matches:
            self.vaccine_combo.addItem(vaccine.label, vaccine.code)
            self.vaccine_combo.setItemData(
                self.vaccine_combo.count() - 1,
                _plain_tooltip(", ".join(vaccine.examples)) if vaccine.examples else None,
                Qt.ItemDataRole.ToolTipRole,
            )
        found = self.vaccine_combo.findData(chosen) if chosen else -1
        self.vaccine_combo.setCurrentIndex(max(found, 0))
        self.vaccine_combo.blockSignals(False)

    def choose(self, code: str) -> bool:
        """Select the vaccine of ``code`` (clearing the search); False if not listed."""
        if self.search_edit.text():
            self.search_edit.clear()
        index = self.vaccine_combo.findData(code)
        if index < 0:
            return False
        self.vaccine_combo.setCurrentIndex(index)
        return True

    def vaccine_code(self) -> str:
        data = self.vaccine_combo.currentData()
        return data if isinstance(data, str) else ""

    def occurrence(self) -> date:
        value = self.date_edit.date()
        return date(value.year(), value.month(), value.day())

    def set_occurrence(self, value: date) -> None:
        self.date_edit.setDate(QDate(value.year, value.month, value.day))

    def lot_number(self) -> str:
        return self.lot_edit.text()

    def set_busy(self, busy: bool) -> None:
        for widget in (
            self.search_edit,
            self.vaccine_combo,
            self.date_edit,
            self.lot_edit,
            self.save_button,
        ):
            widget.setEnabled(not busy)

    # -- messages ------------------------------------------------------------------------------
    def problem_text(self, problem: Problem) -> str:
        """The message of ``problem``, translated."""
        match problem:
            case Problem.MISSING_VACCINE:
                return self.tr("Choisissez le vaccin dans la liste.")
            case Problem.UNKNOWN_VACCINE:
                return self.tr("Ce vaccin n'est pas dans la liste des vaccins codés.")
            case Problem.MISSING_DATE:
                return self.tr("Indiquez la date de la vaccination.")
            case Problem.FUTURE_DATE:
                return self.tr("La date de vaccination ne peut pas être dans le futur.")
            case Problem.BEFORE_BIRTH:
                return self.tr("La date de vaccination est antérieure à la naissance du patient.")
            case Problem.MISSING_LOT:
                return self.tr("Le numéro de lot est obligatoire.")
            case Problem.LOT_TOO_LONG:
                return self.tr("Le numéro de lot est trop long (40 caractères au plus).")
            case Problem.PERFORMER_MISMATCH:
                return self.tr(
                    "Le vaccinateur enregistré est le professionnel connecté : reconnectez-vous."
                )
            case Problem.NOT_A_PROFESSIONAL:
                return self.tr("Seul un professionnel de santé peut enregistrer une vaccination.")

    def _field_label(self, field: Field) -> QLabel:
        return {
            Field.VACCINE: self.vaccine_error,
            Field.DATE: self.date_error,
            Field.LOT: self.lot_error,
            Field.PERFORMER: self.performer_error,
        }[field]

    def clear_issues(self) -> None:
        for label in (
            self.vaccine_error,
            self.date_error,
            self.lot_error,
            self.performer_error,
            self.form_error,
        ):
            label.clear()
            label.hide()

    def show_issues(self, issues: Sequence[ValidationIssue]) -> None:
        """Each problem under its field; the keyboard goes to the first field in error."""
        self.clear_issues()
        texts: dict[Field, list[str]] = {}
        for issue in issues:
            texts.setdefault(issue.field, []).append(self.problem_text(issue.problem))
        for field, lines in texts.items():
            label = self._field_label(field)
            label.setText(" ".join(lines))
            label.show()
        self.form_error.setText(self.tr("Rien n'a été enregistré : corrigez la saisie."))
        self.form_error.show()
        focus = {
            Field.VACCINE: self.search_edit,
            Field.DATE: self.date_edit,
            Field.LOT: self.lot_edit,
        }
        for field in (Field.VACCINE, Field.DATE, Field.LOT):
            if field in texts:
                focus[field].setFocus(Qt.FocusReason.OtherFocusReason)
                break

    def show_error(self, text: str) -> None:
        """A failure that is not one field's (network, refusal of the rules)."""
        self.clear_issues()
        self.form_error.setText(text)
        self.form_error.show()

    def messages(self) -> dict[str, str]:
        """The messages shown, by field name (for tests and tools)."""
        shown = {
            field.value: self._field_label(field).text()
            for field in Field
            if self._field_label(field).text()
        }
        if self.form_error.text():
            shown["form"] = self.form_error.text()
        return shown


# -- the tab ---------------------------------------------------------------------------------------
class VaccinationsTab(QWidget):
    """The "Vaccinations" tab of an open record.

    Args:
        service: The vaccinations of the session.

    Signals:
        immunizationAdded(object): an :class:`~console.domain.vaccination.Immunization`
            was recorded (as the server stored it).
        documentActivated(object): a vaccination history document (a
            :class:`~console.domain.models.DocumentMeta`) was chosen, to show in the preview.
    """

    immunizationAdded = Signal(object)
    documentActivated = Signal(object)

    def __init__(self, service: VaccinationService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._dossier: OpenDossier | None = None
        self._load_task: asyncio.Task[None] | None = None
        self._submit_task: asyncio.Task[None] | None = None
        self._history_task: asyncio.Task[None] | None = None

        title = QLabel(self.tr("Vaccinations"))
        title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.count_label = _plain_label()
        self.count_label.setWordWrap(False)
        self.add_button = QPushButton(self.tr("Ajouter une vaccination"))
        self.add_button.setObjectName("addVaccination")
        self.refresh_button = QPushButton(self.tr("Actualiser"))
        self.history_button = QPushButton(self.tr("Documents d'historique vaccinal"))
        self.history_button.setToolTip(
            self.tr(
                "Lister les documents « Historique de vaccination » du patient, sans limite de date"
            )
        )
        top = QHBoxLayout()
        top.addWidget(title)
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.history_button)
        top.addWidget(self.add_button)

        self.status_label = _plain_label()
        self.status_label.setObjectName("vaccinationStatus")
        self.error_label = _plain_label()
        self.error_label.setObjectName("vaccinationError")
        self.error_label.setStyleSheet(_ERROR_STYLE)

        self.model = ImmunizationTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        self.table.setAccessibleName(self.tr("Vaccinations du patient"))
        head = self.table.horizontalHeader()
        head.setStretchLastSection(True)
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(
            _COLUMNS.index(ImmunizationColumn.DATE), Qt.SortOrder.DescendingOrder
        )
        metrics = self.table.fontMetrics()
        for section, chars in enumerate((11, 48, 10, 14, 22)):
            head.resizeSection(section, chars * metrics.averageCharWidth() + 24)

        self.form = VaccinationForm()
        self.form.hide()
        self.form.submitted.connect(self.submit)
        self.form.cancelled.connect(self.close_form)

        self.history_box = QGroupBox(
            self.tr("Documents « Historique de vaccination » (sans limite de date)")
        )
        self.history_list = QListWidget()
        self.history_list.setAccessibleName(self.tr("Documents d'historique vaccinal"))
        self.history_status = _plain_label()
        self.history_list.setMaximumHeight(self.history_list.fontMetrics().height() * 9)
        history_layout = QVBoxLayout(self.history_box)
        history_layout.addWidget(self.history_status)
        history_layout.addWidget(self.history_list)
        self.history_box.hide()

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.form)
        layout.addWidget(self.history_box)

        self.add_button.clicked.connect(self.open_form)
        self.refresh_button.clicked.connect(self.refresh)
        self.history_button.clicked.connect(self.show_history)
        self.history_list.itemActivated.connect(self._history_activated)
        self._set_enabled(False)

    # -- public API ----------------------------------------------------------------------------
    @property
    def dossier(self) -> OpenDossier | None:
        return self._dossier

    @property
    def busy(self) -> bool:
        """Whether a load, a recording or a history search runs."""
        return any(
            task is not None and not task.done()
            for task in (self._load_task, self._submit_task, self._history_task)
        )

    def show_dossier(self, dossier: OpenDossier) -> None:
        """Show ``dossier``'s vaccinations (fetched now)."""
        self.clear()
        self._dossier = dossier
        self._set_enabled(True)
        self.refresh()

    def clear(self) -> None:
        """Forget the patient: cancel what runs, empty the table, the form and the history."""
        for task in (self._load_task, self._submit_task, self._history_task):
            if task is not None and not task.done():
                task.cancel()
        self._load_task = self._submit_task = self._history_task = None
        self._dossier = None
        self.model.clear()
        self.form.hide()
        self.form.reset(date.today())
        self.history_list.clear()
        self.history_status.clear()
        self.history_box.hide()
        self.status_label.clear()
        self.error_label.clear()
        self.count_label.clear()
        self._set_enabled(False)

    def refresh(self) -> None:
        """Fetch the vaccinations again."""
        if self._dossier is None:
            return
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = spawn(self._load(self._dossier))

    def open_form(self) -> None:
        """Show the "Ajouter une vaccination" form, empty, the keyboard in the search."""
        if self._dossier is None or not self._may_record():
            return
        self.form.set_catalogue(self._service.catalogue)
        self.form.set_performer(self._service.performer().display_name)
        self.form.reset(self._service.today())
        self.form.show()
        self.add_button.setEnabled(False)
        self.form.search_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_form(self) -> None:
        self.form.hide()
        self.form.clear_issues()
        self.add_button.setEnabled(self._dossier is not None and self._may_record())

    def submit(self) -> None:
        """Check the form; send it only when every field is right."""
        dossier = self._dossier
        if dossier is None or (self._submit_task is not None and not self._submit_task.done()):
            return
        draft = self._service.draft(
            self.form.vaccine_code(), self.form.occurrence(), self.form.lot_number()
        )
        issues = self._service.check(dossier, draft)
        if issues:
            self.form.show_issues(issues)
            return
        self.form.clear_issues()
        self._submit_task = spawn(self._submit(dossier, draft))

    def show_history(self) -> None:
        """List the vaccination history documents (11369-6) without a date limit."""
        if self._dossier is None:
            return
        if self._history_task is not None and not self._history_task.done():
            return
        self.history_box.show()
        self._history_task = spawn(self._history(self._dossier))

    # -- work ----------------------------------------------------------------------------------
    def _may_record(self) -> bool:
        try:
            return self._service.may_record()
        except ConsoleError:
            return False

    def _set_enabled(self, open_: bool) -> None:
        try:
            may_read = open_ and self._service.may_read()
        except ConsoleError:
            may_read = False
        self.refresh_button.setEnabled(may_read)
        self.history_button.setEnabled(open_)
        self.add_button.setEnabled(may_read and self._may_record() and not self.form.isVisible())

    async def _load(self, dossier: OpenDossier) -> None:
        self.error_label.clear()
        self.status_label.setStyleSheet("")
        if not self._service.may_read():
            self.model.clear()
            self.count_label.clear()
            self.error_label.setText(
                self.tr(
                    "La matrice d'habilitation ne permet pas à votre profession de consulter "
                    "les vaccinations."
                )
            )
            return
        self.status_label.setText(self.tr("Chargement des vaccinations…"))
        try:
            found = await self._service.immunizations(dossier)
        except ConsoleError as exc:
            if self._dossier is dossier:
                self.status_label.clear()
                self.error_label.setText(str(exc))
            return
        if self._dossier is not dossier:
            return
        self.model.set_immunizations(found)
        self.status_label.clear()
        self._update_count()

    def _update_count(self) -> None:
        count = self.model.rowCount()
        if count == 0:
            self.count_label.setText(self.tr("aucune vaccination enregistrée"))
        elif count == 1:
            self.count_label.setText(self.tr("1 vaccination"))
        else:
            self.count_label.setText(self.tr("%n vaccinations", "", count))

    async def _submit(self, dossier: OpenDossier, draft: ImmunizationDraft) -> None:
        self.form.set_busy(True)
        self.status_label.setText(self.tr("Enregistrement de la vaccination…"))
        try:
            stored = await self._service.add(dossier, draft)
        except InvalidImmunizationError as exc:
            self.status_label.clear()
            self.form.show_issues(exc.issues)
            return
        except ConsoleError as exc:
            self.status_label.clear()
            self.form.show_error(self.tr("Rien n'a été enregistré : %1").replace("%1", str(exc)))
            return
        finally:
            self.form.set_busy(False)
        if self._dossier is not dossier:
            return
        row = self.model.add(stored)
        self.table.selectRow(row)
        self._update_count()
        self.close_form()
        self.status_label.setText(
            self.tr("Vaccination enregistrée dans le DMP : %1 du %2.")
            .replace("%1", stored.vaccine.display or stored.vaccine.code)
            .replace("%2", french_date(stored.occurrence))
        )
        self.status_label.setStyleSheet(_OK_STYLE)
        self.immunizationAdded.emit(stored)

    async def _history(self, dossier: OpenDossier) -> None:
        self.history_list.clear()
        self.history_status.setStyleSheet("")
        self.history_status.setText(self.tr("Recherche des documents d'historique vaccinal…"))
        found: list[DocumentMeta] = []
        try:
            async for page in self._service.history_documents(dossier):
                if self._dossier is not dossier:
                    return
                found.extend(page.documents)
        except ConsoleError as exc:
            self.history_status.setStyleSheet(_ERROR_STYLE)
            self.history_status.setText(str(exc))
            return
        # Newest act first (raw dates, then the id: a total order).
        found.sort(key=lambda d: d.id)
        found.sort(key=lambda d: d.created, reverse=True)
        for doc in found:
            self._add_history_item(doc)
        if not found:
            self.history_status.setText(
                self.tr("Aucun document d'historique de vaccination dans le DMP.")
            )
        elif len(found) == 1:
            self.history_status.setText(self.tr("1 document, toutes dates confondues."))
        else:
            self.history_status.setText(
                self.tr("%n documents, toutes dates confondues.", "", len(found))
            )

    def _add_history_item(self, doc: DocumentMeta) -> None:
        created = to_local(doc.created) if doc.created.tzinfo else doc.created
        parts = [created.strftime("%d/%m/%Y"), doc.title]
        if doc.author_name:
            parts.append(doc.author_name)
        item = QListWidgetItem(" — ".join(parts))
        item.setData(Qt.ItemDataRole.UserRole, doc)
        item.setToolTip(_plain_tooltip(doc.title))
        self.history_list.addItem(item)

    def _history_activated(self, item: QListWidgetItem) -> None:
        doc = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(doc, DocumentMeta):
            self.documentActivated.emit(doc)

    def history_documents(self) -> list[DocumentMeta]:
        """The history documents listed, in display order (newest first)."""
        out = []
        for row in range(self.history_list.count()):
            doc = self.history_list.item(row).data(Qt.ItemDataRole.UserRole)
            if isinstance(doc, DocumentMeta):
                out.append(doc)
        return out
