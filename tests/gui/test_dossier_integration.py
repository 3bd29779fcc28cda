"""The dossier view with its embedded parts: the full header, the "Vaccinations" and
"Entourage et volontés" tabs (the latter read only when shown), the table's context menu
(document actions) and the bris de glace marking of masked documents; clearing leaves no
patient data anywhere."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMenu, QTabWidget
from pytestqt.qtbot import QtBot

from console.domain.dossier import ProfessionalLogin
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.rules import UpdateAction
from console.domain.table import Column
from console.services.deposit import DepositService
from console.services.dossier_header import DossierHeaderService
from console.services.entourage import EntourageService
from console.services.vaccination import VaccinationService
from console.services.visits import InMemoryVisitStore, VisitService
from console.views.document_actions import DocumentChange
from console.views.dossier_view import DossierView
from tests.deposit_fakes import FAST, GP, FakeDmp, login_of
from tests.gui import test_entourage as entourage_fakes
from tests.gui import test_vaccinations as vaccination_fakes
from tests.gui.conftest import AsyncLoop
from tests.gui.test_dossier_view import (
    TODAY,
    Clock,
    FakeDocumentsService,
    all_docs,
    doc,
    dossier,
    section,
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

REVEALED = "Masqué — révélé par le bris de glace"


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    yield
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


class World:
    """The fakes behind one view."""

    def __init__(self, docs: list[DocumentMeta] | None = None) -> None:
        self.documents = FakeDocumentsService([docs if docs is not None else all_docs()])
        self.profile = entourage_fakes.FakeGateway()
        self.immunizations = vaccination_fakes.FakeGateway()
        self.dmp = FakeDmp(GP)
        self.login: ProfessionalLogin | None = login_of(GP)

    def view(
        self,
        qtbot: QtBot,
        *,
        header: bool = True,
        vaccinations: bool = True,
        entourage: bool = True,
        deposits: bool = True,
    ) -> DossierView:
        widget = DossierView(
            self.documents,
            visits=VisitService(InMemoryVisitStore(), Clock()),
            header=DossierHeaderService(self.profile, self.documents) if header else None,
            vaccinations=(
                VaccinationService(self.immunizations, self.documents, today=lambda: TODAY)
                if vaccinations
                else None
            ),
            entourage=EntourageService(self.profile, self.documents) if entourage else None,
            deposits=DepositService(self.dmp, policy=FAST) if deposits else None,
            login_provider=(lambda: self.login) if deposits else None,
        )
        qtbot.addWidget(widget)
        widget.resize(1600, 800)
        widget.show()
        return widget


def opened(
    view: DossierView, world: World, aloop: AsyncLoop, mode: AccessMode = AccessMode.NORMAL
) -> None:
    ended = world.documents.fetches_ended
    view.show_dossier(dossier(mode), today=TODAY)
    aloop.wait_until(
        lambda: (
            not view.loading
            and world.documents.fetches_ended > ended
            and (view.header_widget is None or not view.header_widget.busy)
            and (view.vaccinations_tab is None or not view.vaccinations_tab.busy)
        )
    )


def tab_titles(view: DossierView) -> list[str]:
    tabs = view.tabs
    return [] if tabs is None else [tabs.tabText(i) for i in range(tabs.count())]


def test_tabs_only_for_the_services_given(qtbot: QtBot, aloop: AsyncLoop) -> None:
    plain = World().view(qtbot, header=False, vaccinations=False, entourage=False, deposits=False)
    assert plain.tabs is None and not plain.findChildren(QTabWidget)
    assert plain.header_widget is None and plain.plain_header.isVisible()
    only_vaccinations = World().view(qtbot, entourage=False)
    assert tab_titles(only_vaccinations) == ["Documents", "Vaccinations"]
    assert only_vaccinations.entourage_view is None
    full = World().view(qtbot)
    assert tab_titles(full) == ["Documents", "Vaccinations", "Entourage et volontés"]
    assert full.header_widget is not None and full.header_widget.isVisible()
    assert not full.plain_header.isVisible()


def test_the_embedded_parts_follow_the_record(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World()
    view = world.view(qtbot)
    opened(view, world, aloop)
    assert view.header_widget is not None and view.vaccinations_tab is not None
    assert view.header_widget.name_label.text()
    assert "MARTIN" in view.header_widget.gp_label.text()
    assert view.vaccinations_tab.model.rowCount() == len(vaccination_fakes.SEEDED)
    assert view.model.rowCount() == len(all_docs())


def test_entourage_is_read_only_when_its_tab_is_shown(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World()
    view = world.view(qtbot)
    opened(view, world, aloop)
    assert view.tabs is not None and view.entourage_view is not None
    assert "related" not in world.profile.calls and "directives" not in world.profile.calls
    assert view.entourage_view.entourage is None
    view.tabs.setCurrentWidget(view.entourage_view)
    aloop.wait_until(lambda: view.entourage_view is not None and view.entourage_view.entourage)
    assert world.profile.calls.count("related") == 1
    # Back and forth: not read again for the same record.
    view.tabs.setCurrentIndex(0)
    view.tabs.setCurrentWidget(view.entourage_view)
    aloop.spin(0.05)
    assert world.profile.calls.count("related") == 1
    # Another opening starts on the documents, and reads the entourage only when shown.
    opened(view, world, aloop)
    assert view.tabs.currentIndex() == 0
    assert world.profile.calls.count("related") == 1


def test_clear_leaves_no_patient_data_anywhere(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World()
    view = world.view(qtbot)
    opened(view, world, aloop)
    assert view.tabs is not None and view.entourage_view is not None
    view.tabs.setCurrentWidget(view.entourage_view)
    aloop.wait_until(lambda: view.entourage_view is not None and view.entourage_view.entourage)
    assert any(view.entourage_view.section_lines(name) for name in ("contacts", "directives"))

    view.clear()

    assert view.dossier is None and view.model.rowCount() == 0
    assert view.header_widget is not None and view.header_widget.info is None
    assert view.header_widget.name_label.text() == ""
    assert view.header_widget.gp_label.text() == ""
    assert view.vaccinations_tab is not None and view.vaccinations_tab.model.rowCount() == 0
    assert view.vaccinations_tab.dossier is None
    assert view.entourage_view.entourage is None
    for name in ("trusted_person", "contacts", "directives"):
        assert view.entourage_view.section_lines(name) == []
    # The entourage's lines are deleted later (deleteLater): let that happen, then scan.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    texts = " ".join(label.text() for label in view.findChildren(QLabel)).casefold()
    for trace in ("durand", "moreau", "martin", "255081416802538"):
        assert trace not in texts
    assert view.tabs.currentIndex() == 0


def test_a_vaccination_history_document_opens_in_the_preview(
    qtbot: QtBot, aloop: AsyncLoop
) -> None:
    world = World()
    view = world.view(qtbot)
    opened(view, world, aloop)
    assert view.tabs is not None and view.vaccinations_tab is not None
    view.tabs.setCurrentWidget(view.vaccinations_tab)
    history = vaccination_fakes.history_doc(1, all_docs()[0].created)
    view.vaccinations_tab.documentActivated.emit(history)
    assert view.tabs.currentIndex() == 0
    aloop.wait_until(lambda: history.id in world.documents.retrieved)


@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
def test_the_table_offers_the_document_actions(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World([doc(1, author_id=GP.id_nat)])
    view = world.view(qtbot)
    opened(view, world, aloop)
    position = view.table.visualRect(view.model.index(0, 0)).center()
    menu = view.document_menu_at(position)
    assert menu is not None
    names = [action.objectName() for action in menu.actions()]
    assert names == [
        "document_replace",
        "document_mask",
        "document_hide_from_patient",
        "document_delete",
    ]
    menu.close()
    # The signal Qt sends on a right click pops the same menu up.
    view.table.customContextMenuRequested.emit(position)
    popped = [m for m in view.findChildren(QMenu) if m.isVisible()]
    assert popped and popped[0].actions()[0].objectName() == "document_replace"
    popped[0].close()
    # Locked session: no actions, and the view says why.
    world.login = None
    assert view.document_menu_at(position) is None
    assert "verrouillée" in view.status_label.text()


def test_no_context_menu_without_deposits(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World()
    view = world.view(qtbot, deposits=False)
    opened(view, world, aloop)
    position = view.table.visualRect(view.model.index(0, 0)).center()
    assert view.document_menu_at(position) is None
    assert view.document_actions(view.model.row_at(0).doc) == []


def test_a_change_updates_the_row_and_says_so(qtbot: QtBot, aloop: AsyncLoop) -> None:
    world = World()
    view = world.view(qtbot)
    opened(view, world, aloop)
    before = view.model.row_at(0).doc
    after = replace(before, visibility=frozenset({Visibility.MASQUE_PS}))
    view._document_changed(DocumentChange(UpdateAction.MASK, before, after))
    row = view.model.row_of(before.id)
    assert row is not None
    assert view.model.index(row, section(Column.VISIBILITY)).data() == "Masqué"
    assert view.model.rowCount() == len(all_docs())
    assert view.status_label.text() == "Document masqué aux professionnels."
    view._document_changed(DocumentChange(UpdateAction.DELETE, after, after))
    assert view.model.row_of(before.id) is None
    assert view.model.rowCount() == len(all_docs()) - 1
    assert view.status_label.text() == "Document supprimé du DMP."


@pytest.mark.parametrize(
    ("mode", "label"),
    [(AccessMode.NORMAL, "Masqué"), (AccessMode.BRIS_DE_GLACE, REVEALED)],
)
def test_masked_documents_are_marked_as_revealed_in_bris_de_glace(
    qtbot: QtBot, aloop: AsyncLoop, mode: AccessMode, label: str
) -> None:
    masked = doc(1, visibility=frozenset({Visibility.MASQUE_PS}))
    world = World([masked, doc(2)])
    view = world.view(qtbot)
    opened(view, world, aloop, mode)
    row = view.model.row_of(masked.id)
    assert row is not None
    index = view.model.index(row, section(Column.VISIBILITY))
    assert index.data() == label
    assert label in str(index.data(Qt.ItemDataRole.ToolTipRole))  # the tooltip says it too
    other = view.model.row_of("doc-002")
    assert other is not None
    assert view.model.index(other, section(Column.VISIBILITY)).data() == ""
    view.clear()
    assert view.model.revealed_label is None
