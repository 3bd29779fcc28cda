"""The document table's model: it presents rows already sorted and filtered, nothing more.

Rows come from :mod:`console.domain.table` (keys precomputed, order decided there); the
model builds display strings in :meth:`DocumentTableModel.data` and never compares them.
Everything that came from the network is returned as a plain ``str``: the views show it with
``Qt.TextFormat.PlainText``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QColor

from console.domain.models import DocStatus, Visibility
from console.domain.table import Column, DocumentRow

__all__ = [
    "BADGES_ROLE",
    "COLUMNS",
    "DOCUMENT_ROLE",
    "ROW_ROLE",
    "SORT_ROLE",
    "ColumnDef",
    "DocumentTableModel",
]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
"""The row's precomputed sort key for the column (a Python object, for tests and tools)."""
DOCUMENT_ROLE = Qt.ItemDataRole.UserRole + 2
"""The row's :class:`~console.domain.models.DocumentMeta`."""
ROW_ROLE = Qt.ItemDataRole.UserRole + 3
"""The :class:`~console.domain.table.DocumentRow` itself."""
BADGES_ROLE = Qt.ItemDataRole.UserRole + 4
"""Visibility column: ``list[tuple[Visibility, str]]``, the badges a delegate paints."""

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class ColumnDef:
    """A column of the table: its sort key, initial width in characters, and whether it
    takes the remaining width (honoured for the last column)."""

    column: Column
    width_chars: int
    stretch: bool = False


COLUMNS: tuple[ColumnDef, ...] = (
    ColumnDef(Column.ACT_DATE, 11),
    ColumnDef(Column.TYPE, 26),
    ColumnDef(Column.CLASS, 16),
    ColumnDef(Column.TITLE, 40),
    ColumnDef(Column.AUTHOR, 20),
    ColumnDef(Column.STRUCTURE, 20),
    ColumnDef(Column.VISIBILITY, 28),
    ColumnDef(Column.STATUS, 10, stretch=True),
)
"""The columns in display order (issue 4 adds the deposit date and the profession)."""

_MASKED_COLOR = QColor(0xA1, 0x1D, 0x1D)
_NEW_COLOR = QColor(0x0B, 0x5C, 0xAD)


def plain_tooltip(text: str) -> str:
    """``text`` as a tooltip that shows it literally.

    Qt renders a tooltip as rich text whenever it *looks* like HTML: network text is escaped
    inside an explicit rich-text wrapper, so a title such as ``<b>x</b>`` shows as typed.
    """
    return f"<qt>{html.escape(text, quote=False)}</qt>"


def french_date(moment: datetime) -> str:
    """``moment`` as dd/MM/yyyy in local time (the act's date as the professional lives it)."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.strftime("%d/%m/%Y")


def french_datetime(moment: datetime) -> str:
    """``moment`` as dd/MM/yyyy HH:mm in local time."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.strftime("%d/%m/%Y %H:%M")


