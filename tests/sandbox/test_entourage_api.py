"""The sandbox's "Entourage et volontés" (RelatedPerson, Consent), the médecin traitant on
Patient, the Immunization checks added with them, and their seed.

Every FHIR answer is validated with the R4B models (``FhirTestClient``).
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.domain.profile import (
    CONTACT_RANK_URL,
    DIRECTIVES_DATE_URL,
    DIRECTIVES_LOCATION_URL,
    DIRECTIVES_WRITTEN_URL,
    TRE_R216_SYSTEM,
    TRE_R260_SYSTEM,
)
from console.domain.rules import ENTOURAGE_RULES, EntourageSection
from sandbox import fhir
from sandbox.seed import (
    SEED_ANCHOR,
    SeedOptions,
    generate,
    init_sandbox,
    make_entourage,
    make_patients,
)
from sandbox.store import DB_NAME, SCHEMA_VERSION, Store
from tests.sandbox.conftest import (
    ALICE,
    BOB,
    CAROL,
    COORD,
    DENTIST,
    GP,
    HOSP,
    INS_SYSTEM,
    NURSE,
    SECRETARY,
    MiniSandbox,
    validate_fhir,
)

INS = f"{INS_SYSTEM}|{ALICE}"
ACD = "http://terminology.hl7.org/CodeSystem/consentcategorycodes|acd"
RECORDED = "2024-02-01T10:00:00+00:00"


def add_entourage(store: Store) -> None:
    """Alice: a person of trust who is also the first relative to contact, a second relative,
    and written advance directives. Bob: directives declared absent. Carol: nothing."""
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO related_persons(id, patient_ins, roles, relationship, family_name,"
            " given_names, gender, phones, rank, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                ("rp-b", ALICE, "ECON", "MTH", "DURAND", "Josiane", "female",
                 json.dumps([{"value": "01 99 00 12 34", "use": "home"}]), 2, RECORDED),
                ("rp-a", ALICE, "NOK ECON", "SPS", "MOREAU", "Paul", "male",
                 json.dumps([{"value": "06 39 98 11 22", "use": "mobile"},
                             {"value": "01 99 00 55 66", "use": "work"}]), 1, RECORDED),
                ("rp-c", ALICE, "ECON", "FRND", "<b>ROY</b>", "Léa", "female", "[]", 3, RECORDED),
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO advance_directives(id, patient_ins, written, written_on, location,"
            " recorded_at) VALUES (?,?,?,?,?,?)",
            [
                ("ad-alice", ALICE, 1, "2021-03-04", "Confiées au médecin traitant", RECORDED),
                ("ad-bob", BOB, 0, None, None, RECORDED),
            ],
        )


@pytest.fixture
def sbx(mini_sandbox: MiniSandbox) -> MiniSandbox:
    add_entourage(mini_sandbox.store)
    return mini_sandbox


def related(sbx: MiniSandbox, who: str, ins: str = ALICE, **params: str) -> Any:
    return sbx.client.get(
        "/RelatedPerson",
        params={"patient.identifier": f"{INS_SYSTEM}|{ins}", **params},
        headers=sbx.auth(who, ins),
    )


def consents(sbx: MiniSandbox, who: str, ins: str = ALICE, **params: str) -> Any:
    return sbx.client.get(
        "/Consent",
        params={"patient.identifier": f"{INS_SYSTEM}|{ins}", **params},
        headers=sbx.auth(who, ins),
    )


def reason(response: Any) -> str:
    code: str = response.json()["issue"][0]["details"]["coding"][0]["code"]
    return code


def last_audit(store: Store) -> sqlite3.Row:
    row = store.query_one("SELECT * FROM audit_events ORDER BY seq DESC LIMIT 1")
    assert row is not None
    return row


# -- RelatedPerson ---------------------------------------------------------------------------------
def test_doctor_reads_the_person_of_trust_and_the_relatives(sbx: MiniSandbox) -> None:
    answer = related(sbx, GP)
    assert answer.status_code == 200
    bundle = answer.json()
    assert bundle["total"] == 3
    people = [e["resource"] for e in bundle["entry"]]
    # the person of trust first, then the relatives to contact in the patient's order
    assert [p["id"] for p in people] == ["rp-a", "rp-b", "rp-c"]
    trusted = people[0]
    roles = [c["coding"][0] for c in trusted["relationship"]]
    assert {(c["system"], c["code"]) for c in roles} == {
        (TRE_R260_SYSTEM, "NOK"),
        (TRE_R260_SYSTEM, "ECON"),
        (TRE_R216_SYSTEM, "SPS"),
    }
    assert trusted["patient"]["identifier"] == {"system": INS_SYSTEM, "value": ALICE}
    assert trusted["name"][0]["family"] == "MOREAU"
    assert [(t["value"], t["use"], t["rank"]) for t in trusted["telecom"]] == [
        ("06 39 98 11 22", "mobile", 1),
        ("01 99 00 55 66", "work", 2),
    ]
    assert trusted["extension"] == [{"url": CONTACT_RANK_URL, "valuePositiveInt": 1}]
    assert "telecom" not in people[2]
    assert people[2]["name"][0]["family"] == "<b>ROY</b>"  # stored and sent as typed


def test_relatives_search_is_traced(sbx: MiniSandbox) -> None:
    related(sbx, NURSE)
    event = last_audit(sbx.store)
    assert (event["subtype_code"], event["action"], event["outcome"]) == ("search", "E", "0")
    assert event["agent_id_nat"] == NURSE
    assert event["patient_ins"] == ALICE
    assert json.loads(event["entity_ids"]) == [
        "RelatedPerson/rp-a",
        "RelatedPerson/rp-b",
        "RelatedPerson/rp-c",
    ]


def test_relationship_filter_and_paging(sbx: MiniSandbox) -> None:
    trusted = related(sbx, GP, relationship=f"{TRE_R260_SYSTEM}|NOK").json()
    assert [e["resource"]["id"] for e in trusted["entry"]] == ["rp-a"]
    mother = related(sbx, GP, relationship="MTH").json()
    assert [e["resource"]["id"] for e in mother["entry"]] == ["rp-b"]
    other_system = related(sbx, GP, relationship="http://example.org|NOK").json()
    assert other_system["total"] == 0
    first = related(sbx, GP, _count="2").json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = sbx.client.get(next_url, headers=sbx.auth(GP, ALICE)).json()
    assert [e["resource"]["id"] for e in second["entry"]] == ["rp-c"]


def test_a_patient_who_recorded_nothing_has_an_empty_answer(sbx: MiniSandbox) -> None:
    answer = related(sbx, GP, ins=BOB)
    assert answer.status_code == 200
    assert answer.json()["total"] == 0
    assert answer.json()["entry"] == []


@pytest.mark.parametrize(
    ("who", "ins", "status", "code"),
    [
        (COORD, ALICE, 403, "entourage_profession"),
        (SECRETARY, ALICE, 403, "secretary_no_read"),
        (NURSE, CAROL, 403, "blocked"),
    ],
)
def test_relatives_refusals(sbx: MiniSandbox, who: str, ins: str, status: int, code: str) -> None:
    answer = related(sbx, who, ins=ins)
    assert answer.status_code == status
    assert reason(answer) == code
    event = last_audit(sbx.store)
    assert event["outcome"] == "4"
    assert event["description"] == f"refus : {code}"


def test_relatives_need_the_patient_token_of_that_patient(sbx: MiniSandbox) -> None:
    professional = sbx.client.get(
        "/RelatedPerson", params={"patient.identifier": INS}, headers=sbx.auth(GP)
    )
    assert (professional.status_code, reason(professional)) == (403, "no_access_mode")
    other = sbx.client.get(
        "/RelatedPerson", params={"patient.identifier": INS}, headers=sbx.auth(GP, BOB)
    )
    assert (other.status_code, reason(other)) == (403, "other_patient")
    missing = sbx.client.get("/RelatedPerson", headers=sbx.auth(GP, ALICE))
    assert missing.status_code == 400


# -- Consent (advance directives) ------------------------------------------------------------------
def test_written_advance_directives(sbx: MiniSandbox) -> None:
    for params in ({}, {"category": ACD}, {"category": "http://loinc.org|75320-2"}):
        answer = consents(sbx, NURSE, **params)
        assert answer.status_code == 200, params
        bundle = answer.json()
        assert bundle["total"] == 1
        consent = bundle["entry"][0]["resource"]
        assert consent["status"] == "active"
        assert consent["scope"]["coding"][0]["code"] == "adr"
        extensions = {e["url"]: e for e in consent["extension"]}
        assert extensions[DIRECTIVES_WRITTEN_URL]["valueBoolean"] is True
        assert extensions[DIRECTIVES_DATE_URL]["valueDate"] == "2021-03-04"
        assert extensions[DIRECTIVES_LOCATION_URL]["valueString"] == "Confiées au médecin traitant"
        assert consent["patient"]["identifier"]["value"] == ALICE
    event = last_audit(sbx.store)
    assert json.loads(event["entity_ids"]) == ["Consent/ad-alice"]


def test_directives_declared_absent(sbx: MiniSandbox) -> None:
    consent = consents(sbx, GP, ins=BOB, category=ACD).json()["entry"][0]["resource"]
    assert consent["extension"] == [{"url": DIRECTIVES_WRITTEN_URL, "valueBoolean": False}]


def test_directives_are_closed_to_a_dentist_who_still_reads_the_relatives(
    sbx: MiniSandbox,
) -> None:
    assert "40" not in ENTOURAGE_RULES[EntourageSection.ADVANCE_DIRECTIVES].professions
    refused = consents(sbx, DENTIST, category=ACD)
    assert (refused.status_code, reason(refused)) == (403, "entourage_profession")
    assert related(sbx, DENTIST).status_code == 200


def test_another_consent_category_matches_nothing_and_reveals_nothing(sbx: MiniSandbox) -> None:
    # The sandbox stores no other Consent: no rule to apply, no hint about the directives.
    for who in (GP, DENTIST):
        answer = consents(sbx, who, category="http://loinc.org|59284-0")
        assert answer.status_code == 200
        assert answer.json()["total"] == 0


def test_capability_statement_lists_the_new_searches(sbx: MiniSandbox) -> None:
    resources = {r["type"]: r for r in sbx.client.get("/metadata").json()["rest"][0]["resource"]}
    assert "relationship" in {p["name"] for p in resources["RelatedPerson"]["searchParam"]}
    assert "category" in {p["name"] for p in resources["Consent"]["searchParam"]}


# -- Patient.generalPractitioner -------------------------------------------------------------------
def patient_lookup(sbx: MiniSandbox, headers: dict[str, str], ins: str = ALICE) -> Any:
    answer = sbx.client.get(
        "/Patient", params={"identifier": f"{INS_SYSTEM}|{ins}"}, headers=headers
    )
    assert answer.status_code == 200
    return answer.json()["entry"][0]["resource"]


def test_medecin_traitant_is_told_with_an_open_access_mode(sbx: MiniSandbox) -> None:
    resource = patient_lookup(sbx, sbx.auth(NURSE, ALICE))
    assert resource["generalPractitioner"] == [
        {
            "type": "Practitioner",
            "identifier": {"system": fhir.IDNAT_SYSTEM, "value": GP},
            "display": "Claire MARTIN",
        }
    ]


def test_the_ins_lookup_alone_does_not_tell_the_medecin_traitant(sbx: MiniSandbox) -> None:
    for headers in (sbx.auth(HOSP), sbx.auth(SECRETARY), sbx.auth(GP, BOB)):
        assert "generalPractitioner" not in patient_lookup(sbx, headers)


def test_patient_without_medecin_traitant(sbx: MiniSandbox) -> None:
    assert "generalPractitioner" not in patient_lookup(sbx, sbx.auth(GP, CAROL), CAROL)


# -- Immunization checks ---------------------------------------------------------------------------
def immunization(occurrence: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J07BB02"}]},
        "patient": {"identifier": {"system": INS_SYSTEM, "value": ALICE}},
        "occurrenceDateTime": occurrence,
        "lotNumber": "FLU-2025",
        **extra,
    }


def post_immunization(sbx: MiniSandbox, body: dict[str, Any], who: str = GP) -> Any:
    return sbx.client.post("/Immunization", json=body, headers=sbx.auth(who, ALICE))


def test_vaccination_before_birth_is_refused_and_nothing_written(sbx: MiniSandbox) -> None:
    before = sbx.count("immunizations")
    answer = post_immunization(sbx, immunization("1985-06-11"))  # Alice was born on 12/06/1985
    assert (answer.status_code, reason(answer)) == (422, "before_birth")
    assert sbx.count("immunizations") == before
    assert post_immunization(sbx, immunization("1985-06-12")).status_code == 201


def test_a_date_is_future_only_when_it_is_tomorrow_everywhere(sbx: MiniSandbox) -> None:
    now = datetime.fromtimestamp(sbx.clock(), UTC)
    before = sbx.count("immunizations")
    today_far_east = (now + timedelta(hours=14)).date()
    assert post_immunization(sbx, immunization(today_far_east.isoformat())).status_code == 201
    too_late = today_far_east + timedelta(days=1)
    answer = post_immunization(sbx, immunization(too_late.isoformat()))
    assert (answer.status_code, reason(answer)) == (422, "future_date")
    in_an_hour = (now + timedelta(hours=1)).isoformat()
    answer = post_immunization(sbx, immunization(in_an_hour))
    assert (answer.status_code, reason(answer)) == (422, "future_date")
    assert sbx.count("immunizations") == before + 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            immunization(
                "2024-01-10",
                vaccineCode={"coding": [{"system": "http://www.whocc.no/atc", "code": "J07XX99"}]},
            ),
            "unknown_vaccine",
        ),
        (immunization("2024-01-10", lotNumber="   "), "missing_lot"),
        (
            immunization(
                "2024-01-10",
                performer=[{"actor": {"identifier": {"system": fhir.IDNAT_SYSTEM, "value": HOSP}}}],
            ),
            "performer_mismatch",
        ),
    ],
)
def test_bad_vaccinations_write_nothing(sbx: MiniSandbox, body: dict[str, Any], code: str) -> None:
    before = sbx.count("immunizations"), sbx.count("audit_events")
    answer = post_immunization(sbx, body)
    assert (answer.status_code, reason(answer)) == (422, code)
    assert (sbx.count("immunizations"), sbx.count("audit_events")) == before


# -- the seed --------------------------------------------------------------------------------------
OPTIONS = SeedOptions(patients=12, seed=11, chronic_docs=50, reference_date=date(2026, 1, 15))
FICTION = re.compile(r"^(06 39 98|01 99 00) \d{2} \d{2}$")


def test_entourage_seed_is_deterministic_and_independent() -> None:
    first, again = generate(OPTIONS), generate(OPTIONS)
    assert first.entourage == again.entourage
    # its own random stream: the patients and documents are those of the seed without it
    # (drawn as of the seed's anchor, then moved to the reference date)
    ref = SEED_ANCHOR
    shift = OPTIONS.reference_date - ref
    rng = random.Random(f"dmp-sandbox/{OPTIONS.seed}/entourage")
    patients = make_patients(random.Random(f"dmp-sandbox/{OPTIONS.seed}/patients"), 12, ref)
    drawn = make_entourage(rng, patients, ref)
    assert [dataclasses.replace(r, recorded_at=r.recorded_at + shift) for r in drawn.related] == (
        first.entourage.related
    )
    assert [
        dataclasses.replace(
            d,
            written_on=None if d.written_on is None else d.written_on + shift,
            recorded_at=d.recorded_at + shift,
        )
        for d in drawn.directives
    ] == first.entourage.directives


def test_entourage_seed_covers_the_special_patients_and_not_everyone() -> None:
    result = generate(OPTIONS)
    by_special = {p.special: p for p in result.patients if p.special}
    related = result.entourage.related
    directives = {d.patient_ins: d for d in result.entourage.directives}

    def roles(ins: str) -> list[tuple[str, ...]]:
        return [r.roles for r in related if r.patient_ins == ins]

    chronic = by_special["chronic"].ins
    assert ("NOK", "ECON") in roles(chronic)
    assert directives[chronic].written and directives[chronic].location
    minor = by_special["minor"]
    assert roles(minor.ins) == [("ECON",), ("ECON",)]
    assert {r.relationship for r in related if r.patient_ins == minor.ins} == {"MTH", "FTH"}
    assert minor.ins not in directives
    assert not directives[by_special["with_masked"].ins].written
    quiet = by_special["opposed_centre_15"].ins
    assert not roles(quiet) and quiet not in directives
    for row in related:
        assert row.phones
        assert all(FICTION.match(number) for _, number in row.phones)
    for written in result.entourage.directives:
        patient = next(p for p in result.patients if p.ins == written.patient_ins)
        assert written.recorded_at.date() <= OPTIONS.reference_date
        if written.written_on is not None:
            assert patient.birth_date < written.written_on <= written.recorded_at.date()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, sqlite3.Connection]]:
    directory = tmp_path_factory.mktemp("entourage") / "sandbox"
    init_sandbox(directory, dataclasses.replace(OPTIONS, cards=False))
    conn = sqlite3.connect(directory / DB_NAME)
    conn.row_factory = sqlite3.Row
    yield directory, conn
    conn.close()


def test_seeded_database_serves_valid_fhir(seeded: tuple[Path, sqlite3.Connection]) -> None:
    directory, conn = seeded
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    patients = json.loads((directory / "patients.json").read_text(encoding="utf-8"))
    listed = patients["entourage"]
    in_db = {r["patient_ins"] for r in conn.execute("SELECT patient_ins FROM related_persons")}
    assert set(listed["trusted_person"]) | set(listed["contacts"]) == in_db
    assert patients["chronic"] in listed["directives_written"]
    assert patients["opposed_centre_15"] in listed["nothing"]
    everyone = {p["ins"] for p in patients["all"]}
    assert set(listed["nothing"]) < everyone
    for row in conn.execute("SELECT * FROM related_persons"):
        validate_fhir(fhir.related_person(dict(row), patient_system=INS_SYSTEM))
    for row in conn.execute("SELECT * FROM advance_directives"):
        validate_fhir(fhir.advance_directives_consent(dict(row), patient_system=INS_SYSTEM))
