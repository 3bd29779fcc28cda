"""The DMP rules, enforced by the sandbox over real HTTP on loopback, logging in with the
personas' SoftHSM2 cards (the challenge signed on the token through python-pkcs11)."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from console.domain.habilitation import habilitation_matrix
from console.domain.ins import INS
from sandbox.fhir import DATA_ENTERER_URL, DocumentToSubmit, submission_bundle
from sandbox.testing import SandboxProcess
from tests.integration.conftest import Sandbox

pytestmark = pytest.mark.integration

BDG = {"reason_code": "URGENCE_VITALE", "justification": "Patient inconscient, GCS 5, SAMU"}


def all_documents(
    sandbox: Sandbox, token: str, ins: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every page of the search; returns the resources and the server's ``total``."""
    query = {"patient.identifier": f"{sandbox.patients['ins_system']}|{ins}", "_count": 100}
    query.update(params)
    resources: list[dict[str, Any]] = []
    total = -1
    with sandbox.client(token) as client:
        answer = client.get("/DocumentReference", params=query)
        while True:
            assert answer.status_code == 200, answer.text
            bundle = answer.json()
            total = bundle["total"]
            resources += [e["resource"] for e in bundle.get("entry", [])]
            nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not nxt:
                break
            answer = client.get(nxt[0])
    return resources, total


def type_code(resource: dict[str, Any]) -> str:
    code: str = resource["type"]["coding"][0]["code"]
    return code


def reason(answer: httpx.Response) -> str:
    code: str = answer.json()["issue"][0]["details"]["coding"][0]["code"]
    return code


def emergency_view(sandbox: Sandbox, ins: str) -> list[dict[str, Any]]:
    """What a médecin sees in bris de glace: everything current (masked included)."""
    token = sandbox.patient_token("emergency", ins, "bris_de_glace", **BDG)
    return all_documents(sandbox, token, ins)[0]


@pytest.mark.parametrize(
    ("persona", "forbidden_example"), [("nurse", "51969-4"), ("dentist", "68599-0")]
)
def test_a_profession_never_receives_a_type_the_matrix_forbids(
    sandbox: Sandbox, persona: str, forbidden_example: str
) -> None:
    ins = sandbox.patients["care_team"][persona][0]
    profession = sandbox.persona(persona)["profession"]
    everything = emergency_view(sandbox, ins)
    assert forbidden_example in {type_code(r) for r in everything}, "seed lacks the example"
    token = sandbox.patient_token(persona, ins)
    seen, total = all_documents(sandbox, token, ins)
    matrix = habilitation_matrix()
    assert seen and total == len(seen)
    assert all(matrix.allows(profession, type_code(r)) for r in seen)
    assert forbidden_example not in {type_code(r) for r in seen}
    # ... nor by asking for it: a type filter on it returns nothing, and its body is refused.
    assert all_documents(sandbox, token, ins, type=forbidden_example) == ([], 0)
    hidden = next(r for r in everything if type_code(r) == forbidden_example)
    with sandbox.client(token) as client:
        assert client.get(f"/Binary/{hidden['id']}").status_code in (403, 404)
        assert client.get(f"/DocumentReference/{hidden['id']}").status_code in (403, 404)


def test_secretary_cannot_read_but_deposits_for_a_doctor_of_her_structure(
    sandbox: Sandbox,
) -> None:
    ins = sandbox.patients["with_masked"]["ins"]
    secretary = sandbox.card_login("secretary")
    refused = sandbox.open_patient(secretary, ins, "normal", consent={"method": "oral"})
    assert refused.status_code == 403 and reason(refused) == "secretary_no_read"
    some_doc = emergency_view(sandbox, ins)[0]
    with sandbox.client(secretary) as client:
        search = client.get(
            "/DocumentReference",
            params={"patient.identifier": f"{sandbox.patients['ins_system']}|{ins}"},
        )
        assert search.status_code == 403
        assert client.get(f"/Binary/{some_doc['id']}").status_code == 403
        doctor = sandbox.persona("hospital_doctor")
        master = f"urn:uuid:{uuid.uuid4()}"
        bundle = submission_bundle(
            INS(sandbox.patients["ins_system"], ins),
            [
                DocumentToSubmit(
                    master_id=master,
                    type_code="11490-0",
                    title="Lettre de liaison de sortie - test secrétariat",
                    author_id_nat=doctor["id_nat"],
                    created=date.today(),
                    data=b"Lettre de liaison (texte de test).",
                    content_type="text/plain",
                )
            ],
        )
        deposit = client.post("/", json=bundle, headers={"Content-Type": "application/fhir+json"})
        assert deposit.status_code in (200, 201), deposit.text
    # The doctor reads it back: she is the author, the secretary is who entered it.
    token = sandbox.patient_token("hospital_doctor", ins, "normal", consent={"method": "oral"})
    docs, _ = all_documents(sandbox, token, ins)
    mine = [d for d in docs if d["masterIdentifier"]["value"] == master]
    assert len(mine) == 1
    contained = {c["id"]: c for c in mine[0]["contained"]}
    author_ref = mine[0]["author"][0]["reference"].lstrip("#")
    assert contained[author_ref]["identifier"][0]["value"] == doctor["id_nat"]
    enterer = next(e for e in mine[0]["extension"] if e["url"] == DATA_ENTERER_URL)
    enterer_id = enterer["valueReference"]["reference"].lstrip("#")
    assert contained[enterer_id]["identifier"][0]["value"] == sandbox.persona("secretary")["id_nat"]


