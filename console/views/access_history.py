"""The access history of the patient open: a table of what this professional did on it.

:class:`AccessHistoryModel` presents an :class:`~console.domain.emergency.AccessHistory`: each
exceptional episode (bris de glace, centre 15) as a header row followed by its entries
(oldest first, indented), then the other entries, newest first. It only presents: the
history is built and ordered by the domain. Every text from the server is plain text
(tooltips are escaped: Qt would read rich text in them).

:class:`AccessHistoryView` loads it through the :class:`~console.services.history.
HistoryService` (a cancellable task) and offers a filter: everything, the episodes only, the
server's traces only, this computer's journal only.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.domain.emergency import (
    AccessHistory,
    EndReason,
    EpisodeSummary,
    HistoryEntry,
    HistorySource,
    JournalAction,
    format_duration,
)
from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.models import AccessMode
from console.services.dossier import OpenDossier
from console.services.history import HistoryService
from console.views.consent import plain_label
from console.views.tasks import spawn

__all__ = ["AccessHistoryModel", "AccessHistoryView", "HistoryColumn", "HistoryFilter"]

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
"""``"episode"`` for an episode's header row, ``"entry"`` otherwise."""
EPISODE_ROLE = Qt.ItemDataRole.UserRole + 2
"""The episode id a row belongs to (None outside episodes)."""
TIME_ROLE = Qt.ItemDataRole.UserRole + 3
"""The row's instant (aware datetime)."""

_Index = QModelIndex | QPersistentModelIndex
_EPISODE_BACKGROUND = QColor("#fde2e2")
_REFUSED_FOREGROUND = QColor("#a11d1d")


class HistoryColumn(IntEnum):
    TIME = 0
    ACTION = 1
    MODE = 2
    RESULT = 3
    DOCUMENTS = 4
    DETAIL = 5
    SOURCE = 6


class HistoryFilter(StrEnum):
    ALL = "all"
    EPISODES = "episodes"
    SERVER = "server"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class _Row:
    entry: HistoryEntry | None = None
    episode: EpisodeSummary | None = None
    indented: bool = False

    @property
    def at(self) -> datetime:
        if self.episode is not None:
            return self.episode.started_at
        assert self.entry is not None
        return self.entry.at


def history_rows(history: AccessHistory | None, flt: HistoryFilter) -> list[_Row]:
    """The rows shown for `history` with `flt` (pure: episodes first, then the rest)."""
    if history is None:
        return []
    rows: list[_Row] = []

    def keep(entry: HistoryEntry) -> bool:
        if flt is HistoryFilter.SERVER:
            return entry.source is HistorySource.SERVER
        if flt is HistoryFilter.LOCAL:
            return entry.source is HistorySource.LOCAL
        return True

    if flt is not HistoryFilter.SERVER and flt is not HistoryFilter.LOCAL:
        for episode in history.episodes:
            rows.append(_Row(episode=episode))
            rows.extend(_Row(entry=e, indented=True) for e in episode.entries)
        if flt is HistoryFilter.EPISODES:
            return rows
        rows.extend(_Row(entry=e) for e in history.entries if e.episode_id is None)
        return rows
    return [_Row(entry=e) for e in history.entries if keep(e)]


