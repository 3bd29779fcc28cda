"""The dossier window: header, document table (model, pages, sorting), preview, clearing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from PySide6.QtCore import QModelIndex, QPoint, Qt
from PySide6.QtWidgets import QLabel
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from console.domain.dossier import AccessGrant, DocumentPage, DocumentQuery, PatientRecord
from console.domain.errors import NetworkError
from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.table import Column, DocumentFilter, SortSpec, make_rows, sort_rows
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.views.document_model import (
    BADGES_ROLE,
    COLUMNS,
    DOCUMENT_ROLE,
    SORT_ROLE,
    DocumentTableModel,
)
from console.views.dossier_view import DossierView
from console.views.preview import PreviewState
from tests.gui.conftest import AsyncLoop

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TODAY = date(2025, 6, 15)
PATIENT = PatientRecord(
    ins=INS.parse("255081416802538"),
    family_name="Durand",
    given_names="Marie",
    birth_date=date(1955, 8, 14),
    gender="female",
)


def doc(
    number: int,
    *,
    days_ago: int = 0,
    title: str | None = None,
    type_code: str = "11488-4",
    class_code: str = "10",
    author: str = "Dr Claire MARTIN",
    structure: str = "Cabinet du Parc",
    visibility: frozenset[Visibility] = frozenset(),
    content_type: str = "text/plain",
) -> DocumentMeta:
    created = datetime(2025, 6, 14, 10, 0, tzinfo=UTC) - timedelta(days=days_ago)
    return DocumentMeta(
        id=f"doc-{number:03d}",
        master_id=f"doc-{number:03d}",
        patient_ins=PATIENT.ins.value,
        type_code=type_code,
        class_code=class_code,
        title=title if title is not None else f"Document {number}",
        author_id_nat="810000000001",
        created=created,
        deposited=created,
        author_name=author,
        structure_name=structure,
        visibility=visibility,
        content_type=content_type,
    )


def dossier(mode: AccessMode = AccessMode.NORMAL) -> OpenDossier:
    expires = datetime(2025, 6, 15, 11, 30, tzinfo=UTC)
    return OpenDossier(AccessGrant(PATIENT, mode, "token", expires, "ep-1"))


class FakeDocumentsService(DossierService):
    """Pages of documents, each page after the previous one's gate opens (if gated)."""

    def __init__(self, pages: list[list[DocumentMeta]]) -> None:
        super().__init__(cast(DmpGateway, None), cast(SessionService, None))
        self.pages = pages
        self.gates: list[asyncio.Event] = []
        """``gates[i]`` must be set before page ``i + 1`` is sent (none: no waiting)."""
        self.error: Exception | None = None
        self.queries: list[DocumentQuery] = []
        self.retrieved: list[str] = []
        self.closed: list[OpenDossier] = []
        self.fetches_ended = 0

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        self.queries.append(query)
        total = sum(
            1
            for page in self.pages
            for d in page
            if query.act_from is None or d.created.date() >= query.act_from
        )
        try:
            for number, page in enumerate(self.pages):
                if number > 0 and number - 1 < len(self.gates):
                    await self.gates[number - 1].wait()
                await asyncio.sleep(0.005)
                shown = [
                    d for d in page if query.act_from is None or d.created.date() >= query.act_from
                ]
                for d in shown:
                    dossier.documents[d.id] = d
                yield DocumentPage(tuple(shown), total)
            if self.error is not None:
                raise self.error
        finally:
            self.fetches_ended += 1

    async def retrieve(self, dossier: OpenDossier, document: DocumentMeta) -> bytes:
        self.retrieved.append(document.id)
        await asyncio.sleep(0.005)
        return f"Corps de {document.title}".encode()

    async def close(self, dossier: OpenDossier, reason: str = "patient_closed") -> None:
        self.closed.append(dossier)


def all_docs(n: int = 6) -> list[DocumentMeta]:
    return [doc(i, days_ago=i * 30) for i in range(n)]


@pytest.fixture
def view(qtbot: QtBot, aloop: AsyncLoop) -> DossierView:
    widget = DossierView(FakeDocumentsService([all_docs()]))
    qtbot.addWidget(widget)
    widget.resize(1600, 700)
    widget.show()
    return widget


def fake(view: DossierView) -> FakeDocumentsService:
    return cast(FakeDocumentsService, view._service)


def last_query(service: FakeDocumentsService) -> DocumentQuery:
    return service.queries[-1]


