"""e-CPS: the dialog waiting for the phone, and the demo's phone window.

:class:`EcpsWaitDialog` is shown while a push login (CIBA) waits on the professional's phone:
the code to compare with the one the phone shows, a countdown to the request's expiry, and
"Annuler". The login itself runs in the session service; the dialog only shows it.

:class:`PhoneWindow` plays the e-CPS app in the demo: it lists the requests waiting for one
identifier (``GET /sandbox/ecps/pending``) and answers them (approve / deny) through the
sandbox's control endpoints only (:class:`~console.services.ports.EcpsPhone`). It is opened
with ``--demo-phone``, or by itself when the server is the sandbox.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.domain.errors import ConsoleError
from console.domain.session import EcpsPending, EcpsPhoneRequest
from console.services.ports import EcpsPhone
from console.views.tasks import spawn

__all__ = ["EcpsWaitDialog", "PhoneWindow", "format_remaining"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def format_remaining(seconds: float) -> str:
    """``m:ss`` (never negative)."""
    total = max(0, int(seconds + 0.999))
    return f"{total // 60}:{total % 60:02d}"


def _big(label: QLabel, factor: float) -> None:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(True)
    label.setFont(font)


class EcpsWaitDialog(QDialog):
    """Waiting for the approval on the phone: binding code, countdown, "Annuler".

    Rejecting the dialog (Annuler, Escape, close button) means the professional gives up:
    the login page cancels the login. The page closes it with :meth:`finish` otherwise.

    Args:
        id_nat: Who is asked.
        parent: The parent widget (the dialog is window-modal over it).
        clock: Current UTC time (the countdown).
    """

    def __init__(
        self, id_nat: str, parent: QWidget | None = None, *, clock: Clock | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ecpsWaitDialog")
        self.setWindowTitle(self.tr("Connexion e-CPS"))
        self._clock: Clock = clock or _utc_now
        self._pending: EcpsPending | None = None
        self._total_s = 0.0

        self.status_label = QLabel(
            self.tr("Envoi de la demande de connexion à l'application e-CPS de %1…").replace(
                "%1", id_nat
            )
        )
        self.status_label.setObjectName("ecpsStatus")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)

        self.compare_label = QLabel(
            self.tr(
                "Validez la demande dans l'application e-CPS de votre téléphone, après avoir "
                "vérifié qu'elle affiche ce code :"
            )
        )
        self.compare_label.setTextFormat(Qt.TextFormat.PlainText)
        self.compare_label.setWordWrap(True)
        self.binding_label = QLabel()
        self.binding_label.setObjectName("ecpsBinding")
        self.binding_label.setTextFormat(Qt.TextFormat.PlainText)
        self.binding_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.binding_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _big(self.binding_label, 2.5)
        self.warning_label = QLabel(
            self.tr("Si le code du téléphone est différent, refusez la demande sur le téléphone.")
        )
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setWordWrap(True)

        self.countdown = QProgressBar()
        self.countdown.setObjectName("ecpsCountdown")
        self.countdown.setTextVisible(False)
        self.countdown_label = QLabel()
        self.countdown_label.setObjectName("ecpsCountdownLabel")
        self.countdown_label.setTextFormat(Qt.TextFormat.PlainText)

        self.cancel_button = QPushButton(self.tr("Annuler"))
        self.cancel_button.setObjectName("ecpsCancel")
        self.cancel_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        # The dialog grows with what show_pending() reveals (the code must never be clipped),
        # and is wide enough for the wrapped sentences to read in two or three lines.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.status_label.setMinimumWidth(self.fontMetrics().averageCharWidth() * 64)
        layout.addWidget(self.status_label)
        layout.addWidget(self.compare_label)
        layout.addWidget(self.binding_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.countdown)
        layout.addWidget(self.countdown_label)
        layout.addLayout(buttons)
        for widget in (self.compare_label, self.binding_label, self.warning_label):
            widget.hide()
        self.countdown.hide()
        self.countdown_label.hide()

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self.setMinimumWidth(420)

    @property
    def binding_message(self) -> str:
        """The code shown ("" until the request is on the phone)."""
        return self.binding_label.text()

    def show_pending(self, pending: EcpsPending) -> None:
        """The request is on the phone: show the code and start the countdown."""
        self._pending = pending
        self._total_s = max(1.0, (pending.expires_at - self._clock()).total_seconds())
        self.status_label.setText(
            self.tr("Demande envoyée à l'application e-CPS de %1.").replace("%1", pending.id_nat)
        )
        self.binding_label.setText(pending.binding_message)
        for widget in (self.compare_label, self.binding_label, self.warning_label):
            widget.show()
        self.countdown.setRange(0, int(self._total_s))
        self.countdown.show()
        self.countdown_label.show()
        self._tick()
        self._timer.start()
        self.adjustSize()  # the wrapped sentences' height for the dialog's width

    def remaining_s(self) -> float:
        """Seconds before the request expires (0 before it is sent)."""
        if self._pending is None:
            return 0.0
        return max(0.0, (self._pending.expires_at - self._clock()).total_seconds())

    def _tick(self) -> None:
        left = self.remaining_s()
        self.countdown.setValue(int(left))
        self.countdown_label.setText(
            self.tr("La demande expire dans %1.").replace("%1", format_remaining(left))
        )

    def finish(self) -> None:
        """Close without cancelling (the login ended)."""
        self._timer.stop()
        if self.isVisible():
            super().done(QDialog.DialogCode.Accepted.value)

    def done(self, result: int) -> None:
        self._timer.stop()
        super().done(result)


class PhoneWindow(QWidget):
    """The demo's stand-in for the e-CPS app on the professional's phone.

    Args:
        phone: The sandbox's control endpoints.
        poll_interval_s: Pause between two reads of the pending requests.
        parent: None (a window of its own).
    """

    def __init__(
        self, phone: EcpsPhone, *, poll_interval_s: float = 1.0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("phoneWindow")
        self.setWindowTitle(self.tr("Téléphone e-CPS (démonstration)"))
        # An accessory of the demo: closing it never quits the console.
        self.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)
        self._phone = phone
        self._id_nat = ""
        self._request: EcpsPhoneRequest | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(max(1, int(poll_interval_s * 1000)))
        self._poll_timer.timeout.connect(self._poll)
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering = False
        self.destroyed.connect(functools.partial(_cancel_all, self._tasks))

        self.header_label = QLabel(
            self.tr(
                "Démonstration : cette fenêtre joue l'application e-CPS du téléphone du "
                "professionnel (bac à sable)."
            )
        )
        self.header_label.setTextFormat(Qt.TextFormat.PlainText)
        self.header_label.setWordWrap(True)
        self.holder_label = QLabel()
        self.holder_label.setObjectName("phoneHolder")
        self.holder_label.setTextFormat(Qt.TextFormat.PlainText)
        self.request_label = QLabel()
        self.request_label.setObjectName("phoneRequest")
        self.request_label.setTextFormat(Qt.TextFormat.PlainText)
        self.request_label.setWordWrap(True)
        self.binding_label = QLabel()
        self.binding_label.setObjectName("phoneBinding")
        self.binding_label.setTextFormat(Qt.TextFormat.PlainText)
        self.binding_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        _big(self.binding_label, 2.0)
        self.status_label = QLabel()
        self.status_label.setObjectName("phoneStatus")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)

        self.approve_button = QPushButton(self.tr("Accepter"))
        self.approve_button.setObjectName("phoneApprove")
        self.approve_button.clicked.connect(lambda: self.answer(True))
        self.deny_button = QPushButton(self.tr("Refuser"))
        self.deny_button.setObjectName("phoneDeny")
        self.deny_button.clicked.connect(lambda: self.answer(False))
        buttons = QHBoxLayout()
        buttons.addWidget(self.deny_button)
        buttons.addStretch(1)
        buttons.addWidget(self.approve_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header_label)
        layout.addWidget(self.holder_label)
        layout.addWidget(self.request_label)
        layout.addWidget(self.binding_label)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        self.resize(320, 420)
        self._show_request(None)

    @property
    def request(self) -> EcpsPhoneRequest | None:
        """The request shown (the newest waiting), if any."""
        return self._request

    @property
    def id_nat(self) -> str:
        return self._id_nat

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def watch(self, id_nat: str) -> None:
        """Show the phone of `id_nat` and keep reading its pending requests."""
        self._id_nat = id_nat
        self.holder_label.setText(self.tr("Téléphone de %1").replace("%1", id_nat))
        self.show()
        self.raise_()
        self._poll()
        self._poll_timer.start()

    def stop(self) -> None:
        """Stop reading the pending requests."""
        self._poll_timer.stop()
        task, self._refresh_task = self._refresh_task, None
        if task is not None:
            task.cancel()

    def _poll(self) -> None:
        if not self.isVisible():
            self._poll_timer.stop()
            return
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = self._spawn(self.refresh())

    async def refresh(self) -> None:
        """Read the pending requests once."""
        if not self._id_nat:
            return
        try:
            requests = await self._phone.pending(self._id_nat)
        except ConsoleError as exc:
            self.status_label.setText(
                self.tr("Le bac à sable ne répond pas : %1").replace("%1", str(exc))
            )
            return
        # The newest: the one the console waits for (older ones expire by themselves).
        self._show_request(requests[-1] if requests else None)

    def _show_request(self, request: EcpsPhoneRequest | None) -> None:
        self._request = request
        if request is None:
            self.request_label.setText(self.tr("Aucune demande de connexion en attente."))
            self.binding_label.setText("")
        else:
            self.request_label.setText(
                self.tr(
                    "Demande de connexion à la Console DMP. Vérifiez que ce code est celui "
                    "affiché par la console (expire dans %1) :"
                ).replace("%1", format_remaining(request.expires_in_s))
            )
            self.binding_label.setText(request.binding_message)
        enabled = request is not None and not self._answering
        self.approve_button.setEnabled(enabled)
        self.deny_button.setEnabled(enabled)

    def answer(self, approve: bool) -> None:
        """Approve (or deny) the request shown."""
        request = self._request
        if request is None or self._answering:
            return
        self._answering = True
        self._show_request(request)
        self._spawn(self._answer(request, approve))

    async def _answer(self, request: EcpsPhoneRequest, approve: bool) -> None:
        try:
            await self._phone.answer(request, approve)
        except ConsoleError as exc:
            self.status_label.setText(str(exc))
        else:
            self.status_label.setText(
                self.tr("Demande acceptée.") if approve else self.tr("Demande refusée.")
            )
        finally:
            self._answering = False
            self._show_request(self._request)
        await self.refresh()


def _cancel_all(tasks: set[asyncio.Task[None]], *_destroyed: object) -> None:
    for task in list(tasks):
        task.cancel()
    tasks.clear()
