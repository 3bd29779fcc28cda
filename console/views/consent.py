"""Choosing the access mode of a record, and asking the patient's consent (normal mode).

Both dialogs are opened with :func:`ask` from a coroutine (never ``exec()``: style.md,
Async): it opens the dialog window-modal and awaits its result. :class:`RefusalBox` shows a
refusal of the DMP plainly (an opposed patient above all: no access in that mode, nothing
was consulted, what to do instead).
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from console.domain.dossier import PatientRecord
from console.domain.emergency import JUSTIFICATION_MAX_CHARS
from console.domain.models import AccessMode
from console.domain.rules import (
    BRIS_DE_GLACE_REASONS,
    CONSENT_METHODS,
    JUSTIFICATION_MIN_CHARS,
    AccessRequest,
    Refusal,
)

__all__ = ["AccessModeDialog", "ConsentDialog", "RefusalBox", "ask", "icon_label"]

WARNING_STYLE = "color: #a11d1d; font-weight: bold;"
_COUNTER_SHORT = "color: #a11d1d;"
_COUNTER_OK = "color: #1f6f2b;"


def icon_label(pixmap: QStyle.StandardPixmap, parent: QWidget | None = None) -> QLabel:
    """A label showing one of the style's standard icons (beside a text: never alone)."""
    label = QLabel(parent)
    style = label.style()
    size = style.pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 4
    label.setPixmap(style.standardIcon(pixmap).pixmap(size, size))
    label.setAlignment(Qt.AlignmentFlag.AlignTop)
    return label


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A word-wrapped label that never interprets ``text`` as rich text."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setText(text)
    return label


async def ask(dialog: QDialog) -> int:
    """Open ``dialog`` window-modal and wait until it is accepted or rejected.

    Returns the dialog's result code (``QDialog.DialogCode``). If the awaiting task is
    cancelled, the dialog is rejected and closed.
    """
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await future
    finally:
        dialog.finished.disconnect(finished)
        if dialog.isVisible():
            dialog.reject()


def _non_blank(text: str) -> int:
    return sum(not c.isspace() for c in text)


