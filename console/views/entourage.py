"""The "Entourage et volontés" view of an open record (read only): the person of trust, the
relatives to contact with their phone numbers, and the advance directives when the patient
recorded them; "Non renseigné" otherwise, and "Non accessible à votre profession" for a part
the rules close to the professional (:data:`~console.domain.rules.ENTOURAGE_RULES`).

Everything the patient wrote (names, places) is shown as plain text.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.profile import (
    AdvanceDirectives,
    ContactRole,
    Entourage,
    Phone,
    RelatedContact,
    SectionState,
)
from console.services.dossier import OpenDossier
from console.services.entourage import EntourageService
from console.views.tasks import spawn

__all__ = ["EntourageView"]

_ERROR_STYLE = "color: #a11d1d;"
_MUTED_STYLE = "color: palette(mid); font-style: italic;"
SECTIONS = ("trusted_person", "contacts", "directives")


def _plain_label(text: str = "") -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setText(text)
    return label


class EntourageView(QWidget):
    """ "Entourage et volontés" of the open record.

    Args:
        service: Loads the section for the professional logged in.

    Signals:
        loaded(): the section was fetched and shown.
    """

    loaded = Signal()

    def __init__(self, service: EntourageService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._service = service
        self._dossier: OpenDossier | None = None
        self._task: asyncio.Task[None] | None = None
        self._entourage: Entourage | None = None

        title = QLabel(self.tr("Entourage et volontés"))
        title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.refresh_button = QPushButton(self.tr("Actualiser"))
        self.refresh_button.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.refresh_button)

        self.status_label = _plain_label()
        self.error_label = _plain_label()
        self.error_label.setStyleSheet(_ERROR_STYLE)
        self.boxes: dict[str, QGroupBox] = {
            "trusted_person": QGroupBox(self.tr("Personne de confiance")),
            "contacts": QGroupBox(self.tr("Personnes à prévenir")),
            "directives": QGroupBox(self.tr("Directives anticipées")),
        }
        self._lines: dict[str, list[QLabel]] = {name: [] for name in SECTIONS}
        self._layouts: dict[str, QVBoxLayout] = {}
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        for name in SECTIONS:
            box = self.boxes[name]
            box.setObjectName(name)
            self._layouts[name] = QVBoxLayout(box)
            layout.addWidget(box)
        layout.addStretch(1)
        self.refresh_button.setEnabled(False)

    # -- public API ----------------------------------------------------------------------------
    @property
    def entourage(self) -> Entourage | None:
        """What is shown (None before loading)."""
        return self._entourage

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def show_dossier(self, dossier: OpenDossier) -> None:
        """Show ``dossier``'s "Entourage et volontés" (fetched now)."""
        self.clear()
        self._dossier = dossier
        self.refresh_button.setEnabled(True)
        self.refresh()

    def clear(self) -> None:
        """Forget the patient."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._dossier = None
        self._entourage = None
        for name in SECTIONS:
            self._set_lines(name, [])
        self.status_label.clear()
        self.error_label.clear()
        self.refresh_button.setEnabled(False)

    def refresh(self) -> None:
        if self._dossier is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = spawn(self._load(self._dossier))

    def section_lines(self, name: str) -> list[str]:
        """The lines shown in section ``name`` (``trusted_person``, ``contacts``,
        ``directives``)."""
        return [label.text() for label in self._lines[name]]

    def show_entourage(self, entourage: Entourage) -> None:
        """Show ``entourage`` (what :meth:`refresh` does once fetched)."""
        self._entourage = entourage
        self._set_lines("trusted_person", self._trusted_lines(entourage))
        self._set_lines("contacts", self._contact_lines(entourage))
        self._set_lines("directives", self._directive_lines(entourage))

    # -- work ----------------------------------------------------------------------------------
    async def _load(self, dossier: OpenDossier) -> None:
        self.error_label.clear()
        self.status_label.setText(self.tr("Chargement…"))
        try:
            entourage = await self._service.load(dossier)
        except ConsoleError as exc:
            if self._dossier is dossier:
                self.status_label.clear()
                self.error_label.setText(str(exc))
            return
        if self._dossier is not dossier:
            return
        self.status_label.clear()
        self.show_entourage(entourage)
        self.loaded.emit()

    def _set_lines(self, name: str, lines: list[tuple[str, str]]) -> None:
        layout = self._layouts[name]
        for label in self._lines[name]:
            layout.removeWidget(label)
            label.deleteLater()
        self._lines[name] = []
        for text, style in lines:
            label = _plain_label(text)
            if style:
                label.setStyleSheet(style)
            layout.addWidget(label)
            self._lines[name].append(label)

    def _state_line(self, state: SectionState) -> list[tuple[str, str]]:
        if state is SectionState.NOT_ALLOWED:
            return [(self.tr("Non accessible à votre profession"), _MUTED_STYLE)]
        return [(self.tr("Non renseigné"), _MUTED_STYLE)]

    def _phone_text(self, phone: Phone) -> str:
        match phone.use:
            case "mobile":
                kind = self.tr("portable")
            case "home":
                kind = self.tr("domicile")
            case "work":
                kind = self.tr("travail")
            case _:
                kind = ""
        return f"{phone.value} ({kind})" if kind else phone.value

    def _person_text(self, contact: RelatedContact) -> str:
        parts = [contact.display_name]
        if contact.relationship:
            parts.append(contact.relationship)
        phones = [self._phone_text(p) for p in contact.phones]
        parts.append(", ".join(phones) if phones else self.tr("pas de téléphone renseigné"))
        return " — ".join(parts)

    def _trusted_lines(self, entourage: Entourage) -> list[tuple[str, str]]:
        state = entourage.state("trusted_person")
        person = entourage.trusted_person
        if state is not SectionState.SHOWN or person is None:
            return self._state_line(state)
        lines = [(self._person_text(person), "font-weight: bold;")]
        if ContactRole.EMERGENCY_CONTACT in person.roles:
            lines.append((self.tr("Également personne à prévenir."), ""))
        return lines

    def _contact_lines(self, entourage: Entourage) -> list[tuple[str, str]]:
        state = entourage.state("contacts")
        if state is not SectionState.SHOWN:
            return self._state_line(state)
        return [
            (f"{number}. {self._person_text(contact)}", "")
            for number, contact in enumerate(entourage.contacts, start=1)
        ]

    def _directive_lines(self, entourage: Entourage) -> list[tuple[str, str]]:
        state = entourage.state("directives")
        directives = entourage.directives
        if state is not SectionState.SHOWN or directives is None:
            return self._state_line(state)
        return self._directives_text(directives)

    def _directives_text(self, directives: AdvanceDirectives) -> list[tuple[str, str]]:
        lines: list[tuple[str, str]] = []
        if directives.written:
            if directives.written_on is not None:
                text = self.tr("Le patient a rédigé des directives anticipées le %1.").replace(
                    "%1", directives.written_on.strftime("%d/%m/%Y")
                )
            else:
                text = self.tr("Le patient a rédigé des directives anticipées.")
            lines.append((text, "font-weight: bold;"))
            location = directives.location or self.tr("non précisé")
            lines.append((self.tr("Lieu de conservation : %1").replace("%1", location), ""))
        else:
            lines.append(
                (self.tr("Le patient a indiqué ne pas avoir rédigé de directives anticipées."), "")
            )
        if directives.recorded is not None:
            recorded = to_local(directives.recorded).strftime("%d/%m/%Y")
            lines.append(
                (self.tr("Renseigné par le patient le %1.").replace("%1", recorded), _MUTED_STYLE)
            )
        return lines
