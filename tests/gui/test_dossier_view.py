"""The dossier window: header, document table (model, pages, sorting, filters, keyboard),
the DMP consultation rule (first and later openings, vaccination history), layout, clearing."""

from __future__ import annotations

import asyncio
import copy
import gc
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMenu
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from console.domain.dossier import (
    NEW_SINCE_MARGIN,
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.errors import NetworkError
from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.table import (
    ArchivedFilter,
    Column,
    DocumentFilter,
    SortSpec,
    insertion_plan,
    make_rows,
    sort_rows,
    view_rows,
)
from console.domain.terminology import VACCINATION_HISTORY
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.presets import MemoryPreferenceStore, PresetService
from console.services.session import SessionService
from console.services.visits import InMemoryVisitStore, VisitService
from console.views.document_model import (
    BADGES_ROLE,
    COLUMNS,
    DOCUMENT_ROLE,
    INSERT_BLOCKS_MAX,
    SORT_ROLE,
    DocumentTableModel,
)
from console.views.dossier_view import DossierView
from console.views.preview import PreviewState
from tests.gui.conftest import AsyncLoop

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


TODAY = date(2025, 6, 15)
NOW = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)
GP = "810000000001"
NURSE = "810000000002"
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
    deposited: datetime | None = None,
    title: str | None = None,
    type_code: str = "11488-4",
    class_code: str = "10",
    author: str = "Dr Claire MARTIN",
    author_id: str = GP,
    profession: str = "10",
    structure: str = "Cabinet du Parc",
    visibility: frozenset[Visibility] = frozenset(),
    archived: bool = False,
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
        author_id_nat=author_id,
        created=created,
        deposited=deposited or created,
        author_name=author,
        author_profession=profession,
        structure_name=structure,
        visibility=visibility,
        archived=archived,
        content_type=content_type,
    )


def dossier(mode: AccessMode = AccessMode.NORMAL) -> OpenDossier:
    expires = datetime(2025, 6, 15, 11, 30, tzinfo=UTC)
    return OpenDossier(AccessGrant(PATIENT, mode, "token", expires, "ep-1"))


def session_of(id_nat: str | None) -> SessionService:
    login = (
        None
        if id_nat is None
        else ProfessionalLogin(id_nat, "Dr Test", "10", "token", NOW + timedelta(hours=8))
    )
    return cast(SessionService, SimpleNamespace(login=login))


def matches(d: DocumentMeta, query: DocumentQuery) -> bool:
    """What the sandbox would return for ``query`` (the fake plays the server)."""
    if query.act_from is not None and d.created.date() < query.act_from:
        return False
    if query.deposited_since is not None and d.deposited < query.deposited_since:
        return False
    return not query.type_codes or d.type_code in query.type_codes