def test_masked_documents_absent_and_uncounted_for_others(sandbox: Sandbox) -> None:
    masked = sandbox.patients["with_masked"]
    ins, masked_ids = masked["ins"], set(masked["document_ids"])
    # The author and the médecin traitant (the GP) see them.
    author = sandbox.patient_token(masked["author"], ins, "normal", consent={"method": "oral"})
    author_docs, _ = all_documents(sandbox, author, ins)
    assert masked_ids <= {d["id"] for d in author_docs}
    gp_docs, gp_total = all_documents(sandbox, sandbox.patient_token("gp", ins), ins)
    assert masked_ids <= {d["id"] for d in gp_docs}
    # Another médecin (same matrix row as the GP) sees all but them, and the total says so.
    other = sandbox.patient_token("emergency", ins, "normal", consent={"method": "oral"})
    other_docs, other_total = all_documents(sandbox, other, ins)
    assert not masked_ids & {d["id"] for d in other_docs}
    assert other_total == len(other_docs) == gp_total - len(masked_ids)
    hidden = next(iter(masked_ids))
    with sandbox.client(other) as client:
        assert client.get(f"/DocumentReference/{hidden}").status_code == 404
        assert client.get(f"/Binary/{hidden}").status_code == 404
    # Asking for masked documents by label does not reveal them either.
    assert all_documents(sandbox, other, ins, **{"security-label": "MASQUE_PS"}) == ([], 0)


def test_bris_de_glace_needs_a_justification_and_respects_opposition(sandbox: Sandbox) -> None:
    token = sandbox.card_login("emergency")
    ins = sandbox.patients["with_masked"]["ins"]
    no_text = sandbox.open_patient(token, ins, "bris_de_glace", reason_code="URGENCE_VITALE")
    assert no_text.status_code == 403 and reason(no_text) == "no_justification"
    opposed = sandbox.patients["opposed_bris_de_glace"]
    refused = sandbox.open_patient(token, opposed, "bris_de_glace", **BDG)
    assert refused.status_code == 403 and reason(refused) == "opposed_bris_de_glace"


def test_a_blocked_professional_is_refused_in_every_mode(sandbox: Sandbox) -> None:
    blocked = sandbox.patients["blocked"]
    token = sandbox.card_login(blocked["persona"])
    ins = blocked["ins"]
    for mode, fields in (
        ("normal", {"consent": {"method": "oral"}}),
        ("bris_de_glace", BDG),
        ("centre_15", {}),
    ):
        answer = sandbox.open_patient(token, ins, mode, **fields)
        assert answer.status_code == 403, mode
        assert reason(answer) == "blocked", mode


def test_the_same_deposit_twice_stores_one_document(sandbox: Sandbox) -> None:
    ins = sandbox.patients["treated_by_gp"][0]
    token = sandbox.patient_token("gp", ins)
    _, before_total = all_documents(sandbox, token, ins)
    bundle = submission_bundle(
        INS(sandbox.patients["ins_system"], ins),
        [
            DocumentToSubmit(
                master_id=f"urn:uuid:{uuid.uuid4()}",
                type_code="11488-4",
                title="CR de consultation - dépôt idempotent",
                author_id_nat=sandbox.persona("gp")["id_nat"],
                created=date.today(),
                data=b"%PDF-1.4\n% test\n",
            )
        ],
    )
    with sandbox.client(token) as client:
        first = client.post("/", json=bundle)
        second = client.post("/", json=bundle)
    assert first.status_code in (200, 201), first.text
    assert second.status_code in (200, 201), second.text
    locations = [
        [e["response"]["location"] for e in answer.json()["entry"]] for answer in (first, second)
    ]
    assert locations[0] == locations[1]
    after, after_total = all_documents(sandbox, token, ins)
    assert after_total == before_total + 1 == len(after)


def test_forged_and_other_patient_tokens(sandbox: Sandbox) -> None:
    ins = sandbox.patients["treated_by_gp"][0]
    other = sandbox.patients["treated_by_gp"][1]
    token = sandbox.patient_token("gp", ins)
    system = sandbox.patients["ins_system"]
    with sandbox.client("forged-" + token[7:]) as client:
        answer = client.get("/DocumentReference", params={"patient.identifier": f"{system}|{ins}"})
        assert answer.status_code == 401
    with sandbox.client(token) as client:
        answer = client.get(
            "/DocumentReference", params={"patient.identifier": f"{system}|{other}"}
        )
        assert answer.status_code == 403 and reason(answer) == "other_patient"


def test_an_expired_patient_token_is_refused(sandbox: Sandbox) -> None:
    with SandboxProcess(sandbox.directory, extra_args=("--patient-token-ttl", "1")) as short:
        ins = sandbox.patients["treated_by_gp"][0]
        fast = Sandbox(short.url, sandbox.directory, sandbox.personas, sandbox.patients, short)
        token = fast.patient_token("gp", ins)
        query = {"patient.identifier": f"{sandbox.patients['ins_system']}|{ins}"}
        with fast.client(token) as client:
            assert client.get("/DocumentReference", params=query).status_code == 200
            time.sleep(1.2)
            expired = client.get("/DocumentReference", params=query)
    assert expired.status_code == 401
