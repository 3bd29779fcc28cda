"""Vaccinations without Qt nor network: the coded list and its search, the checks of a new
vaccination, the table's order, the FHIR mapping, the gateway over ``httpx.MockTransport`` and
the service (nothing is sent on bad input; the server's 422 comes back field by field)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from fhir.resources.R4B.immunization import Immunization as R4BImmunization
from hypothesis import given
from hypothesis import strategies as st

from console.dmp import HttpDmpGateway
from console.dmp.mapping import (
    immunization_from_fhir,
    immunization_to_fhir,
    immunizations_page_from_bundle,
)
from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.errors import ForbiddenError, ProtocolError, ResourceDataError, ServerError
from console.domain.ins import INS, nir_key
from console.domain.models import SECRETARY_ROLE, AccessMode
from console.domain.vaccination import (
    LOT_MAX_CHARS,
    Field,
    Immunization,
    ImmunizationColumn,
    ImmunizationDraft,
    InvalidImmunizationError,
    NewImmunization,
    Performer,
    Problem,
    Vaccine,
    VaccineCatalogue,
    fold_text,
    immunization_issues,
    sort_immunizations,
    vaccine_catalogue,
    validate_immunization,
)
from console.resources import load_json
from console.services.dossier import DossierService, NotLoggedInError, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.services.vaccination import VaccinationService, history_query
from sandbox import fhir
from sandbox.errors import operation_outcome

NIR = "255081416802538"
INS_VALUE = INS.parse(NIR)
BIRTH = date(1955, 8, 14)
TODAY = date(2026, 1, 15)
ME = Performer("899700000045", "Julie PETIT")
PATIENT = PatientRecord(INS_VALUE, "DURAND", "Marie", BIRTH, "female")
GRANT = AccessGrant(PATIENT, AccessMode.NORMAL, "patient-token", datetime.now(UTC), "ep")
ATC = "http://www.whocc.no/atc"


def draft(**changes: Any) -> ImmunizationDraft:
    base = ImmunizationDraft("J07BB02", date(2025, 11, 20), "FLU-2025", ME)
    return replace(base, **changes)


def issues(d: ImmunizationDraft, profession: str = "60") -> list[Problem]:
    found = immunization_issues(
        d, professional=ME, profession=profession, today=TODAY, birth_date=BIRTH
    )
    return [i.problem for i in found]


# -- the coded list --------------------------------------------------------------------------------
def test_catalogue_is_the_bundled_list() -> None:
    catalogue = vaccine_catalogue()
    raw = load_json("vaccines.json")
    assert catalogue.system == ATC == raw["system"]
    assert [v.code for v in catalogue.vaccines] == [v["code"] for v in raw["vaccines"]]
    assert catalogue.provisional
    assert catalogue.get("J07BD52") is not None
    assert catalogue.get("J07XX99") is None


def test_search_ignores_accents_case_and_word_order() -> None:
    catalogue = vaccine_catalogue()
    assert [v.code for v in catalogue.search("ROUGEOLE")] == ["J07BD52"]
    assert [v.code for v in catalogue.search("hepatite b")] == ["J07CA09", "J07BC01"]
    assert [v.code for v in catalogue.search("Hépatite A")] == ["J07BC02"]
    assert [v.code for v in catalogue.search("gardasil")] == ["J07BM03"]  # a brand name
    assert [v.code for v in catalogue.search("j07bb")] == ["J07BB02"]  # a code prefix
    assert [v.code for v in catalogue.search("23 PNEUMO")] == ["J07AL01"]  # any word order
    assert catalogue.search("   ") == catalogue.vaccines
    assert catalogue.search("xyzzy") == ()


def test_malformed_catalogue_is_refused() -> None:
    with pytest.raises(ResourceDataError):
        VaccineCatalogue.from_data({"system": ATC})
    twice = {"system": ATC, "vaccines": [{"code": "A", "display": "a"}] * 2}
    with pytest.raises(ResourceDataError, match="twice"):
        VaccineCatalogue.from_data(twice)


@given(st.text(max_size=30))
def test_fold_is_idempotent_and_accent_free(text: str) -> None:
    folded = fold_text(text)
    assert fold_text(folded) == folded
    assert folded == folded.casefold()


# -- the checks ------------------------------------------------------------------------------------
def test_a_right_vaccination_passes() -> None:
    assert issues(draft()) == []
    new = validate_immunization(
        draft(lot_number="  AB12  "),
        professional=ME,
        profession="60",
        today=TODAY,
        birth_date=BIRTH,
    )
    vaccine = vaccine_catalogue().get("J07BB02")
    assert vaccine is not None
    assert new == NewImmunization(vaccine, date(2025, 11, 20), "AB12", ME)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"vaccine_code": ""}, [Problem.MISSING_VACCINE]),
        ({"vaccine_code": "J07XX99"}, [Problem.UNKNOWN_VACCINE]),
        ({"occurrence": None}, [Problem.MISSING_DATE]),
        ({"occurrence": TODAY + timedelta(days=1)}, [Problem.FUTURE_DATE]),
        ({"occurrence": BIRTH - timedelta(days=1)}, [Problem.BEFORE_BIRTH]),
        ({"lot_number": "   "}, [Problem.MISSING_LOT]),
        ({"lot_number": "X" * (LOT_MAX_CHARS + 1)}, [Problem.LOT_TOO_LONG]),
        ({"performer": Performer("899700000011")}, [Problem.PERFORMER_MISMATCH]),
        (
            {"vaccine_code": "J07XX99", "occurrence": TODAY + timedelta(days=3), "lot_number": ""},
            [Problem.UNKNOWN_VACCINE, Problem.FUTURE_DATE, Problem.MISSING_LOT],
        ),
    ],
)
def test_each_problem_is_found(changes: dict[str, Any], expected: list[Problem]) -> None:
    assert issues(draft(**changes)) == expected


def test_boundaries_today_and_birth_day_are_accepted() -> None:
    assert issues(draft(occurrence=TODAY)) == []
    assert issues(draft(occurrence=BIRTH)) == []
    assert issues(draft(lot_number="X" * LOT_MAX_CHARS)) == []


def test_secretary_records_no_vaccination() -> None:
    assert issues(draft(), profession=SECRETARY_ROLE) == [Problem.NOT_A_PROFESSIONAL]


def test_invalid_error_says_what_and_where() -> None:
    with pytest.raises(InvalidImmunizationError) as caught:
        validate_immunization(
            draft(lot_number="", occurrence=TODAY + timedelta(days=1)),
            professional=ME,
            profession="10",
            today=TODAY,
            birth_date=BIRTH,
        )
    error = caught.value
    assert [(i.field, i.problem) for i in error.issues] == [
        (Field.DATE, Problem.FUTURE_DATE),
        (Field.LOT, Problem.MISSING_LOT),
    ]
    assert "futur" in str(error) and "lot" in str(error)
    assert all(i.message.endswith(".") for i in error.issues)


def test_problem_codes_are_the_servers() -> None:
    # The service maps a 422 reason to a Problem by value.
    for code in ("unknown_vaccine", "future_date", "before_birth", "missing_lot"):
        assert Problem(code)
    assert Problem("invalid_date") is Problem.MISSING_DATE
    assert Problem("performer_mismatch") is Problem.PERFORMER_MISMATCH


# -- the order -------------------------------------------------------------------------------------
def imm(
    imm_id: str, when: date, code: str = "J07BB02", lot: str = "L", who: str = "Claire MARTIN"
) -> Immunization:
    vaccine = vaccine_catalogue().get(code) or Vaccine(ATC, code, code)
    return Immunization(imm_id, NIR, vaccine, when, lot, Performer("8997", who))


def test_sort_by_raw_keys_stable_and_total() -> None:
    a = imm("a", date(2020, 5, 1), "J07BD52", "lot 10", "Émile ZOLA")
    b = imm("b", date(2024, 1, 1), "J07AL01", "lot 9", "alice MARTIN")
    c = imm("c", date(2024, 1, 1), "J07BB02", "LOT 2", "Bob DUPONT")
    items = [a, b, c]
    assert [i.id for i in sort_immunizations(items)] == ["b", "c", "a"]
    assert [i.id for i in sort_immunizations(items, descending=False)] == ["a", "b", "c"]
    by_performer = sort_immunizations(items, ImmunizationColumn.PERFORMER, descending=False)
    assert [i.id for i in by_performer] == ["b", "c", "a"]  # "alice", "bob", "emile"
    by_vaccine = sort_immunizations(items, ImmunizationColumn.VACCINE, descending=False)
    assert [i.vaccine.display[:4] for i in by_vaccine] == ["Grip", "Pneu", "Roug"]
    by_code = sort_immunizations(items, ImmunizationColumn.CODE, descending=True)
    assert [i.id for i in by_code] == ["a", "c", "b"]
    # equal keys keep the newest first, then the id, in both directions
    same = [imm("z", date(2020, 1, 1), lot="X"), imm("y", date(2023, 1, 1), lot="X")]
    for descending in (True, False):
        ordered = sort_immunizations(same, ImmunizationColumn.LOT, descending=descending)
        assert [i.id for i in ordered] == ["y", "z"]


# -- FHIR mapping ----------------------------------------------------------------------------------
def server_resource(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "imm1",
        "status": "completed",
        "vaccine_system": ATC,
        "vaccine_code": "J07BD52",
        "vaccine_display": "Rougeole, oreillons, rubéole (ROR)",
        "patient_ins": NIR,
        "occurrence": "2024-06-20",
        "recorded_at": "2024-06-20T10:00:00+00:00",
        "lot_number": "L123",
        "performer_id_nat": "899700000011",
        "performer_name": "Claire MARTIN",
        **changes,
    }
    return fhir.immunization(row, patient_system=INS_VALUE.system)


def test_immunization_from_the_sandbox_resource() -> None:
    found = immunization_from_fhir(server_resource())
    assert found.id == "imm1"
    assert found.vaccine.code == "J07BD52" and found.vaccine.system == ATC
    assert found.vaccine.display.startswith("Rougeole")
    assert found.occurrence == date(2024, 6, 20)
    assert found.lot_number == "L123"
    assert found.performer == Performer("899700000011", "Claire MARTIN")
    assert found.recorded == datetime(2024, 6, 20, 10, tzinfo=UTC)
    assert found.patient_ins == NIR


def test_immunization_tolerates_a_datetime_and_no_performer() -> None:
    resource = server_resource(performer_id_nat=None, lot_number=None)
    resource["occurrenceDateTime"] = "2024-06-20T09:30:00+02:00"
    found = immunization_from_fhir(resource)
    assert found.occurrence == date(2024, 6, 20)
    assert found.performer is None and found.lot_number == ""


@pytest.mark.parametrize("missing", ["vaccineCode", "patient", "occurrenceDateTime", "id"])
def test_immunization_without_a_required_element_is_a_protocol_error(missing: str) -> None:
    resource = server_resource()
    del resource[missing]
    with pytest.raises(ProtocolError, match=missing):
        immunization_from_fhir(resource)


def test_immunization_body_is_what_the_sandbox_accepts() -> None:
    vaccine = vaccine_catalogue().get("J07BB02")
    assert vaccine is not None
    body = immunization_to_fhir(NewImmunization(vaccine, date(2025, 11, 20), "AB1", ME), INS_VALUE)
    assert body["vaccineCode"]["coding"][0] == {
        "system": ATC,
        "code": "J07BB02",
        "display": vaccine.display,
    }
    assert body["patient"]["identifier"] == {"system": INS_VALUE.system, "value": NIR}
    assert body["occurrenceDateTime"] == "2025-11-20"
    assert body["performer"][0]["actor"]["identifier"]["value"] == ME.id_nat
    R4BImmunization.model_validate(body)


def test_immunization_page() -> None:
    bundle = fhir.searchset(
        [("http://x/Immunization/imm1", server_resource())],
        total=3,
        self_url="http://x/Immunization",
        next_url="http://x/Immunization?_offset=1",
    )
    found, total, next_link = immunizations_page_from_bundle(bundle)
    assert [i.id for i in found] == ["imm1"] and total == 3
    assert next_link == "http://x/Immunization?_offset=1"


# -- the gateway (MockTransport) -------------------------------------------------------------------
Handler = Callable[[httpx.Request], httpx.Response]


def gateway(handler: Handler, requests: list[httpx.Request]) -> HttpDmpGateway:
    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return handler(request)

    return HttpDmpGateway("http://dmp.test", transport=httpx.MockTransport(record))


def fhir_json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body), headers={"Content-Type": "application/fhir+json"}
    )


@pytest.mark.asyncio
async def test_gateway_reads_every_page() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = request.url.params.get("_offset", "0")
        nxt = None if offset == "1" else "http://dmp.test/Immunization?_offset=1"
        res = server_resource(id=f"imm{offset}")
        return fhir_json(
            fhir.searchset([("u", res)], total=2, self_url="http://dmp.test/", next_url=nxt)
        )

    async with gateway(handler, requests) as gw:
        found = await gw.immunizations(GRANT)
    assert [i.id for i in found] == ["imm0", "imm1"]
    assert requests[0].headers["Authorization"] == "Bearer patient-token"
    assert requests[0].url.params["patient.identifier"] == INS_VALUE.token()


@pytest.mark.asyncio
async def test_gateway_refuses_another_patients_vaccination() -> None:
    other = f"1720369012345{nir_key('1720369012345'):02d}"

    def handler(request: httpx.Request) -> httpx.Response:
        return fhir_json(
            fhir.searchset([("u", server_resource(patient_ins=other))], total=1, self_url="s")
        )

    async with gateway(handler, []) as gw:
        with pytest.raises(ProtocolError, match="autre patient"):
            await gw.immunizations(GRANT)


@pytest.mark.asyncio
async def test_gateway_posts_once_and_maps_the_servers_refusal() -> None:
    requests: list[httpx.Request] = []
    answers = [
        fhir_json(server_resource(id="new"), 201),
        fhir_json(operation_outcome(422, "Date dans le futur.", details="future_date"), 422),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    vaccine = vaccine_catalogue().get("J07BD52")
    assert vaccine is not None
    new = NewImmunization(vaccine, date(2024, 6, 20), "L123", ME)
    async with gateway(handler, requests) as gw:
        stored = await gw.add_immunization(GRANT, new)
        assert stored.id == "new"
        with pytest.raises(ServerError) as caught:
            await gw.add_immunization(GRANT, new)
    assert (caught.value.status, caught.value.reason) == (422, "future_date")
    assert [r.method for r in requests] == ["POST", "POST"]  # never retried
    assert json.loads(requests[0].content)["lotNumber"] == "L123"


# -- the service -----------------------------------------------------------------------------------
class FakeSession:
    def __init__(self, profession: str = "60") -> None:
        self.login: ProfessionalLogin | None = ProfessionalLogin(
            ME.id_nat, ME.name, profession, "pro-token", datetime.now(UTC)
        )


class FakeGateway:
    def __init__(self) -> None:
        self.stored: list[Immunization] = []
        self.posted: list[NewImmunization] = []
        self.refusal: ServerError | None = None
        self.searched: list[DocumentQuery] = []

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]:
        return list(self.stored)

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization:
        self.posted.append(new)
        if self.refusal is not None:
            raise self.refusal
        stored = Immunization(
            f"id{len(self.stored)}", NIR, new.vaccine, new.occurrence, new.lot_number, ME
        )
        self.stored.append(stored)
        return stored

    async def _pages(self, query: DocumentQuery) -> AsyncIterator[DocumentPage]:
        self.searched.append(query)
        yield DocumentPage((), 0)

    def search_documents(self, grant: AccessGrant, query: DocumentQuery) -> Any:
        return self._pages(query)


def service(profession: str = "60") -> tuple[VaccinationService, FakeGateway, OpenDossier]:
    gw = FakeGateway()
    dossier_service = DossierService(
        cast(DmpGateway, gw), cast(SessionService, FakeSession(profession))
    )
    return (
        VaccinationService(gw, dossier_service, today=lambda: TODAY),
        gw,
        OpenDossier(GRANT),
    )


@pytest.mark.asyncio
async def test_service_records_with_the_logged_professional_as_performer() -> None:
    svc, gw, dossier = service()
    assert svc.performer() == ME
    assert svc.may_read() and svc.may_record()
    stored = await svc.add(dossier, svc.draft("J07BB02", date(2025, 12, 1), " LOT7 "))
    assert gw.posted[0].performer == ME and gw.posted[0].lot_number == "LOT7"
    assert (await svc.immunizations(dossier)) == [stored]


@pytest.mark.asyncio
async def test_service_sends_nothing_on_bad_input() -> None:
    svc, gw, dossier = service()
    for bad in (
        svc.draft("J07XX99", date(2025, 1, 1), "L"),
        svc.draft("J07BB02", TODAY + timedelta(days=1), "L"),
        svc.draft("J07BB02", date(2025, 1, 1), ""),
        svc.draft("J07BB02", BIRTH - timedelta(days=365), "L"),
    ):
        assert svc.check(dossier, bad)
        with pytest.raises(InvalidImmunizationError):
            await svc.add(dossier, bad)
    assert gw.posted == []


@pytest.mark.asyncio
async def test_service_turns_a_422_into_field_issues() -> None:
    svc, gw, dossier = service()
    gw.refusal = ServerError("Vaccin inconnu.", 422, "unknown_vaccine")
    with pytest.raises(InvalidImmunizationError) as caught:
        await svc.add(dossier, svc.draft("J07BB02", date(2025, 1, 1), "L"))
    assert [i.problem for i in caught.value.issues] == [Problem.UNKNOWN_VACCINE]
    gw.refusal = ForbiddenError("Refus.", 403, "blocked")
    with pytest.raises(ForbiddenError):
        await svc.add(dossier, svc.draft("J07BB02", date(2025, 1, 1), "L"))


def test_service_permissions_follow_the_matrix() -> None:
    assert not service(SECRETARY_ROLE)[0].may_read()
    assert not service(SECRETARY_ROLE)[0].may_record()
    assert not service("GENR08")[0].may_read()  # coordination reads no vaccination history
    assert service("21")[0].may_record()  # pharmacists vaccinate


def test_service_needs_a_login() -> None:
    svc, _, _ = service()
    cast(FakeSession, svc._dossier.session).login = None
    with pytest.raises(NotLoggedInError):
        svc.performer()


@pytest.mark.asyncio
async def test_history_documents_are_searched_without_a_date_limit() -> None:
    svc, gw, dossier = service()
    pages = [page async for page in svc.history_documents(dossier)]
    assert pages == [DocumentPage((), 0)]
    assert gw.searched == [history_query()]
    query = history_query()
    assert query.type_codes == ("11369-6",) and query.include_archived
    assert (query.act_from, query.act_to, query.deposited_since) == (None, None, None)