class AccessHistoryModel(QAbstractTableModel):
    """The access history as a table (see the module doc).

    Args:
        now: Aware "now" (the duration of an episode still running).
    """

    def __init__(
        self, parent: QObject | None = None, *, now: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__(parent)
        self._history: AccessHistory | None = None
        self._filter = HistoryFilter.ALL
        self._rows: list[_Row] = []
        self._now = now or (lambda: to_local(datetime.now(UTC)))
        self._bold = QFont()
        self._bold.setBold(True)
        self._resource_labels: dict[str, str] | None = None
        self.titles: Mapping[str, str] = {}
        """Titles of the documents the professional has listed (by id): shown in place of
        their identifiers (a document not listed shows its identifier)."""

    # -- typed setters -------------------------------------------------------------------------
    @property
    def history(self) -> AccessHistory | None:
        return self._history

    @property
    def filter(self) -> HistoryFilter:
        return self._filter

    def show(self, history: AccessHistory | None) -> None:
        """Present `history` (None: empty)."""
        self.beginResetModel()
        self._history = history
        self._rows = history_rows(history, self._filter)
        self.endResetModel()

    def set_filter(self, flt: HistoryFilter) -> None:
        self.beginResetModel()
        self._filter = flt
        self._rows = history_rows(self._history, flt)
        self.endResetModel()

    def clear(self) -> None:
        self.show(None)

    def is_episode_row(self, row: int) -> bool:
        return 0 <= row < len(self._rows) and self._rows[row].episode is not None

    # -- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HistoryColumn)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if not 0 <= section < len(HistoryColumn):
            return None
        return self.column_label(HistoryColumn(section))

    def column_label(self, column: HistoryColumn) -> str:
        match column:
            case HistoryColumn.TIME:
                return self.tr("Date et heure")
            case HistoryColumn.ACTION:
                return self.tr("Action")
            case HistoryColumn.MODE:
                return self.tr("Mode d'accès")
            case HistoryColumn.RESULT:
                return self.tr("Résultat")
            case HistoryColumn.DOCUMENTS:
                return self.tr("Documents")
            case HistoryColumn.DETAIL:
                return self.tr("Détail")
            case HistoryColumn.SOURCE:
                return self.tr("Source")

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(HistoryColumn):
            return None
        row = self._rows[index.row()]
        column = HistoryColumn(index.column())
        if role == KIND_ROLE:
            return "episode" if row.episode is not None else "entry"
        if role == EPISODE_ROLE:
            if row.episode is not None:
                return row.episode.episode_id
            return row.entry.episode_id if row.entry is not None else None
        if role == TIME_ROLE:
            return row.at
        if role == Qt.ItemDataRole.DisplayRole:
            if row.episode is not None:
                return self._episode_text(row.episode, column)
            assert row.entry is not None
            return self._entry_text(row.entry, column, row.indented)
        if role == Qt.ItemDataRole.ToolTipRole and column in (
            HistoryColumn.DETAIL,
            HistoryColumn.DOCUMENTS,
        ):
            text = self.data(index, Qt.ItemDataRole.DisplayRole)
            if not text:
                return None
            # Escaped and wrapped: Qt would render a tooltip that looks like HTML.
            return f"<p style='white-space:pre-wrap'>{html.escape(str(text))}</p>"
        if role == Qt.ItemDataRole.FontRole and row.episode is not None:
            return self._bold
        if role == Qt.ItemDataRole.BackgroundRole and row.episode is not None:
            return QBrush(_EPISODE_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and row.entry is not None:
            if not row.entry.succeeded:
                return QBrush(_REFUSED_FOREGROUND)
        if role == Qt.ItemDataRole.AccessibleTextRole and row.episode is not None:
            if column is HistoryColumn.TIME:
                return self.tr("Épisode : {text}").format(
                    text=self._episode_text(row.episode, HistoryColumn.ACTION)
                )
        return None

    # -- texts ---------------------------------------------------------------------------------
    @staticmethod
    def _time(moment: datetime) -> str:
        return to_local(moment).strftime("%d/%m/%Y %H:%M:%S")

    def mode_text(self, mode: str) -> str:
        match mode:
            case AccessMode.NORMAL:
                return self.tr("Normal")
            case AccessMode.BRIS_DE_GLACE:
                return self.tr("Bris de glace")
            case AccessMode.CENTRE_15:
                return self.tr("Centre 15")
            case "":
                return ""
            case _:
                return mode

    def action_text(self, action: str) -> str:
        """French label of a server subtype or a journal action code."""
        labels = {
            "search": self.tr("Recherche"),
            "read": self.tr("Lecture des métadonnées"),
            "retrieve": self.tr("Lecture du document"),
            "access": self.tr("Ouverture du dossier"),
            "access-end": self.tr("Fin d'accès au dossier"),
            "emergency-override-started": self.tr("Début du bris de glace"),
            "emergency-override-stopped": self.tr("Fin du bris de glace"),
            "create": self.tr("Dépôt de document"),
            "update": self.tr("Modification de document"),
            JournalAction.PATIENT_OPENED: self.tr("Dossier ouvert"),
            JournalAction.ACCESS_REFUSED: self.tr("Accès refusé"),
            JournalAction.BDG_STARTED: self.tr("Bris de glace démarré"),
            JournalAction.CENTRE15_STARTED: self.tr("Accès centre 15 démarré"),
            JournalAction.DOCUMENT_OPENED: self.tr("Document ouvert"),
            JournalAction.BDG_ENDED: self.tr("Bris de glace terminé"),
            JournalAction.CENTRE15_ENDED: self.tr("Accès centre 15 terminé"),
            JournalAction.PATIENT_CLOSED: self.tr("Dossier fermé"),
            JournalAction.ATTESTATION_ISSUED: self.tr("Attestation produite"),
        }
        return labels.get(action, action)

    def source_text(self, source: HistorySource) -> str:
        if source is HistorySource.SERVER:
            return self.tr("DMP (serveur)")
        return self.tr("Journal de ce poste")

    def _entry_text(self, entry: HistoryEntry, column: HistoryColumn, indented: bool) -> str:
        match column:
            case HistoryColumn.TIME:
                text = self._time(entry.at)
                return f"    {text}" if indented else text
            case HistoryColumn.ACTION:
                return self.action_text(entry.action)
            case HistoryColumn.MODE:
                return self.mode_text(entry.mode)
            case HistoryColumn.RESULT:
                return self.tr("Effectué") if entry.succeeded else self.tr("Refusé")
            case HistoryColumn.DOCUMENTS:
                return ", ".join(self.document_text(i) for i in entry.document_ids)
            case HistoryColumn.DETAIL:
                return self.detail_text(entry.detail)
            case HistoryColumn.SOURCE:
                return self.source_text(entry.source)

    def document_text(self, document_id: str) -> str:
        """The title of ``document_id`` if listed, else the identifier."""
        bare = document_id.rsplit("/", 1)[-1]
        return self.titles.get(document_id) or self.titles.get(bare) or document_id

    def detail_text(self, detail: str) -> str:
        """The server's description in words: the FHIR resource it names (``Binary``,
        ``DocumentReference : 3 visible(s)``...) becomes what the professional did."""
        head, separator, rest = detail.partition(" : ")
        if self._resource_labels is None:  # translated once, not at each paint
            self._resource_labels = {
                "DocumentReference": self.tr("Liste des documents"),
                "Binary": self.tr("Contenu d'un document"),
                "Patient": self.tr("Identification du patient"),
                "Immunization": self.tr("Vaccinations"),
                "RelatedPerson": self.tr("Entourage"),
                "Consent": self.tr("Volontés et directives"),
                "AuditEvent": self.tr("Historique des accès"),
            }
        label = self._resource_labels.get(head.split("?", 1)[0])
        if label is None:
            return detail
        return f"{label} : {rest}" if separator else label

    def _episode_text(self, episode: EpisodeSummary, column: HistoryColumn) -> str:
        match column:
            case HistoryColumn.TIME:
                return self._time(episode.started_at)
            case HistoryColumn.ACTION:
                name = self.mode_text(episode.mode).upper()
                if episode.ended_at is None:
                    return self.tr("{mode} (en cours ou non clos)").format(mode=name)
                return self.tr("{mode} jusqu'à {time} ({duration})").format(
                    mode=name,
                    time=to_local(episode.ended_at).strftime("%H:%M:%S"),
                    duration=format_duration(episode.duration(self._now())),
                )
            case HistoryColumn.MODE:
                return self.mode_text(episode.mode)
            case HistoryColumn.RESULT:
                return self.end_text(episode.end_reason)
            case HistoryColumn.DOCUMENTS:
                return self.tr("{n} document(s) consulté(s)").format(n=len(episode.document_ids))
            case HistoryColumn.DETAIL:
                return episode.detail
            case HistoryColumn.SOURCE:
                return self.tr("Épisode {id}").format(id=episode.episode_id[:12])

    def end_text(self, reason: str | None) -> str:
        if not reason:
            return ""
        try:
            end = EndReason(reason)
        except ValueError:
            return self.tr("Fin : {code}").format(code=reason)
        labels = {
            EndReason.USER: self.tr("Fin : arrêté par le professionnel"),
            EndReason.EXPIRED: self.tr("Fin : durée écoulée"),
            EndReason.CARD_REMOVED: self.tr("Fin : carte retirée"),
            EndReason.PATIENT_CLOSED: self.tr("Fin : dossier fermé"),
            EndReason.QUIT: self.tr("Fin : application quittée"),
            EndReason.SESSION_LOCKED: self.tr("Fin : session verrouillée"),
            EndReason.LOGOUT: self.tr("Fin : déconnexion"),
        }
        return labels[end]


class AccessHistoryView(QWidget):
    """The access history of the dossier shown (see the module doc).

    Args:
        service: Builds the history.
        professional_id: The idNat of the professional logged in (called at each load).
    """

    def __init__(
        self,
        service: HistoryService,
        professional_id: Callable[[], str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._service = service
        self._professional_id = professional_id
        self._dossier: OpenDossier | None = None
        self._task: asyncio.Task[Any] | None = None

        title = QLabel(self.tr("Historique de vos accès à ce dossier"))
        title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.filter_combo = QComboBox()
        self.filter_combo.setAccessibleName(self.tr("Filtrer l'historique"))
        for flt, label in (
            (HistoryFilter.ALL, self.tr("Tout l'historique")),
            (HistoryFilter.EPISODES, self.tr("Bris de glace et centre 15")),
            (HistoryFilter.SERVER, self.tr("Traces du DMP (serveur)")),
            (HistoryFilter.LOCAL, self.tr("Journal de ce poste")),
        ):
            self.filter_combo.addItem(label, flt.value)
        self.refresh_button = QPushButton(self.tr("Actualiser"))
        self.refresh_button.clicked.connect(self.reload)
        self.status_label = plain_label()
        self.error_label = plain_label()
        self.error_label.setStyleSheet("color: #a11d1d;")

        self.model = AccessHistoryModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName(self.tr("Historique des accès"))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        head = self.table.horizontalHeader()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(HistoryColumn.DETAIL, QHeaderView.ResizeMode.Stretch)
        metrics = self.table.fontMetrics()
        for column, chars in (
            (HistoryColumn.ACTION, 30),
            (HistoryColumn.MODE, 14),
            (HistoryColumn.RESULT, 18),
            (HistoryColumn.DOCUMENTS, 24),
        ):
            head.resizeSection(column, chars * metrics.averageCharWidth())
        # The time and the source whole (they were cut: "15:00:…", "Journal de ce …").
        head.resizeSection(
            HistoryColumn.TIME, metrics.horizontalAdvance("    00/00/0000 00:00:00") + 16
        )
        head.resizeSection(
            HistoryColumn.SOURCE,
            max(metrics.horizontalAdvance(self.model.source_text(s)) for s in HistorySource) + 16,
        )

        bar = QHBoxLayout()
        bar.addWidget(title)
        bar.addStretch(1)
        bar.addWidget(self.filter_combo)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.error_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status_label)
        self.filter_combo.currentIndexChanged.connect(self._filter_changed)
        self.error_label.hide()

    @property
    def loading(self) -> bool:
        return self._task is not None and not self._task.done()

    def show_dossier(self, dossier: OpenDossier) -> None:
        """Load the history of `dossier`'s patient."""
        self._dossier = dossier
        self.model.titles = {doc_id: doc.title for doc_id, doc in dossier.documents.items()}
        self.reload()

    def reload(self) -> None:
        """Load again (cancels a load in progress)."""
        self.cancel()
        if self._dossier is None:
            return
        self.refresh_button.setEnabled(False)
        self.status_label.setText(self.tr("Chargement de l'historique…"))
        self._task = spawn(self._load(self._dossier))

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def clear(self) -> None:
        """Forget the patient (lock, close)."""
        self.cancel()
        self._dossier = None
        self.model.titles = {}
        self.model.clear()
        self.status_label.clear()
        self.error_label.clear()
        self.error_label.hide()
        self.refresh_button.setEnabled(True)

    def set_filter(self, flt: HistoryFilter) -> None:
        self.filter_combo.setCurrentIndex(self.filter_combo.findData(flt.value))

    def _filter_changed(self, _index: int) -> None:
        self.model.set_filter(HistoryFilter(self.filter_combo.currentData()))

    async def _load(self, dossier: OpenDossier) -> None:
        try:
            history = await self._service.history(dossier, self._professional_id())
        except asyncio.CancelledError:
            raise
        except ConsoleError as exc:
            self.error_label.setText(
                self.tr("Historique indisponible : {reason}").format(reason=str(exc))
            )
            self.error_label.show()
            self.status_label.clear()
            return
        finally:
            self.refresh_button.setEnabled(True)
        if dossier is not self._dossier:
            return
        self.model.show(history)
        self._show_counts(history)

    def _show_counts(self, history: AccessHistory) -> None:
        if history.server_error:
            self.error_label.setText(
                self.tr(
                    "Traces du DMP indisponibles ({reason}) : seul le journal de ce poste est "
                    "affiché."
                ).format(reason=history.server_error)
            )
            self.error_label.show()
        else:
            self.error_label.clear()
            self.error_label.hide()
        self.status_label.setText(
            self.tr("{entries} action(s), dont {episodes} accès d'urgence.").format(
                entries=len(history.entries), episodes=len(history.episodes)
            )
        )

    def rows(self) -> Sequence[tuple[str, ...]]:
        """The texts shown, row by row (tests and accessibility checks)."""
        return [
            tuple(str(self.model.index(r, c).data() or "") for c in range(self.model.columnCount()))
            for r in range(self.model.rowCount())
        ]
