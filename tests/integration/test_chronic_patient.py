"""The chronic patient's record opened in the real DossierView, from the real sandbox over
loopback through the console's HttpDmpGateway: the documents stream in page by page (the
first page is shown before the last arrives), the vaccination history comes without a date
limit, and a later opening asks only for what is new."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.dmp import HttpDmpGateway
from console.domain.dossier import DocumentPage, DocumentQuery, ProfessionalLogin
from console.domain.ins import INS
from console.domain.models import AccessMode
from console.domain.rules import AccessRequest
from console.domain.table import Column, sort_rows
from console.domain.terminology import VACCINATION_HISTORY
from console.services.dossier import DossierService, OpenDossier
from console.services.session import SessionService
from console.services.visits import InMemoryVisitStore, OpeningPlan, VisitService
from console.views.dossier_view import DossierView
from console.views.preview import PreviewState
from tests.integration.conftest import Sandbox
from tests.qtloop import AsyncLoop, aloop

__all__ = ["aloop"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """What the test leaves in reference cycles (qasync's timers among them) is destroyed
    here, on the GUI thread, never by a collection running on another thread."""
    yield
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


PAGE = 10
"""Small pages, so that the two years of the chronic patient come in several of them."""


class SmallPagesVisits(VisitService):
    """The console's visits, with smaller pages."""

    async def plan(
        self, professional: str, patient: str, mode: AccessMode, today: date
    ) -> OpeningPlan:
        plan = await super().plan(professional, patient, mode, today)
        return dataclasses.replace(
            plan,
            query=dataclasses.replace(plan.query, page_size=PAGE),
            queries=tuple(dataclasses.replace(q, page_size=PAGE) for q in plan.queries),
        )


class WatchedDossierService(DossierService):
    """The real service; before each page reaches the view, notes what the view shows."""

    def __init__(self, gateway: HttpDmpGateway, login: ProfessionalLogin) -> None:
        super().__init__(gateway, cast(SessionService, SimpleNamespace(login=login)))
        self.view: DossierView | None = None
        self.shown_before_page: list[int] = []
        self.queries: list[DocumentQuery] = []

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        self.queries.append(query)
        async for page in super().documents(dossier, query):
            assert self.view is not None
            self.shown_before_page.append(self.view.model.rowCount())
            yield page


@pytest.fixture
def gateway(sandbox: Sandbox, aloop: AsyncLoop) -> Iterator[HttpDmpGateway]:
    gw = HttpDmpGateway(sandbox.url, timeout=30.0)
    yield gw
    aloop.run(gw.aclose())


def gp_login(sandbox: Sandbox) -> ProfessionalLogin:
    persona = sandbox.persona("gp")
    return ProfessionalLogin(
        persona["id_nat"],
        "GP",
        persona["profession"],
        sandbox.card_login("gp"),
        datetime.now(UTC) + timedelta(hours=1),
    )


def test_the_chronic_patient_streams_into_the_view_page_by_page(
    sandbox: Sandbox, gateway: HttpDmpGateway, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    login = gp_login(sandbox)
    service = WatchedDossierService(gateway, login)
    view = DossierView(service, visits=SmallPagesVisits(InMemoryVisitStore()))
    service.view = view
    qtbot.addWidget(view)
    view.resize(1400, 800)
    view.show()

    ins = INS(sandbox.patients["ins_system"], sandbox.patients["chronic"])
    patient = aloop.run(gateway.find_patient(login, ins))
    assert patient is not None
    opened = aloop.run(service.open(patient, AccessRequest()))

    with qtbot.waitSignal(view.listCompleted, timeout=60_000):
        view.show_dossier(opened)
        aloop.wait_until(lambda: not view.loading, timeout=60)

    # Two searches: the last two years, then the vaccination history without a date limit.
    assert [q.act_from is not None for q in service.queries] == [True, False]
    assert service.queries[1].type_codes == (VACCINATION_HISTORY,)
    pages = service.shown_before_page
    assert len(pages) >= 3, pages
    # Every page after the first found the earlier ones already on screen.
    assert pages[0] == 0 and all(shown > 0 for shown in pages[1:])
    assert pages == sorted(pages)
    rows = list(view.fetched_rows)
    assert view.model.rowCount() == len(rows) > 2 * PAGE
    assert len({r.doc.id for r in rows}) == len(rows)
    assert any(r.doc.type_code == VACCINATION_HISTORY for r in rows)
    two_years = service.queries[0].act_from
    assert two_years is not None
    # two calendar years back (29 February has no twin: the 28th)
    assert 729 <= (date.today() - two_years).days <= 731
    old = [r for r in rows if r.doc.created.date() < two_years - timedelta(days=1)]
    assert all(r.doc.type_code == VACCINATION_HISTORY for r in old)
    assert [r.doc.id for r in view.model.rows()] == [
        r.doc.id for r in sort_rows(rows, view.sort_spec)
    ]
    assert view.sort_spec.column is Column.ACT_DATE
    assert view.count_label.text() == f"{len(rows)} documents"
    assert view.date_chip.isVisible()

    # A document opens in the preview (a real PDF body, checked then shown).
    # Removing the date limit streams the whole history (hundreds of documents) the same way.
    before = len(service.shown_before_page)
    view.remove_date_limit()
    aloop.wait_until(lambda: not view.loading, timeout=60)
    whole = service.shown_before_page[before:]
    assert len(whole) > 10 and whole[0] == 0 and all(shown > 0 for shown in whole[1:])
    assert not view.date_chip.isVisible()
    history = list(view.fetched_rows)
    assert len(history) > len(rows) and {r.doc.id for r in rows} <= {r.doc.id for r in history}
    rows = history

    view.open_current()
    aloop.wait_until(
        lambda: view.preview.state in (PreviewState.PDF, PreviewState.TEXT, PreviewState.CDA),
        timeout=60,
    )

    # A later opening asks only what was deposited since, and keeps what was known.
    view.close_dossier()
    service.queries.clear()
    reopened = aloop.run(service.open(patient, AccessRequest()))
    view.show_dossier(reopened)
    aloop.wait_until(lambda: not view.loading and len(service.queries) == 2, timeout=60)
    aloop.wait_until(lambda: not view.loading, timeout=60)
    assert service.queries[0].deposited_since is not None
    assert service.queries[0].act_from is None
    assert {r.doc.id for r in view.fetched_rows} == {r.doc.id for r in rows}
    assert not any(r.is_new for r in view.fetched_rows)
    view.close_dossier()