class AccessModeDialog(QDialog):
    """Asks how to open a patient's record: normal, bris de glace or centre 15.

    Normal mode is preselected (Enter opens it). Bris de glace needs a coded reason and a
    written justification: OK stays disabled until both are valid, and a warning says the
    patient will be notified. Centre 15 is offered to everyone: only the server knows who is
    a regulator, and its refusal is shown by the caller.

    Signals:
        validityChanged(bool): whether the current choice can be submitted.
    """

    validityChanged = Signal(bool)

    def __init__(
        self,
        patient: PatientRecord,
        parent: QWidget | None = None,
        *,
        time_box_minutes: int = 60,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Mode d'accès au DMP"))
        self.setMinimumWidth(520)

        intro = plain_label(
            self.tr("Ouvrir le DMP de {patient} :").format(patient=patient.display_name)
        )
        self.normal_radio = QRadioButton(self.tr("Accès normal (patient suivi ou consentant)"))
        self.bris_radio = QRadioButton(self.tr("Bris de glace (situation d'urgence)"))
        self.centre15_radio = QRadioButton(self.tr("Centre 15 (médecin régulateur du SAMU)"))
        self.normal_radio.setChecked(True)
        self._modes = QButtonGroup(self)
        for button in (self.normal_radio, self.bris_radio, self.centre15_radio):
            self._modes.addButton(button)

        self.reason_combo = QComboBox()
        self.reason_combo.setAccessibleName(self.tr("Motif du bris de glace"))
        self.reason_combo.addItem(self.tr("— Choisissez un motif —"), None)
        for code, label in BRIS_DE_GLACE_REASONS.items():
            self.reason_combo.addItem(label, code)
            self.reason_combo.setItemData(
                self.reason_combo.count() - 1,
                self.tr("{label} (code {code})").format(label=label, code=code),
                Qt.ItemDataRole.ToolTipRole,
            )
        self.reason_description = plain_label()
        self.reason_description.setObjectName("reasonDescription")
        self.justification_edit = QPlainTextEdit()
        self.justification_edit.setAccessibleName(self.tr("Justification du bris de glace"))
        self.justification_edit.setPlaceholderText(
            self.tr("Décrivez la situation qui justifie l'accès (au moins {n} caractères).").format(
                n=JUSTIFICATION_MIN_CHARS
            )
        )
        self.justification_edit.setTabChangesFocus(True)
        self.justification_edit.setMinimumHeight(70)
        self.justification_edit.setMaximumHeight(140)
        self.justification_counter = plain_label()
        self.justification_counter.setObjectName("justificationCounter")
        self.bris_warning = plain_label(
            self.tr(
                "Le patient sera informé de cet accès en bris de glace. L'accès est limité à "
                "{minutes} minutes, chaque consultation est tracée et votre motif est conservé ; "
                "une attestation vous est remise à la fin."
            ).format(minutes=time_box_minutes)
        )
        warning_row = QHBoxLayout()
        warning_row.addWidget(icon_label(QStyle.StandardPixmap.SP_MessageBoxWarning))
        warning_row.addWidget(self.bris_warning, 1)
        self.bris_hint = plain_label()
        self.bris_box = QFrame()
        self.bris_box.setFrameShape(QFrame.Shape.StyledPanel)
        bris_form = QFormLayout(self.bris_box)
        bris_form.addRow(self.tr("Motif :"), self.reason_combo)
        bris_form.addRow("", self.reason_description)
        bris_form.addRow(self.tr("Justification :"), self.justification_edit)
        bris_form.addRow("", self.justification_counter)
        bris_form.addRow(warning_row)
        bris_form.addRow(self.bris_hint)

        self.centre15_note = plain_label(
            self.tr(
                "Réservé aux médecins régulateurs d'un centre 15 : le DMP refuse cet accès "
                "aux autres professionnels. Le patient sera informé de cet accès."
            )
        )

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Ouvrir le dossier"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Annuler"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        # Word-wrapped labels: never let the dialog be smaller than its contents need.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addWidget(intro)
        layout.addWidget(self.normal_radio)
        layout.addWidget(self.bris_radio)
        layout.addWidget(self.bris_box)
        layout.addWidget(self.centre15_radio)
        layout.addWidget(self.centre15_note)
        layout.addStretch(1)
        layout.addWidget(self.buttons)

        self._modes.buttonToggled.connect(self._update)
        self.reason_combo.currentIndexChanged.connect(self._update)
        self.justification_edit.textChanged.connect(self._justification_changed)
        self._update()

    @property
    def mode(self) -> AccessMode:
        """The mode currently chosen."""
        if self.bris_radio.isChecked():
            return AccessMode.BRIS_DE_GLACE
        if self.centre15_radio.isChecked():
            return AccessMode.CENTRE_15
        return AccessMode.NORMAL

    def is_valid(self) -> bool:
        """Whether the choice may be submitted (bris de glace: reason and justification)."""
        if self.mode != AccessMode.BRIS_DE_GLACE:
            return True
        return (
            self.reason_combo.currentData() is not None
            and _non_blank(self.justification_edit.toPlainText()) >= JUSTIFICATION_MIN_CHARS
        )

    def request(self) -> AccessRequest:
        """The :class:`AccessRequest` chosen (meaningful once accepted)."""
        if self.mode == AccessMode.BRIS_DE_GLACE:
            return AccessRequest(
                AccessMode.BRIS_DE_GLACE,
                reason_code=self.reason_combo.currentData(),
                justification=self.justification_edit.toPlainText().strip(),
            )
        return AccessRequest(self.mode)

    def accept(self) -> None:
        if self.is_valid():  # Enter must not bypass the disabled OK button
            super().accept()

    def _justification_changed(self) -> None:
        text = self.justification_edit.toPlainText()
        if len(text) > JUSTIFICATION_MAX_CHARS:  # typed or pasted beyond: cut, keep the cursor
            cursor = self.justification_edit.textCursor()
            position = min(cursor.position(), JUSTIFICATION_MAX_CHARS)
            self.justification_edit.setPlainText(text[:JUSTIFICATION_MAX_CHARS])
            cursor = self.justification_edit.textCursor()
            cursor.setPosition(position)
            self.justification_edit.setTextCursor(cursor)
            return  # setPlainText signalled again
        self._update()

    def counter_text(self) -> str:
        """The justification's character counter (what the server counts: no spaces)."""
        count = _non_blank(self.justification_edit.toPlainText())
        if count < JUSTIFICATION_MIN_CHARS:
            return self.tr("{count} caractère(s) hors espaces sur {n} au minimum").format(
                count=count, n=JUSTIFICATION_MIN_CHARS
            )
        return self.tr(
            "{count} caractères hors espaces (minimum {n} atteint ; {max} au plus)"
        ).format(count=count, n=JUSTIFICATION_MIN_CHARS, max=JUSTIFICATION_MAX_CHARS)

    def _update(self) -> None:
        bris = self.mode == AccessMode.BRIS_DE_GLACE
        reason = self.reason_combo.currentData()
        self.reason_description.setText(
            BRIS_DE_GLACE_REASONS[reason] if isinstance(reason, str) else ""
        )
        count = _non_blank(self.justification_edit.toPlainText())
        self.justification_counter.setText(self.counter_text())
        # Red and green only while bris de glace is chosen: greyed out with its box otherwise
        # (a red warning under "Accès normal" alarmed for nothing).
        self.justification_counter.setStyleSheet(
            "" if not bris else _COUNTER_OK if count >= JUSTIFICATION_MIN_CHARS else _COUNTER_SHORT
        )
        self.bris_warning.setStyleSheet(WARNING_STYLE if bris else "")
        self.bris_box.setEnabled(bris)
        self.centre15_note.setEnabled(self.mode == AccessMode.CENTRE_15)
        valid = self.is_valid()
        missing = []
        if bris and self.reason_combo.currentData() is None:
            missing.append(self.tr("un motif"))
        count = _non_blank(self.justification_edit.toPlainText())
        if bris and count < JUSTIFICATION_MIN_CHARS:
            missing.append(
                self.tr("une justification ({count}/{n} caractères)").format(
                    count=count, n=JUSTIFICATION_MIN_CHARS
                )
            )
        self.bris_hint.setText(
            self.tr("Il manque : {what}.").format(what=", ".join(missing)) if missing else ""
        )
        self.ok_button.setEnabled(valid)
        self.ok_button.setText(
            self.tr("Ouvrir en bris de glace") if bris else self.tr("Ouvrir le dossier")
        )
        self.validityChanged.emit(valid)


class ConsentDialog(QDialog):
    """The normal mode's consent question, for a professional outside the care team.

    Asked when the DMP answers 403 ``no_consent``: "Le patient consent-il à ce que vous
    accédiez à son DMP ?", with how the consent was obtained (``CONSENT_METHODS``). Accepted
    means yes; :meth:`method` is then the chosen method code.

    Signals:
        None of its own (``accepted`` / ``rejected`` / ``finished`` of QDialog).
    """

    def __init__(
        self, patient: PatientRecord, server_message: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Consentement du patient"))
        self.setMinimumWidth(480)
        explanation = plain_label(
            server_message
            or self.tr("Vous ne faites pas partie de l'équipe de soins de ce patient.")
        )
        question = plain_label(self.tr("Le patient consent-il à ce que vous accédiez à son DMP ?"))
        question.setStyleSheet("font-weight: bold;")
        who = plain_label(patient.display_name)

        self.method_combo = QComboBox()
        for code, label in CONSENT_METHODS.items():
            self.method_combo.addItem(label, code)
        form = QFormLayout()
        form.addRow(self.tr("Recueilli par :"), self.method_combo)

        self.buttons = QDialogButtonBox()
        self.yes_button = self.buttons.addButton(
            self.tr("Oui, le patient consent"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.no_button = self.buttons.addButton(
            self.tr("Non"), QDialogButtonBox.ButtonRole.RejectRole
        )
        # The safe answer is the default: a reflex Enter must not record a consent.
        self.yes_button.setAutoDefault(False)
        self.no_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(explanation)
        layout.addWidget(who)
        layout.addWidget(question)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def method(self) -> str:
        """The consent method code chosen (a key of ``CONSENT_METHODS``)."""
        return str(self.method_combo.currentData())


class RefusalBox(QFrame):
    """A refusal of the DMP, shown plainly: icon, what was refused, the server's words, and
    what to do now. An opposed patient gets her own words: nothing was opened, her choice
    stands even in an emergency.

    Signals:
        None of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("refusalBox")
        self.setStyleSheet(
            "#refusalBox { background: #fdecea; border: 1px solid #a11d1d; border-radius: 4px; }"
        )
        self.reason: str | None = None
        """The stable reason code shown (``opposed_bris_de_glace``...), None when hidden."""
        self.title_label = plain_label()
        self.title_label.setObjectName("refusalTitle")
        self.title_label.setStyleSheet("color: #a11d1d; font-weight: bold; font-size: 11pt;")
        self.message_label = plain_label()
        self.advice_label = plain_label()
        texts = QVBoxLayout()
        texts.addWidget(self.title_label)
        texts.addWidget(self.message_label)
        texts.addWidget(self.advice_label)
        layout = QHBoxLayout(self)
        layout.addWidget(icon_label(QStyle.StandardPixmap.SP_MessageBoxCritical), 0)
        layout.addLayout(texts, 1)
        self.hide()

    def show_refusal(self, reason: str | None, server_message: str = "") -> None:
        """Show the refusal `reason` (a rules code) with the server's message (plain text)."""
        self.reason = reason
        self.title_label.setText(self.title_for(reason))
        self.message_label.setText(server_message)
        self.message_label.setVisible(bool(server_message))
        advice = self.advice_for(reason)
        self.advice_label.setText(advice)
        self.advice_label.setVisible(bool(advice))
        self.setAccessibleName(self.title_label.text())
        self.setAccessibleDescription(f"{server_message} {advice}".strip())
        self.show()

    def clear(self) -> None:
        self.reason = None
        for label in (self.title_label, self.message_label, self.advice_label):
            label.clear()
        self.hide()

    def title_for(self, reason: str | None) -> str:
        match reason:
            case Refusal.OPPOSED_BRIS_DE_GLACE:
                return self.tr("Le patient s'est opposé à l'accès à son DMP en bris de glace")
            case Refusal.OPPOSED_CENTRE_15:
                return self.tr(
                    "Le patient s'est opposé à l'accès à son DMP par le centre de régulation"
                )
            case Refusal.BLOCKED:
                return self.tr("Le patient a bloqué votre accès à son DMP")
            case Refusal.NOT_REGULATOR:
                return self.tr("Le mode centre 15 est réservé aux médecins régulateurs")
            case Refusal.NO_REASON | Refusal.NO_JUSTIFICATION:
                return self.tr("Bris de glace refusé : motif ou justification manquant")
            case Refusal.SECRETARY_NO_READ:
                return self.tr("Un secrétariat médical ne consulte pas le DMP")
            case _:
                return self.tr("Accès refusé par le DMP")

    def advice_for(self, reason: str | None) -> str:
        match reason:
            case Refusal.OPPOSED_BRIS_DE_GLACE:
                return self.tr(
                    "Aucun accès n'a été ouvert et rien n'a été consulté. L'opposition du "
                    "patient s'impose, même en urgence : prenez-le en charge sans son DMP "
                    "(proches, médecin traitant, documents qu'il porte sur lui)."
                )
            case Refusal.OPPOSED_CENTRE_15:
                return self.tr(
                    "Aucun accès n'a été ouvert et rien n'a été consulté. Poursuivez la "
                    "régulation sans le DMP."
                )
            case Refusal.BLOCKED:
                return self.tr(
                    "Ce choix du patient vaut dans tous les modes d'accès, bris de glace compris. "
                    "Rien n'a été consulté."
                )
            case Refusal.NOT_REGULATOR:
                return self.tr("Choisissez un autre mode d'accès.")
            case Refusal.NO_REASON | Refusal.NO_JUSTIFICATION:
                return self.tr(
                    "Choisissez un motif et écrivez une justification d'au moins {n} caractères."
                ).format(n=JUSTIFICATION_MIN_CHARS)
            case _:
                return ""
