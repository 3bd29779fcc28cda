"""The filter bar: debounced text, criteria menus, chips (add, remove), presets per
professional (saved through the preferences file, without patient data)."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QEvent, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.cache.preferences import JsonPreferenceStore
from console.domain.filters import Chip, ChipKind, FilterChoices, filter_choices
from console.domain.models import DocumentMeta, Visibility
from console.domain.table import ArchivedFilter, DocumentFilter, make_rows
from console.services.presets import MemoryPreferenceStore, PresetService
from console.views.filter_bar import TEXT_DELAY_MS, FilterBar

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """Widgets a test leaves in reference cycles (hypothesis keeps its examples' fixtures;
    a traceback keeps its frames) are destroyed here, on the GUI thread, once pytest-qt has
    closed them, never by a collection that happens to run on a worker thread (a Qt object
    must be destroyed on its own thread)."""
    yield
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


GP = "810000000001"
NURSE = "810000000002"


def doc(number: int, type_code: str, class_code: str, author_id: str, author: str) -> DocumentMeta:
    moment = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    return DocumentMeta(
        id=f"doc-{number}",
        master_id=f"doc-{number}",
        patient_ins="255081416802538",
        type_code=type_code,
        class_code=class_code,
        title=f"Document {number}",
        author_id_nat=author_id,
        created=moment,
        deposited=moment,
        author_name=author,
        visibility=frozenset({Visibility.MASQUE_PS}) if number == 3 else frozenset(),
    )


ROWS = make_rows(
    [
        doc(1, "18748-4", "31", GP, "Dr Claire MARTIN"),
        doc(2, "11488-4", "10", NURSE, "Paul INFIRMIER"),
        doc(3, "11488-4", "10", GP, "Dr Claire MARTIN"),
    ]
)


def choices() -> FilterChoices:
    return filter_choices(ROWS)


@pytest.fixture
def presets() -> PresetService:
    return PresetService(MemoryPreferenceStore())


@pytest.fixture
def bar(qtbot: QtBot, presets: PresetService) -> FilterBar:
    widget = FilterBar(presets)
    widget.set_choices_provider(choices)
    widget.set_professional(GP)
    qtbot.addWidget(widget)
    widget.resize(900, 80)
    widget.show()
    return widget


def emitted(bar: FilterBar) -> list[DocumentFilter]:
    seen: list[DocumentFilter] = []
    bar.filterChanged.connect(seen.append)
    return seen


def test_text_is_applied_once_after_a_pause(bar: FilterBar, qtbot: QtBot) -> None:
    seen = emitted(bar)
    # QTest types ASCII only (accents are the domain's tests).
    qtbot.keyClicks(bar.text_edit, "Echo")
    assert seen == []  # not at every keystroke
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=TEXT_DELAY_MS * 10)
    qtbot.wait(TEXT_DELAY_MS * 2)
    assert seen == [DocumentFilter("Echo")]
    assert bar.chip_texts() == ["Texte : « Echo »"]


def test_enter_down_and_escape_leave_the_field(bar: FilterBar, qtbot: QtBot) -> None:
    seen = emitted(bar)
    left: list[bool] = []
    bar.leaveRequested.connect(lambda: left.append(True))
    qtbot.keyClicks(bar.text_edit, "bilan")
    qtbot.keyClick(bar.text_edit, Qt.Key.Key_Return)  # applied at once, then leaves
    assert seen == [DocumentFilter("bilan")] and left == [True]
    qtbot.keyClick(bar.text_edit, Qt.Key.Key_Down)
    assert left == [True, True]
    qtbot.keyClick(bar.text_edit, Qt.Key.Key_Escape)  # clears first
    assert seen[-1] == DocumentFilter() and bar.text_edit.text() == "" and len(left) == 2
    qtbot.keyClick(bar.text_edit, Qt.Key.Key_Escape)  # then leaves
    assert len(left) == 3


def test_menus_offer_the_values_of_the_record(bar: FilterBar) -> None:
    bar.rebuild_menus()
    assert [a.text() for a in bar.type_menu.actions()] == [
        "CR d'imagerie médicale (1)",
        "CR ou fiche de consultation ou de visite (2)",
    ]
    assert [a.text() for a in bar.class_menu.actions()] == [
        "Compte rendu (2)",
        "Imagerie médicale (1)",
    ]
    assert [a.text() for a in bar.author_menu.actions()] == [
        "Dr Claire MARTIN (2)",
        "Paul INFIRMIER (1)",
    ]
    assert [a.text() for a in bar.visibility_menu.actions()] == [
        "Normale (2)",
        "Masqué aux professionnels (1)",
        "Invisible pour le patient (0)",
        "Invisible pour les représentants légaux (0)",
    ]


def test_chips_follow_the_menus_and_remove_in_one_click(bar: FilterBar, qtbot: QtBot) -> None:
    seen = emitted(bar)
    bar.rebuild_menus()
    next(a for a in bar.author_menu.actions() if a.data() == GP).trigger()
    bar.rebuild_menus()
    next(a for a in bar.class_menu.actions() if a.data() == "31").trigger()
    bar.rebuild_menus()
    next(a for a in bar.archived_menu.actions() if a.data() == "hide").trigger()
    qtbot.mouseClick(bar.new_button, Qt.MouseButton.LeftButton)
    assert bar.filter() == DocumentFilter(
        authors=frozenset({GP}),
        class_codes=frozenset({"31"}),
        archived=ArchivedFilter.HIDE,
        new_only=True,
    )
    assert seen[-1] == bar.filter()
    assert bar.chip_texts() == [
        "Classe : Imagerie médicale",
        "Auteur : Dr Claire MARTIN",
        "Nouveaux seulement",
        "Sans les archivés",
    ]
    # Each chip's button says what it removes.
    assert (
        bar.chip_widgets()[0].remove_button.accessibleName()
        == "Retirer le filtre Classe : Imagerie médicale"
    )
    qtbot.mouseClick(bar.chip_widgets()[2].remove_button, Qt.MouseButton.LeftButton)
    assert not bar.filter().new_only and not bar.new_button.isChecked()
    qtbot.mouseClick(bar.chip_widgets()[0].remove_button, Qt.MouseButton.LeftButton)
    assert bar.chip_texts() == ["Auteur : Dr Claire MARTIN", "Sans les archivés"]
    bar.clear_action.trigger()
    assert bar.filter() == DocumentFilter() and bar.chip_texts() == []
    assert not bar.chips_box.isVisible()


def test_unchecking_a_menu_value_removes_its_chip(bar: FilterBar) -> None:
    bar.rebuild_menus()
    next(a for a in bar.type_menu.actions() if a.data() == "18748-4").trigger()
    assert bar.chip_texts() == ["Type : CR d'imagerie médicale"]
    bar.rebuild_menus()
    action = next(a for a in bar.type_menu.actions() if a.data() == "18748-4")
    assert action.isChecked()
    action.trigger()
    assert bar.chip_texts() == [] and bar.filter() == DocumentFilter()


def test_the_period_menu_sets_a_date_range(bar: FilterBar) -> None:
    bar.period_from_check.setChecked(True)
    bar.period_from.setDate(QDate(2025, 1, 31))
    bar.period_to_check.setChecked(True)
    bar.period_to.setDate(QDate(2024, 1, 1))  # reversed: put back in order
    bar.period_apply.click()
    assert (bar.filter().act_from, bar.filter().act_to) == (date(2024, 1, 1), date(2025, 1, 31))
    assert bar.chip_texts() == ["Depuis le 01/01/2024", "Jusqu'au 31/01/2025"]
    bar.remove_chip(Chip(ChipKind.ACT_FROM, "2024-01-01"))
    assert bar.filter().act_from is None and not bar.period_from_check.isChecked()


def test_focus_text_selects_the_field(bar: FilterBar, qtbot: QtBot) -> None:
    bar.text_edit.setText("ancien")
    bar.focus_text()
    assert QApplication.focusWidget() is bar.text_edit
    assert bar.text_edit.selectedText() == "ancien"


# -- presets --------------------------------------------------------------------------------------


def test_save_apply_and_delete_presets(bar: FilterBar, presets: PresetService) -> None:
    imaging = DocumentFilter(class_codes=frozenset({"31"}), visibility=frozenset({"N"}))
    bar.set_filter(imaging)
    dialog = bar.ask_preset_name()
    assert dialog.isVisible()
    dialog.setTextValue("  Imagerie   normale ")
    dialog.accept()
    assert [p.name for p in bar.presets()] == ["Imagerie normale"]
    bar.set_filter(DocumentFilter("bilan"))
    bar.save_preset("Bilans")
    bar.clear_filter()

    bar.rebuild_presets_menu()
    names = [a.text() for a in bar.presets_menu.actions() if a.data()]
    assert names == ["Imagerie normale", "Bilans"]
    seen = emitted(bar)
    next(a for a in bar.presets_menu.actions() if a.data() == "Imagerie normale").trigger()
    assert bar.filter() == imaging and seen == [imaging]
    assert bar.chip_texts() == ["Classe : Imagerie médicale", "Visibilité : Normale"]

    bar.save_preset("Bilans")  # the same name replaces it
    assert [p.filter for p in bar.presets() if p.name == "Bilans"] == [imaging]
    bar.delete_preset("Imagerie normale")
    assert [p.name for p in bar.presets()] == ["Bilans"]


def test_presets_belong_to_one_professional(bar: FilterBar) -> None:
    bar.set_filter(DocumentFilter(new_only=True))
    bar.save_preset("Nouveautés")
    bar.set_professional(NURSE)
    assert bar.presets() == []
    assert not bar.apply_preset("Nouveautés")
    bar.set_professional(GP)
    assert bar.apply_preset("Nouveautés")
    bar.set_professional("")
    assert not bar.presets_button.isEnabled()


def test_presets_survive_a_restart_and_hold_no_patient_data(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "preferences.json"
    first = FilterBar(PresetService(JsonPreferenceStore(path)))
    qtbot.addWidget(first)
    first.set_professional(GP)
    saved = DocumentFilter(
        "echo",
        type_codes=frozenset({"18748-4"}),
        authors=frozenset({NURSE}),
        act_from=date(2024, 1, 1),
        archived=ArchivedFilter.ONLY,
    )
    first.set_filter(saved)
    first.save_preset("Échos")

    again = FilterBar(PresetService(JsonPreferenceStore(path)))
    qtbot.addWidget(again)
    again.set_professional(GP)
    assert again.apply_preset("Échos") and again.filter() == saved
    stored = path.read_text(encoding="utf-8")
    assert GP not in stored  # keyed by a hash of her idNat
    assert "255081416802538" not in stored and "Document" not in stored
    (key,) = json.loads(stored)
    assert key.startswith("table_presets.")


def test_network_labels_show_as_typed_in_menus_and_chips(qtbot: QtBot) -> None:
    rows = make_rows([doc(1, "11488-4", GP, GP, "Dupont & Fils <b>SA</b>")])
    widget = FilterBar(PresetService(MemoryPreferenceStore()))
    qtbot.addWidget(widget)
    widget.set_choices_provider(lambda: filter_choices(rows))
    widget.rebuild_menus()
    (author,) = widget.author_menu.actions()
    assert author.text() == "Dupont && Fils <b>SA</b> (1)"  # "&&" shows one "&"
    author.trigger()
    (chip,) = widget.chip_widgets()
    assert chip.text() == "Auteur : Dupont & Fils <b>SA</b>"
    assert chip.label.textFormat() == Qt.TextFormat.PlainText
    assert chip.remove_button.toolTip() == (
        "<qt>Retirer le filtre Auteur : Dupont &amp; Fils &lt;b&gt;SA&lt;/b&gt;</qt>"
    )
