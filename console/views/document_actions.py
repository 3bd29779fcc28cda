"""A document's life, from the dossier table's context menu.

The dossier view builds its menu with::

    actions = document_menu_actions(
        menu, doc, login, deposit_service, patient=dossier.patient, on_changed=refresh
    )
    menu.addActions(actions)

Actions (their ``objectName`` is ``document_<UpdateAction>``): replace by a new version,
delete (entered-in-error), mask or unmask (one or the other, as the document is), make
visible to / invisible to the patient (one or the other). Each one:

1. checks the DMP's rules client-side (``DepositService.check_update``: author only, on a
   current document); a refusal is said at once, plainly, and nothing is sent (the action's
   status tip says it before it is chosen);
2. asks for confirmation, saying what will change and for whom;
3. calls the service; a refusal of the server (403 ``not_author``, 409 ``not_current``...) is
   shown with its reason; a success calls ``on_changed`` with a :class:`DocumentChange`.

Replacing opens :class:`~console.views.deposit_dialog.DepositDialog` in replace mode; its
deposit supersedes the old version on the DMP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from console.domain.dossier import PatientRecord, ProfessionalLogin
from console.domain.errors import AccessRefusedError, ConsoleError
from console.domain.models import DocumentMeta
from console.domain.rules import UpdateAction
from console.services.deposit import DepositOutcome, DepositService
from console.views.consent import ask
from console.views.deposit_dialog import DepositDialog
from console.views.tasks import spawn

__all__ = ["DocumentChange", "document_menu_actions", "run_document_action"]


@dataclass(frozen=True, slots=True)
class DocumentChange:
    """What a context-menu action changed on the DMP.

    Attributes:
        action: The action done.
        before: The document as the table showed it.
        after: The document as the server now has it (mask, unmask, show, hide, delete);
            None for a replacement (``before`` is superseded; the new version is
            ``outcome``'s document).
        outcome: The replacement's deposit outcome (replace only).
    """

    action: UpdateAction
    before: DocumentMeta
    after: DocumentMeta | None = None
    outcome: DepositOutcome | None = None


ChangeListener = Callable[[DocumentChange], None]

_ORDER = (
    UpdateAction.REPLACE,
    UpdateAction.MASK,
    UpdateAction.UNMASK,
    UpdateAction.SHOW_TO_PATIENT,
    UpdateAction.HIDE_FROM_PATIENT,
    UpdateAction.DELETE,
)


def _applicable(doc: DocumentMeta) -> list[UpdateAction]:
    """The actions that make sense for ``doc`` as it is (mask or unmask, show or hide)."""
    skip = {UpdateAction.UNMASK if not doc.masked else UpdateAction.MASK}
    skip.add(
        UpdateAction.HIDE_FROM_PATIENT if doc.invisible_to_patient else UpdateAction.SHOW_TO_PATIENT
    )
    return [a for a in _ORDER if a not in skip]


class DocumentActionTexts(QObject):
    """The translated texts of the actions (``tr`` needs a QObject context)."""

    def label(self, action: UpdateAction) -> str:
        return {
            UpdateAction.REPLACE: self.tr("Remplacer par une nouvelle version…"),
            UpdateAction.MASK: self.tr("Masquer aux professionnels (demande du patient)…"),
            UpdateAction.UNMASK: self.tr("Ne plus masquer aux professionnels…"),
            UpdateAction.SHOW_TO_PATIENT: self.tr(
                "Rendre visible au patient (après la consultation d'annonce)…"
            ),
            UpdateAction.HIDE_FROM_PATIENT: self.tr("Rendre invisible au patient…"),
            UpdateAction.DELETE: self.tr("Supprimer (erreur de saisie)…"),
        }.get(action, action.value)

    def question(self, action: UpdateAction, title: str) -> str:
        return {
            UpdateAction.MASK: self.tr(
                "Masquer « {title} » aux autres professionnels de santé ?\n\nÀ la demande du "
                "patient, le document ne sera plus visible que par vous, son médecin traitant "
                "et en cas d'accès en bris de glace."
            ),
            UpdateAction.UNMASK: self.tr(
                "Rendre « {title} » de nouveau visible aux professionnels de santé autorisés ?"
            ),
            UpdateAction.SHOW_TO_PATIENT: self.tr(
                "Rendre « {title} » visible au patient ?\n\nÀ faire après la consultation "
                "d'annonce : le patient pourra le lire dans Mon espace santé."
            ),
            UpdateAction.HIDE_FROM_PATIENT: self.tr(
                "Rendre « {title} » invisible au patient (jusqu'à la consultation d'annonce) ?"
            ),
            UpdateAction.DELETE: self.tr(
                "Supprimer « {title} » du DMP (erreur de saisie) ?\n\nLe document ne sera plus "
                "listé pour personne. Cette action est définitive."
            ),
        }.get(action, "").format(title=title)

    def confirm(self, action: UpdateAction) -> str:
        return {
            UpdateAction.MASK: self.tr("Masquer"),
            UpdateAction.UNMASK: self.tr("Ne plus masquer"),
            UpdateAction.SHOW_TO_PATIENT: self.tr("Rendre visible"),
            UpdateAction.HIDE_FROM_PATIENT: self.tr("Rendre invisible"),
            UpdateAction.DELETE: self.tr("Supprimer"),
        }.get(action, self.tr("Confirmer"))

    def refused_title(self) -> str:
        return self.tr("Action refusée")

    def failed_title(self) -> str:
        return self.tr("Action impossible")

    def done(self, action: UpdateAction) -> str:
        return {
            UpdateAction.MASK: self.tr("Document masqué aux professionnels."),
            UpdateAction.UNMASK: self.tr("Document de nouveau visible aux professionnels."),
            UpdateAction.SHOW_TO_PATIENT: self.tr("Document visible au patient."),
            UpdateAction.HIDE_FROM_PATIENT: self.tr("Document invisible au patient."),
            UpdateAction.DELETE: self.tr("Document supprimé du DMP."),
        }.get(action, "")


def _box(
    parent: QWidget, icon: QMessageBox.Icon, title: str, text: str, *, question: bool = False
) -> QMessageBox:
    buttons = (
        QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel
        if question
        else QMessageBox.StandardButton.Ok
    )
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # titles come from the network
    if question:
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box


async def run_document_action(
    parent: QWidget,
    doc: DocumentMeta,
    login: ProfessionalLogin,
    service: DepositService,
    action: UpdateAction,
    *,
    patient: PatientRecord | None = None,
    on_changed: ChangeListener | None = None,
) -> DocumentChange | None:
    """Check, confirm and do ``action`` on ``doc``; the change, or None (refused, cancelled,
    failed: the user was told)."""
    texts = DocumentActionTexts(parent)
    decision = service.check_update(login, doc, action)
    if not decision:
        await ask(_box(parent, QMessageBox.Icon.Warning, texts.refused_title(), decision.message))
        return None
    if action is UpdateAction.REPLACE:
        dialog = DepositDialog(service, login, patient=patient, replaces=doc, parent=parent)
        await ask(dialog)
        if dialog.outcome is None:
            return None
        change = DocumentChange(action, doc, None, dialog.outcome)
    else:
        box = _box(
            parent,
            QMessageBox.Icon.Question,
            texts.label(action).rstrip("…"),
            texts.question(action, doc.title),
            question=True,
        )
        ok = box.button(QMessageBox.StandardButton.Ok)
        ok.setText(texts.confirm(action))
        await ask(box)
        if box.clickedButton() is not ok:
            return None
        try:
            after = await service.update(login, doc, action)
        except AccessRefusedError as exc:
            await ask(_box(parent, QMessageBox.Icon.Warning, texts.refused_title(), str(exc)))
            return None
        except ConsoleError as exc:
            await ask(_box(parent, QMessageBox.Icon.Critical, texts.failed_title(), str(exc)))
            return None
        change = DocumentChange(action, doc, after)
    if on_changed is not None:
        on_changed(change)
    return change


def document_menu_actions(
    parent: QWidget,
    doc: DocumentMeta,
    login: ProfessionalLogin,
    deposit_service: DepositService,
    *,
    patient: PatientRecord | None = None,
    on_changed: ChangeListener | None = None,
) -> list[QAction]:
    """The context-menu actions of ``doc`` for the logged professional.

    Args:
        parent: Owner of the actions and of their dialogs (the menu or the dossier view).
        doc: The document (as the table shows it: its labels decide mask or unmask...).
        login: The logged professional.
        deposit_service: Does the work (``console.services.deposit``).
        patient: The open record's patient (shown by the replace dialog).
        on_changed: Called after a change succeeded (update the row, or reload).

    Returns:
        The actions, in menu order; each runs its own task (confirmation, request). An
        action the rules refuse to this professional stays enabled and says why when
        chosen (its status tip says it too).
    """
    texts = DocumentActionTexts(parent)
    actions = []
    for update in _applicable(doc):
        action = QAction(texts.label(update), parent)
        action.setObjectName(f"document_{update.value}")
        action.setData(update.value)
        decision = deposit_service.check_update(login, doc, update)
        if not decision:
            action.setStatusTip(decision.message)
            action.setToolTip(decision.message)

        def trigger(_checked: bool = False, update: UpdateAction = update) -> None:
            task: asyncio.Task[DocumentChange | None] = spawn(
                run_document_action(
                    parent,
                    doc,
                    login,
                    deposit_service,
                    update,
                    patient=patient,
                    on_changed=on_changed,
                )
            )
            parent.setProperty("documentActionRunning", True)
            task.add_done_callback(lambda _t: parent.setProperty("documentActionRunning", False))

        action.triggered.connect(trigger)
        actions.append(action)
    return actions
