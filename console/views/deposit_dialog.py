"""Depositing one document (or a new version of one): file, metadata, validation, receipt.

:class:`DepositDialog` is opened by the main window ("Déposer un document…") with the
patient of the open record, or by the document's context menu to replace a document
(``replaces``). Everything it sends goes through :class:`~console.services.deposit.
DepositService`; it never reads a file or renders a PDF on the GUI thread.

Shared with the batch screen: :class:`DocumentTypePicker` (the DMP's 102 types, searched by
label, code or class, accents and case ignored), :class:`FileDropArea` and
:func:`save_receipt` (the receipt PDF, written only where the user chooses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.deposit import (
    BatchReceipt,
    DepositDraft,
    DepositValidationError,
    Issue,
    ItemStatus,
    fold,
)
from console.domain.dossier import PatientRecord, ProfessionalLogin
from console.domain.errors import AccessRefusedError, ConsoleError
from console.domain.models import Actor, DocumentMeta, Visibility
from console.domain.terminology import DocumentType, terminology
from console.services.deposit import DepositOutcome, DepositService, LoadedFile, write_receipt
from console.views.consent import ask, plain_label
from console.views.tasks import spawn

__all__ = [
    "DepositDialog",
    "DocumentTypeListModel",
    "DocumentTypePicker",
    "FileDropArea",
    "save_receipt",
]

ERROR_STYLE = "color: #a11d1d;"
WARNING_STYLE = "color: #8a5300;"
OK_STYLE = "color: #1f6f2b;"
CODE_ROLE = Qt.ItemDataRole.UserRole + 1
DATE_FORMAT = "dd/MM/yyyy"

_Index = QModelIndex | QPersistentModelIndex


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _size_text(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


# -- the DMP document types, searchable ---------------------------------------------------------


class DocumentTypeListModel(QAbstractListModel):
    """The DMP's document types (label, code, class), filtered by :meth:`set_filter`.

    102 rows: filtering is a Python pass over precomputed folded keys.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        types = sorted(terminology().types.values(), key=lambda t: fold(t.label))
        self._all: list[tuple[DocumentType, str]] = [
            (t, fold(f"{t.label} {t.code} {t.class_label}")) for t in types
        ]
        self._shown: list[DocumentType] = [t for t, _ in self._all]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        dtype = self._shown[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{dtype.label} — {dtype.code}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{dtype.class_label} ({dtype.class_code})"
        if role == CODE_ROLE:
            return dtype.code
        return None

    def set_filter(self, text: str) -> None:
        """Keep the types whose label, code or class contains every word of ``text``."""
        words = fold(text).split()
        self.beginResetModel()
        self._shown = [t for t, key in self._all if all(w in key for w in words)]
        self.endResetModel()

    def row_of(self, code: str) -> int:
        for row, dtype in enumerate(self._shown):
            if dtype.code == code:
                return row
        return -1

    def code_at(self, row: int) -> str:
        return self._shown[row].code if 0 <= row < len(self._shown) else ""


class _SearchEdit(QLineEdit):
    """The search field: Down / Enter go to the list."""

    moveToList = Signal()
    accepted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.moveToList.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accepted.emit()
            return
        super().keyPressEvent(event)


class DocumentTypePicker(QWidget):
    """Choose a DMP document type: type words of its label or its code, pick in the list.

    Signals:
        typeChanged(str): the chosen type code ("" when none).
    """

    typeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = DocumentTypeListModel(self)
        self.search = _SearchEdit()
        self.search.setObjectName("typeSearch")
        self.search.setPlaceholderText(
            self.tr("Rechercher un type (libellé ou code, ex. « consultation », « 11488 »)")
        )
        self.search.setClearButtonEnabled(True)
        self.list = QListView()
        self.list.setObjectName("typeList")
        self.list.setModel(self.model)
        self.list.setUniformItemSizes(True)
        self.list.setMinimumHeight(120)
        self.chosen_label = plain_label()
        self.chosen_label.setObjectName("typeChosen")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(self.chosen_label)
        self._code = ""
        self.search.textChanged.connect(self._filter)
        self.search.moveToList.connect(self._focus_list)
        self.search.accepted.connect(self._accept_first)
        self.list.clicked.connect(self._choose_index)
        self.list.activated.connect(self._choose_index)
        selection = self.list.selectionModel()
        selection.currentChanged.connect(lambda current, _previous: self._choose_index(current))
        self._show_choice()

    def type_code(self) -> str:
        return self._code

    def set_type(self, code: str) -> None:
        """Select ``code`` (clearing the search); "" clears the choice."""
        self.search.clear()
        row = self.model.row_of(code)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))
        self._set_code(code if row >= 0 else "")

    def _filter(self, text: str) -> None:
        self.model.set_filter(text)
        row = self.model.row_of(self._code)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))

    def _focus_list(self) -> None:
        self.list.setFocus()
        if self.model.rowCount() and not self.list.currentIndex().isValid():
            self.list.setCurrentIndex(self.model.index(0))

    def _accept_first(self) -> None:
        if self.model.rowCount() == 1:
            self._choose_index(self.model.index(0))
        else:
            self._focus_list()

    def _choose_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self._set_code(self.model.code_at(index.row()))

    def _set_code(self, code: str) -> None:
        if code == self._code:
            return
        self._code = code
        self._show_choice()
        self.typeChanged.emit(code)

    def _show_choice(self) -> None:
        dtype = terminology().types.get(self._code)
        if dtype is None:
            self.chosen_label.setText(self.tr("Aucun type choisi."))
        else:
            self.chosen_label.setText(
                self.tr("Type choisi : {label} ({code}) — classe {klass}").format(
                    label=dtype.label, code=dtype.code, klass=dtype.class_label
                )
            )