class FakeDocumentsService(DossierService):
    """Pages of documents, each page after the previous one's gate opens (if gated); the
    queries filter like the server (act date, deposit date, type)."""

    def __init__(self, pages: list[list[DocumentMeta]], id_nat: str | None = GP) -> None:
        super().__init__(cast(DmpGateway, None), session_of(id_nat))
        self.pages = pages
        self.gates: list[asyncio.Event] = []
        """``gates[i]`` must be set before page ``i + 1`` is sent (none: no waiting)."""
        self.error: Exception | None = None
        self.queries: list[DocumentQuery] = []
        self.retrieved: list[str] = []
        self.closed: list[OpenDossier] = []
        self.fetches_ended = 0

    def log_in(self, id_nat: str | None) -> None:
        self.session = session_of(id_nat)

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        self.queries.append(query)
        total = sum(1 for page in self.pages for d in page if matches(d, query))
        try:
            for number, page in enumerate(self.pages):
                if number > 0 and number - 1 < len(self.gates):
                    await self.gates[number - 1].wait()
                await asyncio.sleep(0.005)
                shown = [d for d in page if matches(d, query)]
                for d in shown:
                    dossier.documents[d.id] = d
                yield DocumentPage(tuple(shown), total)
            if self.error is not None:
                raise copy.copy(self.error)  # a fresh one: its traceback must not outlive the test
        finally:
            self.fetches_ended += 1

    async def retrieve(self, dossier: OpenDossier, document: DocumentMeta) -> bytes:
        if document.id not in dossier.documents:
            raise AssertionError(f"{document.id} is not retrievable in this dossier")
        self.retrieved.append(document.id)
        await asyncio.sleep(0.005)
        return f"Corps de {document.title}".encode()

    async def close(self, dossier: OpenDossier, reason: str = "patient_closed") -> None:
        self.closed.append(dossier)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def all_docs(n: int = 6) -> list[DocumentMeta]:
    return [doc(i, days_ago=i * 30) for i in range(n)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def presets() -> PresetService:
    return PresetService(MemoryPreferenceStore())


def make_view(
    qtbot: QtBot,
    service: FakeDocumentsService,
    *,
    clock: Clock | None = None,
    presets: PresetService | None = None,
    visits: VisitService | None = None,
) -> DossierView:
    widget = DossierView(
        service,
        presets=presets,
        visits=visits or VisitService(InMemoryVisitStore(), clock or Clock()),
    )
    qtbot.addWidget(widget)
    widget.resize(1600, 700)
    widget.show()
    return widget


@pytest.fixture
def view(qtbot: QtBot, aloop: AsyncLoop, clock: Clock) -> DossierView:
    return make_view(qtbot, FakeDocumentsService([all_docs()]), clock=clock)


def fake(view: DossierView) -> FakeDocumentsService:
    return cast(FakeDocumentsService, view._service)


def shown_ids(model: DocumentTableModel) -> list[str]:
    return [row.doc.id for row in model.rows()]


def load(view: DossierView, aloop: AsyncLoop, mode: AccessMode = AccessMode.NORMAL) -> None:
    ended = fake(view).fetches_ended
    view.show_dossier(dossier(mode), today=TODAY)
    aloop.wait_until(lambda: not view.loading and fake(view).fetches_ended > ended)


def section(column: Column) -> int:
    return [c.column for c in COLUMNS].index(column)


# -- the model ------------------------------------------------------------------------------------


def test_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = DocumentTableModel()
    rows = make_rows(
        [
            doc(1, visibility=frozenset({Visibility.MASQUE_PS})),
            doc(2, visibility=frozenset({Visibility.INVISIBLE_PATIENT}), archived=True),
            doc(3, title="<b>Pas du HTML</b>"),
        ]
    )
    model.show(rows)
    # One check, then the tester keeps watching every signal of the changes below.
    qtmodeltester.check(model, force_py=True)
    model.append(make_rows([doc(4), doc(5)], is_new=True))
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
    model.show([*model.rows(), *make_rows([doc(4)], is_new=True)])
    qtmodeltester.check(model, force_py=True)


def test_the_view_model_passes_the_model_tester_while_pages_stream(
    qtbot: QtBot, aloop: AsyncLoop, qtmodeltester: ModelTester
) -> None:
    service = FakeDocumentsService([all_docs(3), all_docs(8)[3:]])
    service.gates = [asyncio.Event()]
    view = make_view(qtbot, service)
    # The tester disconnects from the model after the view is gone: the model must outlive it.
    view.model.setParent(None)
    qtmodeltester.check(view.model, force_py=True)
    view.show_dossier(dossier(), today=TODAY)
    aloop.wait_until(lambda: view.model.rowCount() == 3)
    view.set_filter(DocumentFilter("document"))
    service.gates[0].set()
    aloop.wait_until(lambda: not view.loading)
    view.sort_by(Column.TITLE)
    assert view.model.rowCount() == 8


def test_many_scattered_blocks_go_in_with_one_insert_and_one_layout_change(
    qtmodeltester: ModelTester,
) -> None:
    model = DocumentTableModel()
    shown = sort_rows(make_rows([doc(i, days_ago=2 * i) for i in range(20)]), SortSpec())
    model.show(shown)
    qtmodeltester.check(model, force_py=True)
    kept = QPersistentModelIndex(model.index(7, 2))  # a selection, say
    incoming = make_rows([doc(100 + i, days_ago=2 * i + 1) for i in range(12)])
    plan = insertion_plan(model.rows(), incoming, SortSpec())
    assert len(plan) > INSERT_BLOCKS_MAX
    signals: list[str] = []
    model.rowsInserted.connect(lambda *_: signals.append("inserted"))
    model.layoutChanged.connect(lambda *_: signals.append("layout"))
    model.insert_blocks(plan)
    assert signals == ["inserted", "layout"]
    assert [r.doc.id for r in model.rows()] == [
        r.doc.id for r in sort_rows([*shown, *incoming], SortSpec())
    ]
    # The persistent index follows its row (doc-007, now after 7 inserted rows).
    assert kept.isValid() and (kept.row(), kept.column()) == (14, 2)
    assert model.row_at(kept.row()).doc.id == "doc-007"


def test_model_returns_plain_strings_and_raw_keys() -> None:
    model = DocumentTableModel()
    masked = doc(
        1,
        title="<b>Pas du HTML</b>",
        visibility=frozenset({Visibility.MASQUE_PS}),
        deposited=datetime(2025, 6, 15, 8, 0, tzinfo=UTC),
    )
    model.show(make_rows([masked], is_new=True))
    title = model.index(0, section(Column.TITLE))
    date_cell = model.index(0, section(Column.ACT_DATE))
    deposit_cell = model.index(0, section(Column.DEPOSIT_DATE))
    visibility = model.index(0, section(Column.VISIBILITY))
    assert title.data() == "<b>Pas du HTML</b>"
    # Qt would render a tooltip that looks like HTML: it is escaped to show as typed.
    assert title.data(Qt.ItemDataRole.ToolTipRole) == "<qt>&lt;b&gt;Pas du HTML&lt;/b&gt;</qt>"
    assert date_cell.data() == "14/06/2025"
    assert deposit_cell.data() == "15/06/2025"
    # A date (its instant), not its display string.
    assert date_cell.data(SORT_ROLE) == masked.created.timestamp()
    assert title.data(DOCUMENT_ROLE) is masked
    assert visibility.data() == "Masqué"
    assert visibility.data(BADGES_ROLE) == [(Visibility.MASQUE_PS, "Masqué")]
    assert model.index(0, section(Column.PROFESSION)).data() == "Médecin"
    assert model.index(0, section(Column.STATUS)).data() == "Nouveau"
    assert title.data(Qt.ItemDataRole.FontRole).bold()  # new: the title is bold
    assert model.index(0, 0).parent() == QModelIndex()
    assert model.row_of("doc-001") == 0 and model.row_of("nope") is None


def test_header_labels_every_column() -> None:
    model = DocumentTableModel()
    labels = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(len(COLUMNS))]
    assert labels == [
        "Date de l'acte",
        "Type",
        "Titre",
        "Auteur",
        "Visibilité",
        "Statut",
        "Déposé le",
        "Classe",
        "Profession",
        "Structure",
    ]


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
    view = make_view(qtbot, service)
    resets: list[int] = []
    view.model.modelReset.connect(lambda: resets.append(1))

    view.show_dossier(dossier(), today=TODAY)
    resets.clear()
    aloop.wait_until(lambda: view.model.rowCount() == 3)
    assert view.loading and view.loading_bar.isVisibleTo(view)
    assert view.count_label.text() == "3 documents (au moins 6 annoncés)"
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