def shown_ids(model: DocumentTableModel) -> list[str]:
    return [row.doc.id for row in model.rows()]


def load(view: DossierView, aloop: AsyncLoop, mode: AccessMode = AccessMode.NORMAL) -> None:
    view.show_dossier(dossier(mode), today=TODAY)
    aloop.wait_until(lambda: not view.loading and fake(view).fetches_ended > 0)


# -- the model ------------------------------------------------------------------------------------


def test_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = DocumentTableModel()
    rows = make_rows(
        [
            doc(1, visibility=frozenset({Visibility.MASQUE_PS})),
            doc(2, visibility=frozenset({Visibility.INVISIBLE_PATIENT})),
            doc(3, title="<b>Pas du HTML</b>"),
        ]
    )
    model.show(rows)
    # One check, then the tester keeps watching every signal of the changes below.
    qtmodeltester.check(model, force_py=True)
    model.append(make_rows([doc(4), doc(5)]))
    model.insert(1, make_rows([doc(6)]))
    model.insert_blocks([(0, make_rows([doc(7)])), (3, make_rows([doc(8), doc(9)]))])
    assert model.rowCount() == 9 and model.columnCount() == len(COLUMNS)
    assert [r.doc.id for r in model.rows()][:5] == [
        "doc-007",
        "doc-001",
        "doc-006",
        "doc-002",
        "doc-008",
    ]
    model.show(rows[:1])
    model.clear()
    assert model.rowCount() == 0


def test_model_tester_after_inserts_and_reset(qtmodeltester: ModelTester) -> None:
    model = DocumentTableModel()
    model.append(make_rows([doc(1), doc(2)]))
    model.insert(0, make_rows([doc(3, visibility=frozenset(Visibility))]))
    model.show([*model.rows(), *make_rows([doc(4)])])
    qtmodeltester.check(model, force_py=True)


def test_model_returns_plain_strings_and_raw_keys() -> None:
    model = DocumentTableModel()
    masked = doc(1, title="<b>Pas du HTML</b>", visibility=frozenset({Visibility.MASQUE_PS}))
    model.show(make_rows([masked]))
    title = model.index(0, [c.column for c in COLUMNS].index(Column.TITLE))
    date_cell = model.index(0, 0)
    visibility = model.index(0, [c.column for c in COLUMNS].index(Column.VISIBILITY))
    assert title.data() == "<b>Pas du HTML</b>"
    # Qt would render a tooltip that looks like HTML: it is escaped to show as typed.
    assert title.data(Qt.ItemDataRole.ToolTipRole) == "<qt>&lt;b&gt;Pas du HTML&lt;/b&gt;</qt>"
    assert date_cell.data() == "14/06/2025"
    assert date_cell.data(SORT_ROLE) == masked.created  # a date, not its display string
    assert title.data(DOCUMENT_ROLE) is masked
    assert visibility.data() == "Masqué"
    assert visibility.data(BADGES_ROLE) == [(Visibility.MASQUE_PS, "Masqué")]
    assert model.index(0, 0).parent() == QModelIndex()
    assert model.row_of("doc-001") == 0 and model.row_of("nope") is None


# -- header ---------------------------------------------------------------------------------------


def test_header_shows_the_patient_and_the_access_mode(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop)
    assert view.name_label.text() == "DURAND Marie"
    assert view.birth_label.text() == "Née le 14/08/1955"
    assert view.ins_label.text() == "INS 255081416802538"
    assert view.mode_badge.text() == "Accès normal"
    assert view.mode_note.text() == ""
    for label in view.findChildren(QLabel):
        if label.text() == "DURAND Marie":
            assert label.textFormat() == Qt.TextFormat.PlainText


def test_bris_de_glace_badge_is_red_with_a_warning(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop, AccessMode.BRIS_DE_GLACE)
    assert view.mode_badge.text() == "BRIS DE GLACE"
    assert "#b3141a" in view.mode_badge.styleSheet()
    assert "le patient en sera informé" in view.mode_note.text()


# -- pages, first opening -------------------------------------------------------------------------


