"""The "Vaccinations" tab, offscreen, through the widgets a user touches: the sortable table,
the "Ajouter une vaccination" form (search, French date, lot), its inline messages on bad
input (nothing is sent), the server's refusals, and the vaccination history documents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from PySide6.QtCore import QDate, QPoint, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.errors import NetworkError, ServerError
from console.domain.ins import INS
from console.domain.models import SECRETARY_ROLE, AccessMode, DocumentMeta
from console.domain.vaccination import (
    Immunization,
    ImmunizationColumn,
    NewImmunization,
    Performer,
    Vaccine,
    vaccine_catalogue,
)
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.services.vaccination import VaccinationService, history_query
from console.views.vaccinations import (
    IMMUNIZATION_ROLE,
    SORT_ROLE,
    ImmunizationTableModel,
    VaccinationsTab,
)
from tests.gui.conftest import AsyncLoop

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

NIR = "255081416802538"
BIRTH = date(1955, 8, 14)
TODAY = date(2026, 1, 15)
ME = Performer("899700000045", "Julie PETIT")
PATIENT = PatientRecord(INS.parse(NIR), "DURAND", "Marie", BIRTH, "female")
ATC = "http://www.whocc.no/atc"


def imm(imm_id: str, when: date, code: str, lot: str, who: str = "Claire MARTIN") -> Immunization:
    vaccine = vaccine_catalogue().get(code) or Vaccine(ATC, code, code)
    return Immunization(imm_id, NIR, vaccine, when, lot, Performer("899700000011", who))


SEEDED = [
    imm("a", date(2019, 10, 20), "J07BB02", "FLU19"),
    imm("b", date(2023, 3, 2), "J07CA01", "DTP23", "Anne LEFEBVRE"),
    imm("c", date(1956, 5, 1), "J07AN01", "BCG56", "Émile ROUX"),
]


def history_doc(number: int, when: datetime) -> DocumentMeta:
    return DocumentMeta(
        id=f"hist-{number}",
        master_id=f"m{number}",
        patient_ins=NIR,
        type_code="11369-6",
        class_code="11",
        title=f"Historique de vaccination {number}",
        author_id_nat="899700000011",
        created=when,
        deposited=when,
        author_name="Claire MARTIN",
    )


class FakeGateway:
    """The DMP's Immunization and document searches, in memory."""

    def __init__(self) -> None:
        self.stored: list[Immunization] = list(SEEDED)
        self.posted: list[NewImmunization] = []
        self.refusal: Exception | None = None
        self.list_error: Exception | None = None
        self.queries: list[DocumentQuery] = []
        self.history = [
            history_doc(1, datetime(2012, 4, 1, tzinfo=UTC)),
            history_doc(2, datetime(2025, 9, 1, tzinfo=UTC)),
        ]
        self.gate: asyncio.Event | None = None

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]:
        if self.list_error is not None:
            raise self.list_error
        return list(self.stored)

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization:
        self.posted.append(new)
        if self.gate is not None:
            await self.gate.wait()
        if self.refusal is not None:
            raise self.refusal
        stored = Immunization(
            f"new{len(self.posted)}", NIR, new.vaccine, new.occurrence, new.lot_number, ME
        )
        self.stored.append(stored)
        return stored

    async def _pages(self, query: DocumentQuery) -> AsyncIterator[DocumentPage]:
        self.queries.append(query)
        yield DocumentPage((self.history[0],), 2)
        yield DocumentPage((self.history[1],), 2)

    def search_documents(self, grant: AccessGrant, query: DocumentQuery) -> Any:
        return self._pages(query)


class FakeSession:
    def __init__(self, profession: str) -> None:
        self.login = ProfessionalLogin(
            ME.id_nat, ME.name, profession, "t", datetime.now(UTC) + timedelta(hours=1)
        )


def make_tab(
    qtbot: QtBot, profession: str = "60"
) -> tuple[VaccinationsTab, FakeGateway, OpenDossier]:
    gateway = FakeGateway()
    dossier_service = DossierService(
        cast(DmpGateway, gateway), cast(SessionService, FakeSession(profession))
    )
    service = VaccinationService(gateway, dossier_service, today=lambda: TODAY)
    tab = VaccinationsTab(service)
    qtbot.addWidget(tab)
    tab.show()
    grant = AccessGrant(PATIENT, AccessMode.NORMAL, "t", datetime.now(UTC), "ep")
    return tab, gateway, OpenDossier(grant)


def opened(
    qtbot: QtBot, aloop: AsyncLoop, profession: str = "60"
) -> tuple[VaccinationsTab, FakeGateway, OpenDossier]:
    tab, gateway, dossier = make_tab(qtbot, profession)
    tab.show_dossier(dossier)
    aloop.wait_until(lambda: not tab.busy)
    return tab, gateway, dossier


def column(name: ImmunizationColumn) -> int:
    return list(ImmunizationColumn).index(name)


def cell(tab: VaccinationsTab, row: int, name: ImmunizationColumn) -> str:
    return str(tab.model.index(row, column(name)).data())


