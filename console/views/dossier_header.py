"""The header of an open record: the patient (name, birth date and age, sex, INS), her
médecin traitant, the access mode in force, and the notices of the rules in force.

It says only what the DMP tells this professional (see :mod:`console.domain.profile`): never
whether the patient opposed bris de glace or centre 15, nor whom she blocked. The identity
shows at once (from the opening); the médecin traitant follows when the Patient read with the
record's token answers. Everything from the network is plain text.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.models import AccessMode
from console.domain.profile import HeaderNotice, age_on
from console.services.dossier import OpenDossier
from console.services.dossier_header import DossierHeaderInfo, DossierHeaderService
from console.services.offline import is_offline_grant
from console.views.tasks import spawn

__all__ = ["DossierHeader"]

_MODE_STYLES = {
    AccessMode.NORMAL: "background: #e3efe5; color: #1f4f2b; border-radius: 8px;",
    AccessMode.BRIS_DE_GLACE: (
        "background: #a11d1d; color: white; font-weight: bold; border-radius: 8px;"
    ),
    AccessMode.CENTRE_15: (
        "background: #b35c00; color: white; font-weight: bold; border-radius: 8px;"
    ),
}
_OFFLINE_STYLE = "background: #e8e8e8; color: #333333; border-radius: 8px;"


def mode_badge_text(mode: AccessMode, *, offline: bool = False) -> str:
    """The access mode badge's text of an open record; one opened from the cache says so
    (read-only) instead of its mode."""
    if offline:
        return QCoreApplication.translate("DossierHeader", "Hors ligne (lecture seule)")
    match mode:
        case AccessMode.NORMAL:
            return QCoreApplication.translate("DossierHeader", "Accès normal")
        case AccessMode.BRIS_DE_GLACE:
            return QCoreApplication.translate("DossierHeader", "BRIS DE GLACE")
        case AccessMode.CENTRE_15:
            return QCoreApplication.translate("DossierHeader", "Centre 15 (régulation)")


_NOTICE_STYLE = "color: #4a4a4a;"
_ERROR_STYLE = "color: #a11d1d;"


def _plain_label(text: str = "", *, wrap: bool = False) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setText(text)
    return label


class DossierHeader(QWidget):
    """The open record's header.

    Args:
        service: Builds the header (the Patient read with the record's token).
        today: The local date (tests fix it); ``date.today`` by default.

    Signals:
        loaded(): the full header (médecin traitant included) is shown.
    """

    loaded = Signal()

    def __init__(
        self,
        service: DossierHeaderService,
        parent: QWidget | None = None,
        *,
        today: date | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._today = today
        self._dossier: OpenDossier | None = None
        self._task: asyncio.Task[None] | None = None
        self._info: DossierHeaderInfo | None = None

        self.name_label = _plain_label()
        self.name_label.setObjectName("patientName")
        self.name_label.setStyleSheet("font-size: 14pt; font-weight: bold;")
        self.birth_label = _plain_label()
        self.sex_label = _plain_label()
        self.ins_label = _plain_label()
        self.ins_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.gp_label = _plain_label()
        self.gp_label.setObjectName("medecinTraitant")
        self.mode_badge = _plain_label()
        self.mode_badge.setObjectName("modeBadge")
        self.mode_badge.setContentsMargins(8, 2, 8, 2)
        self.mode_note = _plain_label()
        self.mode_note.setObjectName("modeNote")
        self.notices_label = _plain_label(wrap=True)
        self.notices_label.setObjectName("notices")
        self.notices_label.setStyleSheet(_NOTICE_STYLE)
        self.error_label = _plain_label(wrap=True)
        self.error_label.setStyleSheet(_ERROR_STYLE)

        identity = QVBoxLayout()
        identity.setSpacing(2)
        identity.addWidget(self.name_label)
        line = QHBoxLayout()
        line.setSpacing(16)
        for label in (self.birth_label, self.sex_label, self.ins_label):
            line.addWidget(label)
        line.addStretch(1)
        identity.addLayout(line)
        identity.addWidget(self.gp_label)
        identity.addWidget(self.notices_label)
        identity.addWidget(self.error_label)
        modes = QVBoxLayout()
        modes.addWidget(self.mode_badge, 0, Qt.AlignmentFlag.AlignRight)
        modes.addWidget(self.mode_note, 0, Qt.AlignmentFlag.AlignRight)
        modes.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(identity, 1)
        layout.addLayout(modes)
        self.clear()

    # -- public API ----------------------------------------------------------------------------
    @property
    def info(self) -> DossierHeaderInfo | None:
        """What is shown."""
        return self._info

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def show_dossier(self, dossier: OpenDossier) -> None:
        """Show ``dossier``'s header: the identity at once, the médecin traitant when read."""
        self.clear()
        self._dossier = dossier
        self.set_info(self._service.initial(dossier))
        self.gp_label.setText(self.tr("Médecin traitant : recherche…"))
        self._task = spawn(self._load(dossier))

    def clear(self) -> None:
        """Forget the patient."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._dossier = None
        self._info = None
        for label in (
            self.name_label,
            self.birth_label,
            self.sex_label,
            self.ins_label,
            self.gp_label,
            self.mode_badge,
            self.mode_note,
            self.notices_label,
            self.error_label,
        ):
            label.clear()
        self.mode_badge.setStyleSheet("")

    def set_info(self, info: DossierHeaderInfo) -> None:
        """Show ``info``."""
        self._info = info
        patient = info.summary.patient
        self.name_label.setText(patient.display_name)
        if patient.birth_date is not None:
            today = self._today or date.today()
            self.birth_label.setText(
                self.tr("Né(e) le %1 (%2 ans)")
                .replace("%1", patient.birth_date.strftime("%d/%m/%Y"))
                .replace("%2", str(age_on(patient.birth_date, today)))
            )
        else:
            self.birth_label.setText(self.tr("Date de naissance non renseignée"))
        self.sex_label.setText(self._sex_text(patient.gender))
        self.ins_label.setText(self.tr("INS : %1").replace("%1", patient.ins.value))
        if info.complete:
            gp = info.summary.general_practitioner
            if gp is None:
                self.gp_label.setText(self.tr("Médecin traitant : non renseigné"))
            elif gp.id_nat == info.professional_id:
                self.gp_label.setText(
                    self.tr("Médecin traitant : %1 (vous)").replace("%1", gp.display_name)
                )
            else:
                self.gp_label.setText(
                    self.tr("Médecin traitant : %1").replace("%1", gp.display_name)
                )
        offline = self._dossier is not None and is_offline_grant(self._dossier.grant)
        self.mode_badge.setText(mode_badge_text(info.mode, offline=offline))
        self.mode_badge.setStyleSheet(_OFFLINE_STYLE if offline else _MODE_STYLES[info.mode])
        if offline:
            self.mode_note.setText(self.tr("Documents lus dans le cache chiffré de ce poste"))
        else:
            self.mode_note.setText(self._mode_note(info.mode, info.ends_at))
        self.notices_label.setText("\n".join(self.notice_text(n) for n in info.notices))

    def notice_text(self, notice: HeaderNotice) -> str:
        """The sentence of ``notice``, translated."""
        match notice:
            case HeaderNotice.YOU_ARE_MEDECIN_TRAITANT:
                return self.tr("Vous êtes le médecin traitant déclaré de ce patient.")
            case HeaderNotice.MASKED_VISIBLE_AS_MEDECIN_TRAITANT:
                return self.tr(
                    "Les documents masqués aux professionnels vous sont visibles, en tant que "
                    "médecin traitant."
                )
            case HeaderNotice.MASKED_VISIBLE_IN_BRIS_DE_GLACE:
                return self.tr(
                    "Accès en bris de glace : les documents masqués aux professionnels vous sont "
                    "visibles."
                )
            case HeaderNotice.PATIENT_NOTIFIED_BRIS_DE_GLACE:
                return self.tr(
                    "Le patient est informé de cet accès en bris de glace ; tout ce que vous "
                    "consultez est tracé."
                )
            case HeaderNotice.PATIENT_NOTIFIED_CENTRE_15:
                return self.tr("Le patient est informé de cet accès par le centre de régulation.")
            case HeaderNotice.MASKING_KEPT_IN_CENTRE_15:
                return self.tr("En mode centre 15, les documents masqués restent invisibles.")

    # -- work ----------------------------------------------------------------------------------
    async def _load(self, dossier: OpenDossier) -> None:
        try:
            info = await self._service.load(dossier)
        except ConsoleError as exc:
            if self._dossier is dossier:
                self.gp_label.setText(self.tr("Médecin traitant : information indisponible"))
                self.error_label.setText(str(exc))
            return
        if self._dossier is not dossier:
            return
        self.set_info(info)
        self.loaded.emit()

    def _sex_text(self, gender: str) -> str:
        match gender:
            case "female":
                return self.tr("Femme")
            case "male":
                return self.tr("Homme")
            case _:
                return self.tr("Sexe non précisé")

    def _mode_note(self, mode: AccessMode, ends_at: datetime) -> str:
        local = to_local(ends_at)
        when = local.strftime("%H:%M")
        if local.date() != (self._today or date.today()):
            when = local.strftime("%d/%m/%Y %H:%M")
        if mode is AccessMode.NORMAL:
            return self.tr("Session d'accès jusqu'à %1").replace("%1", when)
        return self.tr("Accès limité jusqu'à %1").replace("%1", when)
