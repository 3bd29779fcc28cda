"""Finding a patient by INS (NIR) and opening her record in an access mode.

The NIR's key is checked as it is typed: no request leaves for an invalid INS. Opening asks
the access mode (:class:`~console.views.consent.AccessModeDialog`); in normal mode, when the
DMP answers that the professional is outside the care team (403 ``no_consent``), the consent
question is asked (:class:`~console.views.consent.ConsentDialog`) and the opening retried
with the consent method.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import Enum, auto
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.dossier import PatientRecord
from console.domain.errors import AccessRefusedError, ConsoleError, InvalidINSError
from console.domain.ins import is_valid_nir, nir_key, normalize_nir
from console.domain.models import AccessMode
from console.domain.rules import AccessRequest, Refusal
from console.services.dossier import DossierService, OpenDossier, PatientNotFoundError
from console.views.consent import AccessModeDialog, ConsentDialog, RefusalBox, ask, plain_label
from console.views.tasks import spawn

__all__ = ["NirCheck", "PatientSearchWidget", "check_nir"]

log = logging.getLogger(__name__)

NIR_LENGTH = 15

_ERROR_STYLE = "color: #a11d1d;"
_OK_STYLE = "color: #1f6f2b;"
_HINT_STYLE = "color: palette(mid);"


class NirCheck(Enum):
    """What is wrong (or not) with a NIR being typed."""

    INCOMPLETE = auto()
    TOO_LONG = auto()
    SHAPE = auto()
    KEY = auto()
    VALID = auto()


def check_nir(text: str) -> NirCheck:
    """Classify ``text`` as typed: incomplete, too long, badly shaped, wrong key, or valid.

    The key is only judged once the 13 first characters have the NIR's shape: a NIR whose
    body is well formed but whose key differs from :func:`nir_key` is a typing error in the
    key (or the body), which deserves its own message.
    """
    nir = normalize_nir(text)
    if len(nir) < NIR_LENGTH:
        return NirCheck.INCOMPLETE
    if len(nir) > NIR_LENGTH:
        return NirCheck.TOO_LONG
    if is_valid_nir(nir):
        return NirCheck.VALID
    body = nir[:13]
    try:
        expected = nir_key(body)
    except ValueError:  # letters where digits are expected
        return NirCheck.SHAPE
    if nir[13:].isdigit() and is_valid_nir(f"{body}{expected:02d}"):
        return NirCheck.KEY
    return NirCheck.SHAPE


class _Busy(Enum):
    IDLE = auto()
    SEARCHING = auto()
    OPENING = auto()


class PatientSearchWidget(QWidget):
    """INS field, the patient found, and the "Ouvrir le dossier" path.

    Every network step runs as a task that Esc (or the "Annuler" button) cancels; while it
    runs, the controls that start it are disabled and a progress bar turns. Errors are shown
    in the widget itself, and the typed INS is kept.

    A refusal of the DMP is shown in :attr:`refusal_box` (an opposed patient is told plainly
    that nothing was opened and why).

    Args:
        dossier_service: Finds and opens (a ``TracedDossierService`` when wired: the opening
            then starts the bris de glace episode).
        bris_de_glace_minutes: The time box the access-mode dialog announces.

    Signals:
        dossierOpened(object): an :class:`~console.services.dossier.OpenDossier`, once the
            record is open in the chosen access mode.
    """

    dossierOpened = Signal(object)

    def __init__(
        self,
        dossier_service: DossierService,
        parent: QWidget | None = None,
        *,
        bris_de_glace_minutes: int = 60,
    ) -> None:
        super().__init__(parent)
        self._service = dossier_service
        self._bris_de_glace_minutes = bris_de_glace_minutes
        self._task: asyncio.Task[Any] | None = None
        self._busy = _Busy.IDLE
        self._patient: PatientRecord | None = None
        self.active_dialog: AccessModeDialog | ConsentDialog | None = None
        """The dialog being awaited (for tests and for :meth:`clear`)."""

        title = QLabel(self.tr("Rechercher un patient"))
        title.setStyleSheet("font-size: 15pt; font-weight: bold;")

        self.ins_edit = QLineEdit()
        self.ins_edit.setObjectName("insEdit")
        self.ins_edit.setPlaceholderText(self.tr("INS (NIR, 15 caractères clé comprise)"))
        self.ins_edit.setMaxLength(32)  # room for the spaces a user may type
        self.ins_edit.setClearButtonEnabled(True)
        self.ins_edit.setAccessibleName(self.tr("INS du patient"))
        self.search_button = QPushButton(self.tr("Rechercher"))
        self.search_button.setEnabled(False)
        self.cancel_button = QPushButton(self.tr("Annuler"))
        self.cancel_button.setToolTip(self.tr("Annuler la requête en cours (Échap)"))
        self.cancel_button.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy indicator
        self.progress.setMaximumWidth(120)
        self.progress.setTextVisible(False)
        self.progress.hide()

        field_row = QHBoxLayout()
        field_row.addWidget(self.ins_edit, 1)
        field_row.addWidget(self.search_button)
        field_row.addWidget(self.progress)
        field_row.addWidget(self.cancel_button)

        self.ins_message = plain_label()
        self.ins_message.setObjectName("insMessage")
        self.status_message = plain_label()
        self.status_message.setObjectName("statusMessage")
        self.status_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.refusal_box = RefusalBox()

        self.patient_box = QGroupBox(self.tr("Patient"))
        self.name_label = plain_label()
        self.name_label.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.birth_label = plain_label()
        self.sex_label = plain_label()
        self.ins_label = plain_label()
        self.ins_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton(self.tr("Ouvrir le dossier"))
        form = QFormLayout()
        form.addRow(self.tr("Nom :"), self.name_label)
        form.addRow(self.tr("Né(e) le :"), self.birth_label)
        form.addRow(self.tr("Sexe :"), self.sex_label)
        form.addRow(self.tr("INS :"), self.ins_label)
        box_layout = QVBoxLayout(self.patient_box)
        box_layout.addLayout(form)
        box_layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignRight)
        self.patient_box.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(field_row)
        layout.addWidget(self.ins_message)
        layout.addWidget(self.status_message)
        layout.addWidget(self.refusal_box)
        layout.addWidget(self.patient_box)
        layout.addStretch(1)

        self.ins_edit.textChanged.connect(self._check_ins)
        self.ins_edit.textEdited.connect(self._edited)
        self.ins_edit.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.open_button.clicked.connect(self.open_dossier)
        self.cancel_button.clicked.connect(self.cancel)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self.cancel)
        self._check_ins()

    # -- public API ----------------------------------------------------------------------------
    @property
    def patient(self) -> PatientRecord | None:
        """The patient found, if any."""
        return self._patient

    @property
    def busy(self) -> bool:
        """Whether a search or an opening is running."""
        return self._busy != _Busy.IDLE

    def focus_search(self) -> None:
        """Put the keyboard focus in the INS field, its text selected."""
        self.ins_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        self.ins_edit.selectAll()

    def clear(self) -> None:
        """Forget every patient data: cancel the request, close dialogs, empty the fields."""
        self.cancel()
        if self.active_dialog is not None:
            self.active_dialog.reject()
            self.active_dialog = None
        self._show_patient(None)
        self.ins_edit.clear()
        self.status_message.clear()
        self.refusal_box.clear()
        self._check_ins()

    def cancel(self) -> None:
        """Cancel the running search or opening (Esc)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def search(self) -> None:
        """Look up the typed INS (does nothing while it is invalid or a request runs)."""
        if self.busy or check_nir(self.ins_edit.text()) != NirCheck.VALID:
            return
        self._task = spawn(self._search(normalize_nir(self.ins_edit.text())))

    def open_dossier(self) -> None:
        """Ask the access mode, then open the found patient's record."""
        if self.busy or self._patient is None:
            return
        self._task = spawn(self._open(self._patient))

    # -- INS as it is typed ----------------------------------------------------------------------
    def _check_ins(self) -> None:
        text = self.ins_edit.text()
        nir = normalize_nir(text)
        check = check_nir(text)
        match check:
            case NirCheck.INCOMPLETE:
                message = (
                    ""
                    if not nir
                    else self.tr("{count} caractère(s) sur 15 (clé comprise).").format(
                        count=len(nir)
                    )
                )
                style = _HINT_STYLE
            case NirCheck.TOO_LONG:
                message = self.tr(
                    "Le NIR compte 15 caractères clé comprise : {count} saisis."
                ).format(count=len(nir))
                style = _ERROR_STYLE
            case NirCheck.SHAPE:
                message = self.tr(
                    "Ce NIR n'a pas la forme attendue (sexe, année, mois, département, "
                    "commune, rang, clé)."
                )
                style = _ERROR_STYLE
            case NirCheck.KEY:
                message = self.tr("La clé de contrôle est fausse : vérifiez la saisie du NIR.")
                style = _ERROR_STYLE
            case NirCheck.VALID:
                message = self.tr("NIR valide.")
                style = _OK_STYLE
        self.ins_message.setText(message)
        self.ins_message.setStyleSheet(style)
        invalid = check in (NirCheck.TOO_LONG, NirCheck.SHAPE, NirCheck.KEY)
        self.ins_edit.setProperty("invalid", invalid)
        self.ins_edit.setStyleSheet("QLineEdit { border: 1px solid #a11d1d; }" if invalid else "")
        self._update_controls()

    def _edited(self) -> None:
        # What is shown must match what is typed: a patient found for another INS goes away.
        if self._patient is not None and normalize_nir(self.ins_edit.text()) != (
            self._patient.ins.value
        ):
            self._show_patient(None)
        self._status("")
        self.refusal_box.clear()

    # -- running requests ------------------------------------------------------------------------
    def _set_busy(self, busy: _Busy, message: str = "") -> None:
        self._busy = busy
        self.progress.setVisible(busy != _Busy.IDLE)
        self.cancel_button.setVisible(busy != _Busy.IDLE)
        if message:
            self._status(message)
        self._update_controls()

    def _update_controls(self) -> None:
        idle = self._busy == _Busy.IDLE
        self.ins_edit.setReadOnly(not idle)
        self.search_button.setEnabled(idle and check_nir(self.ins_edit.text()) == NirCheck.VALID)
        self.open_button.setEnabled(idle and self._patient is not None)

    def _status(self, message: str, *, error: bool = False) -> None:
        self.status_message.setText(message)
        self.status_message.setStyleSheet(_ERROR_STYLE if error else "")

    def _show_patient(self, patient: PatientRecord | None) -> None:
        self._patient = patient
        if patient is None:
            for label in (self.name_label, self.birth_label, self.sex_label, self.ins_label):
                label.clear()
            self.patient_box.hide()
        else:
            self.name_label.setText(patient.display_name)
            self.birth_label.setText(
                patient.birth_date.strftime("%d/%m/%Y")
                if patient.birth_date is not None
                else self.tr("inconnue")
            )
            self.sex_label.setText(self.sex_text(patient.gender))
            self.ins_label.setText(patient.ins.value)
            self.patient_box.show()
        self._update_controls()

    def sex_text(self, gender: str) -> str:
        """The French label of a FHIR administrative gender."""
        match gender:
            case "female":
                return self.tr("Féminin")
            case "male":
                return self.tr("Masculin")
            case "other":
                return self.tr("Autre")
            case _:
                return self.tr("Inconnu")

    async def _search(self, nir: str) -> None:
        self.refusal_box.clear()
        self._show_patient(None)
        self._set_busy(_Busy.SEARCHING, self.tr("Recherche du patient…"))
        try:
            patient = await self._service.find_patient(nir)
        except asyncio.CancelledError:
            self._status(self.tr("Recherche annulée."))
            raise
        except PatientNotFoundError:
            self._status(self.tr("Aucun DMP ne correspond à cet INS."), error=True)
        except InvalidINSError as exc:  # the check above should have caught it
            self._status(str(exc), error=True)
        except ConsoleError as exc:
            self._status(
                self.tr("Recherche impossible : {reason}").format(reason=str(exc)), error=True
            )
        else:
            self._status("")
            self._show_patient(patient)
            self.open_button.setFocus(Qt.FocusReason.OtherFocusReason)
        finally:
            self._set_busy(_Busy.IDLE)

    async def _open(self, patient: PatientRecord) -> None:
        self._status("")
        self.refusal_box.clear()
        dialog = AccessModeDialog(patient, self, time_box_minutes=self._bris_de_glace_minutes)
        request = await self._await_dialog(dialog, dialog.request)
        if request is None:
            return
        self._set_busy(_Busy.OPENING, self.tr("Ouverture du dossier…"))
        try:
            dossier = await self._open_with_consent(patient, request)
        except asyncio.CancelledError:
            self._status(self.tr("Ouverture annulée."))
            raise
        except AccessRefusedError as exc:
            self._status(
                self.tr("Accès refusé par le DMP : {reason}").format(reason=str(exc)), error=True
            )
            self.refusal_box.show_refusal(exc.reason, str(exc))
        except ConsoleError as exc:
            self._status(
                self.tr("Ouverture impossible : {reason}").format(reason=str(exc)), error=True
            )
        else:
            if dossier is None:
                self._status(
                    self.tr("Dossier non ouvert : le patient n'a pas donné son consentement.")
                )
            else:
                self._status("")
                self.dossierOpened.emit(dossier)
        finally:
            self._set_busy(_Busy.IDLE)

    async def _open_with_consent(
        self, patient: PatientRecord, request: AccessRequest
    ) -> OpenDossier | None:
        """Open in ``request``'s mode; on ``no_consent`` ask the consent and retry once.

        Returns ``None`` when the patient does not consent.
        """
        try:
            return await self._service.open(patient, request)
        except AccessRefusedError as exc:
            if request.mode != AccessMode.NORMAL or exc.reason != Refusal.NO_CONSENT:
                raise
            refusal = str(exc)
        self._set_busy(_Busy.IDLE)
        dialog = ConsentDialog(patient, refusal, self)
        method = await self._await_dialog(dialog, dialog.method)
        if method is None:
            return None
        self._set_busy(_Busy.OPENING, self.tr("Ouverture du dossier avec consentement…"))
        return await self._service.open(
            patient, AccessRequest(AccessMode.NORMAL, consent_method=method)
        )

    async def _await_dialog[T](
        self, dialog: AccessModeDialog | ConsentDialog, result: Callable[[], T]
    ) -> T | None:
        self.active_dialog = dialog
        try:
            code = await ask(dialog)
            return result() if code == AccessModeDialog.DialogCode.Accepted else None
        finally:
            if self.active_dialog is dialog:
                self.active_dialog = None
            dialog.deleteLater()