def fill(
    qtbot: QtBot, tab: VaccinationsTab, search: str, when: date | None = None, lot: str = "LOT1"
) -> None:
    qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
    assert tab.form.isVisible()
    qtbot.keyClicks(tab.form.search_edit, search)
    if when is not None:
        tab.form.date_edit.setDate(QDate(when.year, when.month, when.day))
    tab.form.lot_edit.clear()
    qtbot.keyClicks(tab.form.lot_edit, lot)


# -- the model -------------------------------------------------------------------------------------
def test_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = ImmunizationTableModel()
    model.set_immunizations(SEEDED)
    qtmodeltester.check(model, force_py=True)
    model.sort(column(ImmunizationColumn.VACCINE), Qt.SortOrder.AscendingOrder)
    model.add(imm("d", date(2024, 1, 1), "J07BD52", "ROR"))
    model.sort(column(ImmunizationColumn.DATE), Qt.SortOrder.DescendingOrder)
    assert [i.id for i in model.immunizations] == ["d", "b", "a", "c"]
    model.clear()
    assert model.rowCount() == 0


def test_model_sorts_by_raw_keys_not_display_text() -> None:
    model = ImmunizationTableModel()
    model.set_immunizations(SEEDED)
    # "20/10/2019" < "02/03/2023" as text; as dates 2023 is newer.
    assert [i.id for i in model.immunizations] == ["b", "a", "c"]
    model.sort(column(ImmunizationColumn.PERFORMER), Qt.SortOrder.AscendingOrder)
    # "Émile" sorts with the E's, not after the Z's
    assert [i.performer.name for i in model.immunizations if i.performer] == [
        "Anne LEFEBVRE",
        "Claire MARTIN",
        "Émile ROUX",
    ]
    index = model.index(0, column(ImmunizationColumn.DATE))
    assert model.data(index, SORT_ROLE) == (date(2023, 3, 2),)
    assert model.data(index, IMMUNIZATION_ROLE).id == "b"