def test_pages_appear_as_they_arrive(qtbot: QtBot, aloop: AsyncLoop) -> None:
    first = [doc(i, days_ago=i) for i in (3, 1, 5)]
    second = [doc(i, days_ago=i) for i in (0, 4)]
    third = [doc(2, days_ago=2)]
    service = FakeDocumentsService([first, second, third])
    service.gates = [asyncio.Event(), asyncio.Event()]
    view = DossierView(service)
    qtbot.addWidget(view)
    resets: list[int] = []
    view.model.modelReset.connect(lambda: resets.append(1))

    view.show_dossier(dossier(), today=TODAY)
    resets.clear()
    aloop.wait_until(lambda: view.model.rowCount() == 3)
    assert view.loading and view.loading_bar.isVisibleTo(view)
    assert view.count_label.text() == "3 documents (sur 6 annoncés)"
    assert shown_ids(view.model) == ["doc-001", "doc-003", "doc-005"]  # most recent first
    assert view.table.currentIndex().row() == 0  # keyboard ready, nothing opened
    assert view.preview.state == PreviewState.EMPTY

    service.gates[0].set()
    aloop.wait_until(lambda: view.model.rowCount() == 5)
    assert shown_ids(view.model) == ["doc-000", "doc-001", "doc-003", "doc-004", "doc-005"]
    assert view.loading

    service.gates[1].set()
    aloop.wait_until(lambda: not view.loading)
    assert shown_ids(view.model) == [f"doc-{i:03d}" for i in range(6)]
    assert resets == []  # pages were inserted in place, never a reset
    assert view.count_label.text() == "6 documents"
    assert not view.loading_bar.isVisibleTo(view)


def test_pages_keep_a_user_chosen_order(qtbot: QtBot, aloop: AsyncLoop) -> None:
    service = FakeDocumentsService(
        [[doc(1, title="Charlie"), doc(2, title="alpha")], [doc(3, title="Bravo")]]
    )
    service.gates = [asyncio.Event()]
    view = DossierView(service)
    qtbot.addWidget(view)
    view.show_dossier(dossier(), today=TODAY)
    aloop.wait_until(lambda: view.model.rowCount() == 2)
    view.sort_by(Column.TITLE)
    assert [r.doc.title for r in view.model.rows()] == ["alpha", "Charlie"]
    service.gates[0].set()
    aloop.wait_until(lambda: not view.loading)
    assert [r.doc.title for r in view.model.rows()] == ["alpha", "Bravo", "Charlie"]


