"""The bris de glace banner: a red bar with a live countdown, always on screen while it lasts.

"Bris de glace — reste 42:17" and an "Arrêter le bris de glace" button; the patient's name
beside it says which record is open in that mode. Not only color: a warning icon, the words,
and an accessible name and description (updated each minute, not each second, so that a
screen reader is not flooded). While the mode lasts the banner refuses to be hidden.

When the episode ends, the banner turns into a neutral notice saying why and when it ended,
with "Enregistrer l'attestation…" when the attestation was made, and "Fermer".

Wiring (``console.app`` / the main window): one banner above the window's pages (visible on
every page), :meth:`EmergencyBanner.attach` to the :class:`~console.services.emergency.
EmergencyService`; :meth:`EmergencyBanner.clear` when the session locks or ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QWidget,
)

from console.domain.emergency import (
    EmergencyEpisode,
    EndReason,
    format_duration,
    format_remaining,
)
from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.models import AccessMode
from console.services.emergency import (
    ATTESTED_ENDS,
    EmergencyEvent,
    EmergencyService,
    EndedEpisode,
)
from console.views.consent import plain_label
from console.views.tasks import spawn

__all__ = ["EmergencyBanner"]

Clock = Callable[[], datetime]

SOON = timedelta(minutes=5)
"""From this much time left, the banner says the access will end soon."""

_ACTIVE_STYLE = (
    "#emergencyBanner { background: #b3141a; border-bottom: 3px solid #6d0b0f; }"
    " #emergencyBanner QLabel { color: white; }"
    " #emergencyBanner QPushButton { background: white; color: #8c0f14; font-weight: bold;"
    " border: 2px solid #6d0b0f; border-radius: 4px; padding: 4px 10px; }"
    " #emergencyBanner QPushButton:focus { border: 2px solid black; }"
)
_ENDED_STYLE = (
    "#emergencyBanner { background: #fff4d6; border-bottom: 2px solid #d9b24c; }"
    " #emergencyBanner QLabel { color: #3d2e00; }"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EmergencyBanner(QFrame):
    """The banner of an exceptional access in progress (see the module doc).

    Args:
        clock: Aware "now" (tests move it).
        tick_ms: How often the countdown is redrawn.

    Signals:
        stopRequested(): the professional pressed "Arrêter le bris de glace".
        attestationSaved(str): the attestation was written to this path.
    """

    stopRequested = Signal()
    attestationSaved = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, clock: Clock = _utc_now, tick_ms: int = 1000
    ) -> None:
        super().__init__(parent)
        self.setObjectName("emergencyBanner")
        self._clock = clock
        self._episode: EmergencyEpisode | None = None
        self._ended: EndedEpisode | None = None
        self._service: EmergencyService | None = None
        self._announced_minutes: int | None = None
        self._save_task: asyncio.Task[Any] | None = None
        self.file_dialog: QFileDialog | None = None
        """The "save the attestation" dialog while it is open (tests)."""

        self.icon_label = QLabel()
        self.icon_label.setAccessibleName(self.tr("Avertissement"))
        self.title_label = plain_label()
        self.title_label.setWordWrap(False)
        self.title_label.setObjectName("emergencyTitle")
        self.title_label.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.patient_label = plain_label()
        self.patient_label.setWordWrap(False)
        self.detail_label = plain_label()
        self.stop_button = QPushButton(self.tr("Arrêter le bris de glace"))
        self.stop_button.setObjectName("stopEmergency")
        self.stop_button.clicked.connect(self._stop_clicked)
        self.save_button = QPushButton(self.tr("Enregistrer l'attestation…"))
        self.save_button.clicked.connect(self.choose_attestation_path)
        self.dismiss_button = QPushButton(self.tr("Fermer"))
        self.dismiss_button.setToolTip(self.tr("Masquer ce message"))
        self.dismiss_button.clicked.connect(self.clear)

        texts = QHBoxLayout()
        texts.setSpacing(14)
        texts.addWidget(self.title_label)
        texts.addWidget(self.patient_label)
        texts.addWidget(self.detail_label, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.icon_label)
        layout.addLayout(texts, 1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.stop_button)
        layout.addWidget(self.dismiss_button)

        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.refresh)
        self._set_icon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.clear()

    # -- public API ----------------------------------------------------------------------------
    @property
    def episode(self) -> EmergencyEpisode | None:
        """The episode shown (in progress, or just ended)."""
        return self._episode

    @property
    def active(self) -> bool:
        """Whether an episode in progress is shown."""
        return self._episode is not None and self._episode.active

    @property
    def ended(self) -> EndedEpisode | None:
        """The ended episode shown with its attestation, if any."""
        return self._ended

    def attach(self, service: EmergencyService) -> None:
        """Follow `service`'s episodes; the button stops the one in progress."""
        self._service = service
        service.add_listener(self._on_event)
        self.stopRequested.connect(service.stop)
        if service.active is not None:
            self.start(service.active)

    def start(self, episode: EmergencyEpisode) -> None:
        """Show `episode` in progress, with its countdown."""
        self._episode, self._ended = episode, None
        self._announced_minutes = None
        self.setStyleSheet(_ACTIVE_STYLE)
        self._set_icon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        bris = episode.mode is AccessMode.BRIS_DE_GLACE
        self.stop_button.setText(
            self.tr("Arrêter le bris de glace") if bris else self.tr("Terminer l'accès centre 15")
        )
        self.stop_button.setToolTip(
            self.tr("Mettre fin à l'accès d'urgence maintenant (le DMP en est informé)")
        )
        self.patient_label.setText(
            self.tr("Patient : {name}").format(name=episode.patient.display_name)
        )
        self.stop_button.show()
        self.stop_button.setEnabled(True)
        self.save_button.hide()
        self.dismiss_button.hide()
        self.refresh()
        self._timer.start()
        QFrame.setVisible(self, True)

    def finish(self, episode: EmergencyEpisode, ended: EndedEpisode | None = None) -> None:
        """Show that `episode` ended (and offer its attestation once `ended` brings it).

        Ended by a lock, a logout or quitting, the banner simply goes: the views keep nothing
        of the patient then.
        """
        if self._episode is not None and self._episode is not episode:
            return  # another episode is shown (a new one started meanwhile)
        if episode.end_reason not in ATTESTED_ENDS:
            self.clear()
            return
        self._episode, self._ended = episode, ended
        self._timer.stop()
        self.setStyleSheet(_ENDED_STYLE)
        self._set_icon(QStyle.StandardPixmap.SP_MessageBoxInformation)
        self.stop_button.hide()
        self.dismiss_button.show()
        self.save_button.setVisible(ended is not None and ended.attestation is not None)
        self.refresh()
        QFrame.setVisible(self, True)

    def clear(self) -> None:
        """Hide and forget (the session locked or ended, or "Fermer")."""
        self._timer.stop()
        self._episode = self._ended = None
        if self.file_dialog is not None:
            self.file_dialog.reject()
        for label in (self.title_label, self.patient_label, self.detail_label):
            label.clear()
        self.setAccessibleName("")
        self.setAccessibleDescription("")
        QFrame.setVisible(self, False)

    def setVisible(self, visible: bool) -> None:
        # While the mode lasts the banner stays: no other code may hide it.
        if not visible and self.active:
            return
        super().setVisible(visible)

    def countdown_text(self) -> str:
        """``mm:ss`` left in the episode in progress."""
        if self._episode is None:
            return ""
        return format_remaining(self._episode.remaining(self._clock()))

    def refresh(self) -> None:
        """Redraw the texts (the timer calls it every tick)."""
        episode = self._episode
        if episode is None:
            return
        if episode.active:
            self._show_running(episode)
        else:
            self._show_ended(episode)

    # -- attestation ---------------------------------------------------------------------------
    def choose_attestation_path(self) -> None:
        """Ask where to save the attestation (a window-modal file dialog, not exec())."""
        ended = self._ended
        if ended is None or ended.attestation is None:
            return
        started = to_local(ended.episode.started_at)
        dialog = QFileDialog(self, self.tr("Enregistrer l'attestation de bris de glace"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(self.tr("Document PDF (*.pdf)"))
        dialog.setDefaultSuffix("pdf")
        dialog.selectFile(f"attestation-bris-de-glace-{started:%Y%m%d-%H%M}.pdf")
        dialog.fileSelected.connect(self._save_to)
        dialog.finished.connect(self._dialog_closed)
        self.file_dialog = dialog
        dialog.open()

    def _dialog_closed(self, _result: int) -> None:
        dialog, self.file_dialog = self.file_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _save_to(self, path: str) -> None:
        if path:
            self._save_task = spawn(self.save_attestation(Path(path)))

    async def save_attestation(self, path: Path) -> None:
        """Write the attestation shown to `path` (through the service: views do no I/O)."""
        ended, service = self._ended, self._service
        if ended is None or service is None or ended.attestation is None:
            return
        try:
            await service.save_attestation(ended, path)
        except (OSError, ConsoleError, ValueError) as exc:
            self.detail_label.setText(
                self.tr("Attestation non enregistrée : {error}").format(error=str(exc))
            )
            return
        self.detail_label.setText(self.tr("Attestation enregistrée : {path}").format(path=path))
        self.attestationSaved.emit(str(path))

    # -- internals -----------------------------------------------------------------------------
    def _on_event(self, event: EmergencyEvent, episode: EmergencyEpisode) -> None:
        match event:
            case EmergencyEvent.STARTED:
                self.start(episode)
            case EmergencyEvent.ENDING:
                self.finish(episode)
            case EmergencyEvent.ENDED:
                service = self._service
                ended = service.last_ended if service is not None else None
                if ended is not None and ended.episode is episode:
                    self.finish(episode, ended)
            case EmergencyEvent.DOCUMENT:
                self.refresh()
            case EmergencyEvent.CLEARED:
                if self._episode is episode:
                    self.clear()

    def _stop_clicked(self) -> None:
        self.stop_button.setEnabled(False)  # one click is enough; the end follows at once
        self.stopRequested.emit()

    def _set_icon(self, pixmap: QStyle.StandardPixmap) -> None:
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 8
        self.icon_label.setPixmap(self.style().standardIcon(pixmap).pixmap(size, size))

    def mode_name(self, mode: AccessMode) -> str:
        if mode is AccessMode.CENTRE_15:
            return self.tr("Centre 15 (régulation)")
        return self.tr("Bris de glace")

    def _show_running(self, episode: EmergencyEpisode) -> None:
        left = episode.remaining(self._clock())
        name = self.mode_name(episode.mode)
        self.title_label.setText(
            self.tr("{mode} — reste {time}").format(mode=name, time=format_remaining(left))
        )
        opened = len(episode.opened)
        detail = self.tr("Accès d'urgence tracé ; le patient en est informé.")
        if opened:
            detail += " " + self.tr("{n} document(s) ouvert(s).").format(n=opened)
        if left <= SOON:
            detail = self.tr("L'accès se termine bientôt.") + " " + detail
        self.detail_label.setText(detail)
        minutes = max(0, int(left.total_seconds() + 59) // 60)
        if minutes != self._announced_minutes:  # a screen reader hears it once a minute
            self._announced_minutes = minutes
            self.setAccessibleName(self.tr("{mode} en cours").format(mode=name))
            self.setAccessibleDescription(
                self.tr("Il reste {n} minute(s) avant la fin de l'accès d'urgence.").format(
                    n=minutes
                )
            )

    def _show_ended(self, episode: EmergencyEpisode) -> None:
        name = self.mode_name(episode.mode)
        ended_at = to_local(episode.ended_at or self._clock())
        reason = self.end_reason_text(episode.end_reason)
        self.title_label.setText(
            self.tr("{mode} terminé à {time}").format(mode=name, time=f"{ended_at:%H:%M}")
        )
        parts = [
            reason,
            self.tr("durée {duration}").format(duration=format_duration(episode.duration())),
        ]
        ended = self._ended
        if ended is not None and not ended.server_ended:
            parts.append(self.tr("le DMP n'a pas pu être informé de la fin"))
        if ended is not None and ended.attestation is not None:
            parts.append(self.tr("attestation prête"))
        elif ended is not None and ended.attestation_error is not None:
            parts.append(self.tr("attestation non produite"))
        self.detail_label.setText(" — ".join(p for p in parts if p) + ".")
        self.setAccessibleName(self.tr("{mode} terminé").format(mode=name))
        self.setAccessibleDescription(self.detail_label.text())

    def end_reason_text(self, reason: EndReason | None) -> str:
        """The French wording of why the episode ended."""
        return end_reason_text(reason)


def end_reason_text(reason: EndReason | None) -> str:
    """Why an episode ended, in words (the banner's, and the attestations list's)."""

    match reason:
        case EndReason.USER:
            return QCoreApplication.translate("EmergencyBanner", "arrêté par vous")
        case EndReason.EXPIRED:
            return QCoreApplication.translate("EmergencyBanner", "durée maximale écoulée")
        case EndReason.CARD_REMOVED:
            return QCoreApplication.translate("EmergencyBanner", "carte retirée")
        case EndReason.PATIENT_CLOSED:
            return QCoreApplication.translate("EmergencyBanner", "dossier fermé")
        case EndReason.QUIT:
            return QCoreApplication.translate("EmergencyBanner", "application quittée")
        case EndReason.SESSION_LOCKED:
            return QCoreApplication.translate("EmergencyBanner", "session verrouillée")
        case EndReason.LOGOUT:
            return QCoreApplication.translate("EmergencyBanner", "déconnexion")
        case None:
            return ""
