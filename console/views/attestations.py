""" "Attestations de bris de glace": the attestations kept in the professional's cache.

Every bris de glace ends with an attestation; ended by a card pulled out, a logout or quitting,
the banner could not offer it, so it waits here (menu Session, Ctrl+Shift+A) until she saves
it. Opened only while her session is active (her cache is open); the window closes it on a
lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from console.domain.emergency import AttestationRecord, format_duration
from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.services.attestations import AttestationArchive
from console.views.emergency_banner import end_reason_text
from console.views.tasks import spawn

__all__ = ["AttestationsDialog"]


class AttestationsDialog(QDialog):
    """The list of the attestations kept, and "Enregistrer…" for the one selected.

    Signals:
        saved(str): an attestation was written to this path.
    """

    saved = Signal(str)

    def __init__(self, archive: AttestationArchive, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attestationsDialog")
        self.setWindowTitle(self.tr("Attestations de bris de glace"))
        self._archive = archive
        self._records: list[AttestationRecord] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.file_dialog: QFileDialog | None = None
        """The "save" file dialog while it is open (tests)."""

        intro = QLabel(
            self.tr(
                "Chaque bris de glace donne une attestation. Elle reste chiffrée dans votre "
                "cache, lisible avec votre carte seulement, jusqu'à ce que vous l'enregistriez."
            )
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        headers = [
            self.tr("Fin"),
            self.tr("Patient"),
            self.tr("INS"),
            self.tr("Durée"),
            self.tr("Motif de fin"),
            self.tr("Enregistrée"),
        ]
        self.table = QTableWidget(0, len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _index: self.choose_path())
        self.status_label = QLabel()
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setWordWrap(True)
        self.save_button = QPushButton(self.tr("&Enregistrer…"))
        self.save_button.clicked.connect(self.choose_path)
        self.close_button = QPushButton(self.tr("Fermer"))
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        self.resize(820, 420)
        self._update_buttons()
        self._spawn(self.load())

    # -- the list --------------------------------------------------------------------------------
    @property
    def records(self) -> list[AttestationRecord]:
        return list(self._records)

    async def load(self) -> None:
        """Read the list from the cache."""
        self.status_label.setText(self.tr("Lecture…"))
        try:
            records = await self._archive.records()
        except ConsoleError as exc:
            self.status_label.setText(str(exc))
            return
        self._show(records)

    def _show(self, records: list[AttestationRecord]) -> None:
        self._records = records
        self.table.setRowCount(len(records))
        for row, record in enumerate(records):
            ended = to_local(record.ended_at)
            saved = to_local(record.saved_at) if record.saved_at is not None else None
            cells = (
                f"{ended:%d/%m/%Y %H:%M}",
                record.patient_name,
                record.patient_ins,
                format_duration(record.ended_at - record.started_at),
                end_reason_text(record.end_reason),
                f"{saved:%d/%m/%Y %H:%M}" if saved is not None else self.tr("non"),
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        if records:
            self.table.selectRow(0)
            unsaved = sum(1 for r in records if r.saved_at is None)
            self.status_label.setText(
                self.tr("%1 attestation(s), dont %2 à enregistrer.")
                .replace("%1", str(len(records)))
                .replace("%2", str(unsaved))
            )
        else:
            self.status_label.setText(self.tr("Aucune attestation dans votre cache."))
        self._update_buttons()

    def selected(self) -> AttestationRecord | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        row = rows[0].row()
        return self._records[row] if 0 <= row < len(self._records) else None

    def _update_buttons(self) -> None:
        self.save_button.setEnabled(self.selected() is not None)

    # -- saving ----------------------------------------------------------------------------------
    def choose_path(self) -> None:
        """Ask where to save the selected attestation (a window-modal file dialog)."""
        record = self.selected()
        if record is None or self.file_dialog is not None:
            return
        started = to_local(record.started_at)
        dialog = QFileDialog(self, self.tr("Enregistrer l'attestation de bris de glace"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(self.tr("Document PDF (*.pdf)"))
        dialog.setDefaultSuffix("pdf")
        dialog.selectFile(f"attestation-bris-de-glace-{started:%Y%m%d-%H%M}.pdf")
        dialog.fileSelected.connect(lambda path: self._save_to(record, path))
        dialog.finished.connect(self._file_dialog_closed)
        self.file_dialog = dialog
        dialog.open()

    def _file_dialog_closed(self, _result: int) -> None:
        dialog, self.file_dialog = self.file_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _save_to(self, record: AttestationRecord, path: str) -> None:
        if path:
            self._spawn(self.save(record, Path(path)))

    async def save(self, record: AttestationRecord, path: Path) -> None:
        """Write `record`'s attestation to `path` and show it saved."""
        self.save_button.setEnabled(False)
        try:
            await self._archive.save(record.episode_id, path)
        except (OSError, ConsoleError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.status_label.setText(
                self.tr("Attestation non enregistrée : {error}").format(error=message)
            )
            self._update_buttons()
            return
        await self.load()
        self.status_label.setText(self.tr("Attestation enregistrée : {path}").format(path=path))
        self.saved.emit(str(path))

    # -- plumbing --------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
