"""``console.dmp.bundle`` (the ITI-65 Bundle, PATCH operations, the deposit receipt) and the
gateway's deposit / patch / whoami calls over ``httpx.MockTransport``.

Every resource the console builds is validated with the ``fhir.resources`` R4B models, and
the whole bundle is read back by the sandbox's own parser (what the server checks).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class

from console.dmp import HttpDmpGateway
from console.dmp.bundle import (
    bundle_bytes,
    bundle_ids,
    receipt_from_response,
    security_labels,
    transaction_bundle,
    update_patch,
)
from console.dmp.mapping import DATA_ENTERER_URL, document_from_fhir
from console.domain.deposit import ContentKind, DepositDocument, DepositMetadata
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import (
    ForbiddenError,
    NetworkError,
    ProtocolError,
    RetryableServerError,
    ServerError,
    UnknownDocumentTypeError,
)
from console.domain.ins import INS, INS_NIR_SYSTEM, nir_key
from console.domain.models import Actor, DocStatus, Visibility
from console.domain.rules import UpdateAction
from console.domain.terminology import TRE_A05_SYSTEM, terminology
from sandbox.fhir import parse_transaction

NIR = "2550814168025" + f"{nir_key('2550814168025'):02d}"
OTHER_NIR = "1850775123456" + f"{nir_key('1850775123456'):02d}"
PDF = b"%PDF-1.4\n% fake but well-formed enough for the server's magic check\n%%EOF\n"
DOCTOR = Actor(
    "899700000094",
    "10",
    family_name="LEFEBVRE",
    given_name="Anne",
    structure_id="1997000456",
    structure_name="Centre hospitalier de Saint-Martin",
)
SECRETARY = Actor("1997000456/SEC0042", "SECRETARIAT_MEDICAL", "MERCIER", "Nadia")
LOGIN = ProfessionalLogin("899700000011", "Claire MARTIN", "10", "tok-123", datetime.now(UTC))


def document(
    master_id: str = "urn:uuid:0b8e6b8e-6d1a-4a57-8d0b-1f1e2a3b4c5d",
    *,
    nir: str = NIR,
    type_code: str = "11488-4",
    visibility: frozenset[Visibility] = frozenset(),
    replaces: str | None = None,
    entered_by: Actor | None = None,
    act: date | datetime | None = None,
    data: bytes = PDF,
) -> DepositDocument:
    metadata = DepositMetadata(
        INS(INS_NIR_SYSTEM, nir), type_code, "Consultation du jour", date(2026, 1, 14),
        visibility, replaces,
    )  # fmt: skip
    return DepositDocument(
        master_id, metadata, DOCTOR, ContentKind.PDF, data, entered_by=entered_by, act_start=act
    )


def validate(resource: dict[str, Any]) -> Any:
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


# -- the bundle -----------------------------------------------------------------------------------


def test_every_resource_is_valid_fhir_r4() -> None:
    docs = [
        document(entered_by=SECRETARY, visibility=frozenset({Visibility.INVISIBLE_PATIENT})),
        document("urn:uuid:1d6f0f5e-0000-4000-8000-000000000002", replaces="abc123"),
    ]
    bundle = transaction_bundle(docs, submitted=datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    model = validate(bundle)
    assert model.type == "transaction" and len(model.entry) == 5
    for entry in bundle["entry"]:
        validate(entry["resource"])
        for contained in entry["resource"].get("contained", []):
            validate(contained)


def test_the_bundle_has_the_mhd_shape() -> None:
    act = datetime(2026, 1, 14, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    doc = document(
        entered_by=SECRETARY,
        visibility=frozenset({Visibility.INVISIBLE_REPRESENTANTS_LEGAUX, Visibility.MASQUE_PS}),
        replaces="olddoc",
        act=act,
    )
    bundle = transaction_bundle([doc])
    list_url, doc_url, binary_url = bundle_ids(doc.master_id)
    assert [(e["fullUrl"], e["request"]) for e in bundle["entry"]] == [
        (list_url, {"method": "POST", "url": "List"}),
        (doc_url, {"method": "POST", "url": "DocumentReference"}),
        (binary_url, {"method": "POST", "url": "Binary"}),
    ]
    (submission,) = resources(bundle, "List")
    assert submission["code"]["coding"][0]["code"] == "submissionset"
    assert submission["entry"] == [{"item": {"reference": doc_url}}]
    assert submission["subject"]["identifier"] == {"system": INS_NIR_SYSTEM, "value": NIR}
    (ref,) = resources(bundle, "DocumentReference")
    assert ref["masterIdentifier"] == {"system": "urn:ietf:rfc:3986", "value": doc.master_id}
    contained = {c["id"]: c for c in ref["contained"]}
    assert contained["author"]["identifier"][0]["value"] == DOCTOR.id_nat
    assert contained["author"]["name"][0]["family"] == "LEFEBVRE"
    assert contained["author"]["qualification"][0]["code"]["coding"][0]["code"] == "10"
    assert contained["structure"]["identifier"][0]["value"] == "1997000456"
    assert contained["enterer"]["identifier"][0]["value"] == SECRETARY.id_nat
    assert "qualification" not in contained["enterer"]  # a role, not a TRE_G15 profession
    assert ref["author"] == [{"reference": "#author"}, {"reference": "#structure"}]
    assert ref["extension"] == [
        {"url": DATA_ENTERER_URL, "valueReference": {"reference": "#enterer"}}
    ]
    assert [label["coding"][0]["code"] for label in ref["securityLabel"]] == [
        "MASQUE_PS",
        "INVISIBLE_REPRESENTANTS_LEGAUX",
    ]
    attachment = ref["content"][0]["attachment"]
    assert attachment["url"] == binary_url and attachment["size"] == len(PDF)
    assert base64.b64decode(attachment["hash"]) == hashlib.sha1(PDF).digest()
    assert ref["context"]["period"]["start"] == "2026-01-14T10:30:00+01:00"
    assert ref["relatesTo"] == [
        {"code": "replaces", "target": {"reference": "DocumentReference/olddoc"}}
    ]
    (binary,) = resources(bundle, "Binary")
    assert base64.b64decode(binary["data"]) == PDF and binary["contentType"] == "application/pdf"


def test_the_sandbox_reads_it_back() -> None:
    doc = document(entered_by=SECRETARY, visibility=frozenset({Visibility.MASQUE_PS}))
    submission = parse_transaction(json.loads(bundle_bytes([doc])), now=datetime.now(UTC))
    (parsed,) = submission.documents
    assert parsed.master_id == doc.master_id
    assert parsed.author_id_nat == DOCTOR.id_nat
    assert parsed.type_code == "11488-4" and parsed.class_code == "10"
    assert parsed.visibility == {Visibility.MASQUE_PS}
    assert parsed.title == "Consultation du jour"
    assert parsed.data == PDF and parsed.sha1 == hashlib.sha1(PDF).hexdigest()


def test_tre_a05_types_use_their_own_system() -> None:
    bundle = transaction_bundle([document(type_code="PRESC-KINE")])
    (ref,) = resources(bundle, "DocumentReference")
    assert ref["type"]["coding"][0]["system"] == TRE_A05_SYSTEM
    klass = terminology().types["PRESC-KINE"].class_code
    assert ref["category"][0]["coding"][0]["code"] == klass


def test_no_label_means_the_normal_confidentiality() -> None:
    assert security_labels(()) == [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                    "code": "N",
                    "display": "normal",
                }
            ]
        }
    ]


def test_same_inputs_same_bytes_and_ids_come_from_the_master_id() -> None:
    assert bundle_bytes([document()]) == bundle_bytes([document()])
    other = bundle_bytes([document("urn:uuid:9e9e9e9e-0000-4000-8000-000000000009")])
    assert other != bundle_bytes([document()])
    assert len(set(bundle_ids("urn:uuid:a"))) == 3
    assert bundle_ids("urn:uuid:a") != bundle_ids("urn:uuid:b")
    assert b'"date"' not in bundle_bytes([document()])  # nothing from the clock


def test_a_precomputed_sha1_is_used() -> None:
    doc = document()
    given = DepositDocument(
        doc.master_id, doc.metadata, doc.author, doc.kind, doc.data,
        sha1=hashlib.sha1(PDF).hexdigest(),
    )  # fmt: skip
    assert bundle_bytes([given]) == bundle_bytes([doc])


@pytest.mark.parametrize(
    ("docs", "error"),
    [
        ([], ValueError),
        ([document(), document("urn:uuid:2", nir=OTHER_NIR)], ValueError),
        ([document(), document()], ValueError),
        ([document(type_code="nope")], UnknownDocumentTypeError),
    ],
)
def test_bad_submissions_are_refused(docs: list[DepositDocument], error: type[Exception]) -> None:
    with pytest.raises(error):
        transaction_bundle(docs)


def test_update_patches() -> None:
    masked = frozenset({Visibility.MASQUE_PS, Visibility.INVISIBLE_PATIENT})
    assert update_patch(UpdateAction.DELETE, masked) == [
        {"op": "replace", "path": "/status", "value": "entered-in-error"}
    ]

    def codes(ops: list[dict[str, Any]]) -> list[str]:
        (op,) = ops
        assert (op["op"], op["path"]) == ("replace", "/securityLabel")
        return [label["coding"][0]["code"] for label in op["value"]]

    assert codes(update_patch(UpdateAction.UNMASK, masked)) == ["INVISIBLE_PATIENT"]
    assert codes(update_patch(UpdateAction.SHOW_TO_PATIENT, masked)) == ["MASQUE_PS"]
    assert codes(update_patch(UpdateAction.MASK, frozenset())) == ["MASQUE_PS"]
    assert codes(update_patch(UpdateAction.HIDE_FROM_PATIENT, frozenset())) == ["INVISIBLE_PATIENT"]
    assert codes(update_patch(UpdateAction.SHOW_TO_PATIENT, frozenset())) == ["N"]
    with pytest.raises(ValueError):
        update_patch(UpdateAction.REPLACE, frozenset())


# -- the receipt ----------------------------------------------------------------------------------

RESPONSE = {
    "resourceType": "Bundle",
    "type": "transaction-response",
    "entry": [
        {"response": {"status": "201 Created", "location": "List/sub1"}},
        {
            "response": {
                "status": "201 Created",
                "location": "http://127.0.0.1:8470/DocumentReference/doc1/_history/1",
                "lastModified": "2026-01-15T09:00:00+00:00",
            }
        },
        {"response": {"status": "201 Created", "location": "Binary/doc1"}},
    ],
}


def test_the_receipt_is_read_from_the_transaction_response() -> None:
    validate(RESPONSE)
    receipt = receipt_from_response(RESPONSE, replayed=True)
    assert (receipt.list_id, receipt.document_ids, receipt.replayed) == ("sub1", ("doc1",), True)
    assert receipt.deposited_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(resourceType="OperationOutcome"),
        lambda b: b.update(type="batch-response"),
        lambda b: b.update(entry="x"),
        lambda b: b["entry"].pop(1),
        lambda b: b["entry"][1]["response"].update(status="400 Bad Request"),
        lambda b: b["entry"][0].update(response=None),
    ],
)
def test_a_malformed_receipt_is_a_protocol_error(mutate: Callable[[dict[str, Any]], Any]) -> None:
    body = copy.deepcopy(RESPONSE)
    mutate(body)
    with pytest.raises(ProtocolError):
        receipt_from_response(body)


# -- the gateway ----------------------------------------------------------------------------------


def gateway(handler: Callable[[httpx.Request], httpx.Response]) -> HttpDmpGateway:
    return HttpDmpGateway("http://dmp.test/base", transport=httpx.MockTransport(handler))


def outcome(status: int, reason: str, text: str = "refus") -> httpx.Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "x", "diagnostics": text,
             "details": {"coding": [{"code": reason}]}}
        ],
    }  # fmt: skip
    return httpx.Response(status, json=body)


@pytest.mark.asyncio
async def test_deposit_sends_the_exact_bytes_once() -> None:
    seen: list[httpx.Request] = []
    payload = bundle_bytes([document()])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=RESPONSE, headers={"X-Sandbox-Replay": "true"})

    async with gateway(handler) as gw:
        receipt = await gw.deposit(LOGIN, payload)
    (request,) = seen
    assert request.method == "POST" and request.url.path == "/base/"
    assert request.content == payload
    assert request.headers["content-type"] == "application/fhir+json"
    assert request.headers["authorization"] == "Bearer tok-123"
    assert receipt.document_id == "doc1" and receipt.replayed


@pytest.mark.asyncio
async def test_deposit_errors_are_mapped_and_never_retried() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}, json={}),
            httpx.Response(503),
            outcome(403, "not_same_structure"),
            outcome(422, "future_date"),
            httpx.Response(200, content=b"not json"),
        ]
    )
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return next(answers)

    async with gateway(handler) as gw:
        with pytest.raises(RetryableServerError) as throttled:
            await gw.deposit(LOGIN, b"{}")
        assert throttled.value.status == 429 and throttled.value.retry_after == 3.0
        with pytest.raises(RetryableServerError) as unavailable:
            await gw.deposit(LOGIN, b"{}")
        assert unavailable.value.retry_after is None
        with pytest.raises(ForbiddenError) as forbidden:
            await gw.deposit(LOGIN, b"{}")
        assert forbidden.value.reason == "not_same_structure"
        with pytest.raises(ServerError) as invalid:
            await gw.deposit(LOGIN, b"{}")
        assert invalid.value.status == 422 and not isinstance(invalid.value, RetryableServerError)
        with pytest.raises(ProtocolError):
            await gw.deposit(LOGIN, b"{}")
    assert calls == 5


@pytest.mark.asyncio
async def test_deposit_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with gateway(handler) as gw:
        with pytest.raises(NetworkError):
            await gw.deposit(LOGIN, b"{}")


@pytest.mark.asyncio
async def test_patch_document_sends_a_json_patch_and_reads_the_document() -> None:
    (ref,) = resources(transaction_bundle([document()]), "DocumentReference")
    answer = {**ref, "id": "doc1", "date": "2026-01-15T09:00:00+00:00"}
    answer["securityLabel"] = security_labels({Visibility.MASQUE_PS})
    answer["content"][0]["attachment"]["url"] = "http://dmp.test/base/Binary/doc1"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    ops = update_patch(UpdateAction.MASK, frozenset())
    async with gateway(handler) as gw:
        updated = await gw.patch_document(LOGIN, "doc 1", ops)
    (request,) = seen
    assert request.method == "PATCH" and request.url.raw_path == b"/base/DocumentReference/doc%201"
    assert request.headers["content-type"] == "application/json-patch+json"
    assert json.loads(request.content) == ops
    assert updated.id == "doc1" and updated.masked and updated.status is DocStatus.CURRENT
    assert document_from_fhir(answer) == updated


@pytest.mark.asyncio
async def test_patch_refusal_keeps_its_reason() -> None:
    async with gateway(lambda r: outcome(403, "not_author", "Seul l'auteur…")) as gw:
        with pytest.raises(ForbiddenError) as refused:
            await gw.patch_document(LOGIN, "doc1", [])
    assert refused.value.reason == "not_author"


@pytest.mark.asyncio
async def test_whoami_actor_gives_the_structure() -> None:
    who = {
        "id_nat": "1997000456/SEC0042", "name": "Nadia MERCIER", "family_name": "MERCIER",
        "given_name": "Nadia", "profession": "SECRETARIAT_MEDICAL", "specialty": None,
        "structure": {"id": "1997000456", "name": "Centre hospitalier de Saint-Martin"},
        "role": "secretary",
    }  # fmt: skip
    login = ProfessionalLogin("1997000456/SEC0042", "Nadia MERCIER", "SECRETARIAT_MEDICAL", "t",
                              datetime.now(UTC))  # fmt: skip
    async with gateway(lambda r: httpx.Response(200, json=who)) as gw:
        actor = await gw.whoami_actor(login)
        assert actor.is_secretary and actor.structure_id == "1997000456"
        assert actor.display_name == "Nadia MERCIER" and actor.specialty is None
        with pytest.raises(ProtocolError):
            await gw.whoami_actor(LOGIN)  # another person's answer