# -- the tab ---------------------------------------------------------------------------------------
def test_tab_lists_the_vaccinations_newest_first(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, _, _ = opened(qtbot, aloop)
    assert tab.model.rowCount() == 3
    assert [cell(tab, r, ImmunizationColumn.DATE) for r in range(3)] == [
        "02/03/2023",
        "20/10/2019",
        "01/05/1956",
    ]
    assert tab.count_label.text() == "3 vaccinations"
    assert tab.add_button.isEnabled()


def test_clicking_a_header_sorts_the_table(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, _, _ = opened(qtbot, aloop)
    head = tab.table.horizontalHeader()
    x = head.sectionViewportPosition(column(ImmunizationColumn.LOT)) + 5
    qtbot.mouseClick(head.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    first = [cell(tab, r, ImmunizationColumn.LOT) for r in range(3)]
    assert first in (["BCG56", "DTP23", "FLU19"], ["FLU19", "DTP23", "BCG56"])
    qtbot.mouseClick(head.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    second = [cell(tab, r, ImmunizationColumn.LOT) for r in range(3)]
    assert second == list(reversed(first))


def test_adding_a_vaccination(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    fill(qtbot, tab, "rougeole", date(2025, 12, 1), "AB-1234")
    assert tab.form.vaccine_code() == "J07BD52"  # the search left one vaccine: chosen
    assert tab.form.performer_label.text() == "Julie PETIT (vous)"
    assert tab.form.date_edit.text() == "01/12/2025"  # French format
    with qtbot.waitSignal(tab.immunizationAdded) as added:
        qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
        aloop.wait_until(lambda: not tab.busy)
    assert [(n.vaccine.code, n.occurrence, n.lot_number, n.performer) for n in gateway.posted] == [
        ("J07BD52", date(2025, 12, 1), "AB-1234", ME)
    ]
    assert added.args[0].id == "new1"
    assert tab.model.rowCount() == 4
    assert cell(tab, 0, ImmunizationColumn.LOT) == "AB-1234"
    assert not tab.form.isVisible()
    assert "Vaccination enregistrée" in tab.status_label.text()
    assert tab.count_label.text() == "4 vaccinations"


@pytest.mark.parametrize(
    ("search", "when", "lot", "field", "text"),
    [
        ("grippe", TODAY + timedelta(days=1), "L1", "date", "dans le futur"),
        ("grippe", BIRTH - timedelta(days=2), "L1", "date", "antérieure à la naissance"),
        ("grippe", TODAY, "", "lot", "numéro de lot est obligatoire"),
        ("xyzzy", TODAY, "L1", "vaccine", "Choisissez le vaccin"),
    ],
)
def test_bad_input_shows_a_message_and_sends_nothing(
    qtbot: QtBot,
    aloop: AsyncLoop,
    search: str,
    when: date,
    lot: str,
    field: str,
    text: str,
) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    fill(qtbot, tab, search, when, lot)
    qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
    aloop.spin(0.05)
    messages = tab.form.messages()
    assert text in messages[field], messages
    assert messages["form"] == "Rien n'a été enregistré : corrigez la saisie."
    assert gateway.posted == []
    assert tab.model.rowCount() == 3
    assert tab.form.isVisible()


def test_several_problems_at_once_each_under_its_field(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    fill(qtbot, tab, "", TODAY + timedelta(days=30), "")
    qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
    assert set(tab.form.messages()) == {"vaccine", "date", "lot", "form"}
    assert gateway.posted == []
    assert tab.form.search_edit.hasFocus()
    # correcting clears the messages on the next try
    tab.form.choose("J07BB02")
    tab.form.set_occurrence(TODAY)
    qtbot.keyClicks(tab.form.lot_edit, "OK1")
    qtbot.keyClick(tab.form.lot_edit, Qt.Key.Key_Return)
    aloop.wait_until(lambda: not tab.busy and len(gateway.posted) == 1)
    assert tab.form.messages() == {}


def test_the_servers_422_is_shown_under_its_field(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    gateway.refusal = ServerError("Vaccin inconnu.", 422, "unknown_vaccine")
    fill(qtbot, tab, "grippe", TODAY, "L1")
    qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not tab.busy)
    assert "n'est pas dans la liste" in tab.form.messages()["vaccine"]
    assert tab.model.rowCount() == 3


def test_a_network_failure_says_nothing_was_recorded(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    gateway.refusal = NetworkError("Serveur DMP injoignable.")
    gateway.gate = asyncio.Event()
    fill(qtbot, tab, "grippe", TODAY, "L1")
    qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: len(gateway.posted) == 1)
    assert not tab.form.save_button.isEnabled()  # busy while it runs
    qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
    gateway.gate.set()
    aloop.wait_until(lambda: not tab.busy)
    assert len(gateway.posted) == 1
    assert tab.form.messages()["form"] == "Rien n'a été enregistré : Serveur DMP injoignable."
    assert tab.form.save_button.isEnabled()


def test_cancel_closes_the_form(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    fill(qtbot, tab, "grippe", TODAY, "L1")
    qtbot.mouseClick(tab.form.cancel_button, Qt.MouseButton.LeftButton)
    assert not tab.form.isVisible() and tab.add_button.isEnabled()
    assert gateway.posted == []


def test_vaccine_search_is_accent_insensitive_and_offers_the_list(
    qtbot: QtBot, aloop: AsyncLoop
) -> None:
    tab, _, _ = opened(qtbot, aloop)
    tab.open_form()
    assert len(tab.form.listed()) == len(vaccine_catalogue().vaccines)
    assert tab.form.vaccine_code() == ""  # nothing chosen by default
    qtbot.keyClicks(tab.form.search_edit, "HEPATITE")
    assert {v.code for v in tab.form.listed()} == {"J07CA09", "J07BC01", "J07BC02"}
    assert tab.form.vaccine_code() == ""
    tab.form.search_edit.clear()
    qtbot.keyClicks(tab.form.search_edit, "shingrix")
    assert tab.form.vaccine_code() == "J07BK03"


def test_history_documents_without_a_date_limit(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, _ = opened(qtbot, aloop)
    qtbot.mouseClick(tab.history_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not tab.busy)
    assert gateway.queries == [history_query()]
    assert [d.id for d in tab.history_documents()] == ["hist-2", "hist-1"]
    assert tab.history_status.text() == "2 documents, toutes dates confondues."
    assert tab.history_list.item(1).text().startswith("01/04/2012 — Historique")
    with qtbot.waitSignal(tab.documentActivated) as chosen:
        tab.history_list.itemActivated.emit(tab.history_list.item(1))
    assert chosen.args[0].id == "hist-1"


@pytest.mark.parametrize("profession", [SECRETARY_ROLE, "GENR08"])
def test_professions_the_matrix_closes(qtbot: QtBot, aloop: AsyncLoop, profession: str) -> None:
    tab, _, _ = opened(qtbot, aloop, profession)
    assert tab.model.rowCount() == 0
    assert "matrice d'habilitation" in tab.error_label.text()
    assert not tab.add_button.isEnabled()
    tab.open_form()
    assert not tab.form.isVisible()


def test_a_refused_list_shows_the_servers_message(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, dossier = make_tab(qtbot)
    gateway.list_error = ServerError("Le patient a bloqué l'accès.", 403, "blocked")
    tab.show_dossier(dossier)
    aloop.wait_until(lambda: not tab.busy)
    assert tab.error_label.text() == "Le patient a bloqué l'accès."


def test_network_text_stays_plain(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, gateway, dossier = make_tab(qtbot)
    gateway.stored = [
        Immunization("x", NIR, Vaccine(ATC, "J07BB02", "<b>Grippe</b>"), TODAY, "<i>L</i>")
    ]
    tab.show_dossier(dossier)
    aloop.wait_until(lambda: not tab.busy)
    index = tab.model.index(0, column(ImmunizationColumn.VACCINE))
    assert index.data() == "<b>Grippe</b>"
    assert "&lt;b&gt;" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_clear_forgets_the_patient(qtbot: QtBot, aloop: AsyncLoop) -> None:
    tab, _, _ = opened(qtbot, aloop)
    tab.open_form()
    tab.clear()
    assert tab.model.rowCount() == 0 and tab.dossier is None
    assert not tab.form.isVisible() and not tab.add_button.isEnabled()