# -- files ---------------------------------------------------------------------------------------


class FileDropArea(QFrame):
    """Files and folders dropped here, or chosen with its button.

    Signals:
        pathsDropped(list): the local paths (``pathlib.Path``) dropped or chosen.
    """

    pathsDropped = Signal(list)

    def __init__(self, text: str, *, multiple: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fileDropArea")
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#fileDropArea { border: 1px dashed palette(mid); }")
        self.multiple = multiple
        self.label = plain_label(text)
        self.choose_button = QPushButton(
            self.tr("Choisir des fichiers…") if multiple else self.tr("Choisir un fichier…")
        )
        self.choose_button.setObjectName("chooseFile")
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.choose_button)
        self.choose_button.clicked.connect(self.choose)
        self._dialog: QFileDialog | None = None

    def choose(self) -> None:
        """Open a file dialog (window-modal, never ``exec()``)."""
        dialog = QFileDialog(self, self.tr("Choisir les documents à déposer"))
        dialog.setFileMode(
            QFileDialog.FileMode.ExistingFiles
            if self.multiple
            else QFileDialog.FileMode.ExistingFile
        )
        dialog.setNameFilters(
            [
                self.tr("Documents (*.pdf *.xml *.txt)"),
                self.tr("Manifestes CSV (*.csv)"),
                self.tr("Tous les fichiers (*)"),
            ]
        )
        dialog.filesSelected.connect(lambda files: self.pathsDropped.emit([Path(f) for f in files]))
        self._dialog = dialog
        dialog.open()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.pathsDropped.emit(paths if self.multiple else paths[:1])


async def save_receipt(
    parent: QWidget, receipt: BatchReceipt, suggested_name: str = "accuse-depot.pdf"
) -> Path | None:
    """Ask where to save the receipt PDF and write it there (nowhere else). Rendering and
    writing run off the GUI thread. Returns the path written, None if the user cancelled."""
    title = QCoreApplication.translate("DepositReceipt", "Enregistrer l'accusé de dépôt")
    dialog = QFileDialog(parent, title)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilter(QCoreApplication.translate("DepositReceipt", "Document PDF (*.pdf)"))
    dialog.setDefaultSuffix("pdf")
    dialog.selectFile(suggested_name)
    accepted = await ask(dialog) == QDialog.DialogCode.Accepted
    files = dialog.selectedFiles()
    dialog.deleteLater()
    if not accepted or not files:
        return None
    path = Path(files[0])
    await write_receipt(receipt, path)
    return path