def test_pages_keep_a_user_chosen_order_and_filter(qtbot: QtBot, aloop: AsyncLoop) -> None:
    service = FakeDocumentsService(
        [
            [doc(1, title="Charlie"), doc(2, title="alpha")],
            [doc(3, title="Bravo"), doc(4, title="Écho")],
        ]
    )
    service.gates = [asyncio.Event()]
    view = make_view(qtbot, service)
    view.show_dossier(dossier(), today=TODAY)
    aloop.wait_until(lambda: view.model.rowCount() == 2)
    view.sort_by(Column.TITLE)
    assert [r.doc.title for r in view.model.rows()] == ["alpha", "Charlie"]
    view.set_filter(DocumentFilter("bravo", archived=ArchivedFilter.HIDE))
    assert [r.doc.title for r in view.model.rows()] == []
    service.gates[0].set()
    aloop.wait_until(lambda: not view.loading)
    assert [r.doc.title for r in view.model.rows()] == ["Bravo"]  # filtered as it arrived
    view.set_filter(DocumentFilter())
    assert [r.doc.title for r in view.model.rows()] == ["alpha", "Bravo", "Charlie", "Écho"]


def test_first_opening_lists_two_years_behind_a_removable_chip(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    service = fake(view)
    service.pages = [[doc(1, days_ago=10), doc(2, days_ago=700), doc(3, days_ago=800)]]
    load(view, aloop)
    assert service.queries[0].act_from == date(2023, 6, 15)
    assert view.query.act_from == date(2023, 6, 15)
    assert view.plan is not None and view.plan.first_opening
    assert view.date_chip.isVisible()
    assert view.date_chip_label.text() == "2 dernières années"
    assert shown_ids(view.model) == ["doc-001", "doc-002"]

    ended = service.fetches_ended
    qtbot.mouseClick(view.date_chip_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not view.loading and service.fetches_ended > ended)
    assert service.queries[-1].act_from is None
    assert service.queries[-1].type_codes == ()  # the whole history: no second query
    assert not view.date_chip.isVisible()
    assert shown_ids(view.model) == ["doc-001", "doc-002", "doc-003"]
    assert view.count_label.text() == "3 documents"


def test_the_vaccination_history_is_searched_without_a_date_limit(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    service = fake(view)
    old_vaccines = doc(9, days_ago=3000, type_code=VACCINATION_HISTORY, class_code="52")
    service.pages = [[doc(1, days_ago=10), doc(2, days_ago=900), old_vaccines]]
    load(view, aloop)
    assert service.queries == [
        DocumentQuery(act_from=date(2023, 6, 15)),
        DocumentQuery(type_codes=(VACCINATION_HISTORY,)),
    ]
    # Ten years old, outside the two years, and listed: once.
    assert shown_ids(view.model) == ["doc-001", "doc-009"]
    assert view.count_label.text() == "2 documents"
    # A vaccination history of the last two years comes from both searches: shown once.
    other = make_view(
        qtbot, FakeDocumentsService([[doc(1, days_ago=10, type_code=VACCINATION_HISTORY)]])
    )
    load(other, aloop)
    assert len(fake(other).queries) == 2
    assert shown_ids(other.model) == ["doc-001"]


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
    assert view.filter_bar.filter() == DocumentFilter("document 3")  # the bar follows
    assert view.filter_bar.chip_texts() == ["Texte : « document 3 »"]


def test_a_document_the_filter_removes_leaves_the_preview(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    """The preview kept showing a document the active filter had removed (issue 17)."""
    load(view, aloop)
    view.set_filter(DocumentFilter("document 3"))
    view.table.setFocus()
    view.table.setCurrentIndex(view.model.index(0, 0))
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    assert view.preview.document_id == "doc-003"
    view.set_filter(DocumentFilter("document 3"))  # the same filter again: it stays
    assert view.preview.document_id == "doc-003"
    view.set_filter(DocumentFilter("document 2"))
    assert shown_ids(view.model) == ["doc-002"]
    assert view.preview.state == PreviewState.EMPTY
    assert view.preview.document_id == ""
    view.set_filter(DocumentFilter())  # back in the list: shown again only when opened
    assert view.preview.state == PreviewState.EMPTY


# -- later openings: new since the last visit ------------------------------------------------------


def later_opening(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> tuple[DossierView, FakeDocumentsService]:
    before = NOW - timedelta(days=1)
    service = FakeDocumentsService(
        [[doc(1, days_ago=5, deposited=before), doc(2, days_ago=40, deposited=before)]]
    )
    view = make_view(qtbot, service, clock=clock)
    load(view, aloop)  # first opening at NOW
    assert view.new_label.text() == ""
    view.close_dossier()
    clock.now = NOW + timedelta(days=3)
    fresh = NOW + timedelta(days=2)
    service.pages = [
        [
            doc(1, days_ago=5, deposited=before),
            doc(2, days_ago=40, deposited=before),
            # Deposited after the visit, about an act of three years ago: new all the same.
            doc(3, days_ago=1100, deposited=fresh, title="Ancien compte rendu"),
            doc(4, days_ago=0, deposited=fresh, title="Biologie du jour"),
        ]
    ]
    service.queries.clear()
    load(view, aloop)  # later opening at NOW + 3 days
    return view, service


def test_a_later_opening_fetches_only_what_is_new_and_marks_it(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    view, service = later_opening(qtbot, aloop, clock)
    since = NOW - NEW_SINCE_MARGIN
    assert service.queries == [
        DocumentQuery(deposited_since=since),
        DocumentQuery(type_codes=(VACCINATION_HISTORY,)),
    ]
    assert view.plan is not None and not view.plan.first_opening
    # What was known shows beside what is new (most recent act first).
    assert shown_ids(view.model) == ["doc-004", "doc-001", "doc-002", "doc-003"]
    new = {row.doc.id for row in view.model.rows() if row.is_new}
    assert new == {"doc-003", "doc-004"}
    status = view.model.index(view.model.row_of("doc-003") or 0, section(Column.STATUS))
    assert status.data() == "Nouveau"
    assert view.new_label.text().startswith("2 nouveaux documents depuis le ")
    assert view.date_chip.isVisible()  # what was known covers two years only
    # "Nouveaux" shows only them; the chip says so and removes it.
    qtbot.mouseClick(view.filter_bar.new_button, Qt.MouseButton.LeftButton)
    assert shown_ids(view.model) == ["doc-004", "doc-003"]
    assert view.filter_bar.chip_texts() == ["Nouveaux seulement"]
    qtbot.mouseClick(view.filter_bar.chip_widgets()[0].remove_button, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 4
    assert not view.filter_bar.new_button.isChecked()


def test_known_documents_of_a_later_opening_can_be_opened(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    view, service = later_opening(qtbot, aloop, clock)
    view.table.setCurrentIndex(view.model.index(view.model.row_of("doc-002") or 0, 0))
    view.open_current()
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    assert service.retrieved == ["doc-002"]


def test_nothing_is_new_at_the_third_opening(qtbot: QtBot, aloop: AsyncLoop, clock: Clock) -> None:
    view, _service = later_opening(qtbot, aloop, clock)
    clock.now = NOW + timedelta(days=4)
    view.close_dossier()
    load(view, aloop)
    assert view.model.rowCount() == 4
    assert not any(row.is_new for row in view.model.rows())
    assert view.new_label.text().startswith("Rien de nouveau depuis le ")


def test_visits_are_per_professional_and_per_mode(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    view, service = later_opening(qtbot, aloop, clock)
    service.log_in(NURSE)
    view.close_dossier()
    load(view, aloop)
    assert view.plan is not None and view.plan.first_opening  # she never opened it
    service.log_in(GP)
    view.close_dossier()
    load(view, aloop, AccessMode.BRIS_DE_GLACE)
    assert view.plan is not None and view.plan.first_opening  # another access mode


def test_an_incomplete_list_does_not_count_as_a_visit(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    service = FakeDocumentsService([[doc(1)]])
    service.error = NetworkError("coupure")
    view = make_view(qtbot, service, clock=clock)
    load(view, aloop)
    service.error = None
    view.close_dossier()
    load(view, aloop)
    assert view.plan is not None and view.plan.first_opening


def test_without_a_professional_nothing_is_remembered(qtbot: QtBot, aloop: AsyncLoop) -> None:
    service = FakeDocumentsService([[doc(1)]], id_nat=None)
    view = make_view(qtbot, service)
    load(view, aloop)
    view.close_dossier()
    load(view, aloop)
    assert view.plan is not None and view.plan.first_opening
    assert not view.filter_bar.presets_button.isEnabled()


# -- sorting by the header ------------------------------------------------------------------------


def click_header(qtbot: QtBot, view: DossierView, number: int) -> None:
    header = view.table.horizontalHeader()
    x = header.sectionViewportPosition(number) + header.sectionSize(number) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


@pytest.mark.parametrize("number", range(len(COLUMNS)))
def test_sorting_by_clicking_each_header(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot, number: int
) -> None:
    service = fake(view)
    service.pages = [
        [
            doc(1, days_ago=5, title="Zeta 10", type_code="18748-4", class_code="31",
                author="Dr Émile BERNARD", profession="60", structure="Hôpital",
                deposited=datetime(2025, 6, 1, tzinfo=UTC),
                visibility=frozenset({Visibility.MASQUE_PS})),
            doc(2, days_ago=1, title="alpha", type_code="57833-6", class_code="42",
                author="dr anne ZOLA", profession="21", structure="cabinet",
                deposited=datetime(2025, 6, 13, tzinfo=UTC), archived=True),
            doc(3, days_ago=9, title="Zeta 9", type_code="11488-4", class_code="10",
                author="Dr Bruno ADAM", profession="10", structure="Centre",
                deposited=datetime(2025, 6, 14, tzinfo=UTC),
                visibility=frozenset({Visibility.INVISIBLE_PATIENT})),
        ]
    ]  # fmt: skip
    load(view, aloop)
    column = COLUMNS[number].column
    rows = list(view.fetched_rows)
    before = shown_ids(view.model)  # by date, most recent first
    header = view.table.horizontalHeader()

    # First click: ascending (the act date, already sorted descending, flips), but the
    # deposit date starts with the most recent, as the act date does.
    first_descending = column == Column.DEPOSIT_DATE
    click_header(qtbot, view, number)
    assert view.sort_spec == SortSpec(column, descending=first_descending)
    first = [r.doc.id for r in sort_rows(rows, view.sort_spec)]
    assert shown_ids(view.model) == first
    assert first != before  # the data makes every column's order differ from the start
    assert header.sortIndicatorSection() == number
    assert header.sortIndicatorOrder() == (
        Qt.SortOrder.DescendingOrder if first_descending else Qt.SortOrder.AscendingOrder
    )

    click_header(qtbot, view, number)
    assert view.sort_spec == SortSpec(column, descending=not first_descending)
    assert shown_ids(view.model) == [r.doc.id for r in sort_rows(rows, view.sort_spec)]


def test_sorting_keeps_the_current_document(view: DossierView, aloop: AsyncLoop) -> None:
    load(view, aloop)
    view.table.setCurrentIndex(view.model.index(4, 0))
    current = view.current_document()
    assert current is not None
    view.sort_by(Column.ACT_DATE, descending=False)
    assert view.current_document() == current
    assert view.table.currentIndex().row() == 1


# -- the view shows exactly what the filter keeps, in the requested order -------------------------

TITLES = ["Échographie", "echo 2", "Écho 10", "Bilan", "bilan sanguin", "Œdème", "Zona", ""]
AUTHORS = [("810000000001", "Dr Émile BERNARD"), ("810000000002", "dr anne zola")]
TYPES = [("11488-4", "10"), ("18748-4", "31"), (VACCINATION_HISTORY, "52"), ("57833-6", "42")]
VISIBILITIES = [
    frozenset(),
    frozenset({Visibility.MASQUE_PS}),
    frozenset({Visibility.INVISIBLE_PATIENT, Visibility.INVISIBLE_REPRESENTANTS_LEGAUX}),
]

filters = st.builds(
    DocumentFilter,
    text=st.sampled_from(["", "echo", "ÉCHO 1", "bilan", "zola", "imagerie", "oe", "x"]),
    type_codes=st.frozensets(st.sampled_from([t for t, _ in TYPES]), max_size=2),
    class_codes=st.frozensets(st.sampled_from(["10", "31", "42"]), max_size=2),
    authors=st.frozensets(st.sampled_from([a for a, _ in AUTHORS]), max_size=1),
    act_from=st.none() | st.dates(date(2025, 1, 1), date(2025, 6, 14)),
    act_to=st.none() | st.dates(date(2025, 1, 1), date(2025, 6, 14)),
    visibility=st.frozensets(
        st.sampled_from(["N", "MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]),
        max_size=2,
    ),
    new_only=st.booleans(),
    archived=st.sampled_from(list(ArchivedFilter)),
)
sorts = st.builds(SortSpec, st.sampled_from(list(Column)), st.booleans())


@pytest.fixture(scope="module")
def many_docs() -> list[DocumentMeta]:
    docs = []
    for i in range(60):
        type_code, class_code = TYPES[i % len(TYPES)]
        author_id, author = AUTHORS[(i // 3) % len(AUTHORS)]
        docs.append(
            doc(
                i,
                days_ago=(i * 7) % 150,
                deposited=NOW - timedelta(days=(i * 5) % 20),
                title=TITLES[i % len(TITLES)],
                type_code=type_code,
                class_code=class_code,
                author=author,
                author_id=author_id,
                visibility=VISIBILITIES[i % len(VISIBILITIES)],
                archived=i % 11 == 0,
            )
        )
    return docs


@pytest.fixture
def big_view(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock, many_docs: list[DocumentMeta]
) -> Iterator[DossierView]:
    # A later opening, so that some rows are new.
    service = FakeDocumentsService([many_docs[:30]])
    view = make_view(qtbot, service, clock=clock)
    load(view, aloop)
    view.close_dossier()
    clock.now = NOW + timedelta(days=1)
    service.pages = [many_docs[30:45], many_docs[45:]]
    load(view, aloop)
    assert any(row.is_new for row in view.fetched_rows)
    yield view


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(flt=filters, spec=sorts)
def test_the_view_shows_exactly_the_matching_rows_in_order(
    big_view: DossierView, flt: DocumentFilter, spec: SortSpec
) -> None:
    big_view.set_filter(flt)
    big_view.sort_by(spec.column, descending=spec.descending)
    rows = list(big_view.fetched_rows)
    shown = list(big_view.model.rows())
    # Exactly the rows the filter keeps (checked row by row), each once ...
    assert sorted(r.doc.id for r in shown) == sorted(r.doc.id for r in rows if flt.matches(r))
    # ... ordered by the column's key, ties in arrival order.
    arrival = {r.doc.id: n for n, r in enumerate(rows)}
    for a, b in itertools.pairwise(shown):
        ka, kb = a.key(spec.column), b.key(spec.column)
        assert (kb <= ka) if spec.descending else (ka <= kb)
        if ka == kb:
            assert arrival[a.doc.id] < arrival[b.doc.id]
    assert shown == view_rows(rows, flt, spec)
    # What the model says is what the table shows.
    model = big_view.model
    title = section(Column.TITLE)
    assert [model.index(n, title).data() for n in range(model.rowCount())] == [
        r.doc.title for r in shown
    ]


# -- keyboard -------------------------------------------------------------------------------------


def test_ctrl_f_goes_to_the_filter_and_typing_filters(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    fake(view).pages = [[doc(1, title="Échographie"), doc(2, title="Bilan"), doc(3, title="Écho")]]
    load(view, aloop)
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is view.filter_bar.text_edit
    qtbot.keyClicks(view.filter_bar.text_edit, "ECHO")
    assert view.model.rowCount() == 3  # the pause after the last keystroke is not over
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=2000)
    assert sorted(shown_ids(view.model)) == ["doc-001", "doc-003"]
    # Enter goes back to the table, on its first row; arrows move; Enter opens.
    qtbot.keyClick(view.filter_bar.text_edit, Qt.Key.Key_Return)
    assert QApplication.focusWidget() is view.table
    assert view.table.currentIndex().isValid()
    qtbot.keyClick(view.table, Qt.Key.Key_Down)
    assert view.table.currentIndex().row() == 1
    qtbot.keyClick(view.table, Qt.Key.Key_Up)
    assert view.table.currentIndex().row() == 0
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    assert fake(view).retrieved == [shown_ids(view.model)[0]]


def test_escape_in_the_filter_clears_it_then_leaves(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    load(view, aloop)
    view.focus_filter()
    qtbot.keyClicks(view.filter_bar.text_edit, "document 2")
    view.filter_bar.flush_text()
    assert shown_ids(view.model) == ["doc-002"]
    qtbot.keyClick(view.filter_bar.text_edit, Qt.Key.Key_Escape)
    assert view.model.rowCount() == 6 and view.filter_bar.text_edit.text() == ""
    qtbot.keyClick(view.filter_bar.text_edit, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is view.table


def test_type_ahead_jumps_to_a_title_ignoring_accents(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    fake(view).pages = [
        [
            doc(1, days_ago=1, title="Bilan sanguin"),
            doc(2, days_ago=2, title="Échographie abdominale"),
            doc(3, days_ago=3, title="ECG de repos"),
            doc(4, days_ago=4, title="Biologie"),
            doc(5, days_ago=5, title="Écho-doppler"),
        ]
    ]
    load(view, aloop)
    view.table.setFocus()
    qtbot.keyClicks(view.table, "ech")  # "Échographie" before "Écho-doppler" (from row 0)
    assert view.current_document() is not None
    assert view.current_document().title == "Échographie abdominale"  # type: ignore[union-attr]
    qtbot.wait(QApplication.keyboardInputInterval() + 50)
    qtbot.keyClicks(view.table, "ecg")
    assert view.current_document().title == "ECG de repos"  # type: ignore[union-attr]
    qtbot.wait(QApplication.keyboardInputInterval() + 50)
    qtbot.keyClicks(view.table, "b")
    assert view.current_document().title == "Biologie"  # type: ignore[union-attr]
    qtbot.keyClicks(view.table, "b")  # the same letter again: the next one (wrapping)
    assert view.current_document().title == "Bilan sanguin"  # type: ignore[union-attr]
    assert view.preview.state == PreviewState.EMPTY  # moving never reads a document


def test_type_ahead_searches_the_sorted_author_column(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    fake(view).pages = [
        [
            doc(1, title="Zeta", author="Dr Émile BERNARD"),
            doc(2, title="Alpha", author="Dr Zoé ADAM"),
        ]
    ]
    load(view, aloop)
    view.sort_by(Column.AUTHOR)
    view.table.setFocus()
    qtbot.keyClicks(view.table, "dr e")
    assert view.current_document() is not None
    assert view.current_document().id == "doc-001"  # type: ignore[union-attr]


def test_ctrl_f_in_the_preview_goes_to_its_find_field(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    load(view, aloop)
    view.open_current()
    aloop.wait_until(lambda: view.preview.state == PreviewState.TEXT)
    view.preview.text_view.setFocus()
    qtbot.keyClick(view.preview.text_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is view.preview.find_edit
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is view.filter_bar.text_edit


# -- chips and presets through the view ------------------------------------------------------------


def test_chips_from_the_menus_remove_in_one_click(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    fake(view).pages = [
        [
            doc(1, type_code="18748-4", class_code="31", author="Dr Émile BERNARD"),
            doc(2, type_code="11488-4", class_code="10"),
            doc(3, visibility=frozenset({Visibility.MASQUE_PS})),
        ]
    ]
    load(view, aloop)
    bar = view.filter_bar
    bar.rebuild_menus()
    imaging = next(a for a in bar.type_menu.actions() if a.data() == "18748-4")
    assert imaging.text() == "CR d'imagerie médicale (1)"
    imaging.trigger()
    assert shown_ids(view.model) == ["doc-001"]
    assert bar.chip_texts() == ["Type : CR d'imagerie médicale"]
    masked = next(a for a in bar.visibility_menu.actions() if a.data() == "MASQUE_PS")
    bar.rebuild_menus()
    masked = next(a for a in bar.visibility_menu.actions() if a.data() == "MASQUE_PS")
    masked.trigger()
    assert shown_ids(view.model) == []  # an imaging report that is masked: none
    assert bar.chip_texts() == [
        "Type : CR d'imagerie médicale",
        "Visibilité : Masqué aux professionnels",
    ]
    qtbot.mouseClick(bar.chip_widgets()[0].remove_button, Qt.MouseButton.LeftButton)
    assert shown_ids(view.model) == ["doc-003"]
    assert bar.chip_texts() == ["Visibilité : Masqué aux professionnels"]
    qtbot.mouseClick(bar.chip_widgets()[0].remove_button, Qt.MouseButton.LeftButton)
    assert view.model.rowCount() == 3 and bar.chip_texts() == []


def test_the_table_does_not_move_when_the_first_chip_appears(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    load(view, aloop)
    view.remove_date_limit()
    aloop.wait_until(lambda: not view.loading)

    def table_place() -> tuple[int, int]:
        QApplication.processEvents()
        return view.table.mapTo(view, view.table.rect().topLeft()).y(), view.table.height()

    assert not view.filter_bar.chips_box.isVisible()
    before = table_place()
    view.filter_bar.text_edit.setFocus()
    qtbot.keyClicks(view.filter_bar.text_edit, "d")
    view.filter_bar.flush_text()
    assert view.filter_bar.chip_texts() == ["Texte : « d »"]
    assert table_place() == before
    view.filter_bar.clear_action.trigger()
    assert not view.filter_bar.chips_box.isVisible() and table_place() == before


def test_a_laptop_screen_shows_the_masked_badge_beside_the_preview(
    qtbot: QtBot, aloop: AsyncLoop
) -> None:
    """At 1366 pixels, with the preview open, the columns that tell a document apart and
    whether it is masked or new show without scrolling sideways."""
    view = make_view(qtbot, FakeDocumentsService([all_docs()]))
    view.resize(1366, 700)
    load(view, aloop)
    QApplication.processEvents()
    head = view.table.horizontalHeader()
    width = view.table.viewport().width()
    for column in (Column.ACT_DATE, Column.TYPE, Column.TITLE, Column.AUTHOR, Column.VISIBILITY):
        at = head.sectionViewportPosition(section(column))
        assert 0 <= at and at + min(head.sectionSize(section(column)), 60) <= width, column


def test_an_empty_table_says_why_and_fills_again_in_one_click(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    service = fake(view)
    service.pages = [[doc(1, days_ago=800, title="Bilan"), doc(2, days_ago=900)]]
    load(view, aloop)
    empty = view.table.empty_state
    # Nothing in the last two years: said over the table, with the whole history a click away.
    assert view.model.rowCount() == 0 and empty.isVisible()
    assert view.table.empty_label.text() == "Aucun document des deux dernières années."
    ended = service.fetches_ended
    qtbot.mouseClick(view.table.empty_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not view.loading and service.fetches_ended > ended)
    assert shown_ids(view.model) == ["doc-001", "doc-002"] and not empty.isVisible()
    # A filter that hides everything: said, and cleared in one click.
    view.set_filter(DocumentFilter("scanner", new_only=True))
    assert view.model.rowCount() == 0 and empty.isVisible()
    assert view.table.empty_label.text() == "Aucun des 2 documents ne correspond aux filtres."
    assert view.table.empty_button.text() == "Effacer les filtres"
    assert view.table.viewport().rect().contains(empty.geometry())
    qtbot.mouseClick(view.table.empty_button, Qt.MouseButton.LeftButton)
    assert view.filter_bar.filter() == DocumentFilter() and view.model.rowCount() == 2
    assert not empty.isVisible()
    view.close_dossier()
    assert not empty.isVisible()


def test_the_empty_state_of_a_single_document_reads_well(
    view: DossierView, aloop: AsyncLoop
) -> None:
    fake(view).pages = [[doc(1, days_ago=10)]]
    load(view, aloop)
    view.set_filter(DocumentFilter(new_only=True))
    assert view.table.empty_state.isVisible()
    assert view.table.empty_label.text() == (
        "Le document de ce dossier ne correspond pas aux filtres."
    )


def test_presets_are_saved_per_professional(
    qtbot: QtBot, aloop: AsyncLoop, presets: PresetService
) -> None:
    service = FakeDocumentsService([[doc(1, type_code="18748-4", class_code="31"), doc(2)]])
    view = make_view(qtbot, service, presets=presets)
    load(view, aloop)
    view.set_filter(DocumentFilter(type_codes=frozenset({"18748-4"})))
    view.filter_bar.save_preset("Imagerie")
    view.set_filter(DocumentFilter())
    assert view.model.rowCount() == 2
    assert view.filter_bar.apply_preset("Imagerie")
    assert shown_ids(view.model) == ["doc-001"]
    # Another professional, another view: none of hers.
    other = make_view(qtbot, FakeDocumentsService([[doc(1)]], id_nat=NURSE), presets=presets)
    load(other, aloop)
    assert other.filter_bar.presets() == []
    assert not other.filter_bar.apply_preset("Imagerie")


def test_the_column_layout_is_remembered_per_professional(
    qtbot: QtBot, aloop: AsyncLoop, presets: PresetService
) -> None:
    view = make_view(qtbot, FakeDocumentsService([all_docs()]), presets=presets)
    load(view, aloop)
    head = view.table.horizontalHeader()
    title = section(Column.TITLE)
    head.resizeSection(title, 333)
    head.moveSection(section(Column.AUTHOR), 0)
    head.setSectionHidden(section(Column.STRUCTURE), True)
    view.sort_by(Column.TITLE)
    qtbot.waitUntil(lambda: presets.table_layout(GP, [c.column.value for c in COLUMNS]) is not None)

    again = make_view(qtbot, FakeDocumentsService([all_docs()]), presets=presets)
    load(again, aloop)
    head2 = again.table.horizontalHeader()
    assert head2.sectionSize(title) == 333
    assert head2.logicalIndex(0) == section(Column.AUTHOR)
    assert head2.isSectionHidden(section(Column.STRUCTURE))
    assert again.sort_spec == SortSpec(Column.TITLE, descending=False)
    assert [r.doc.title for r in again.model.rows()] == [f"Document {i}" for i in range(6)]

    nurse = make_view(qtbot, FakeDocumentsService([all_docs()], id_nat=NURSE), presets=presets)
    load(nurse, aloop)
    assert nurse.table.horizontalHeader().sectionSize(title) != 333


@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
def test_the_header_menu_hides_and_shows_columns(
    view: DossierView, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    load(view, aloop)
    head = view.table.horizontalHeader()
    head.customContextMenuRequested.emit(QPoint(5, 5))
    menu = view.findChildren(QMenu)[-1]
    entries = {action.text(): action for action in menu.actions() if action.isCheckable()}
    assert not entries["Titre"].isEnabled()  # the title always stays
    entries["Structure"].trigger()
    assert head.isSectionHidden(section(Column.STRUCTURE))
    entries["Structure"].trigger()
    assert not head.isSectionHidden(section(Column.STRUCTURE))
    menu.close()


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
    rect = view.table.visualRect(view.model.index(2, section(Column.TITLE)))
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
    view = make_view(qtbot, service)
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


def test_closing_the_patient_cancels_the_fetch_and_records_no_visit(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    service = FakeDocumentsService([all_docs(3), all_docs(6)[3:]])
    service.gates = [asyncio.Event()]  # the second page never comes
    store = InMemoryVisitStore()
    view = make_view(qtbot, service, visits=VisitService(store, clock))
    view.show_dossier(dossier(), today=TODAY)
    aloop.wait_until(lambda: view.model.rowCount() == 3)
    task = view.close_dossier()
    assert task is not None and view.model.rowCount() == 0
    aloop.wait_until(lambda: service.fetches_ended == 1 and bool(service.closed))
    assert not view.loading and len(store) == 0
    service.gates[0].set()
    aloop.spin(0.05)
    assert view.model.rowCount() == 0  # nothing of the cancelled fetch comes back


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


# -- refresh after a deposit --------------------------------------------------------------------


def test_refresh_fetches_only_what_was_deposited_since_and_keeps_the_selection(
    view: DossierView, aloop: AsyncLoop, clock: Clock
) -> None:
    load(view, aloop)
    before = shown_ids(view.model)
    view.table.selectRow(2)
    selected = view.current_document()
    assert selected is not None
    clock.now += timedelta(minutes=5)
    fresh = doc(50, deposited=clock.now, title="Compte rendu déposé à l'instant")
    fake(view).pages[0].append(fresh)
    ended = fake(view).fetches_ended
    view.refresh()
    assert view.loading
    aloop.wait_until(lambda: not view.loading and fake(view).fetches_ended > ended)
    query = fake(view).queries[-1]
    assert query.deposited_since is not None and query.act_from is None
    assert query.deposited_since <= fresh.deposited
    assert all(not matches(d, query) for d in all_docs())  # nothing fetched again
    assert sorted(shown_ids(view.model)) == sorted([*before, fresh.id])
    assert view.current_document() == selected
    assert view.count_label.text() == f"{len(before) + 1} documents"


def test_a_refresh_asked_while_loading_runs_after_the_load(
    qtbot: QtBot, aloop: AsyncLoop, clock: Clock
) -> None:
    service = FakeDocumentsService([all_docs(3), [doc(10, days_ago=1)]])
    gate = asyncio.Event()
    service.gates = [gate]
    view = make_view(qtbot, service, clock=clock)
    view.show_dossier(dossier(), today=TODAY)
    aloop.wait_until(lambda: len(shown_ids(view.model)) == 3)
    clock.now += timedelta(minutes=1)
    fresh = doc(51, deposited=clock.now)
    service.pages[0].append(fresh)  # deposited after the first page was sent
    view.refresh()
    gate.set()
    aloop.wait_until(lambda: not view.loading and fresh.id in shown_ids(view.model))
    assert service.queries[-1].deposited_since is not None
    assert len(shown_ids(view.model)) == 5
