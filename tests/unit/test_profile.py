"""The patient profile without Qt nor network: the "Entourage et volontés" rule, the
header's notices (never a patient's opposition), the FHIR mapping of RelatedPerson, Consent
and Patient.generalPractitioner, the gateway over MockTransport, and the services."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from console.dmp import HttpDmpGateway
from console.dmp.mapping import (
    advance_directives_from_fhir,
    general_practitioner_from_patient,
    related_person_from_fhir,
)
from console.domain.dossier import AccessGrant, PatientRecord, ProfessionalLogin
from console.domain.errors import ForbiddenError, ProtocolError
from console.domain.ins import INS, nir_key
from console.domain.models import SECRETARY_ROLE, AccessMode, Actor, PatientPolicy
from console.domain.profile import (
    AdvanceDirectives,
    ContactRole,
    Entourage,
    GeneralPractitioner,
    HeaderNotice,
    PatientSummary,
    Phone,
    RelatedContact,
    SectionState,
    age_on,
    header_notices,
    roles_of,
)
from console.domain.rules import (
    ENTOURAGE_RULES,
    EntourageSection,
    Refusal,
    check_entourage_access,
    may_see_entourage,
)
from console.services.dossier import DossierService, OpenDossier
from console.services.dossier_header import DossierHeaderService
from console.services.entourage import EntourageService
from console.services.ports import DmpGateway
from console.services.session import SessionService
from sandbox import fhir
from sandbox.errors import operation_outcome

NIR = "255081416802538"
INS_VALUE = INS.parse(NIR)
PATIENT = PatientRecord(INS_VALUE, "DURAND", "Marie", date(1955, 8, 14), "female")
GP = "899700000011"
ENDS = datetime(2026, 1, 15, 12, tzinfo=UTC)


def grant(mode: AccessMode = AccessMode.NORMAL) -> AccessGrant:
    return AccessGrant(PATIENT, mode, "patient-token", ENDS, "ep")


# -- the rule --------------------------------------------------------------------------------------
POLICY = PatientPolicy(NIR, medecin_traitant=GP, blocked=frozenset({"8997BLOCKED"}))


@pytest.mark.parametrize(
    ("profession", "relatives", "directives"),
    [
        ("10", True, True),
        ("60", True, True),
        ("50", True, True),
        ("21", True, False),
        ("40", True, False),
        ("70", True, False),
        ("GENR08", False, False),
        ("41", False, False),
    ],
)
def test_who_reads_which_section(profession: str, relatives: bool, directives: bool) -> None:
    actor = Actor("8997000", profession)
    assert may_see_entourage(profession, EntourageSection.RELATIVES) is relatives
    assert may_see_entourage(profession, EntourageSection.ADVANCE_DIRECTIVES) is directives
    decision = check_entourage_access(actor, POLICY, EntourageSection.ADVANCE_DIRECTIVES)
    assert bool(decision) is directives
    if not directives:
        assert decision.reason is Refusal.ENTOURAGE_PROFESSION


def test_secretary_and_blocked_come_first() -> None:
    secretary = Actor("1997/SEC", SECRETARY_ROLE)
    assert (
        check_entourage_access(secretary, POLICY, EntourageSection.RELATIVES).reason
        is Refusal.SECRETARY_NO_READ
    )
    blocked = Actor("8997BLOCKED", "10")
    assert (
        check_entourage_access(blocked, POLICY, EntourageSection.RELATIVES).reason
        is Refusal.BLOCKED
    )


def test_the_rule_is_flagged_provisional_with_a_source() -> None:
    for rule in ENTOURAGE_RULES.values():
        assert rule.provisional
        assert "PROVISIONAL" in rule.source and len(rule.source) > 80
    assert (
        ENTOURAGE_RULES[EntourageSection.ADVANCE_DIRECTIVES].professions
        < ENTOURAGE_RULES[EntourageSection.RELATIVES].professions
    )


# -- the header's notices ------------------------------------------------------------------------
def test_header_tells_the_medecin_traitant_what_she_sees() -> None:
    summary = PatientSummary(PATIENT, GeneralPractitioner(GP, "Claire MARTIN"))
    assert header_notices(summary, GP, AccessMode.NORMAL) == (
        HeaderNotice.YOU_ARE_MEDECIN_TRAITANT,
        HeaderNotice.MASKED_VISIBLE_AS_MEDECIN_TRAITANT,
    )
    assert header_notices(summary, "899700000045", AccessMode.NORMAL) == ()


def test_header_in_emergency_modes() -> None:
    summary = PatientSummary(PATIENT)
    assert header_notices(summary, "899700000029", AccessMode.BRIS_DE_GLACE) == (
        HeaderNotice.MASKED_VISIBLE_IN_BRIS_DE_GLACE,
        HeaderNotice.PATIENT_NOTIFIED_BRIS_DE_GLACE,
    )
    assert header_notices(summary, "899700000037", AccessMode.CENTRE_15) == (
        HeaderNotice.MASKING_KEPT_IN_CENTRE_15,
        HeaderNotice.PATIENT_NOTIFIED_CENTRE_15,
    )


def test_header_never_tells_an_opposition_or_a_block() -> None:
    # Nothing in what the header is built from can carry them: a summary is the identity
    # and the médecin traitant, and no notice speaks of an opposition or a block.
    assert {f for f in PatientSummary.__dataclass_fields__} == {
        "patient",
        "general_practitioner",
    }
    words = " ".join(n.value for n in HeaderNotice)
    assert "oppos" not in words and "block" not in words


def test_age() -> None:
    assert age_on(date(1955, 8, 14), date(2026, 8, 13)) == 70
    assert age_on(date(1955, 8, 14), date(2026, 8, 14)) == 71


# -- Entourage -------------------------------------------------------------------------------------
def contact(cid: str, roles: set[ContactRole], rank: int = 0, name: str = "X") -> RelatedContact:
    return RelatedContact(cid, name, "Y", frozenset(roles), rank=rank)


def test_entourage_sections_and_order() -> None:
    trusted = contact("t", {ContactRole.TRUSTED_PERSON})
    second = contact("b", {ContactRole.EMERGENCY_CONTACT}, rank=2)
    first = contact("a", {ContactRole.EMERGENCY_CONTACT}, rank=1, name="ZOLA")
    unranked = contact("c", {ContactRole.EMERGENCY_CONTACT}, name="ABEL")
    entourage = Entourage((second, unranked, trusted, first), True, None, True)
    assert entourage.trusted_person is trusted
    assert [c.id for c in entourage.contacts] == ["a", "b", "c"]
    assert entourage.state("trusted_person") is SectionState.SHOWN
    assert entourage.state("directives") is SectionState.NOT_RECORDED
    closed = Entourage((), True, None, False)
    assert closed.state("directives") is SectionState.NOT_ALLOWED
    assert closed.state("contacts") is SectionState.NOT_RECORDED
    with pytest.raises(ValueError):
        closed.state("nope")


def test_roles_read_the_former_trusted_person_code() -> None:
    assert roles_of(["QUAL", "ECON", "GUARD"]) == {
        ContactRole.TRUSTED_PERSON,
        ContactRole.EMERGENCY_CONTACT,
    }


# -- FHIR mapping ----------------------------------------------------------------------------------
RELATED_ROW = {
    "id": "rp1",
    "patient_ins": NIR,
    "roles": "NOK ECON",
    "relationship": "SPS",
    "family_name": "MOREAU",
    "given_names": "Paul Henri",
    "gender": "male",
    "phones": json.dumps(
        [{"value": "01 99 00 55 66", "use": "home"}, {"value": "06 39 98 11 22", "use": "mobile"}]
    ),
    "rank": 1,
    "recorded_at": "2024-02-01T10:00:00+00:00",
}


def test_related_person_from_the_sandbox_resource() -> None:
    found = related_person_from_fhir(fhir.related_person(RELATED_ROW, patient_system="urn:x"))
    assert found.roles == {ContactRole.TRUSTED_PERSON, ContactRole.EMERGENCY_CONTACT}
    assert (found.family_name, found.given_names) == ("MOREAU", "Paul Henri")
    assert found.display_name == "MOREAU Paul Henri"
    assert found.relationship == "Conjoint(e)"
    assert found.phones == (Phone("01 99 00 55 66", "home"), Phone("06 39 98 11 22", "mobile"))
    assert found.rank == 1


def test_related_person_orders_phones_by_rank_and_keeps_unknown_relations() -> None:
    resource = fhir.related_person(RELATED_ROW, patient_system="urn:x")
    resource["telecom"] = [
        {"system": "phone", "value": "B", "rank": 2},
        {"system": "email", "value": "x@y.fr"},
        {"system": "phone", "value": "A", "rank": 1},
    ]
    resource["relationship"][-1]["coding"][0].update(code="XYZ", display="Tuteur")
    found = related_person_from_fhir(resource)
    assert [p.value for p in found.phones] == ["A", "B"]
    assert found.relationship == "Tuteur"
    resource["extension"][0]["valuePositiveInt"] = 0
    with pytest.raises(ProtocolError, match="valuePositiveInt"):
        related_person_from_fhir(resource)


DIRECTIVES_ROW = {
    "id": "ad1",
    "patient_ins": NIR,
    "written": 1,
    "written_on": "2021-03-04",
    "location": "Confiées au médecin traitant",
    "recorded_at": "2024-02-01T10:00:00+00:00",
}


def test_advance_directives_from_the_sandbox_consent() -> None:
    found = advance_directives_from_fhir(
        fhir.advance_directives_consent(DIRECTIVES_ROW, patient_system="urn:x")
    )
    assert found == AdvanceDirectives(
        True,
        date(2021, 3, 4),
        "Confiées au médecin traitant",
        datetime(2024, 2, 1, 10, tzinfo=UTC),
    )
    absent = {**DIRECTIVES_ROW, "written": 0, "written_on": None, "location": None}
    declared = advance_directives_from_fhir(
        fhir.advance_directives_consent(absent, patient_system="urn:x")
    )
    assert declared is not None and not declared.written and declared.location == ""


def test_other_consents_are_not_directives() -> None:
    consent = fhir.advance_directives_consent(DIRECTIVES_ROW, patient_system="urn:x")
    consent["scope"]["coding"][0]["code"] = "treatment"
    consent["category"][0]["coding"] = [{"system": "http://loinc.org", "code": "59284-0"}]
    assert advance_directives_from_fhir(consent) is None
    revoked = fhir.advance_directives_consent(DIRECTIVES_ROW, patient_system="urn:x")
    revoked["status"] = "inactive"
    assert advance_directives_from_fhir(revoked) is None
    plain = fhir.advance_directives_consent(DIRECTIVES_ROW, patient_system="urn:x")
    del plain["extension"]
    found = advance_directives_from_fhir(plain)
    assert found is not None and found.written  # an active directive Consent says they exist


PATIENT_ROW = {
    "ins": NIR,
    "ins_system": INS_VALUE.system,
    "family_name": "DURAND",
    "given_names": "Marie",
    "gender": "female",
    "birth_date": "1955-08-14",
    "address_city": "Lyon",
}
GP_ROW = {"id_nat": GP, "family_name": "MARTIN", "given_name": "Claire"}


def test_general_practitioner_of_a_patient() -> None:
    with_gp = fhir.patient(PATIENT_ROW, general_practitioner=GP_ROW)
    assert general_practitioner_from_patient(with_gp) == GeneralPractitioner(GP, "Claire MARTIN")
    assert general_practitioner_from_patient(fhir.patient(PATIENT_ROW)) is None
    contained = fhir.patient(PATIENT_ROW)
    contained["contained"] = [
        {
            "resourceType": "Practitioner",
            "id": "mt",
            "identifier": [{"system": fhir.IDNAT_SYSTEM, "value": GP}],
            "name": [{"family": "MARTIN", "given": ["Claire"]}],
        }
    ]
    contained["generalPractitioner"] = [
        {"reference": "Organization/x"},
        {"reference": "#mt"},
    ]
    assert general_practitioner_from_patient(contained) == GeneralPractitioner(GP, "Claire MARTIN")


# -- the gateway -----------------------------------------------------------------------------------
def fhir_json(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body), headers={"Content-Type": "application/fhir+json"}
    )


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return fhir.searchset([("u", r) for r in resources], total=len(resources), self_url="s")


@pytest.mark.asyncio
async def test_gateway_entourage_and_summary() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        match request.url.path:
            case "/RelatedPerson":
                return fhir_json(bundle([fhir.related_person(RELATED_ROW, patient_system="s")]))
            case "/Consent":
                older = {**DIRECTIVES_ROW, "id": "old", "recorded_at": "2020-01-01T00:00:00Z"}
                return fhir_json(
                    bundle(
                        [
                            fhir.advance_directives_consent(older, patient_system="s"),
                            fhir.advance_directives_consent(DIRECTIVES_ROW, patient_system="s"),
                        ]
                    )
                )
            case "/Patient":
                return fhir_json(bundle([fhir.patient(PATIENT_ROW, general_practitioner=GP_ROW)]))
        return httpx.Response(404)

    gw = HttpDmpGateway("http://dmp.test", transport=httpx.MockTransport(handler))
    async with gw:
        relatives = await gw.related_persons(grant())
        directives = await gw.advance_directives(grant())
        summary = await gw.patient_summary(grant())
    assert [r.id for r in relatives] == ["rp1"]
    assert directives is not None and directives.recorded == datetime(2024, 2, 1, 10, tzinfo=UTC)
    assert summary.general_practitioner == GeneralPractitioner(GP, "Claire MARTIN")
    assert summary.patient.ins == INS_VALUE
    assert all(r.headers["Authorization"] == "Bearer patient-token" for r in seen)
    consent_query = next(r for r in seen if r.url.path == "/Consent").url.params
    assert consent_query["category"].endswith("|acd")


@pytest.mark.asyncio
async def test_gateway_forbidden_section() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        outcome = operation_outcome(403, "Refus.", details="entourage_profession")
        return fhir_json(outcome, 403)

    async with HttpDmpGateway("http://dmp.test", transport=httpx.MockTransport(handler)) as gw:
        with pytest.raises(ForbiddenError) as caught:
            await gw.advance_directives(grant())
    assert caught.value.reason == "entourage_profession"


@pytest.mark.asyncio
async def test_gateway_summary_of_another_patient_is_a_protocol_error() -> None:
    other = {**PATIENT_ROW, "ins": f"1720369012345{nir_key('1720369012345'):02d}"}

    def handler(request: httpx.Request) -> httpx.Response:
        return fhir_json(bundle([fhir.patient(other)]))

    async with HttpDmpGateway("http://dmp.test", transport=httpx.MockTransport(handler)) as gw:
        with pytest.raises(ProtocolError, match="absent"):
            await gw.patient_summary(grant())


# -- the services ----------------------------------------------------------------------------------
class FakeSession:
    def __init__(self, profession: str, id_nat: str = GP) -> None:
        self.login: ProfessionalLogin | None = ProfessionalLogin(
            id_nat, "Claire MARTIN", profession, "t", datetime.now(UTC) + timedelta(hours=1)
        )


class FakeProfileGateway:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.refuse: set[str] = set()

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]:
        self.calls.append("related")
        if "related" in self.refuse:
            raise ForbiddenError("Refus.", 403, "entourage_profession")
        return [contact("t", {ContactRole.TRUSTED_PERSON})]

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None:
        self.calls.append("directives")
        if "directives" in self.refuse:
            raise ForbiddenError("Refus.", 403, "entourage_profession")
        return AdvanceDirectives(False)

    async def patient_summary(self, grant: AccessGrant) -> PatientSummary:
        self.calls.append("summary")
        return PatientSummary(grant.patient, GeneralPractitioner(GP, "Claire MARTIN"))


def dossier_service(profession: str, gw: FakeProfileGateway, id_nat: str = GP) -> DossierService:
    return DossierService(
        cast(DmpGateway, gw), cast(SessionService, FakeSession(profession, id_nat))
    )


@pytest.mark.asyncio
async def test_entourage_service_asks_only_what_the_rule_opens() -> None:
    gw = FakeProfileGateway()
    pharmacist = EntourageService(gw, dossier_service("21", gw))
    entourage = await pharmacist.load(OpenDossier(grant()))
    assert gw.calls == ["related"]
    assert entourage.state("trusted_person") is SectionState.SHOWN
    assert entourage.state("directives") is SectionState.NOT_ALLOWED

    gw.calls.clear()
    coordinator = EntourageService(gw, dossier_service("GENR08", gw))
    entourage = await coordinator.load(OpenDossier(grant()))
    assert gw.calls == []
    assert entourage.state("contacts") is SectionState.NOT_ALLOWED


@pytest.mark.asyncio
async def test_entourage_service_shows_a_server_refusal_as_closed() -> None:
    gw = FakeProfileGateway()
    gw.refuse = {"directives"}
    entourage = await EntourageService(gw, dossier_service("60", gw)).load(OpenDossier(grant()))
    assert entourage.state("directives") is SectionState.NOT_ALLOWED
    assert entourage.state("trusted_person") is SectionState.SHOWN


@pytest.mark.asyncio
async def test_header_service() -> None:
    gw = FakeProfileGateway()
    service = DossierHeaderService(gw, dossier_service("10", gw))
    dossier = OpenDossier(grant())
    initial = service.initial(dossier)
    assert not initial.complete and initial.summary.general_practitioner is None
    assert gw.calls == []
    full = await service.load(dossier)
    assert full.complete and full.mode is AccessMode.NORMAL and full.ends_at == ENDS
    assert full.notices[0] is HeaderNotice.YOU_ARE_MEDECIN_TRAITANT