def test_first_opening_lists_two_years_behind_a_removable_chip(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    service = fake(view)
    service.pages = [[doc(1, days_ago=10), doc(2, days_ago=700), doc(3, days_ago=800)]]
    load(view, aloop)
    assert last_query(service).act_from == date(2023, 6, 15)
    assert view.date_chip.isVisible()
    assert view.date_chip_label.text() == "2 dernières années"
    assert shown_ids(view.model) == ["doc-001", "doc-002"]

    qtbot.mouseClick(view.date_chip_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not view.loading and service.fetches_ended == 2)
    assert last_query(service).act_from is None
    assert not view.date_chip.isVisible()
    assert shown_ids(view.model) == ["doc-001", "doc-002", "doc-003"]
    assert view.count_label.text() == "3 documents"


def test_a_failed_page_says_the_list_is_incomplete(view: DossierView, aloop: AsyncLoop) -> None:
    fake(view).error = NetworkError("Serveur DMP injoignable.")
    load(view, aloop)
    assert view.error_label.text() == "Liste incomplète : Serveur DMP injoignable."
    assert view.model.rowCount() == 6  # what arrived stays


def test_empty_dossier_says_so(view: DossierView, aloop: AsyncLoop) -> None:
    fake(view).pages = [[]]
    load(view, aloop)
    assert view.count_label.text() == "Aucun document"


def test_filter_keeps_matching_rows_and_counts_them(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop)
    view.set_filter(DocumentFilter("document 3"))
    assert shown_ids(view.model) == ["doc-003"]
    assert view.count_label.text() == "1 document sur 6"


# -- sorting by the header ------------------------------------------------------------------------


def click_header(qtbot: QtBot, view: DossierView, section: int) -> None:
    header = view.table.horizontalHeader()
    x = header.sectionViewportPosition(section) + header.sectionSize(section) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


@pytest.mark.parametrize("section", range(len(COLUMNS)))
def test_sorting_by_clicking_each_header(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot, section: int
) -> None:
    service = fake(view)
    service.pages = [
        [
            doc(1, days_ago=5, title="Zeta 10", type_code="18748-4", class_code="31",
                author="Dr Émile BERNARD", structure="Hôpital",
                visibility=frozenset({Visibility.MASQUE_PS})),
            doc(2, days_ago=1, title="alpha", type_code="57833-6", class_code="42",
                author="dr anne ZOLA", structure="cabinet"),
            doc(3, days_ago=9, title="Zeta 9", type_code="11488-4", class_code="10",
                author="Dr Bruno ADAM", structure="Centre",
                visibility=frozenset({Visibility.INVISIBLE_PATIENT})),
        ]
    ]  # fmt: skip
    load(view, aloop)
    column = COLUMNS[section].column
    rows = list(view.fetched_rows)
    before = shown_ids(view.model)  # by date, most recent first
    header = view.table.horizontalHeader()

    # First click: ascending (the date column, already sorted descending, flips).
    click_header(qtbot, view, section)
    assert view.sort_spec == SortSpec(column, descending=False)
    ascending = [r.doc.id for r in sort_rows(rows, view.sort_spec)]
    assert shown_ids(view.model) == ascending
    assert ascending != before  # the data makes every column's order differ from the start
    assert header.sortIndicatorSection() == section
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder

    click_header(qtbot, view, section)
    assert view.sort_spec == SortSpec(column, descending=True)
    assert shown_ids(view.model) == [r.doc.id for r in sort_rows(rows, view.sort_spec)]
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder


def test_sorting_keeps_the_current_document(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop)
    view.table.setCurrentIndex(view.model.index(4, 0))
    current = view.current_document()
    assert current is not None
    view.sort_by(Column.ACT_DATE, descending=False)
    assert view.current_document() == current
    assert view.table.currentIndex().row() == 1


# -- preview, clear, close ------------------------------------------------------------------------


def test_enter_opens_the_current_document_in_the_preview(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    load(view, aloop)
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    assert view.table.currentIndex().row() == 1
    assert view.preview.state == PreviewState.EMPTY  # moving does not read anything
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    assert view.preview.text_view.toPlainText() == "Corps de Document 1"
    assert view.preview.title_label.text() == "Document 1"
    assert fake(view).retrieved == ["doc-001"]
    qtbot.keyClick(view.table, Qt.Key.Key_Enter)  # the same document: no second read
    aloop.spin(0.05)
    assert fake(view).retrieved == ["doc-001"]


def test_double_click_opens_a_document(view: DossierView, aloop: AsyncLoop, qtbot: QtBot) -> None:
    load(view, aloop)
    rect = view.table.visualRect(view.model.index(2, 3))
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.preview.state == PreviewState.EMPTY  # a single click only selects
    qtbot.mouseDClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    assert fake(view).retrieved == ["doc-002"]


def test_clear_drops_header_rows_preview_and_cancels_the_fetch(
    qtbot: QtBot, aloop: AsyncLoop
) -> None:
    service = FakeDocumentsService([all_docs(3), all_docs(6)[3:]])
    service.gates = [asyncio.Event()]  # never set: the fetch is still running
    view = DossierView(service)
    qtbot.addWidget(view)
    view.show_dossier(dossier(AccessMode.BRIS_DE_GLACE), today=TODAY)
    aloop.wait_until(lambda: view.model.rowCount() == 3)
    view.open_current()
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)

    view.clear()
    aloop.wait_until(lambda: service.fetches_ended == 1)  # the generator was cancelled
    assert view.dossier is None
    assert view.model.rowCount() == 0 and list(view.fetched_rows) == []
    for label in (view.name_label, view.birth_label, view.ins_label, view.mode_note):
        assert label.text() == ""
    assert view.mode_badge.text() == "" and not view.mode_badge.isVisibleTo(view)
    assert view.preview.state == PreviewState.EMPTY
    assert view.preview.text_view.toPlainText() == ""
    assert view.preview.title_label.text() == ""
    assert not view.date_chip.isVisibleTo(view)
    assert not view.loading


def test_close_dossier_ends_the_access_and_clears(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop)
    opened = view.dossier
    task = view.close_dossier()
    assert task is not None
    assert view.model.rowCount() == 0 and view.name_label.text() == ""  # at once
    aloop.run(task)
    assert fake(view).closed == [opened]
    assert view.close_dossier() is None  # nothing left to close


def test_close_button_asks_to_close(view: DossierView, qtbot: QtBot, aloop: AsyncLoop) -> None:
    load(view, aloop)
    with qtbot.waitSignal(view.closeRequested, timeout=1000):
        qtbot.mouseClick(view.close_button, Qt.MouseButton.LeftButton)
    assert view.dossier is not None  # the window decides; the view does not close itself
