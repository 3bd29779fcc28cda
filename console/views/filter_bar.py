"""The document table's filter bar: free text, criteria menus, chips and saved presets.

The bar holds one :class:`~console.domain.table.DocumentFilter` and emits it when it
changes (the free text after a short pause, so typing stays fluid on large records); the
dossier view applies it with the pure functions of :mod:`console.domain.table`. Each active
criterion shows as a chip removed in one click; presets are saved per professional through
:class:`~console.services.presets.PresetService`. Values from the network (types, authors)
are shown as plain text.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QDate, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from console.domain.filters import (
    VISIBILITY_CODES,
    Chip,
    ChipKind,
    FilterChoices,
    FilterPreset,
    chips,
    without,
)
from console.domain.localtime import today
from console.domain.models import Visibility
from console.domain.table import NORMAL_VISIBILITY, ArchivedFilter, DocumentFilter
from console.domain.terminology import terminology
from console.services.presets import PresetService
from console.views.document_model import plain_tooltip

__all__ = ["ChipWidget", "FilterBar"]


TEXT_DELAY_MS = 150
"""Pause after the last keystroke before the free text filters the table."""

_LABELLED = frozenset({ChipKind.TYPE, ChipKind.CLASS, ChipKind.AUTHOR})
_CHIP_STYLE = "#filterChip { background: #e3ebf5; border: 1px solid #9db4d0; border-radius: 10px; }"


class ChipWidget(QFrame):
    """One active filter: its text and a button that removes it.

    Signals:
        removeRequested(): the professional clicked the chip's ✕.
    """

    removeRequested = Signal()

    def __init__(self, text: str, remove_tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterChip")
        self.setStyleSheet(_CHIP_STYLE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 2, 0)
        layout.setSpacing(2)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setText(text)
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(plain_tooltip(remove_tip))
        self.remove_button.setAccessibleName(remove_tip)
        self.remove_button.clicked.connect(self.removeRequested)
        layout.addWidget(self.label)
        layout.addWidget(self.remove_button)

    def text(self) -> str:
        return self.label.text()


class FilterBar(QWidget):
    """Free-text field, criteria and presets menus, and the chips of the active filter.

    Args:
        presets: Where presets are saved (per professional, see :meth:`set_professional`).

    Signals:
        filterChanged(object): the :class:`DocumentFilter` to apply now.
        leaveRequested(): Enter, Escape (on an empty field) or Down in the text field: the
            keyboard goes back to the table.
    """

    filterChanged = Signal(object)
    leaveRequested = Signal()

    def __init__(self, presets: PresetService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._presets = presets
        self._professional = ""
        self._filter = DocumentFilter()
        self._choices_provider: Callable[[], FilterChoices] = FilterChoices
        self._choices = FilterChoices()
        self._chips: list[tuple[Chip, ChipWidget]] = []
        self._leading: list[QWidget] = []
        self._name_dialog: QInputDialog | None = None

        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(TEXT_DELAY_MS)
        self._text_timer.timeout.connect(self._text_settled)

        self.text_edit = QLineEdit()
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.setPlaceholderText(self.tr("Filtrer : titre, type, auteur… (Ctrl+F)"))
        self.text_edit.setAccessibleName(self.tr("Filtrer les documents"))
        self.text_edit.textEdited.connect(self._text_edited)
        self.text_edit.installEventFilter(self)

        # Criteria menu.
        self.criteria_menu = QMenu(self)
        self.criteria_menu.aboutToShow.connect(self.rebuild_menus)
        self.type_menu = self.criteria_menu.addMenu(self.tr("Type"))
        self.class_menu = self.criteria_menu.addMenu(self.tr("Classe"))
        self.author_menu = self.criteria_menu.addMenu(self.tr("Auteur"))
        self.visibility_menu = self.criteria_menu.addMenu(self.tr("Visibilité"))
        self.archived_menu = self.criteria_menu.addMenu(self.tr("Archivés"))
        self.criteria_menu.addSeparator()
        self.new_action = QAction(self.tr("Nouveaux seulement"), self)
        self.new_action.setCheckable(True)
        self.new_action.toggled.connect(self._new_toggled)
        self.criteria_menu.addAction(self.new_action)
        self.criteria_menu.addSeparator()
        self.clear_action = self.criteria_menu.addAction(self.tr("Effacer tous les filtres"))
        self.clear_action.triggered.connect(self.clear_filter)
        self.criteria_button = QToolButton()
        self.criteria_button.setText(self.tr("Filtres"))
        self.criteria_button.setMenu(self.criteria_menu)
        self.criteria_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        # Period menu: two optional dates.
        self.period_menu = QMenu(self)
        self.period_from_check = QCheckBox(self.tr("Du"))
        self.period_from = QDateEdit()
        self.period_to_check = QCheckBox(self.tr("Au"))
        self.period_to = QDateEdit()
        for edit in (self.period_from, self.period_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("dd/MM/yyyy")
            day = today()
            edit.setDate(QDate(day.year, day.month, day.day))
        self.period_apply = QPushButton(self.tr("Appliquer"))
        self.period_apply.clicked.connect(self._period_applied)
        period_box = QWidget()
        form = QFormLayout(period_box)
        form.addRow(self.period_from_check, self.period_from)
        form.addRow(self.period_to_check, self.period_to)
        form.addRow(self.period_apply)
        period_action = QWidgetAction(self.period_menu)
        period_action.setDefaultWidget(period_box)
        self.period_menu.addAction(period_action)
        self.period_button = QToolButton()
        self.period_button.setText(self.tr("Période"))
        self.period_button.setMenu(self.period_menu)
        self.period_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        self.new_button = QToolButton()
        self.new_button.setText(self.tr("Nouveaux"))
        self.new_button.setToolTip(
            self.tr("N'afficher que les documents déposés depuis votre dernière consultation")
        )
        self.new_button.setCheckable(True)
        self.new_button.toggled.connect(self._new_toggled)

        # Presets menu.
        self.presets_menu = QMenu(self)
        self.presets_menu.aboutToShow.connect(self.rebuild_presets_menu)
        self.presets_button = QToolButton()
        self.presets_button.setText(self.tr("Favoris"))
        self.presets_button.setToolTip(self.tr("Filtres enregistrés"))
        self.presets_button.setMenu(self.presets_menu)
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.text_edit, 1)
        top.addWidget(self.criteria_button)
        top.addWidget(self.period_button)
        top.addWidget(self.new_button)
        top.addWidget(self.presets_button)

        self.chips_box = QWidget()
        # The row keeps its place when it has no chip: the table below does not jump (and
        # relayout) when the first letter typed brings the first chip.
        policy = self.chips_box.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.chips_box.setSizePolicy(policy)
        sample = ChipWidget("Ag", "")
        self.chips_box.setMinimumHeight(sample.sizeHint().height())
        sample.deleteLater()
        self._chips_layout = QHBoxLayout(self.chips_box)
        self._chips_layout.setContentsMargins(0, 0, 0, 0)
        self._chips_layout.setSpacing(4)
        self._chips_layout.addStretch(1)

        self.trailing = QHBoxLayout()
        """Right of the chips, on their line: the owner's counts and statuses (kept there, the
        line is never empty space)."""
        self.trailing.setContentsMargins(0, 0, 0, 0)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(self.chips_box, 1)
        second.addLayout(self.trailing)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(second)
        self._show_chips()

    # -- public API ----------------------------------------------------------------------------
    def filter(self) -> DocumentFilter:
        """The filter the bar holds (the text included, even while its pause runs)."""
        return self._filter

    def set_filter(self, flt: DocumentFilter, *, emit: bool = True) -> None:
        """Hold ``flt``: fields, menus and chips follow; emits ``filterChanged`` if asked."""
        self._text_timer.stop()
        self._filter = flt
        if self.text_edit.text() != flt.text:
            self.text_edit.setText(flt.text)
        for toggle in (self.new_action, self.new_button):
            toggle.blockSignals(True)
            toggle.setChecked(flt.new_only)
            toggle.blockSignals(False)
        for check, edit, day in (
            (self.period_from_check, self.period_from, flt.act_from),
            (self.period_to_check, self.period_to, flt.act_to),
        ):
            check.setChecked(day is not None)
            if day is not None:
                edit.setDate(QDate(day.year, day.month, day.day))
        self._show_chips()
        if emit:
            self.filterChanged.emit(flt)

    def clear_filter(self) -> None:
        """Remove every criterion."""
        self.set_filter(DocumentFilter())

    def set_choices_provider(self, provider: Callable[[], FilterChoices]) -> None:
        """Where the menus find the values present in the record (asked when they open).

        A bound method is held weakly: the owner of the bar (its parent) must not be kept
        alive, nor put in a reference cycle, by its own child.
        """
        if inspect.ismethod(provider):
            method = weakref.WeakMethod(provider)

            def weak() -> FilterChoices:
                bound = method()
                return bound() if bound is not None else FilterChoices()

            self._choices_provider = weak
        else:
            self._choices_provider = provider

    def set_professional(self, id_nat: str) -> None:
        """Whose presets the bar offers ("" when nobody is known: no presets)."""
        self._professional = id_nat
        self.presets_button.setEnabled(bool(id_nat))

    def focus_text(self) -> None:
        """Put the keyboard in the text field, its text selected (Ctrl+F)."""
        self.text_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.text_edit.selectAll()

    def add_leading_chip(self, widget: QWidget) -> None:
        """Show ``widget`` (a chip kept by the owner, e.g. the date limit) before the chips."""
        self._leading.append(widget)
        self._chips_layout.insertWidget(len(self._leading) - 1, widget)
        self._show_chips()

    def chip_widgets(self) -> list[ChipWidget]:
        """The chips shown for the filter, in order."""
        return [widget for _, widget in self._chips]

    def chip_texts(self) -> list[str]:
        return [widget.text() for widget in self.chip_widgets()]

    def remove_chip(self, chip: Chip) -> None:
        """Remove the criterion value of ``chip``."""
        self.set_filter(without(self._filter, chip))

    # presets
    def presets(self) -> list[FilterPreset]:
        return self._presets.presets(self._professional)

    def save_preset(self, name: str) -> None:
        """Save the current filter under ``name`` for the professional."""
        self._presets.save_preset(self._professional, name, self._filter)

    def apply_preset(self, name: str) -> bool:
        """Apply the preset ``name``; False if she has none of that name."""
        for preset in self.presets():
            if preset.name == name:
                self.set_filter(preset.filter)
                return True
        return False

    def delete_preset(self, name: str) -> None:
        self._presets.delete_preset(self._professional, name)

    def ask_preset_name(self) -> QInputDialog:
        """Open the dialog asking the new preset's name (window-modal, not blocking)."""
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("Enregistrer le filtre"))
        dialog.setLabelText(self.tr("Nom du filtre :"))
        dialog.setInputMode(QInputDialog.InputMode.TextInput)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.textValueSelected.connect(self.save_preset)
        dialog.finished.connect(dialog.deleteLater)
        self._name_dialog = dialog
        dialog.open()
        return dialog

    # -- menus -----------------------------------------------------------------------------------
    def rebuild_menus(self) -> None:
        """Fill the criteria menus with the values of the record (as they open)."""
        self._choices = self._choices_provider()
        flt = self._filter
        self._fill(
            self.type_menu,
            [(c.value, f"{c.label} ({c.count})") for c in self._choices.types],
            flt.type_codes,
            "type_codes",
        )
        self._fill(
            self.class_menu,
            [(c.value, f"{c.label} ({c.count})") for c in self._choices.classes],
            flt.class_codes,
            "class_codes",
        )
        self._fill(
            self.author_menu,
            [(c.value, f"{c.label} ({c.count})") for c in self._choices.authors],
            flt.authors,
            "authors",
        )
        present = {c.value: c.count for c in self._choices.visibility}
        self._fill(
            self.visibility_menu,
            [
                (code, f"{self.visibility_label(code)} ({present.get(code, 0)})")
                for code in VISIBILITY_CODES
            ],
            flt.visibility,
            "visibility",
        )
        self.archived_menu.clear()
        group = QActionGroup(self.archived_menu)
        for mode, label in (
            (ArchivedFilter.ALL, self.tr("Tous les documents")),
            (ArchivedFilter.HIDE, self.tr("Masquer les archivés")),
            (ArchivedFilter.ONLY, self.tr("Archivés seulement")),
        ):
            action = self.archived_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(flt.archived is mode)
            action.setData(mode.value)
            group.addAction(action)
            action.triggered.connect(
                lambda _checked=False, m=mode: self.set_filter(self._filter.replace(archived=m))
            )
        self.new_action.blockSignals(True)
        self.new_action.setChecked(flt.new_only)
        self.new_action.setText(
            self.tr("Nouveaux seulement ({count})").format(count=self._choices.new)
        )
        self.new_action.blockSignals(False)

    def _fill(
        self,
        menu: QMenu,
        entries: list[tuple[str, str]],
        selected: frozenset[str],
        field_name: str,
    ) -> None:
        menu.clear()
        if not entries:
            empty = menu.addAction(self.tr("(aucun)"))
            empty.setEnabled(False)
            return
        for value, label in entries:
            action = menu.addAction(_action_text(label))
            action.setCheckable(True)
            action.setChecked(value in selected)
            action.setData(value)
            action.toggled.connect(
                lambda checked, v=value, f=field_name: self._toggle_value(f, v, checked)
            )

    def _toggle_value(self, field_name: str, value: str, checked: bool) -> None:
        current: frozenset[str] = getattr(self._filter, field_name)
        values = current | {value} if checked else current - {value}
        self.set_filter(self._filter.replace(**{field_name: values}))

    def rebuild_presets_menu(self) -> None:
        """Fill the presets menu: her presets, save, delete."""
        menu = self.presets_menu
        menu.clear()
        presets = self.presets()
        for preset in presets:
            action = menu.addAction(_action_text(preset.name))
            action.setData(preset.name)
            action.triggered.connect(lambda _checked=False, n=preset.name: self.apply_preset(n))
        if presets:
            menu.addSeparator()
        save = menu.addAction(self.tr("Enregistrer le filtre actuel…"))
        save.setEnabled(bool(self._professional) and not self._filter.is_empty)
        save.triggered.connect(self.ask_preset_name)
        delete = menu.addMenu(self.tr("Supprimer"))
        delete.setEnabled(bool(presets))
        for preset in presets:
            action = delete.addAction(_action_text(preset.name))
            action.triggered.connect(lambda _checked=False, n=preset.name: self.delete_preset(n))

    # -- labels ----------------------------------------------------------------------------------
    def visibility_label(self, code: str) -> str:
        match code:
            case Visibility.MASQUE_PS:
                return self.tr("Masqué aux professionnels")
            case Visibility.INVISIBLE_PATIENT:
                return self.tr("Invisible pour le patient")
            case Visibility.INVISIBLE_REPRESENTANTS_LEGAUX:
                return self.tr("Invisible pour les représentants légaux")
            case _ if code == NORMAL_VISIBILITY:
                return self.tr("Normale")
        return code

    def chip_text(self, chip: Chip) -> str:
        """What the chip of ``chip`` says."""
        label = self._choices.label_of(chip.kind, chip.value)
        match chip.kind:
            case ChipKind.TEXT:
                return self.tr("Texte : « {text} »").format(text=chip.value)
            case ChipKind.TYPE:
                known = terminology().types.get(chip.value)
                name = label or (known.label if known is not None else chip.value)
                return self.tr("Type : {label}").format(label=name)
            case ChipKind.CLASS:
                name = label or terminology().classes.get(chip.value, chip.value)
                return self.tr("Classe : {label}").format(label=name)
            case ChipKind.AUTHOR:
                return self.tr("Auteur : {label}").format(label=label or chip.value)
            case ChipKind.ACT_FROM:
                return self.tr("Depuis le {date}").format(date=_french(chip.value))
            case ChipKind.ACT_TO:
                return self.tr("Jusqu'au {date}").format(date=_french(chip.value))
            case ChipKind.VISIBILITY:
                return self.tr("Visibilité : {label}").format(
                    label=self.visibility_label(chip.value)
                )
            case ChipKind.NEW_ONLY:
                return self.tr("Nouveaux seulement")
            case ChipKind.ARCHIVED:
                return (
                    self.tr("Archivés seulement")
                    if chip.value == ArchivedFilter.ONLY
                    else self.tr("Sans les archivés")
                )

    # -- internals -------------------------------------------------------------------------------
    def _show_chips(self) -> None:
        for _, widget in self._chips:
            self._chips_layout.removeWidget(widget)
            widget.deleteLater()
        self._chips = []
        active = chips(self._filter)
        if any(
            c.kind in _LABELLED and self._choices.label_of(c.kind, c.value) is None for c in active
        ):
            # Labels for chips applied without the menus (a preset): ask the record once.
            self._choices = self._choices_provider()
        for number, chip in enumerate(active):
            text = self.chip_text(chip)
            widget = ChipWidget(text, self.tr("Retirer le filtre {text}").format(text=text))
            widget.removeRequested.connect(lambda c=chip: self.remove_chip(c))
            self._chips_layout.insertWidget(len(self._leading) + number, widget)
            self._chips.append((chip, widget))
        visible = bool(self._chips) or any(not w.isHidden() for w in self._leading)
        self.chips_box.setVisible(visible)

    def refresh_leading(self) -> None:
        """Show or hide the chips row after a leading chip was shown or hidden."""
        self._show_chips()

    def _text_edited(self, _text: str) -> None:
        self._text_timer.start()

    def _text_settled(self) -> None:
        text = self.text_edit.text()
        if text != self._filter.text:
            self.set_filter(self._filter.replace(text=text))

    def flush_text(self) -> None:
        """Apply the text now (without waiting for the pause)."""
        if self._text_timer.isActive():
            self._text_timer.stop()
            self._text_settled()

    def _new_toggled(self, checked: bool) -> None:
        self.set_filter(self._filter.replace(new_only=checked))

    def _period_applied(self) -> None:
        start = _day(self.period_from.date()) if self.period_from_check.isChecked() else None
        end = _day(self.period_to.date()) if self.period_to_check.isChecked() else None
        if start is not None and end is not None and end < start:
            start, end = end, start
        self.period_menu.close()
        self.set_filter(self._filter.replace(act_from=start, act_to=end))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.text_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Down):
                self.flush_text()
                self.leaveRequested.emit()
                return True
            if key == Qt.Key.Key_Escape:
                if self.text_edit.text():
                    self.text_edit.clear()
                    self.set_filter(self._filter.replace(text=""))
                else:
                    self.leaveRequested.emit()
                return True
        return super().eventFilter(watched, event)


def _action_text(text: str) -> str:
    """``text`` as a menu entry shows it: a lone "&" would mark a shortcut letter."""
    return text.replace("&", "&&")


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _french(iso: str) -> str:
    try:
        return date.fromisoformat(iso).strftime("%d/%m/%Y")
    except ValueError:
        return iso
