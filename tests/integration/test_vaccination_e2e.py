"""Vaccinations, "Entourage et volontés" and the dossier header against the real sandbox
(``dmp-sandbox serve`` on loopback) with the personas' SoftHSM2 cards and the console's
``HttpDmpGateway``: a vaccination added then read back with its AuditEvent; what a nurse and
a pharmacist see; bad input refused by the console and by the server (422) with nothing
written, counted on the server; the vaccination history without a date limit; the tab driven
through its widgets."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio
from PySide6.QtCore import QDate, Qt
from pytestqt.qtbot import QtBot

from console.dmp import HttpDmpGateway
from console.domain.dossier import AccessGrant, DocumentQuery, ProfessionalLogin
from console.domain.errors import ForbiddenError, ServerError
from console.domain.ins import INS
from console.domain.profile import ContactRole, SectionState
from console.domain.rules import AccessRequest
from console.domain.terminology import VACCINATION_HISTORY
from console.domain.vaccination import (
    InvalidImmunizationError,
    NewImmunization,
    Performer,
    Problem,
    Vaccine,
    VaccineCatalogue,
    vaccine_catalogue,
)
from console.services.dossier import DossierService, OpenDossier
from console.services.dossier_header import DossierHeaderService
from console.services.entourage import EntourageService
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.services.vaccination import VaccinationService
from console.views.vaccinations import VaccinationsTab
from sandbox.testcard import sign_with_card
from tests import qtloop
from tests.integration.conftest import Sandbox
from tests.qtloop import AsyncLoop

pytestmark = pytest.mark.integration

aloop = qtloop.aloop  # the fixture: a qasync loop over pytest-qt's QApplication

ATC = "http://www.whocc.no/atc"


class StubSession:
    """What DossierService needs of the session: who is logged in."""

    def __init__(self, login: ProfessionalLogin) -> None:
        self.login: ProfessionalLogin | None = login


@dataclasses.dataclass
class Opened:
    gateway: HttpDmpGateway
    login: ProfessionalLogin
    dossier: OpenDossier
    dossier_service: DossierService

    @property
    def grant(self) -> AccessGrant:
        return self.dossier.grant

    def vaccinations(self, **options: Any) -> VaccinationService:
        return VaccinationService(self.gateway, self.dossier_service, **options)


async def open_as(
    gw: HttpDmpGateway,
    sandbox: Sandbox,
    persona_id: str,
    ins: str,
    request: AccessRequest | None = None,
) -> Opened:
    persona = sandbox.persona(persona_id)
    nonce = await gw.challenge()
    signed = await asyncio.to_thread(
        sign_with_card,
        sandbox.directory,
        persona["token_label"],
        persona["pin"],
        nonce.encode("utf-8"),
        "RS256",
    )
    login = await gw.login_with_card(signed.certificate_der, nonce, signed.signature, "RS256")
    record = await gw.find_patient(login, INS(sandbox.patients["ins_system"], ins))
    assert record is not None
    grant = await gw.open_access(login, record, request or AccessRequest())
    service = DossierService(cast(DmpGateway, gw), cast(SessionService, StubSession(login)))
    return Opened(gw, login, OpenDossier(grant), service)


@pytest_asyncio.fixture
async def gateway(sandbox: Sandbox) -> AsyncIterator[HttpDmpGateway]:
    gw = HttpDmpGateway(sandbox.url, timeout=30.0)
    try:
        yield gw
    finally:
        await gw.aclose()


def server_get(sandbox: Sandbox, grant: AccessGrant, path: str, **params: str) -> Any:
    """A search as any client would send it (not through the console), with the grant's
    patient token: the server's own count, independent of the console."""
    with httpx.Client(base_url=sandbox.url, timeout=30) as client:
        answer = client.get(
            path,
            params={"patient.identifier": grant.patient.ins.token(), **params},
            headers={"Authorization": f"Bearer {grant.token}"},
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def immunization_count(sandbox: Sandbox, grant: AccessGrant) -> int:
    total: int = server_get(sandbox, grant, "/Immunization", _count="1")["total"]
    return total


# -- add, read back, traced ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_add_then_read_back_a_vaccination_and_its_audit_event(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    opened = await open_as(gateway, sandbox, "nurse", sandbox.patients["chronic"])
    service = opened.vaccinations()
    before = immunization_count(sandbox, opened.grant)
    lot = f"E2E-{datetime.now(UTC):%H%M%S%f}"
    when = date.today() - timedelta(days=3)
    stored = await service.add(opened.dossier, service.draft("J07BB02", when, lot))
    assert stored.performer == Performer(opened.login.id_nat, "Julie PETIT")
    assert (stored.vaccine.code, stored.occurrence, stored.lot_number) == ("J07BB02", when, lot)

    again = await service.immunizations(opened.dossier)
    assert immunization_count(sandbox, opened.grant) == before + 1
    found = [i for i in again if i.id == stored.id]
    assert found == [stored]
    assert [i.occurrence for i in again] == sorted((i.occurrence for i in again), reverse=True)

    events = server_get(sandbox, opened.grant, "/AuditEvent", _count="50")["entry"]
    created = [
        e["resource"]
        for e in events
        if e["resource"]["subtype"][0]["code"] == "create"
        and any(
            ent.get("what", {}).get("reference") == f"Immunization/{stored.id}"
            for ent in e["resource"].get("entity", [])
        )
    ]
    assert len(created) == 1
    event = created[0]
    assert event["action"] == "C" and event["outcome"] == "0"
    assert event["agent"][0]["who"]["identifier"]["value"] == opened.login.id_nat
    assert event["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "normal"


# -- what a nurse and a pharmacist see -----------------------------------------------------------
@pytest.mark.asyncio
@pytest.mark.parametrize(("persona", "directives"), [("nurse", True), ("pharmacist", False)])
async def test_nurse_and_pharmacist_see_what_the_rules_allow(
    gateway: HttpDmpGateway, sandbox: Sandbox, persona: str, directives: bool
) -> None:
    chronic = sandbox.patients["chronic"]
    assert chronic in sandbox.patients["care_team"][persona]
    assert chronic in sandbox.patients["entourage"]["directives_written"]
    opened = await open_as(gateway, sandbox, persona, chronic)

    # vaccinations: both professions read the vaccination history (matrix rows, provisional)
    vaccinations = await opened.vaccinations().immunizations(opened.dossier)
    assert vaccinations and all(i.patient_ins == chronic for i in vaccinations)

    # the person of trust and the relatives: both
    relatives = await gateway.related_persons(opened.grant)
    assert any(ContactRole.TRUSTED_PERSON in r.roles for r in relatives)
    assert all(r.phones for r in relatives)

    # the advance directives: the nurse only; the server refuses the pharmacist itself
    if directives:
        found = await gateway.advance_directives(opened.grant)
        assert found is not None and found.written and found.location
    else:
        with pytest.raises(ForbiddenError) as caught:
            await gateway.advance_directives(opened.grant)
        assert caught.value.reason == "entourage_profession"

    entourage = await EntourageService(gateway, opened.dossier_service).load(opened.dossier)
    assert entourage.state("trusted_person") is SectionState.SHOWN
    assert entourage.state("contacts") is SectionState.SHOWN
    expected = SectionState.SHOWN if directives else SectionState.NOT_ALLOWED
    assert entourage.state("directives") is expected

    # the header: the médecin traitant (the GP persona) is told to an open record
    info = await DossierHeaderService(gateway, opened.dossier_service).load(opened.dossier)
    gp = sandbox.persona("gp")
    assert info.summary.general_practitioner is not None
    assert info.summary.general_practitioner.id_nat == gp["id_nat"]
    assert info.summary.general_practitioner.name == "Claire MARTIN"
    assert info.notices == ()


@pytest.mark.asyncio
async def test_a_patient_who_recorded_nothing(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    quiet = sandbox.patients["opposed_centre_15"]
    assert quiet in sandbox.patients["entourage"]["nothing"]
    # The midwife (who reads every part) with the patient's oral consent.
    opened = await open_as(gateway, sandbox, "midwife", quiet, AccessRequest(consent_method="oral"))
    entourage = await EntourageService(gateway, opened.dossier_service).load(opened.dossier)
    for section in ("trusted_person", "contacts", "directives"):
        assert entourage.state(section) is SectionState.NOT_RECORDED


# -- bad input: refused, nothing written ---------------------------------------------------------
@pytest.mark.asyncio
async def test_bad_input_is_refused_by_the_console_and_nothing_is_written(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    opened = await open_as(gateway, sandbox, "nurse", sandbox.patients["chronic"])
    service = opened.vaccinations()
    before = immunization_count(sandbox, opened.grant)
    cases = {
        Problem.FUTURE_DATE: service.draft("J07BB02", date.today() + timedelta(days=2), "L1"),
        Problem.UNKNOWN_VACCINE: service.draft("J07XX99", date.today(), "L1"),
        Problem.MISSING_LOT: service.draft("J07BB02", date.today(), "   "),
    }
    for problem, draft in cases.items():
        with pytest.raises(InvalidImmunizationError) as caught:
            await service.add(opened.dossier, draft)
        assert [i.problem for i in caught.value.issues] == [problem]
        assert caught.value.issues[0].message.endswith(".")
    assert immunization_count(sandbox, opened.grant) == before


@pytest.mark.asyncio
async def test_bad_input_is_refused_by_the_server_with_422_and_nothing_is_written(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    opened = await open_as(gateway, sandbox, "nurse", sandbox.patients["chronic"])
    me = Performer(opened.login.id_nat, opened.login.display_name)
    flu = vaccine_catalogue().get("J07BB02")
    assert flu is not None
    birth = opened.grant.patient.birth_date
    assert birth is not None
    before = immunization_count(sandbox, opened.grant)
    # Sent straight through the gateway, past the console's checks: the server's own.
    cases = {
        "future_date": NewImmunization(flu, date.today() + timedelta(days=2), "L1", me),
        "unknown_vaccine": NewImmunization(Vaccine(ATC, "J07XX99", "?"), date.today(), "L1", me),
        "missing_lot": NewImmunization(flu, date.today(), "", me),
        "before_birth": NewImmunization(flu, birth - timedelta(days=1), "L1", me),
        "performer_mismatch": NewImmunization(flu, date.today(), "L1", Performer("899700000011")),
    }
    for reason, new in cases.items():
        with pytest.raises(ServerError) as caught:
            await gateway.add_immunization(opened.grant, new)
        assert (caught.value.status, caught.value.reason) == (422, reason)
        assert str(caught.value)  # the server's French sentence
    assert immunization_count(sandbox, opened.grant) == before

    # Through the service, a 422 comes back as the form's message for the field.
    lax = VaccineCatalogue(ATC, (*vaccine_catalogue().vaccines, Vaccine(ATC, "J07XX99", "?")))
    service = opened.vaccinations(catalogue=lax)
    with pytest.raises(InvalidImmunizationError) as refused:
        await service.add(opened.dossier, service.draft("J07XX99", date.today(), "L1"))
    assert [i.problem for i in refused.value.issues] == [Problem.UNKNOWN_VACCINE]
    assert immunization_count(sandbox, opened.grant) == before


# -- the vaccination history without a date limit --------------------------------------------------
@pytest.mark.asyncio
async def test_vaccination_history_documents_without_a_date_limit(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    # The minor's vaccination history follows her 6-year booster: about three years old.
    opened = await open_as(
        gateway, sandbox, "gp", sandbox.patients["minor"], AccessRequest(consent_method="oral")
    )
    service = opened.vaccinations()
    found = [d async for page in service.history_documents(opened.dossier) for d in page.documents]
    assert found and all(d.type_code == VACCINATION_HISTORY for d in found)
    two_years_ago = datetime.now(UTC) - timedelta(days=730)
    assert any(d.created < two_years_ago for d in found)  # older than a first opening's limit
    current = server_get(sandbox, opened.grant, "/DocumentReference", type=VACCINATION_HISTORY)
    archived = server_get(
        sandbox, opened.grant, "/DocumentReference", type=VACCINATION_HISTORY, isArchived="true"
    )
    assert len(found) == current["total"] + archived["total"]
    assert {d.id for d in found} <= set(opened.dossier.documents)  # retrievable in the preview
    limited = DocumentQuery(type_codes=(VACCINATION_HISTORY,), act_from=date.today())
    pages = opened.dossier_service.documents(opened.dossier, limited)
    recent = [d async for page in pages for d in page.documents]
    assert len(recent) < len(found)


# -- the tab, through its widgets ------------------------------------------------------------------
@pytest.mark.gui
def test_the_tab_records_a_vaccination_on_the_sandbox(
    qtbot: QtBot, aloop: AsyncLoop, sandbox: Sandbox
) -> None:
    gw = HttpDmpGateway(sandbox.url, timeout=30.0)
    try:
        opened = aloop.run(open_as(gw, sandbox, "pharmacist", sandbox.patients["chronic"]), 60)
        tab = VaccinationsTab(opened.vaccinations())
        qtbot.addWidget(tab)
        tab.show()
        tab.show_dossier(opened.dossier)
        aloop.wait_until(lambda: not tab.busy, 30)
        shown = tab.model.rowCount()
        before = immunization_count(sandbox, opened.grant)
        assert shown == before > 0

        # bad input first: a date in the future, nothing sent
        qtbot.mouseClick(tab.add_button, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(tab.form.search_edit, "zona")
        tomorrow = date.today() + timedelta(days=1)
        tab.form.date_edit.setDate(QDate(tomorrow.year, tomorrow.month, tomorrow.day))
        qtbot.keyClicks(tab.form.lot_edit, "SHX-77")
        qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
        assert "futur" in tab.form.messages()["date"]
        assert immunization_count(sandbox, opened.grant) == before

        # then right
        today = date.today()
        tab.form.date_edit.setDate(QDate(today.year, today.month, today.day))
        with qtbot.waitSignal(tab.immunizationAdded, timeout=30000) as added:
            qtbot.mouseClick(tab.form.save_button, Qt.MouseButton.LeftButton)
            aloop.wait_until(lambda: not tab.busy, 30)
        stored = added.args[0]
        assert stored.vaccine.code == "J07BK03" and stored.lot_number == "SHX-77"
        assert immunization_count(sandbox, opened.grant) == before + 1
        assert tab.model.rowCount() == shown + 1

        tab.refresh()
        aloop.wait_until(lambda: not tab.busy, 30)
        assert any(i.id == stored.id for i in tab.model.immunizations)
    finally:
        aloop.run(gw.aclose())
