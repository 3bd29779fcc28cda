"""The sandbox's FHIR API over a hand-made database: rules, paging, deposits, bad input.

Every FHIR body the server sends is validated with the R4B models by ``FhirTestClient``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from console.domain.ins import INS
from console.domain.models import AccessMode, Visibility
from console.domain.terminology import terminology
from sandbox import fhir
from sandbox.errors import FHIR_JSON
from tests.sandbox.conftest import (
    ALICE,
    ALICE_LISTED,
    BASE_URL,
    BOB,
    BOB_DOCS,
    BOB_TYPES,
    CAROL,
    COORD,
    DENTIST,
    EMERG,
    GP,
    HOSP,
    INS_SYSTEM,
    NURSE,
    OTHER_DOC,
    SECRETARY,
    UNKNOWN,
    MiniSandbox,
    pdf,
    validate_fhir,
)

pytestmark = pytest.mark.integration

TRE_A07 = fhir.visibility_system()


# -- helpers ---------------------------------------------------------------------------------------
def ins_token(ins: str) -> str:
    return f"{INS_SYSTEM}|{ins}"


def search(
    m: MiniSandbox,
    who: str,
    ins: str = ALICE,
    *,
    mode: AccessMode = AccessMode.NORMAL,
    **params: Any,
) -> httpx.Response:
    query = {"patient.identifier": ins_token(ins), **params}
    response: httpx.Response = m.client.get(
        "/DocumentReference", params=query, headers=m.auth(who, ins, mode)
    )
    return response


def labels(m: MiniSandbox, bundle: dict[str, Any]) -> list[str]:
    by_id = {v: k for k, v in m.docs.items()}
    return [by_id.get(e["resource"]["id"], e["resource"]["id"]) for e in bundle.get("entry", [])]


def all_pages(
    m: MiniSandbox, headers: dict[str, str], params: dict[str, str]
) -> list[dict[str, Any]]:
    """Every entry of a search, following the ``next`` links."""
    response = m.client.get("/DocumentReference", params=params, headers=headers)
    entries: list[dict[str, Any]] = []
    totals = set()
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        totals.add(bundle["total"])
        entries.extend(bundle.get("entry", []))
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        if not nxt:
            break
        assert nxt[0].startswith(BASE_URL)
        response = m.client.get(nxt[0], headers=headers)
    assert len(totals) == 1, "total must not change from page to page"
    assert totals.pop() == len(entries)
    return entries


def reason(response: httpx.Response) -> str:
    issue = response.json()["issue"][0]
    return str(issue.get("details", {}).get("coding", [{}])[0].get("code", ""))


def audit_rows(m: MiniSandbox, subtype: str, agent: str | None = None) -> list[Any]:
    sql = "SELECT * FROM audit_events WHERE subtype_code = ?"
    args: list[str] = [subtype]
    if agent is not None:
        sql += " AND agent_id_nat = ?"
        args.append(agent)
    return m.store.query(sql + " ORDER BY seq", args)


def snapshot(m: MiniSandbox) -> tuple[int, int, int, int]:
    """Rows a failed write must leave unchanged."""
    superseded = m.store.query_one("SELECT COUNT(*) AS n FROM documents WHERE status != 'current'")
    assert superseded is not None
    return (
        m.count("documents"),
        m.count("binaries"),
        int(superseded["n"]),
        m.count("immunizations"),
    )


def new_doc(
    *,
    author: str = GP,
    type_code: str = "11488-4",
    data: bytes | None = None,
    master_id: str | None = None,
    content_type: str = "application/pdf",
    created: datetime | None = None,
    visibility: frozenset[Visibility] = frozenset(),
    replaces: str | None = None,
    title: str = "Compte rendu de consultation",
) -> fhir.DocumentToSubmit:
    return fhir.DocumentToSubmit(
        master_id=master_id or f"urn:uuid:{uuid.uuid4()}",
        type_code=type_code,
        title=title,
        author_id_nat=author,
        created=created or datetime.now(UTC) - timedelta(days=1),
        data=pdf(title) if data is None else data,
        content_type=content_type,
        visibility=visibility,
        replaces=replaces,
    )


def bundle_for(*docs: fhir.DocumentToSubmit, patient: str = ALICE) -> dict[str, Any]:
    return fhir.submission_bundle(INS(INS_SYSTEM, patient), docs)


def post(
    m: MiniSandbox,
    body: Any,
    headers: dict[str, str],
    content_type: str = FHIR_JSON,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response: httpx.Response = m.client.post(
        "/", content=raw, headers={**headers, "Content-Type": content_type}
    )
    return response


def patch(
    m: MiniSandbox,
    doc_id: str,
    ops: Any,
    headers: dict[str, str],
    content_type: str = "application/json-patch+json",
) -> httpx.Response:
    raw = ops if isinstance(ops, bytes) else json.dumps(ops).encode()
    response: httpx.Response = m.client.patch(
        f"/DocumentReference/{doc_id}",
        content=raw,
        headers={**headers, "Content-Type": content_type},
    )
    return response


def label_codes(resource: dict[str, Any]) -> set[str]:
    return {c["code"] for label in resource["securityLabel"] for c in label["coding"]}


def mask_op(code: str = "MASQUE_PS") -> list[dict[str, Any]]:
    return [
        {
            "op": "add",
            "path": "/securityLabel/-",
            "value": {"coding": [{"system": TRE_A07, "code": code}]},
        }
    ]


# -- metadata and identity -----------------------------------------------------------------------
def test_metadata_describes_the_server_without_auth(mini_sandbox: MiniSandbox) -> None:
    response = mini_sandbox.client.get("/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    rest = body["rest"][0]
    assert "/auth/access" in rest["security"]["description"]
    types = {r["type"] for r in rest["resource"]}
    assert {"Patient", "DocumentReference", "Binary", "AuditEvent", "Immunization"} <= types
    doc = next(r for r in rest["resource"] if r["type"] == "DocumentReference")
    params = {p["name"] for p in doc["searchParam"]}
    assert {"type", "category", "period-start", "period-end", "date", "isArchived"} <= params
    assert {"code": "transaction"} in rest["interaction"]


def test_patient_lookup_by_ins_for_any_professional(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    for who in (GP, SECRETARY):
        response = m.client.get(
            "/Patient", params={"identifier": ins_token(ALICE)}, headers=m.auth(who)
        )
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == 1
        patient = bundle["entry"][0]["resource"]
        assert patient["identifier"][0] == {**patient["identifier"][0], "system": INS_SYSTEM}
        assert patient["identifier"][0]["value"] == ALICE
        assert patient["name"][0]["family"] == "DURAND"
        assert patient["gender"] == "female"
        assert patient["birthDate"] == "1985-06-12"
        assert patient["address"][0]["city"] == "Paris"
    events = audit_rows(m, "search", SECRETARY)
    assert len(events) == 1
    assert events[0]["patient_ins"] == ALICE
    assert "DURAND" not in (events[0]["description"] or "")


def test_patient_lookup_unknown_invalid_missing(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(GP)
    unknown = m.client.get("/Patient", params={"identifier": ins_token(UNKNOWN)}, headers=headers)
    assert unknown.status_code == 200
    assert unknown.json()["total"] == 0
    bad_key = ALICE[:13] + f"{(int(ALICE[13:]) + 1) % 97:02d}"
    invalid = m.client.get("/Patient", params={"identifier": ins_token(bad_key)}, headers=headers)
    assert invalid.status_code == 422
    assert reason(invalid) == "invalid_ins"
    assert m.client.get("/Patient", headers=headers).status_code == 400
    assert m.client.get("/Patient", params={"identifier": ins_token(ALICE)}).status_code == 401


# -- search: the rules decide what is listed and counted -----------------------------------------
def test_masked_document_absent_and_uncounted_for_others(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    expected_all = set(ALICE_LISTED)
    cases = {
        GP: expected_all,  # médecin traitant
        HOSP: expected_all,  # author of the masked document
        OTHER_DOC: expected_all - {"masked"},  # doctor in the care team, not MT
        EMERG: expected_all - {"masked"},
    }
    for who, expected in cases.items():
        response = search(m, who, _count="50")
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert set(labels(m, bundle)) == expected, who
        assert bundle["total"] == len(expected), who
    # bris de glace sees masked documents
    bdg = search(m, EMERG, mode=AccessMode.BRIS_DE_GLACE, _count="50").json()
    assert "masked" in labels(m, bdg)
    assert bdg["total"] == len(expected_all)


def test_search_excludes_superseded_deleted_and_archived(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    listed = labels(m, search(m, GP, _count="50").json())
    assert not {"old", "deleted", "archived", "carol_cr"} & set(listed)
    archived = search(m, GP, isArchived="true").json()
    assert labels(m, archived) == ["archived"]
    assert archived["entry"][0]["resource"]["extension"][-1] == {
        "url": fhir.ARCHIVED_URL,
        "valueBoolean": True,
    }
    for status in ("superseded", "entered-in-error", "superseded,entered-in-error"):
        bundle = search(m, GP, status=status).json()
        assert bundle["total"] == 0
        assert "entry" not in bundle or not bundle["entry"]
    assert search(m, GP, status="current,superseded").json()["total"] == len(ALICE_LISTED)
    assert search(m, GP, status="bogus").status_code == 400


def test_nurse_never_gets_51969_4(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(NURSE, BOB)
    entries = all_pages(m, headers, {"patient.identifier": ins_token(BOB), "_count": "4"})
    types = {e["resource"]["type"]["coding"][0]["code"] for e in entries}
    assert "51969-4" not in types
    assert "68599-0" not in types  # nor psychiatric summaries (matrix row 60)
    asked = search(m, NURSE, BOB, type="51969-4").json()
    assert asked["total"] == 0
    genetic = m.docs["bob01"]
    read = m.client.get(f"/DocumentReference/{genetic}", headers=headers)
    assert read.status_code == 403
    assert reason(read) == "matrix"
    binary = m.client.get(f"/Binary/{genetic}", headers=headers)
    assert binary.status_code == 403
    assert reason(binary) == "matrix"
    # the same search by the GP lists them
    gp_types = {
        e["resource"]["type"]["coding"][0]["code"]
        for e in all_pages(m, m.auth(GP, BOB), {"patient.identifier": ins_token(BOB)})
    }
    assert {"51969-4", "68599-0"} <= gp_types


def test_dentist_never_gets_68599_0(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(DENTIST, ALICE)
    bundle = search(m, DENTIST, _count="50").json()
    assert "psy" not in labels(m, bundle)
    assert "genetic" in labels(m, bundle)
    assert bundle["total"] == len(ALICE_LISTED) - 2  # no psy, no masked
    assert search(m, DENTIST, type="68599-0").json()["total"] == 0
    psy = m.docs["psy"]
    assert m.client.get(f"/DocumentReference/{psy}", headers=headers).status_code == 403
    binary = m.client.get(f"/Binary/{psy}", headers=headers)
    assert binary.status_code == 403
    assert reason(binary) == "matrix"
    assert not binary.content.startswith(b"%PDF")


def test_secretary_cannot_search_nor_retrieve(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    # even with a patient-scoped token (which /auth/access would never give her)
    scoped = search(m, SECRETARY)
    assert scoped.status_code == 403
    assert reason(scoped) == "secretary_no_read"
    plain = m.client.get(
        "/DocumentReference",
        params={"patient.identifier": ins_token(ALICE)},
        headers=m.auth(SECRETARY),
    )
    assert plain.status_code == 403
    for path in (f"/Binary/{m.docs['letter']}", f"/DocumentReference/{m.docs['letter']}"):
        response = m.client.get(path, headers=m.auth(SECRETARY, ALICE))
        assert response.status_code == 403
        assert reason(response) == "secretary_no_read"
    refusals = m.store.query(
        "SELECT outcome FROM audit_events WHERE agent_id_nat = ? AND outcome = '4'", (SECRETARY,)
    )
    assert len(refusals) >= 3


def test_blocked_professional_is_refused(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    response = search(m, NURSE, CAROL)
    assert response.status_code == 403
    assert reason(response) == "blocked"
    read = m.client.get(f"/DocumentReference/{m.docs['carol_cr']}", headers=m.auth(NURSE, CAROL))
    assert read.status_code == 403


def test_paging_covers_the_visible_set_once(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(GP, BOB)
    full = all_pages(m, headers, {"patient.identifier": ins_token(BOB), "_count": "50"})
    assert len(full) == BOB_DOCS  # the GP is MT: she sees the masked one too
    paged = all_pages(m, headers, {"patient.identifier": ins_token(BOB), "_count": "7"})
    ids = [e["resource"]["id"] for e in paged]
    assert len(ids) == len(set(ids)) == BOB_DOCS
    assert ids == [e["resource"]["id"] for e in full]
    dates = [e["resource"]["date"] for e in paged]
    assert dates == sorted(dates, reverse=True)
    assert all(e["fullUrl"] == f"{BASE_URL}/DocumentReference/{e['resource']['id']}" for e in paged)
    # the nurse: fewer, and the total says so
    nurse = all_pages(m, m.auth(NURSE, BOB), {"patient.identifier": ins_token(BOB), "_count": "6"})
    forbidden = {"51969-4", "68599-0"}
    expected = sum(
        1 for i in range(BOB_DOCS) if BOB_TYPES[i % len(BOB_TYPES)] not in forbidden and i != 7
    )
    assert len(nurse) == expected


def test_paging_links_and_limits(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    first = search(m, GP, BOB, _count="10", type="11488-4,18748-4").json()
    links = {link["relation"]: link["url"] for link in first["link"]}
    assert "next" in links
    assert "previous" not in links
    assert "type=11488-4%2C18748-4" in links["next"]
    assert "_offset=10" in links["next"]
    assert links["self"].startswith(f"{BASE_URL}/DocumentReference?")
    # default page and maximum (Settings: page_default 10, page_max 50)
    assert len(search(m, GP, BOB).json()["entry"]) == 10
    assert len(search(m, GP, BOB, _count="500").json()["entry"]) == BOB_DOCS
    assert "link" in search(m, GP, BOB, _count="0").json()
    assert search(m, GP, BOB, _count="0").json()["total"] == BOB_DOCS
    last = search(m, GP, BOB, _count="10", _offset="40").json()
    assert len(last["entry"]) == BOB_DOCS - 40
    assert {link["relation"] for link in last["link"]} == {"self", "previous"}
    bad_params: list[dict[str, Any]] = [{"_count": "-1"}, {"_count": "ten"}, {"_offset": "x"}]
    for bad in bad_params:
        assert search(m, GP, BOB, **bad).status_code == 400


def test_filters(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox

    def found(**params: Any) -> set[str]:
        response = search(m, GP, _count="50", **params)
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["total"] == len(bundle.get("entry", []))
        return set(labels(m, bundle))

    assert found(type="11488-4") == {"cr", "masked", "new"}
    assert found(type="http://loinc.org|11488-4,51969-4") == {"cr", "masked", "new", "genetic"}
    assert found(type=f"{terminology().type('PRESC-KINE').system}|PRESC-KINE") == {"presc"}
    assert found(type="http://wrong.example|11488-4") == set()
    class_system = terminology().class_system
    assert found(category="31") == {"imaging"}
    assert found(category=f"{class_system}|42") == {"presc"}
    # date of the act (created = deposit - 2 days in the fixture)
    assert found(**{"period-start": "2024-04-01"}) == {"presc", "letter"}
    assert found(**{"period-end": "2024-01-08"}) == {"cr", "new"}
    assert found(**{"period-start": "2024-03-01", "period-end": "2024-03-29"}) == {"genetic"}
    # deposit date, with prefixes ("what is new since my last visit")
    assert found(date="ge2024-04-01") == {"imaging", "presc", "letter"}
    assert found(date="gt2024-04-01") == {"presc", "letter"}
    assert found(date="lt2024-01-10") == {"new"}
    assert found(date="le2024-01-10") == {"new", "cr"}
    assert found(date="2024-03-05") == {"genetic"}
    assert found(date="ge2024-04-01T10:00:00+00:00") == {"imaging", "presc", "letter"}
    assert found(date="gt2024-04-01T10:00:00Z") == {"presc", "letter"}
    assert found(date=["ge2024-02-01", "lt2024-04-01"]) == {"masked", "psy", "genetic"}
    # author
    hosp = {"masked", "psy", "genetic", "imaging", "letter"}
    assert found(author=HOSP) == hosp
    assert found(**{"author.identifier": f"{fhir.IDNAT_SYSTEM}|{HOSP}"}) == hosp
    # visibility labels
    assert found(**{"security-label": "MASQUE_PS"}) == {"masked"}
    assert found(**{"security-label": f"{TRE_A07}|INVISIBLE_PATIENT"}) == {"imaging"}
    assert found(**{"security-label": "N"}) == set(ALICE_LISTED) - {"masked", "imaging"}
    # combined
    assert found(type="11488-4", author=GP, date="ge2024-01-01") == {"cr"}
    bad_params: list[dict[str, Any]] = [
        {"date": "yesterday"},
        {"period-start": "2024-13-45"},
        {"isArchived": "maybe"},
    ]
    for bad in bad_params:
        assert search(m, GP, **bad).status_code == 400


def test_search_needs_a_token_for_that_patient(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    other = m.client.get(
        "/DocumentReference",
        params={"patient.identifier": ins_token(BOB)},
        headers=m.auth(GP, ALICE),
    )
    assert other.status_code == 403
    assert reason(other) == "other_patient"
    professional_only = m.client.get(
        "/DocumentReference",
        params={"patient.identifier": ins_token(ALICE)},
        headers=m.auth(GP),
    )
    assert professional_only.status_code == 403
    assert reason(professional_only) == "no_access_mode"
    params = {"patient.identifier": ins_token(ALICE)}
    assert m.client.get("/DocumentReference", params=params).status_code == 401
    forged = m.client.get(
        "/DocumentReference", params=params, headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401
    invalid = m.client.get(
        "/DocumentReference",
        params={"patient.identifier": ins_token(ALICE[:-2] + "00")},
        headers=m.auth(GP, ALICE),
    )
    assert invalid.status_code == 422
    assert m.client.get("/DocumentReference", headers=m.auth(GP, ALICE)).status_code == 400


def test_expired_token_is_refused(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    token = m.token(GP, ALICE, ttl=60)
    headers = {"Authorization": f"Bearer {token}"}
    params = {"patient.identifier": ins_token(ALICE)}
    assert m.client.get("/DocumentReference", params=params, headers=headers).status_code == 200
    m.clock.advance(61)
    expired = m.client.get("/DocumentReference", params=params, headers=headers)
    assert expired.status_code == 401
    assert reason(expired) == "expired_token"
    assert expired.headers["www-authenticate"].startswith("Bearer")


def test_search_is_audited(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    search(m, EMERG, mode=AccessMode.BRIS_DE_GLACE, _count="3")
    events = audit_rows(m, "search", EMERG)
    assert len(events) == 1
    event = events[0]
    assert event["patient_ins"] == ALICE
    assert event["purpose_of_use"] == "bris_de_glace"
    assert str(len(ALICE_LISTED)) in event["description"]
    assert len(json.loads(event["entity_ids"])) == 3


# -- read and retrieve -----------------------------------------------------------------------------
def test_read_document_and_binary(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(NURSE, ALICE)
    doc_id = m.docs["letter"]
    read = m.client.get(f"/DocumentReference/{doc_id}", headers=headers)
    assert read.status_code == 200
    resource = read.json()
    assert resource["id"] == doc_id
    assert resource["subject"]["identifier"] == {"system": INS_SYSTEM, "value": ALICE}
    practitioner = next(c for c in resource["contained"] if c["id"] == "author")
    assert practitioner["identifier"][0] == {"system": fhir.IDNAT_SYSTEM, "value": HOSP}
    enterer = next(e for e in resource["extension"] if e["url"] == fhir.DATA_ENTERER_URL)
    assert enterer["valueReference"]["reference"] == "#enterer"
    attachment = resource["content"][0]["attachment"]
    assert attachment["url"] == f"{BASE_URL}/Binary/{doc_id}"

    raw = m.client.get(attachment["url"], headers=headers)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/pdf"
    assert raw.content.startswith(b"%PDF-")
    assert base64.b64encode(hashlib.sha1(raw.content).digest()).decode() == attachment["hash"]
    assert len(raw.content) == attachment["size"]

    as_fhir = m.client.get(f"/Binary/{doc_id}", headers={**headers, "Accept": FHIR_JSON}).json()
    assert as_fhir["resourceType"] == "Binary"
    assert base64.b64decode(as_fhir["data"]) == raw.content

    assert [r["entity_ids"] for r in audit_rows(m, "read", NURSE)] == [json.dumps([doc_id])]
    assert len(audit_rows(m, "retrieve", NURSE)) == 2


def test_read_hides_what_does_not_exist_for_the_caller(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    nurse = m.auth(NURSE, ALICE)
    for doc_id in (m.docs["masked"], m.docs["bob00"], "does-not-exist"):
        for path in (f"/DocumentReference/{doc_id}", f"/Binary/{doc_id}"):
            response = m.client.get(path, headers=nurse)
            assert response.status_code == 404, path
            assert response.json()["issue"][0]["code"] == "not-found"
    # the author and the médecin traitant read the masked document
    for who in (HOSP, GP):
        path = f"/Binary/{m.docs['masked']}"
        assert m.client.get(path, headers=m.auth(who, ALICE)).status_code == 200
    # replaced and deleted documents are gone; archived ones are readable by id
    gp = m.auth(GP, ALICE)
    assert m.client.get(f"/DocumentReference/{m.docs['old']}", headers=gp).status_code == 410
    assert m.client.get(f"/Binary/{m.docs['deleted']}", headers=gp).status_code == 410
    assert m.client.get(f"/DocumentReference/{m.docs['archived']}", headers=gp).status_code == 200
    # without an access mode
    no_mode = m.client.get(f"/DocumentReference/{m.docs['cr']}", headers=m.auth(GP))
    assert no_mode.status_code == 403


# -- deposit ---------------------------------------------------------------------------------------
def test_deposit_then_read_back(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(GP)
    before = snapshot(m)
    doc = new_doc(visibility=frozenset({Visibility.INVISIBLE_PATIENT}))
    response = post(m, bundle_for(doc), headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created"] * 3
    locations = [e["response"]["location"] for e in body["entry"]]
    assert locations[0].startswith("List/")
    doc_id = locations[1].split("/")[1]
    assert locations[1:] == [f"DocumentReference/{doc_id}", f"Binary/{doc_id}"]
    assert snapshot(m)[:2] == (before[0] + 1, before[1] + 1)

    reader = m.auth(GP, ALICE)
    resource = m.client.get(f"/DocumentReference/{doc_id}", headers=reader).json()
    assert resource["masterIdentifier"]["value"] == doc.master_id
    assert resource["type"]["coding"][0]["code"] == "11488-4"
    assert resource["category"][0]["coding"][0]["code"] == "10"
    assert label_codes(resource) == {"INVISIBLE_PATIENT"}
    assert "extension" not in resource  # entered by its author
    assert m.client.get(f"/Binary/{doc_id}", headers=reader).content == doc.data
    created = audit_rows(m, "create", GP)
    assert [json.loads(r["entity_ids"]) for r in created] == [[doc_id]]
    # a patient-scoped token of that patient deposits too
    scoped = post(m, bundle_for(new_doc()), m.auth(GP, ALICE))
    assert scoped.status_code == 200
    other = post(m, bundle_for(new_doc(), patient=BOB), m.auth(GP, ALICE))
    assert other.status_code == 403
    assert reason(other) == "other_patient"


def test_deposit_several_documents_in_one_submission(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    docs = [new_doc(author=HOSP, title=f"Document {i}") for i in range(3)]
    response = post(m, bundle_for(*docs), m.auth(HOSP))
    assert response.status_code == 200, response.text
    assert len(response.json()["entry"]) == 7
    assert len(audit_rows(m, "create", HOSP)) == 3


def test_secretary_deposits_for_a_doctor_of_her_structure(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(SECRETARY)
    response = post(m, bundle_for(new_doc(author=HOSP, type_code="11490-0")), headers)
    assert response.status_code == 200, response.text
    doc_id = response.json()["entry"][1]["response"]["location"].split("/")[1]
    row = m.store.query_one(
        "SELECT author_id_nat, entered_by FROM documents WHERE id = ?", (doc_id,)
    )
    assert row is not None
    assert (row["author_id_nat"], row["entered_by"]) == (HOSP, SECRETARY)
    resource = m.client.get(f"/DocumentReference/{doc_id}", headers=m.auth(HOSP, ALICE)).json()
    author = next(c for c in resource["contained"] if c["id"] == "author")
    assert author["identifier"][0]["value"] == HOSP
    enterer_ref = next(e for e in resource["extension"] if e["url"] == fhir.DATA_ENTERER_URL)
    enterer = next(
        c
        for c in resource["contained"]
        if f"#{c['id']}" == enterer_ref["valueReference"]["reference"]
    )
    assert enterer["identifier"][0]["value"] == SECRETARY

    before = snapshot(m)
    refused = post(m, bundle_for(new_doc(author=GP)), headers)  # GP is not of her structure
    assert refused.status_code == 403
    assert reason(refused) == "not_same_structure"
    assert snapshot(m) == before


def test_professional_deposits_only_in_her_own_name(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    before = snapshot(m)
    response = post(m, bundle_for(new_doc(author=HOSP)), m.auth(GP))
    assert response.status_code == 403
    assert reason(response) == "deposit_for_another"
    unknown = post(m, bundle_for(new_doc(author="899700099999")), m.auth(GP))
    assert unknown.status_code == 422
    assert reason(unknown) == "unknown_author"
    blocked = post(m, bundle_for(new_doc(author=NURSE), patient=CAROL), m.auth(NURSE))
    assert blocked.status_code == 403
    assert snapshot(m) == before


def test_same_deposit_twice_stores_one_document(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    bundle = bundle_for(new_doc())
    before = snapshot(m)
    first = post(m, bundle, m.auth(GP))
    second = post(m, bundle, m.auth(GP))
    assert first.status_code == second.status_code == 200
    assert second.headers.get("x-sandbox-replay") == "true"
    locations = [[e["response"]["location"] for e in r.json()["entry"]] for r in (first, second)]
    assert locations[0] == locations[1]
    assert snapshot(m)[0] == before[0] + 1
    assert len(audit_rows(m, "create", GP)) == 1
    # same masterIdentifier, fresh urn:uuid fullUrls: still the same document
    doc = new_doc()
    post(m, bundle_for(doc), m.auth(GP))
    again = post(m, bundle_for(doc), m.auth(GP))
    assert again.status_code == 200
    assert snapshot(m)[0] == before[0] + 2


def test_same_master_identifier_with_other_content_conflicts(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    doc = new_doc()
    assert post(m, bundle_for(doc), m.auth(GP)).status_code == 200
    before = snapshot(m)
    variants = [
        replace(doc, data=pdf("autre contenu")),
        replace(doc, type_code="11490-0"),
    ]
    for variant in variants:
        response = post(m, bundle_for(variant), m.auth(GP))
        assert response.status_code == 409
        assert reason(response) == "master_identifier_conflict"
    other_patient = post(m, bundle_for(doc, patient=BOB), m.auth(GP))
    assert other_patient.status_code == 409
    partial = post(m, bundle_for(doc, new_doc()), m.auth(GP))
    assert partial.status_code == 409
    assert snapshot(m) == before


def test_replacement_supersedes_the_target(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    target = m.docs["cr"]
    response = post(m, bundle_for(new_doc(replaces=target, title="CR corrigé")), m.auth(GP))
    assert response.status_code == 200, response.text
    new_id = response.json()["entry"][1]["response"]["location"].split("/")[1]
    reader = m.auth(GP, ALICE)
    resource = m.client.get(f"/DocumentReference/{new_id}", headers=reader).json()
    assert resource["relatesTo"] == [
        {"code": "replaces", "target": {"reference": f"DocumentReference/{target}"}}
    ]
    listed = {e["resource"]["id"] for e in search(m, GP, _count="50").json()["entry"]}
    assert new_id in listed
    assert target not in listed
    assert m.client.get(f"/DocumentReference/{target}", headers=reader).status_code == 410
    row = m.store.query_one("SELECT status FROM documents WHERE id = ?", (target,))
    assert row is not None
    assert row["status"] == "superseded"
    # replacing it again: no longer current
    again = post(m, bundle_for(new_doc(replaces=target)), m.auth(GP))
    assert again.status_code == 409
    # someone else's document
    before = snapshot(m)
    not_author = post(m, bundle_for(new_doc(replaces=m.docs["presc"], author=HOSP)), m.auth(HOSP))
    assert not_author.status_code == 403
    assert reason(not_author) == "not_author"
    other_patient = post(m, bundle_for(new_doc(replaces=m.docs["bob01"])), m.auth(GP))
    assert other_patient.status_code == 422
    assert snapshot(m) == before


def _valid_bundle() -> dict[str, Any]:
    return bundle_for(new_doc())


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """A valid bundle with the DocumentReference field at ``path`` set (None: removed)."""
    bundle = _valid_bundle()
    target: Any = bundle["entry"][1]["resource"]
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is None:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return bundle


def _binary_bundle(content_type: str, data: bytes) -> dict[str, Any]:
    return bundle_for(new_doc(content_type=content_type, data=data))


BAD_DEPOSITS: list[tuple[str, Any, int, str]] = [
    ("malformed JSON", b'{"resourceType": "Bundle", "entry": [', 400, "malformed_json"),
    ("not an object", b"[1, 2]", 400, "invalid"),
    ("wrong resourceType", {"resourceType": "Patient"}, 400, "wrong_resource_type"),
    (
        "batch bundle",
        {"resourceType": "Bundle", "type": "batch", "entry": []},
        400,
        "wrong_bundle_type",
    ),
    ("no entries", {"resourceType": "Bundle", "type": "transaction"}, 400, "missing_field"),
    ("missing masterIdentifier", _mutate("masterIdentifier", None), 400, "missing_field"),
    ("missing subject", _mutate("subject", None), 400, "missing_field"),
    ("missing author", _mutate("author", None), 400, "missing_field"),
    ("missing content", _mutate("content", None), 400, "missing_field"),
    ("missing act date", _mutate("context", None), 400, "missing_field"),
    ("invalid INS key", _mutate("subject.identifier.value", ALICE[:-2] + "00"), 422, "invalid_ins"),
    ("unknown type", _mutate("type.coding.0.code", "99999-9"), 422, "unknown_type"),
    (
        "wrong type system",
        _mutate("type.coding.0.system", "http://snomed.info/sct"),
        422,
        "unknown_type",
    ),
    (
        "category of another class",
        _mutate("category.0.coding.0.code", "31"),
        422,
        "category_mismatch",
    ),
    ("status not current", _mutate("status", "superseded"), 422, "invalid_status"),
    ("act in the future", _mutate("context.period.start", "2999-01-01"), 422, "future_date"),
    ("bad date", _mutate("context.period.start", "31/12/2023"), 422, "invalid_date"),
    (
        "unknown label",
        _mutate("securityLabel", [{"coding": [{"system": TRE_A07, "code": "SECRET"}]}]),
        422,
        "invalid_security_label",
    ),
    (
        "hash mismatch",
        _mutate("content.0.attachment.hash", base64.b64encode(b"x" * 20).decode()),
        422,
        "hash_mismatch",
    ),
    ("size mismatch", _mutate("content.0.attachment.size", 3), 422, "size_mismatch"),
    (
        "dangling url",
        _mutate("content.0.attachment.url", "urn:uuid:nowhere"),
        422,
        "unresolved_reference",
    ),
    ("not a PDF", _binary_bundle("application/pdf", b"hello"), 422, "invalid_content"),
    (
        "unsupported type",
        _binary_bundle("application/zip", b"PK\x03\x04"),
        422,
        "invalid_content_type",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [pytest.param(b, s, c, id=name) for name, b, s, c in BAD_DEPOSITS],
)
def test_bad_deposits_store_nothing(
    mini_sandbox: MiniSandbox, body: Any, status: int, code: str
) -> None:
    m = mini_sandbox
    before = snapshot(m)
    response = post(m, body, m.auth(GP))
    assert response.status_code == status, response.text
    assert reason(response) == code
    assert len(response.json()["issue"][0]["diagnostics"]) > 10
    assert snapshot(m) == before
    assert audit_rows(m, "create") == []


def test_deposit_transport_errors_store_nothing(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    before = snapshot(m)
    wrong_type = post(m, _valid_bundle(), m.auth(GP), content_type="application/xml")
    assert wrong_type.status_code == 415
    assert post(m, _valid_bundle(), m.auth(GP), content_type="text/plain").status_code == 415
    assert post(m, _valid_bundle(), {}).status_code == 401
    m.app.state.settings = replace(m.settings(), max_body_bytes=2000)
    large = bundle_for(new_doc(content_type="text/plain", data=b"x" * 5000))
    too_large = post(m, large, m.auth(GP))
    assert too_large.status_code == 413
    assert snapshot(m) == before
    m.app.state.settings = replace(m.settings(), max_body_bytes=20 * 1024 * 1024)
    assert post(m, large, m.auth(GP)).status_code == 200
    assert post(m, _valid_bundle(), m.auth(GP), content_type="application/json").status_code == 200


def test_accepted_content_types(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 16
    cda = b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>'
    for content_type, data in (
        ("image/png", png),
        ("image/jpeg", jpeg),
        ("text/xml", cda),
        ("text/plain", "Compte rendu é".encode()),
    ):
        response = post(m, _binary_bundle(content_type, data), m.auth(GP))
        assert response.status_code == 200, (content_type, response.text)
        doc_id = response.json()["entry"][1]["response"]["location"].split("/")[1]
        body = m.client.get(f"/Binary/{doc_id}", headers=m.auth(GP, ALICE))
        assert body.content == data
        assert body.headers["content-type"].startswith(content_type)


# -- PATCH -----------------------------------------------------------------------------------------
def test_author_masks_and_unmasks(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    doc_id = m.docs["imaging"]  # HOSP's, INVISIBLE_PATIENT
    response = patch(m, doc_id, mask_op(), m.auth(HOSP, ALICE))
    assert response.status_code == 200, response.text
    assert label_codes(response.json()) == {"MASQUE_PS", "INVISIBLE_PATIENT"}
    assert "imaging" not in labels(m, search(m, NURSE, _count="50").json())
    assert "imaging" in labels(m, search(m, GP, _count="50").json())
    # remove by index: MASQUE_PS is listed first
    unmask = patch(m, doc_id, [{"op": "remove", "path": "/securityLabel/0"}], m.auth(HOSP))
    assert unmask.status_code == 200
    assert label_codes(unmask.json()) == {"INVISIBLE_PATIENT"}
    assert "imaging" in labels(m, search(m, NURSE, _count="50").json())
    # replace the whole list; N means none
    normal = [{"coding": [{"system": fhir.CONFIDENTIALITY_SYSTEM, "code": "N"}]}]
    cleared = patch(
        m, doc_id, [{"op": "replace", "path": "/securityLabel", "value": normal}], m.auth(HOSP)
    )
    assert label_codes(cleared.json()) == {"N"}
    updates = audit_rows(m, "update", HOSP)
    assert [json.loads(u["entity_ids"]) for u in updates] == [[doc_id]] * 3
    assert "mask" in updates[0]["description"]


def test_only_the_author_updates(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    doc_id = m.docs["imaging"]
    for who in (GP, OTHER_DOC, SECRETARY):
        response = patch(m, doc_id, mask_op(), m.auth(who))
        assert response.status_code == 403, who
        assert reason(response) == "not_author"
    row = m.store.query_one("SELECT visibility FROM documents WHERE id = ?", (doc_id,))
    assert row is not None
    assert row["visibility"] == "INVISIBLE_PATIENT"
    # a masked document the caller cannot see does not exist for her
    hidden = patch(m, m.docs["masked"], mask_op(), m.auth(NURSE, ALICE))
    assert hidden.status_code == 404
    # another patient's token
    assert patch(m, doc_id, mask_op(), m.auth(HOSP, BOB)).status_code == 404


def test_author_deletes(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    doc_id = m.docs["presc"]
    delete = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    response = patch(m, doc_id, delete, m.auth(GP, ALICE))
    assert response.status_code == 200
    assert response.json()["status"] == "entered-in-error"
    assert "presc" not in labels(m, search(m, GP, _count="50").json())
    assert m.client.get(f"/Binary/{doc_id}", headers=m.auth(GP, ALICE)).status_code == 410
    again = patch(m, doc_id, mask_op(), m.auth(GP))
    assert again.status_code == 409
    assert audit_rows(m, "update", GP)[0]["action"] == "D"


@pytest.mark.parametrize(
    ("ops", "status"),
    [
        ([{"op": "replace", "path": "/title", "value": "x"}], 422),
        ([{"op": "replace", "path": "/status", "value": "superseded"}], 422),
        ([{"op": "move", "from": "/a", "path": "/securityLabel"}], 422),
        ([{"op": "remove", "path": "/securityLabel/9"}], 422),
        (mask_op("MASQUE_PT"), 422),
        ([], 422),
        ({"op": "add"}, 400),
        (b"[{", 400),
    ],
)
def test_bad_patches(mini_sandbox: MiniSandbox, ops: Any, status: int) -> None:
    m = mini_sandbox
    before = m.store.query("SELECT id, status, visibility FROM documents ORDER BY id")
    response = patch(m, m.docs["imaging"], ops, m.auth(HOSP))
    assert response.status_code == status, response.text
    after = m.store.query("SELECT id, status, visibility FROM documents ORDER BY id")
    assert [tuple(r) for r in before] == [tuple(r) for r in after]


def test_patch_content_type_and_unknown_id(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    wrong = patch(m, m.docs["imaging"], mask_op(), m.auth(HOSP), content_type="application/json")
    assert wrong.status_code == 415
    assert patch(m, "nope", mask_op(), m.auth(HOSP)).status_code == 404


# -- AuditEvent ------------------------------------------------------------------------------------
def test_audit_events_trace_every_action(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    headers = m.auth(HOSP, ALICE)
    search(m, HOSP, _count="5")
    m.client.get(f"/DocumentReference/{m.docs['letter']}", headers=headers)
    m.client.get(f"/Binary/{m.docs['letter']}", headers=headers)
    post(m, bundle_for(new_doc(author=HOSP)), headers)
    patch(m, m.docs["imaging"], mask_op(), headers)
    m.store.audit(
        subtype="access",
        action="E",
        agent=m.store.actor(HOSP),
        patient_ins=ALICE,
        purpose="bris_de_glace",
        type_code="110113",
        description="bris de glace : URGENCE_VITALE",
    )
    search(m, GP)  # another professional's trace: not listed to HOSP

    response = m.client.get(
        "/AuditEvent", params={"patient.identifier": ins_token(ALICE)}, headers=headers
    )
    assert response.status_code == 200
    bundle = response.json()
    events = [e["resource"] for e in bundle["entry"]]
    subtypes = [e["subtype"][0]["code"] for e in events]
    assert subtypes == ["access", "update", "create", "retrieve", "read", "search"]
    assert bundle["total"] == 6
    agents = {e["agent"][0]["who"]["identifier"]["value"] for e in events}
    assert agents == {HOSP}
    bdg = events[0]
    assert bdg["type"] == {
        "system": fhir.DICOM_SYSTEM,
        "code": "110113",
        "display": "Security Alert",
    }
    assert bdg["agent"][0]["purposeOfUse"][0]["coding"][0]["code"] == "bris_de_glace"
    assert bdg["agent"][0]["purposeOfUse"][0]["coding"][0]["system"] == fhir.access_mode_system()
    read = events[4]
    assert read["type"]["system"] == fhir.AUDIT_TYPE_SYSTEM
    assert read["action"] == "R"
    assert read["source"]["observer"]["display"] == "DMP sandbox"
    assert {"reference": f"DocumentReference/{m.docs['letter']}"} in [
        e["what"] for e in read["entity"]
    ]
    # paging
    page = m.client.get(
        "/AuditEvent",
        params={"patient.identifier": ins_token(ALICE), "_count": "2"},
        headers=headers,
    ).json()
    assert len(page["entry"]) == 2
    assert page["total"] == 7  # the previous AuditEvent search is traced too
    assert any(link["relation"] == "next" for link in page["link"])
    # another patient's token
    other = m.client.get(
        "/AuditEvent", params={"patient.identifier": ins_token(ALICE)}, headers=m.auth(HOSP, BOB)
    )
    assert other.status_code == 403


# -- Immunization ----------------------------------------------------------------------------------
def vaccination(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J07BN01"}]},
        "patient": {"identifier": {"system": INS_SYSTEM, "value": ALICE}},
        "occurrenceDateTime": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "lotNumber": "FK1234",
        "performer": [{"actor": {"identifier": {"system": fhir.IDNAT_SYSTEM, "value": GP}}}],
    }
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_immunizations_search_and_create(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    params = {"patient.identifier": ins_token(ALICE)}
    listed = m.client.get("/Immunization", params=params, headers=m.auth(NURSE, ALICE))
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    refused = m.client.get("/Immunization", params=params, headers=m.auth(COORD, ALICE))
    assert refused.status_code == 403
    assert reason(refused) == "matrix"

    headers = m.auth(GP, ALICE)
    created = m.client.post("/Immunization", json=vaccination(), headers=headers)
    assert created.status_code == 201, created.text
    resource = created.json()
    assert resource["lotNumber"] == "FK1234"
    assert resource["vaccineCode"]["coding"][0]["display"].startswith("COVID-19")
    assert resource["performer"][0]["actor"]["identifier"]["value"] == GP
    assert created.headers["location"] == f"{BASE_URL}/Immunization/{resource['id']}"
    after = m.client.get("/Immunization", params=params, headers=headers).json()
    assert after["total"] == 3
    assert after["entry"][0]["resource"]["id"] == resource["id"]  # newest first
    assert len(audit_rows(m, "create", GP)) == 1
    without_performer = m.client.post(
        "/Immunization", json=vaccination(performer=None), headers=headers
    )
    assert without_performer.status_code == 201
    assert without_performer.json()["performer"][0]["actor"]["identifier"]["value"] == GP


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        (
            {"vaccineCode": {"coding": [{"system": "http://www.whocc.no/atc", "code": "X99"}]}},
            422,
            "unknown_vaccine",
        ),
        (
            {"vaccineCode": {"coding": [{"system": "http://other", "code": "J07BN01"}]}},
            422,
            "unknown_vaccine",
        ),
        ({"occurrenceDateTime": "2999-01-01"}, 422, "future_date"),
        ({"lotNumber": "  "}, 422, "missing_lot"),
        ({"lotNumber": None}, 422, "missing_lot"),
        (
            {
                "performer": [
                    {"actor": {"identifier": {"system": fhir.IDNAT_SYSTEM, "value": HOSP}}}
                ]
            },
            422,
            "performer_mismatch",
        ),
        ({"status": "not-done"}, 422, "invalid_status"),
        ({"resourceType": "Observation"}, 400, "wrong_resource_type"),
        ({"patient": None}, 400, "missing_field"),
        ({"occurrenceDateTime": None}, 400, "missing_field"),
        ({"patient": {"identifier": {"system": INS_SYSTEM, "value": BOB}}}, 403, "other_patient"),
    ],
)
def test_bad_immunizations(
    mini_sandbox: MiniSandbox, changes: dict[str, Any], status: int, code: str
) -> None:
    m = mini_sandbox
    before = snapshot(m)
    response = m.client.post(
        "/Immunization", json=vaccination(**changes), headers=m.auth(GP, ALICE)
    )
    assert response.status_code == status, response.text
    assert reason(response) == code
    assert snapshot(m) == before


def test_secretary_cannot_record_a_vaccination(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    response = m.client.post("/Immunization", json=vaccination(), headers=m.auth(SECRETARY, ALICE))
    assert response.status_code == 403
    wrong = m.client.post(
        "/Immunization",
        content=json.dumps(vaccination()),
        headers={**m.auth(GP, ALICE), "Content-Type": "text/plain"},
    )
    assert wrong.status_code == 415


# -- notifications and faults ----------------------------------------------------------------------
def test_patient_notifications(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    actor = m.store.actor(EMERG)
    assert actor is not None
    m.store.notify(patient_ins=ALICE, kind="bris_de_glace", actor=actor, message="Accès en urgence")
    response = m.client.get(f"/sandbox/patients/{ALICE}/notifications")
    assert response.status_code == 200
    body = response.json()
    assert body["patient"] == ALICE
    assert body["notifications"] == [
        {
            "created_at": body["notifications"][0]["created_at"],
            "kind": "bris_de_glace",
            "id_nat": EMERG,
            "professional_name": "Karim BENALI",
            "message": "Accès en urgence",
        }
    ]
    assert m.client.get(f"/sandbox/patients/{BOB}/notifications").json()["notifications"] == []
    assert m.client.get(f"/sandbox/patients/{ALICE[:-2]}00/notifications").status_code == 422
    assert m.client.get(f"/sandbox/patients/{UNKNOWN}/notifications").status_code == 404


def test_fault_injection(mini_sandbox: MiniSandbox) -> None:
    m = mini_sandbox
    rule = {"status": 429, "count": 2, "path_prefix": "/metadata", "retry_after": 1}
    assert m.client.post("/sandbox/faults", json=rule).status_code == 201
    for _ in range(2):
        response = m.client.get("/metadata")
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert reason(response) == "injected_fault"
    assert m.client.get("/metadata").status_code == 200
    # other paths untouched; DELETE clears
    m.client.post("/sandbox/faults", json={"status": 503, "count": 5, "path_prefix": "/Patient"})
    assert m.client.get("/metadata").status_code == 200
    assert m.client.get("/Patient").status_code == 503
    assert len(m.client.get("/sandbox/faults").json()["faults"]) == 1
    assert m.client.delete("/sandbox/faults").status_code == 200
    assert m.client.get("/Patient", headers=m.auth(GP)).status_code == 400
    # a delay only, then served
    m.client.post("/sandbox/faults", json={"delay_ms": 20, "count": 1})
    assert m.client.get("/metadata").status_code == 200
    assert m.client.get("/sandbox/faults").json()["faults"] == []
    # a POST that fails stores nothing
    before = snapshot(m)
    m.client.post("/sandbox/faults", json={"status": 500, "count": 1, "method": "POST"})
    assert post(m, _valid_bundle(), m.auth(GP)).status_code == 500
    assert snapshot(m) == before
    for bad in ({"status": 404}, {"status": 429, "count": 0}, {"path_prefix": "x", "status": 500}):
        assert m.client.post("/sandbox/faults", json=bad).status_code == 400


def test_create_app_serves_this_router(mini_sandbox: MiniSandbox) -> None:
    """The real application (with the auth router) includes these endpoints and faults."""
    from fastapi.testclient import TestClient

    from sandbox.app import create_app

    app = create_app(mini_sandbox.directory, replace(mini_sandbox.settings()))
    with TestClient(app) as client:
        response = client.get("/metadata")
        assert response.status_code == 200
        validate_fhir(response.json())
        assert client.post("/sandbox/faults", json={"status": 503}).status_code == 201
        assert client.get("/metadata").status_code == 503


def test_search_follows_changes_made_behind_its_back(
    mini_sandbox: MiniSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Converted documents are cached by row state: a change of state is seen at once."""
    from sandbox import api

    m = mini_sandbox
    assert "cr" in labels(m, search(m, NURSE, _count="50").json())
    for archived, visibility, present in ((1, "", False), (0, "MASQUE_PS", False), (0, "", True)):
        m.store.execute(
            "UPDATE documents SET archived = ?, visibility = ? WHERE id = ?",
            (archived, visibility, m.docs["cr"]),
        )
        assert ("cr" in labels(m, search(m, NURSE, _count="50").json())) is present
    archived_only = search(m, GP, isArchived="true").json()
    assert labels(m, archived_only) == ["archived"]
    # a cache smaller than one search still answers completely
    monkeypatch.setattr(api._DocumentCache, "max_entries", 5)
    for _ in range(2):
        bundle = search(m, GP, BOB, _count="50").json()
        assert bundle["total"] == len(bundle["entry"]) == BOB_DOCS
