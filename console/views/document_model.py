"""The document table's model: it presents rows already sorted and filtered, nothing more.

Rows come from :mod:`console.domain.table` (keys precomputed, order decided there); the
model builds display strings in :meth:`DocumentTableModel.data` and never compares them.
Everything that came from the network is returned as a plain ``str``: the views show it with
``Qt.TextFormat.PlainText``.
"""

from __future__ import annotations

import html
import operator
from bisect import bisect_right
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
from PySide6.QtGui import QColor, QFont

from console.domain.localtime import to_local
from console.domain.models import DocStatus, Visibility
from console.domain.table import Column, DocumentRow

__all__ = [
    "BADGES_ROLE",
    "COLUMNS",
    "DATE_COLUMNS",
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
    ColumnDef(Column.TYPE, 22),
    ColumnDef(Column.TITLE, 34),
    ColumnDef(Column.AUTHOR, 18),
    ColumnDef(Column.VISIBILITY, 20),
    ColumnDef(Column.STATUS, 10),
    ColumnDef(Column.DEPOSIT_DATE, 11),
    ColumnDef(Column.CLASS, 14),
    ColumnDef(Column.PROFESSION, 14),
    ColumnDef(Column.STRUCTURE, 20, stretch=True),
)
"""The columns in display order: what tells a document apart and whether it is masked or
new first (on a 1366-pixel screen, beside the preview, they are what shows without
scrolling); the professional moves, hides and widens them, and the view remembers."""

DATE_COLUMNS = frozenset({Column.ACT_DATE, Column.DEPOSIT_DATE})

INSERT_BLOCKS_MAX = 8
"""Beyond this many blocks, a page goes in as one insertion and one layout change."""

_NEW_BOLD = frozenset({Column.TITLE, Column.STATUS})
_ITEM_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
_ROLES = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.AccessibleTextRole,
        SORT_ROLE,
        DOCUMENT_ROLE,
        ROW_ROLE,
        BADGES_ROLE,
    )
)
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
    local = to_local(moment) if moment.tzinfo is not None else moment
    return local.strftime("%d/%m/%Y")


def french_datetime(moment: datetime) -> str:
    """``moment`` as dd/MM/yyyy HH:mm in local time."""
    local = to_local(moment) if moment.tzinfo is not None else moment
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
        self._bold = QFont()
        self._bold.setBold(True)

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

        A few blocks go in one by one, from the last to the first (each position is still
        the one the plan computed). Many scattered blocks (a large page into a large table)
        go in with two signals whatever their number: the rows are appended (one insertion),
        then moved into place (one layout change, the selection following its rows), so a
        page costs O(n) once rather than once per block.
        """
        blocks = sorted(plan, key=lambda block: block[0])
        if len(blocks) <= INSERT_BLOCKS_MAX:
            for position, rows in reversed(blocks):
                self.insert(position, rows)
            return
        old = self._rows
        size = len(old)
        incoming = [row for _, rows in blocks for row in rows]
        if not incoming:
            return
        self.beginInsertRows(QModelIndex(), size, size + len(incoming) - 1)
        self._rows = [*old, *incoming]
        self.endInsertRows()

        self.layoutAboutToBeChanged.emit()
        merged: list[DocumentRow] = []
        starts: list[int] = []
        inserted_until: list[int] = []  # rows inserted by the blocks up to this one
        new_positions: list[int] = []  # where each appended row goes
        previous = inserted = 0
        for position, rows in blocks:
            position = max(previous, min(position, size))
            merged.extend(old[previous:position])
            new_positions.extend(range(len(merged), len(merged) + len(rows)))
            merged.extend(rows)
            inserted += len(rows)
            starts.append(position)
            inserted_until.append(inserted)
            previous = position
        merged.extend(old[previous:])
        self._rows = merged

        def moved(row: int) -> int:
            if row >= size:
                return new_positions[row - size]
            before = bisect_right(starts, row)  # blocks inserted before this old row
            return row + (inserted_until[before - 1] if before else 0)

        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent,
            [self.index(moved(index.row()), index.column()) for index in persistent],
        )
        self.layoutChanged.emit()

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

    def position_of(self, row: DocumentRow) -> int | None:
        """The display row of ``row`` (this very object), if shown: a scan in C up to it
        (no Python comparison per row, no list built: the current row is most often near
        the top)."""
        try:
            return operator.indexOf(map(id, self._rows), id(row))
        except ValueError:
            return None

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
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

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
            # A first click on a date shows the most recent first; text goes A to Z.
            return (
                Qt.SortOrder.DescendingOrder
                if column in DATE_COLUMNS
                else Qt.SortOrder.AscendingOrder
            )
        return None

    def column_label(self, column: Column) -> str:
        """The header text of ``column``."""
        match column:
            case Column.ACT_DATE:
                return self.tr("Date de l'acte")
            case Column.DEPOSIT_DATE:
                return self.tr("Déposé le")
            case Column.TYPE:
                return self.tr("Type")
            case Column.CLASS:
                return self.tr("Classe")
            case Column.TITLE:
                return self.tr("Titre")
            case Column.AUTHOR:
                return self.tr("Auteur")
            case Column.PROFESSION:
                return self.tr("Profession")
            case Column.STRUCTURE:
                return self.tr("Structure")
            case Column.VISIBILITY:
                return self.tr("Visibilité")
            case Column.STATUS:
                return self.tr("Statut")

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Called for every visible cell and every role at each paint: the roles this model
        # never answers leave first (a flat table: a valid index has no parent).
        if role not in _ROLES or not index.isValid():
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
            case Qt.ItemDataRole.FontRole:
                return self._bold if row.is_new and column in _NEW_BOLD else None
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
            case Column.DEPOSIT_DATE:
                return french_date(doc.deposited)
            case Column.TYPE:
                return row.type_label
            case Column.CLASS:
                return row.class_label
            case Column.TITLE:
                return doc.title
            case Column.AUTHOR:
                return row.author
            case Column.PROFESSION:
                return row.profession_label
            case Column.STRUCTURE:
                return doc.structure_name
            case Column.VISIBILITY:
                return " · ".join(label for _, label in self.badges(row))
            case Column.STATUS:
                return self.status_label(row)

    def _tooltip(self, row: DocumentRow, column: Column) -> str:
        doc = row.doc
        match column:
            case Column.ACT_DATE | Column.DEPOSIT_DATE:
                return self.tr("Acte du {act}, déposé le {deposit}").format(
                    act=french_datetime(doc.created), deposit=french_datetime(doc.deposited)
                )
            case Column.AUTHOR if row.profession_label:
                return f"{row.author} ({row.profession_label})"
            case Column.STATUS if row.is_new:
                return self.tr("Déposé depuis votre dernière consultation de ce dossier")
            case Column.TYPE:
                return f"{row.type_label} ({doc.type_code})"
            case _:
                return self._display(row, column)