class DocumentTableModel(QAbstractTableModel):
    """A flat table of :class:`DocumentRow`, in the order it is given.

    :meth:`show` replaces every row (a reset), :meth:`insert` and :meth:`insert_blocks` add
    rows in place (pages arriving from the server), :meth:`clear` drops them all.

    Signals:
        None of its own; the standard model signals (``modelReset``, ``rowsInserted``...).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[DocumentRow] = []

    # -- typed setters ----------------------------------------------------------------------
    def show(self, rows: Sequence[DocumentRow]) -> None:
        """Present ``rows``, already sorted and filtered, in place of the current ones."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def insert(self, position: int, rows: Sequence[DocumentRow]) -> None:
        """Insert ``rows`` before row ``position`` (``len`` appends)."""
        if not rows:
            return
        position = max(0, min(position, len(self._rows)))
        self.beginInsertRows(QModelIndex(), position, position + len(rows) - 1)
        self._rows[position:position] = rows
        self.endInsertRows()

    def append(self, rows: Sequence[DocumentRow]) -> None:
        """Add ``rows`` after the last row."""
        self.insert(len(self._rows), rows)

    def insert_blocks(self, plan: Sequence[tuple[int, Sequence[DocumentRow]]]) -> None:
        """Apply an :func:`~console.domain.table.insertion_plan` (positions before insertion).

        Blocks go in from the last to the first, so each position is still the one the plan
        computed.
        """
        for position, rows in sorted(plan, key=lambda block: block[0], reverse=True):
            self.insert(position, rows)

    def clear(self) -> None:
        """Drop every row."""
        self.show(())

    # -- accessors -----------------------------------------------------------------------------
    def rows(self) -> Sequence[DocumentRow]:
        """The rows in display order (read-only view: do not mutate)."""
        return self._rows

    def row_at(self, row: int) -> DocumentRow:
        """The :class:`DocumentRow` shown at ``row``."""
        return self._rows[row]

    def row_of(self, document_id: str) -> int | None:
        """The display row of the document ``document_id``, if shown."""
        for number, item in enumerate(self._rows):
            if item.doc.id == document_id:
                return number
        return None

    # -- Qt overrides --------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's default)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section].column
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.column_label(column)
        if role == Qt.ItemDataRole.InitialSortOrderRole:
            # A first click on the date shows the most recent first; text goes A to Z.
            return (
                Qt.SortOrder.DescendingOrder
                if column == Column.ACT_DATE
                else Qt.SortOrder.AscendingOrder
            )
        return None

    def column_label(self, column: Column) -> str:
        """The header text of ``column``."""
        match column:
            case Column.ACT_DATE:
                return self.tr("Date de l'acte")
            case Column.TYPE:
                return self.tr("Type")
            case Column.CLASS:
                return self.tr("Classe")
            case Column.TITLE:
                return self.tr("Titre")
            case Column.AUTHOR:
                return self.tr("Auteur")
            case Column.STRUCTURE:
                return self.tr("Structure")
            case Column.VISIBILITY:
                return self.tr("Visibilité")
            case Column.STATUS:
                return self.tr("Statut")

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        number, section = index.row(), index.column()
        if not (0 <= number < len(self._rows) and 0 <= section < len(COLUMNS)):
            return None
        row = self._rows[number]
        column = COLUMNS[section].column
        match role:
            case Qt.ItemDataRole.DisplayRole:
                return self._display(row, column)
            case Qt.ItemDataRole.ToolTipRole:
                return plain_tooltip(self._tooltip(row, column))
            case Qt.ItemDataRole.ForegroundRole:
                if column == Column.VISIBILITY and row.doc.masked:
                    return _MASKED_COLOR
                if column == Column.STATUS and row.is_new:
                    return _NEW_COLOR
                return None
            case Qt.ItemDataRole.AccessibleTextRole:
                return self._display(row, column)
            case _ if role == SORT_ROLE:
                return row.key(column)
            case _ if role == DOCUMENT_ROLE:
                return row.doc
            case _ if role == ROW_ROLE:
                return row
            case _ if role == BADGES_ROLE:
                return self.badges(row) if column == Column.VISIBILITY else None
        return None

    # -- display strings (built here, never compared) ----------------------------------------
    def badges(self, row: DocumentRow) -> list[tuple[Visibility, str]]:
        """The visibility badges of ``row``: (code, label), none for a normal document."""
        visibility = row.doc.visibility
        labels: list[tuple[Visibility, str]] = []
        if Visibility.MASQUE_PS in visibility:
            labels.append((Visibility.MASQUE_PS, self.tr("Masqué")))
        if Visibility.INVISIBLE_PATIENT in visibility:
            labels.append((Visibility.INVISIBLE_PATIENT, self.tr("Invisible patient")))
        if Visibility.INVISIBLE_REPRESENTANTS_LEGAUX in visibility:
            labels.append(
                (Visibility.INVISIBLE_REPRESENTANTS_LEGAUX, self.tr("Invisible représentants"))
            )
        return labels

    def status_label(self, row: DocumentRow) -> str:
        """The status column's text: new since the last visit, archived, or current."""
        parts = []
        if row.is_new:
            parts.append(self.tr("Nouveau"))
        if row.doc.archived:
            parts.append(self.tr("Archivé"))
        if row.doc.status != DocStatus.CURRENT:
            parts.append(str(row.doc.status))
        return ", ".join(parts) or self.tr("En vigueur")

    def _display(self, row: DocumentRow, column: Column) -> str:
        doc = row.doc
        match column:
            case Column.ACT_DATE:
                return french_date(doc.created)
            case Column.TYPE:
                return row.type_label
            case Column.CLASS:
                return row.class_label
            case Column.TITLE:
                return doc.title
            case Column.AUTHOR:
                return doc.author_name or doc.author_id_nat
            case Column.STRUCTURE:
                return doc.structure_name
            case Column.VISIBILITY:
                return " · ".join(label for _, label in self.badges(row))
            case Column.STATUS:
                return self.status_label(row)

    def _tooltip(self, row: DocumentRow, column: Column) -> str:
        doc = row.doc
        match column:
            case Column.ACT_DATE:
                return self.tr("Acte du {act}, déposé le {deposit}").format(
                    act=french_datetime(doc.created), deposit=french_datetime(doc.deposited)
                )
            case Column.AUTHOR if doc.author_profession:
                return f"{self._display(row, column)} ({doc.author_profession})"
            case Column.TYPE:
                return f"{row.type_label} ({doc.type_code})"
            case _:
                return self._display(row, column)
