"""The mandatory traceability notice, acknowledged with "J'ai compris".

Shown after a login when :meth:`~console.services.notice.NoticeService.needs_notice` says so
(first login, then every 180 days). The only way on is "J'ai compris"; closing the dialog
any other way (the other button, Escape, the window's close button) declines it, and the
caller logs out.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["NoticeDialog"]


class NoticeDialog(QDialog):
    """The traceability notice: its text, "J'ai compris" and "Se déconnecter".

    Args:
        parent: The parent widget (the dialog is window-modal over it).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._future: asyncio.Future[bool] | None = None
        self.setObjectName("noticeDialog")
        self.setWindowTitle(self.tr("Traçabilité des accès au DMP"))

        title = QLabel(self.tr("Avant d'accéder au DMP"))
        font = title.font()
        font.setBold(True)
        title.setFont(font)

        # Same text as console.services.notice.NOTICE_TEXT (a test keeps them equal); written
        # out here so that pyside6-lupdate extracts it for translation.
        self.text_label = QLabel(
            self.tr(
                "Chaque accès au DMP est tracé et consultable par le patient. Vous ne pouvez "
                "consulter le DMP d'un patient qu'avec son autorisation, dans le cadre de sa prise "
                "en charge et dans la limite de ce que votre profession permet (matrice "
                "d'habilitation). Tout accès en mode bris de glace doit être justifié et le "
                "patient en est informé."
            )
        )
        self.text_label.setObjectName("noticeText")
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setWordWrap(True)
        self.text_label.setMinimumWidth(420)

        self.understood_button = QPushButton(self.tr("J'ai compris"))
        self.understood_button.setObjectName("noticeUnderstood")
        self.understood_button.setDefault(True)
        self.understood_button.clicked.connect(self.accept)
        self.decline_button = QPushButton(self.tr("Se déconnecter"))
        self.decline_button.setObjectName("noticeDecline")
        self.decline_button.setAutoDefault(False)
        self.decline_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.decline_button)
        buttons.addStretch(1)
        buttons.addWidget(self.understood_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text_label)
        layout.addLayout(buttons)
        self.understood_button.setFocus()

    async def ask(self) -> bool:
        """Open the dialog (without a nested event loop) and wait for the answer.

        Returns:
            True when the professional clicked "J'ai compris".
        """
        self._future = asyncio.get_running_loop().create_future()
        self.open()
        return await self._future

    def done(self, result: int) -> None:
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(result == QDialog.DialogCode.Accepted.value)
        super().done(result)