# -- the dialog ----------------------------------------------------------------------------------


class DepositDialog(QDialog):
    """Deposit one document in the logged professional's name (or replace one of hers).

    Open it with ``open()`` (or :func:`~console.views.consent.ask` from a coroutine). The
    metadata are checked as they are typed; "Déposer" stays disabled until the file and the
    metadata are valid, and nothing is sent before. While it sends, the form is disabled;
    the DMP's answer shows as a receipt (or a refusal, the form editable again).

    Args:
        service: The deposit service.
        login: The logged professional (the author).
        patient: The patient of the open record (INS fixed), if any.
        replaces: The document this deposit replaces (same patient; type and title
            prefilled).
        actor: The professional as the directory knows her (fetched when not given).

    Signals:
        deposited(object): the :class:`~console.services.deposit.DepositOutcome` of a deposit
            (sent, or left queued).
    """

    deposited = Signal(object)

    def __init__(
        self,
        service: DepositService,
        login: ProfessionalLogin,
        *,
        patient: PatientRecord | None = None,
        replaces: DocumentMeta | None = None,
        actor: Actor | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.login = login
        self.replaces = replaces
        self.actor = actor
        self.file: LoadedFile | None = None
        self.outcome: DepositOutcome | None = None
        self.issues: tuple[Issue, ...] = ()
        self._task: asyncio.Task[Any] | None = None
        self.setWindowTitle(
            self.tr("Remplacer un document du DMP")
            if replaces is not None
            else self.tr("Déposer un document dans le DMP")
        )
        self.setMinimumWidth(620)

        self.drop_area = FileDropArea(
            self.tr("Déposez ici un fichier PDF, CDA R2 (.xml) ou texte (.txt)."), parent=self
        )
        self.file_label = plain_label(self.tr("Aucun fichier choisi."))
        self.file_label.setObjectName("fileLabel")

        self.ins_edit = QLineEdit()
        self.ins_edit.setObjectName("insEdit")
        self.ins_edit.setPlaceholderText(self.tr("NIR du patient (15 caractères)"))
        self.patient_label = plain_label()
        if patient is not None:
            self.ins_edit.setText(patient.ins.value)
            self.ins_edit.setReadOnly(True)
            self.patient_label.setText(patient.display_name)
        elif replaces is not None:
            self.ins_edit.setText(replaces.patient_ins)
            self.ins_edit.setReadOnly(True)
        self.type_picker = DocumentTypePicker()
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("titleEdit")
        self.title_edit.setMaxLength(255)
        self.date_edit = QDateEdit()
        self.date_edit.setObjectName("dateEdit")
        self.date_edit.setDisplayFormat(DATE_FORMAT)
        self.date_edit.setCalendarPopup(True)
        today = _qdate(service.today())
        self.date_edit.setMaximumDate(today)
        self.date_edit.setDate(today)
        self.author_label = plain_label(login.display_name)
        self.author_label.setObjectName("authorLabel")
        self.structure_label = plain_label("…")
        self.structure_label.setObjectName("structureLabel")
        self.masked_check = QCheckBox(self.tr("Masqué aux professionnels de santé (MASQUE_PS)"))
        self.invisible_patient_check = QCheckBox(
            self.tr("Non visible par le patient (jusqu'à la consultation d'annonce)")
        )
        self.invisible_rl_check = QCheckBox(self.tr("Non visible par les représentants légaux"))

        form = QFormLayout()
        form.addRow(self.tr("Patient (INS) :"), self.ins_edit)
        form.addRow("", self.patient_label)
        form.addRow(self.tr("Type de document :"), self.type_picker)
        form.addRow(self.tr("Titre :"), self.title_edit)
        form.addRow(self.tr("Date de l'acte :"), self.date_edit)
        form.addRow(self.tr("Auteur :"), self.author_label)
        form.addRow(self.tr("Structure :"), self.structure_label)
        visibility = QVBoxLayout()
        for box in (self.masked_check, self.invisible_patient_check, self.invisible_rl_check):
            visibility.addWidget(box)
        form.addRow(self.tr("Visibilité :"), visibility)

        self.persistence_label = plain_label()
        self.persistence_label.setObjectName("persistenceLabel")
        self.persistence_label.setStyleSheet(WARNING_STYLE)
        self.issues_label = plain_label()
        self.issues_label.setObjectName("issuesLabel")
        self.issues_label.setStyleSheet(ERROR_STYLE)
        self.status_label = plain_label()
        self.status_label.setObjectName("statusLabel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.receipt_label = plain_label()
        self.receipt_label.setObjectName("receiptLabel")
        self.receipt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receipt_label.hide()

        self.buttons = QDialogButtonBox()
        self.deposit_button = self.buttons.addButton(
            self.tr("Déposer"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.deposit_button.setObjectName("depositButton")
        self.save_button = self.buttons.addButton(
            self.tr("Enregistrer l'accusé (PDF)…"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.save_button.setObjectName("saveReceiptButton")
        self.save_button.hide()
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setText(self.tr("Annuler"))
        self.deposit_button.clicked.connect(self.submit)
        self.save_button.clicked.connect(lambda: spawn(self._save_receipt()))
        self.close_button.clicked.connect(self._close_clicked)

        layout = QVBoxLayout(self)
        layout.addWidget(self.drop_area)
        layout.addWidget(self.file_label)
        layout.addLayout(form)
        layout.addWidget(self.persistence_label)
        layout.addWidget(self.issues_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        layout.addWidget(self.receipt_label)
        layout.addWidget(self.buttons)

        self.drop_area.pathsDropped.connect(
            lambda paths: self.load_file(paths[0]) if paths else None
        )
        self.ins_edit.textChanged.connect(self._revalidate)
        self.type_picker.typeChanged.connect(self._type_chosen)
        self.title_edit.textChanged.connect(self._revalidate)
        self.date_edit.dateChanged.connect(self._revalidate)
        for box in (self.masked_check, self.invisible_patient_check, self.invisible_rl_check):
            box.toggled.connect(self._revalidate)

        if replaces is not None:
            self.type_picker.set_type(replaces.type_code)
            self.title_edit.setText(replaces.title)
            self.masked_check.setChecked(replaces.masked)
            self.invisible_patient_check.setChecked(replaces.invisible_to_patient)
            self.invisible_rl_check.setChecked(
                Visibility.INVISIBLE_REPRESENTANTS_LEGAUX in replaces.visibility
            )
        self._show_persistence()
        if actor is not None:
            self._show_actor(actor)
        else:
            spawn(self._load_actor())
        self._revalidate()

    # -- state --------------------------------------------------------------------------------

    def draft(self) -> DepositDraft:
        visibility = {
            flag
            for flag, box in (
                (Visibility.MASQUE_PS, self.masked_check),
                (Visibility.INVISIBLE_PATIENT, self.invisible_patient_check),
                (Visibility.INVISIBLE_REPRESENTANTS_LEGAUX, self.invisible_rl_check),
            )
            if box.isChecked()
        }
        return DepositDraft(
            ins=self.ins_edit.text().strip(),
            type_code=self.type_picker.type_code(),
            title=self.title_edit.text(),
            act_date=_pydate(self.date_edit.date()),
            visibility=frozenset(visibility),
        )

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def _show_persistence(self) -> None:
        if self.service.persistent:
            self.persistence_label.hide()
        else:
            self.persistence_label.setText(
                self.tr(
                    "Aucun cache chiffré n'est ouvert : si la console s'arrête avant la réponse "
                    "du DMP, ce dépôt ne sera pas conservé pour être renvoyé. Vérifiez ensuite "
                    "sa présence dans le dossier."
                )
            )
            self.persistence_label.show()

    async def _load_actor(self) -> None:
        try:
            actor = await self.service.actor(self.login)
        except ConsoleError as exc:
            self.structure_label.setText(
                self.tr("Structure inconnue ({reason})").format(reason=str(exc))
            )
            return
        self._show_actor(actor)

    def _show_actor(self, actor: Actor) -> None:
        self.actor = actor
        self.author_label.setText(f"{actor.display_name} ({actor.id_nat})")
        self.structure_label.setText(actor.structure_name or actor.structure_id or "—")

    # -- file ---------------------------------------------------------------------------------

    def load_file(self, path: Path) -> asyncio.Task[None]:
        """Read and check ``path`` off the GUI thread; the form says what is wrong."""
        self.file_label.setText(self.tr("Lecture de « {name} »…").format(name=path.name))
        task = spawn(self._load(path))
        self._task = task
        return task

    async def _load(self, path: Path) -> None:
        self.deposit_button.setEnabled(False)
        loaded = await self.service.load_file(path)
        self.set_file(loaded)

    def set_file(self, loaded: LoadedFile) -> None:
        self.file = loaded
        content = loaded.content
        kind = {
            "application/pdf": self.tr("PDF"),
            "text/xml": self.tr("CDA R2 (XML)"),
            "text/plain": self.tr("texte"),
        }.get(content.kind.value if content.kind else "", self.tr("non reconnu"))
        self.file_label.setText(
            self.tr("Fichier : {name} — {size} — {kind}").format(
                name=loaded.name, size=_size_text(content.size), kind=kind
            )
        )
        if not self.title_edit.text().strip() and self.replaces is None:
            self.title_edit.setText(Path(loaded.name).stem.replace("_", " "))
        self._revalidate()

    # -- validation ---------------------------------------------------------------------------

    def _type_chosen(self, code: str) -> None:
        if not self.title_edit.text().strip():
            dtype = terminology().types.get(code)
            if dtype is not None:
                self.title_edit.setText(dtype.label)
        self._revalidate()

    def _revalidate(self, *_args: object) -> None:
        if self.outcome is not None:
            return
        _, issues = self.service.validate(
            self.file,
            self.draft(),
            replaces=self.replaces.id if self.replaces is not None else None,
        )
        self.issues = issues
        self._show_issues(issues)
        self.deposit_button.setEnabled(not issues and not self.busy)

    def _show_issues(self, issues: Sequence[Issue]) -> None:
        if issues:
            self.issues_label.setText("\n".join(f"• {i.message}" for i in issues))
            self.issues_label.show()
        else:
            self.issues_label.clear()
            self.issues_label.hide()

    # -- sending ------------------------------------------------------------------------------

    def submit(self) -> asyncio.Task[None] | None:
        """Send (when valid and idle); the task, or None when nothing was started."""
        if self.busy or self.issues or self.file is None or self.outcome is not None:
            return None
        self._set_sending(True)  # at once: no second click while the task starts
        task = spawn(self._deposit(self.file, self.draft()))
        self._task = task
        return task

    def _set_sending(self, sending: bool) -> None:
        for widget in (
            self.drop_area,
            self.ins_edit,
            self.type_picker,
            self.title_edit,
            self.date_edit,
            self.masked_check,
            self.invisible_patient_check,
            self.invisible_rl_check,
        ):
            widget.setEnabled(not sending)
        self.deposit_button.setEnabled(not sending and not self.issues)
        self.progress.setVisible(sending)

    async def _deposit(self, file: LoadedFile, draft: DepositDraft) -> None:
        self.status_label.setStyleSheet("")
        self.status_label.setText(self.tr("Envoi au DMP…"))
        outcome: DepositOutcome | None = None
        failure = ""
        try:
            if self.replaces is not None:
                outcome = await self.service.replace(self.login, self.replaces, file, draft)
            else:
                outcome = await self.service.deposit(self.login, file, draft)
        except DepositValidationError as exc:
            self._show_issues(exc.issues)
            failure = self.tr("Dépôt impossible : corrigez les points signalés.")
        except AccessRefusedError as exc:
            failure = self.tr("Dépôt refusé : {reason}").format(reason=str(exc))
        except ConsoleError as exc:
            failure = self.tr("Dépôt impossible : {reason}").format(reason=str(exc))
        finally:
            self._task = None
        if outcome is None:
            self._fail(failure)
        else:
            self._done(outcome)

    def _fail(self, message: str) -> None:
        self._set_sending(False)
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(message)
        self._revalidate()

    def _done(self, outcome: DepositOutcome) -> None:
        self.outcome = outcome
        self.progress.hide()
        self.deposit_button.hide()
        self.close_button.setText(self.tr("Fermer"))
        self.save_button.show()
        if outcome.status is ItemStatus.SENT and outcome.receipt is not None:
            self.status_label.setStyleSheet(OK_STYLE)
            self.status_label.setText(
                self.tr("Document déposé dans le DMP.")
                if not outcome.receipt.replayed
                else self.tr(
                    "Document déjà présent dans le DMP (dépôt déjà reçu) : rien n'a été dupliqué."
                )
            )
            self.receipt_label.setText(
                self.tr("Référence du dépôt : {master}\nIdentifiant DMP : {id}").format(
                    master=outcome.master_id, id=outcome.receipt.document_id
                )
            )
        else:
            self.status_label.setStyleSheet(WARNING_STYLE)
            kept = (
                self.tr("Il est conservé dans le cache chiffré et sera renvoyé automatiquement.")
                if outcome.persistent
                else self.tr(
                    "Il n'est conservé que tant que la console reste ouverte : ne la fermez pas "
                    "avant son envoi."
                )
            )
            self.status_label.setText(
                self.tr("Le DMP n'a pas encore confirmé ce dépôt ({reason}). {kept}").format(
                    reason=outcome.message or self.tr("pas de réponse"), kept=kept
                )
            )
            self.receipt_label.setText(
                self.tr("Référence du dépôt : {master}").format(master=outcome.master_id)
            )
        self.receipt_label.show()
        self.deposited.emit(outcome)

    def receipt(self) -> BatchReceipt | None:
        if self.outcome is None:
            return None
        who = self.actor or Actor(self.login.id_nat, self.login.profession)
        name = f"{who.display_name} ({who.id_nat})"
        return BatchReceipt(
            title=self.tr("Accusé de dépôt"),
            depositor=name,
            author=name,
            structure=who.structure_name or who.structure_id or "",
            started=datetime.now(UTC),
            finished=datetime.now(UTC) if self.outcome.status is ItemStatus.SENT else None,
            lines=(self.outcome.line,),
        )

    async def _save_receipt(self) -> None:
        receipt = self.receipt()
        if receipt is None:
            return
        try:
            path = await save_receipt(self, receipt)
        except OSError as exc:
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                self.tr("Accusé non enregistré"),
                self.tr("L'accusé n'a pas pu être écrit : {reason}").format(
                    reason=exc.strerror or str(exc)
                ),
                QMessageBox.StandardButton.Ok,
                self,
            )
            box.setTextFormat(Qt.TextFormat.PlainText)
            await ask(box)
            return
        if path is not None:
            self.status_label.setText(self.tr("Accusé enregistré : {path}").format(path=str(path)))

    def _close_clicked(self) -> None:
        if self.busy:
            # A deposit in flight is not abandoned: its outcome is recorded by the service
            # (and in the outbox); the dialog waits for it.
            self.status_label.setText(
                self.tr("Envoi en cours : attendez la réponse du DMP avant de fermer.")
            )
            return
        if self.outcome is not None:
            self.accept()
        else:
            self.reject()

    def reject(self) -> None:
        if self.busy:
            self._close_clicked()
            return
        super().reject()
