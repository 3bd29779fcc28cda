"""console.dmp.client.HttpDmpGateway over httpx.MockTransport: wire format, paging, errors,
retries, and where the bearer token may go."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from console.dmp import DocumentPage, HttpDmpGateway
from console.domain.dossier import AccessGrant, DocumentQuery, PatientRecord, ProfessionalLogin
from console.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    ServerError,
)
from console.domain.ins import INS, INS_NIR_SYSTEM
from console.domain.models import AccessMode, DocumentMeta
from console.domain.rules import AccessRequest
from console.domain.session import EcpsRefreshRefusedError, EcpsRequest
from console.services.ports import DmpGateway
from sandbox import fhir
from sandbox.errors import operation_outcome

BASE = "http://dmp.test:8470"
INS_VALUE = "255081416802538"
PATIENT_INS = INS(INS_NIR_SYSTEM, INS_VALUE)
PRO_TOKEN = "pro-token-SECRET"
PATIENT_TOKEN = "patient-token-SECRET"
PDF = b"%PDF-1.4\n% fictitious\n"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that records requests and answers from a route table."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def params(self, i: int = -1) -> list[tuple[str, str]]:
        return parse_qsl(self.requests[i].url.query.decode(), keep_blank_values=True)


def gateway_for(
    handler: Handler, base: str = BASE, **kwargs: Any
) -> tuple[HttpDmpGateway, Recorder, list[float]]:
    recorder = Recorder(handler)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    gw = HttpDmpGateway(base, transport=httpx.MockTransport(recorder), sleep=sleep, **kwargs)
    return gw, recorder, slept


def fhir_json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/fhir+json", **(headers or {})},
    )


def outcome(status: int, text: str, reason: str | None = None, **headers: str) -> httpx.Response:
    """An OperationOutcome answer; ``Retry_After="2"`` sends a ``Retry-After`` header."""
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    return fhir_json(operation_outcome(status, text, details=reason), status, sent)


def login() -> ProfessionalLogin:
    return ProfessionalLogin(
        "899700000011", "Claire MARTIN", "10", PRO_TOKEN, datetime.now(UTC) + timedelta(hours=8)
    )


def patient() -> PatientRecord:
    return PatientRecord(PATIENT_INS, "DELAUNAY", "Virginie", date(1963, 4, 2), "female")


def grant(mode: AccessMode = AccessMode.NORMAL) -> AccessGrant:
    return AccessGrant(patient(), mode, PATIENT_TOKEN, datetime.now(UTC) + timedelta(hours=1))


def make_doc(i: int, **changes: Any) -> DocumentMeta:
    fields: dict[str, Any] = {
        "id": f"doc{i:04d}",
        "master_id": f"urn:oid:1.2.250.1.999.1.1.{i}",
        "patient_ins": INS_VALUE,
        "type_code": "11488-4",
        "class_code": "10",
        "title": f"CR {i}",
        "author_id_nat": "899700000011",
        "created": datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i),
        "deposited": datetime(2024, 1, 2, tzinfo=UTC) + timedelta(days=i),
        "size": len(PDF),
        "sha1": hashlib.sha1(PDF).hexdigest(),
    }
    fields.update(changes)
    return DocumentMeta(**fields)


def doc_bundle(
    docs: list[DocumentMeta], total: int | None, next_url: str | None = None
) -> dict[str, Any]:
    entries = [
        (
            f"{BASE}/DocumentReference/{d.id}",
            fhir.document_reference(d, base_url=BASE, patient_system=INS_NIR_SYSTEM),
        )
        for d in docs
    ]
    bundle = fhir.searchset(entries, total=total or 0, self_url=f"{BASE}/x", next_url=next_url)
    if total is None:
        del bundle["total"]
    return bundle


def bearer(request: httpx.Request) -> str | None:
    value: str | None = request.headers.get("authorization")
    return value


# -- construction ----------------------------------------------------------------------------------
def test_the_gateway_implements_the_port() -> None:
    gateway: DmpGateway = HttpDmpGateway(BASE)  # checked by mypy
    assert gateway.server_label == "dmp.test:8470"
    assert HttpDmpGateway("https://dmp.example.fr/api/").server_label == "dmp.example.fr:443"
    assert HttpDmpGateway("http://127.0.0.1").server_label == "127.0.0.1:80"


@pytest.mark.parametrize("bad", ["dmp.test", "ftp://dmp.test", "http://dmp.test/?a=1", "/x"])
def test_base_url_must_be_an_absolute_http_url(bad: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        HttpDmpGateway(bad)


def test_client_and_transport_are_exclusive() -> None:
    with pytest.raises(ValueError, match="either"):
        HttpDmpGateway(BASE, client=httpx.AsyncClient(), transport=httpx.MockTransport(auth_server))


@pytest.mark.asyncio
async def test_aclose_closes_only_an_owned_client() -> None:
    own, _, _ = gateway_for(lambda r: httpx.Response(200))
    await own.aclose()
    assert own._client.is_closed
    given = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    async with HttpDmpGateway(BASE, client=given):
        pass
    assert not given.is_closed
    await given.aclose()


# -- authentication --------------------------------------------------------------------------------
def auth_server(request: httpx.Request) -> httpx.Response:
    match request.method, request.url.path:
        case "POST", "/auth/challenge":
            return httpx.Response(200, json={"nonce": "n0nce", "expires_in": 120})
        case "POST", "/auth/card":
            return httpx.Response(
                200, json={"access_token": PRO_TOKEN, "token_type": "Bearer", "expires_in": 28800}
            )
        case "GET", "/auth/whoami":
            assert bearer(request) == f"Bearer {PRO_TOKEN}"
            return httpx.Response(
                200,
                json={
                    "id_nat": "899700000011",
                    "name": "Claire MARTIN",
                    "profession": "10",
                    "profession_label": "Médecin",
                    "token_kind": "professional",
                    "expires_at": "2030-01-01T08:00:00+00:00",
                },
            )
    return outcome(404, "Ressource ou point d'accès inconnu.")


@pytest.mark.asyncio
async def test_challenge_and_card_login() -> None:
    gw, rec, _ = gateway_for(auth_server)
    nonce = await gw.challenge()
    assert nonce == "n0nce"
    who = await gw.login_with_card(b"\x30\x82DER", nonce, b"\x01sig", "PS256")
    assert who == ProfessionalLogin(
        "899700000011",
        "Claire MARTIN",
        "10",
        PRO_TOKEN,
        datetime(2030, 1, 1, 8, tzinfo=UTC),
    )
    assert PRO_TOKEN not in repr(who)
    card = rec.requests[1]
    assert (card.method, card.url.path) == ("POST", "/auth/card")
    assert "authorization" not in card.headers
    assert json.loads(card.content) == {
        "certificate": base64.b64encode(b"\x30\x82DER").decode(),
        "nonce": "n0nce",
        "signature": base64.b64encode(b"\x01sig").decode(),
        "algorithm": "PS256",
    }
    assert [r.url.path for r in rec.requests] == ["/auth/challenge", "/auth/card", "/auth/whoami"]


@pytest.mark.asyncio
async def test_card_refused_is_an_authentication_error() -> None:
    gw, rec, _ = gateway_for(
        lambda r: outcome(401, "La signature du défi ne correspond pas.", "bad_signature")
    )
    with pytest.raises(AuthenticationError) as caught:
        await gw.login_with_card(b"der", "n", b"s", "RS256")
    assert (caught.value.status, caught.value.reason) == (401, "bad_signature")
    assert str(caught.value) == "La signature du défi ne correspond pas."
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"token_type": "Bearer", "expires_in": 10},
        {"access_token": "", "expires_in": 10},
        {"access_token": "t", "expires_in": "10"},
        {"access_token": "t", "expires_in": True},
    ],
)
@pytest.mark.asyncio
async def test_incomplete_token_answer_is_a_protocol_error(answer: dict[str, Any]) -> None:
    gw, _, _ = gateway_for(lambda r: httpx.Response(200, json=answer))
    with pytest.raises(ProtocolError, match="/auth/card"):
        await gw.login_with_card(b"der", "n", b"s", "RS256")


@pytest.mark.asyncio
async def test_challenge_without_nonce_is_a_protocol_error() -> None:
    gw, _, _ = gateway_for(lambda r: httpx.Response(200, json={"expires_in": 1}))
    with pytest.raises(ProtocolError, match="nonce"):
        await gw.challenge()


# -- e-CPS refresh ---------------------------------------------------------------------------------
REFRESH_0 = "refresh-0-SECRET"
REFRESH_1 = "refresh-1-SECRET"


def ecps_server(*, rotate: bool = True) -> Handler:
    """The CIBA token endpoint (approved at once) and its refresh grant, then whoami."""

    def handle(request: httpx.Request) -> httpx.Response:
        if (request.method, request.url.path) != ("POST", "/auth/token"):
            return auth_server(request)
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        form = dict(parse_qsl(request.content.decode()))
        answer: dict[str, Any] = {"access_token": PRO_TOKEN, "token_type": "Bearer"}
        answer["expires_in"] = 28800
        if form["grant_type"] == "urn:openid:params:grant-type:ciba":
            return httpx.Response(200, json={**answer, "refresh_token": REFRESH_0})
        assert form["grant_type"] == "refresh_token"
        if form["refresh_token"] != REFRESH_0:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Jeton déjà utilisé."}
            )
        return httpx.Response(
            200, json={**answer, "refresh_token": REFRESH_1} if rotate else answer
        )

    return handle


def ecps_request() -> EcpsRequest:
    expires = datetime.now(UTC) + timedelta(minutes=2)
    return EcpsRequest("req-SECRET", "899700000011", "K7QX", expires, 2.0)


@pytest.mark.asyncio
async def test_ecps_login_keeps_its_refresh_token_and_refresh_rotates_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw, rec, _ = gateway_for(ecps_server())
    with caplog.at_level(logging.DEBUG, logger="console.dmp"):
        first = await gw.poll_ecps(ecps_request())
        assert isinstance(first, ProfessionalLogin)
        assert first.refresh_token == REFRESH_0
        renewed = await gw.refresh_ecps(first)
    assert (renewed.id_nat, renewed.token, renewed.refresh_token) == (
        "899700000011",
        PRO_TOKEN,
        REFRESH_1,
    )
    refresh = rec.requests[2]
    assert (refresh.method, refresh.url.path) == ("POST", "/auth/token")
    assert "authorization" not in refresh.headers
    assert dict(parse_qsl(refresh.content.decode())) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_0,
    }
    assert rec.requests[3].url.path == "/auth/whoami"
    for secret in (REFRESH_0, REFRESH_1, PRO_TOKEN):
        assert secret not in caplog.text
        assert secret not in repr(first) + repr(renewed)


@pytest.mark.asyncio
async def test_a_refresh_answer_without_a_refresh_token_keeps_the_current_one() -> None:
    gw, _, _ = gateway_for(ecps_server(rotate=False))
    first = await gw.poll_ecps(ecps_request())
    assert isinstance(first, ProfessionalLogin)
    assert (await gw.refresh_ecps(first)).refresh_token == REFRESH_0


@pytest.mark.asyncio
async def test_a_refused_refresh_token_asks_for_the_phone() -> None:
    gw, rec, _ = gateway_for(ecps_server())
    used = dataclasses.replace(login(), refresh_token="used-SECRET")
    with pytest.raises(EcpsRefreshRefusedError, match="téléphone") as caught:
        await gw.refresh_ecps(used)
    assert caught.value.reason == "invalid_grant"
    with pytest.raises(EcpsRefreshRefusedError):  # a card login has none: nothing is sent
        await gw.refresh_ecps(login())
    assert len(rec.requests) == 1


@pytest.mark.asyncio
async def test_other_refresh_failures_are_left_to_retry() -> None:
    gw, _, _ = gateway_for(lambda r: outcome(503, "Indisponible."))
    with pytest.raises(ServerError) as caught:
        await gw.refresh_ecps(dataclasses.replace(login(), refresh_token=REFRESH_0))
    assert not isinstance(caught.value, EcpsRefreshRefusedError)
    bad, _, _ = gateway_for(
        lambda r: httpx.Response(
            200, json={"access_token": "t", "expires_in": 1, "refresh_token": 3}
        )
    )
    with pytest.raises(ProtocolError, match="refresh_token"):
        await bad.refresh_ecps(dataclasses.replace(login(), refresh_token=REFRESH_0))


# -- patient and access ----------------------------------------------------------------------------
def patient_server(found: bool) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        row = {
            "ins": INS_VALUE,
            "ins_system": INS_NIR_SYSTEM,
            "family_name": "DELAUNAY",
            "given_names": "Virginie",
            "gender": "female",
            "birth_date": "1963-04-02",
            "address_city": None,
        }
        entries = [(f"{BASE}/Patient/{INS_VALUE}", fhir.patient(row))] if found else []
        return fhir_json(fhir.searchset(entries, total=len(entries), self_url=BASE))

    return handle


@pytest.mark.asyncio
async def test_find_patient() -> None:
    gw, rec, _ = gateway_for(patient_server(True))
    record = await gw.find_patient(login(), PATIENT_INS)
    assert record == patient()
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("GET", "/Patient")
    assert rec.params() == [("identifier", f"{INS_NIR_SYSTEM}|{INS_VALUE}")]
    assert bearer(request) == f"Bearer {PRO_TOKEN}"


@pytest.mark.asyncio
async def test_find_unknown_patient_is_none() -> None:
    gw, _, _ = gateway_for(patient_server(False))
    assert await gw.find_patient(login(), PATIENT_INS) is None


@pytest.mark.asyncio
async def test_find_patient_answering_another_ins_is_a_protocol_error() -> None:
    gw, _, _ = gateway_for(patient_server(True))
    other = INS.parse("155066926496190")
    with pytest.raises(ProtocolError, match="INS"):
        await gw.find_patient(login(), other)


def access_server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/auth/access/end":
        return httpx.Response(200, json={"episode_id": "ep1", "already_ended": False})
    body = json.loads(request.content)
    return httpx.Response(
        200,
        json={
            "access_token": PATIENT_TOKEN,
            "token_type": "Bearer",
            "expires_in": 3600,
            "mode": body["mode"],
            "episode_id": "ep1",
            "ends_at": "2030-01-01T09:00:00+00:00",
            "patient": body["patient"],
        },
    )


@pytest.mark.parametrize(
    ("request_", "expected_body"),
    [
        (AccessRequest(), {"mode": "normal"}),
        (AccessRequest(consent_method="oral"), {"mode": "normal", "consent": {"method": "oral"}}),
        (
            AccessRequest(AccessMode.BRIS_DE_GLACE, "URGENCE_VITALE", "Patient inconscient"),
            {
                "mode": "bris_de_glace",
                "reason_code": "URGENCE_VITALE",
                "justification": "Patient inconscient",
            },
        ),
        (AccessRequest(AccessMode.CENTRE_15), {"mode": "centre_15"}),
    ],
)
@pytest.mark.asyncio
async def test_open_access(request_: AccessRequest, expected_body: dict[str, Any]) -> None:
    gw, rec, _ = gateway_for(access_server)
    opened = await gw.open_access(login(), patient(), request_)
    assert opened == AccessGrant(
        patient(), request_.mode, PATIENT_TOKEN, datetime(2030, 1, 1, 9, tzinfo=UTC), "ep1"
    )
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/auth/access")
    assert bearer(request) == f"Bearer {PRO_TOKEN}"
    assert json.loads(request.content) == {
        "patient": f"{INS_NIR_SYSTEM}|{INS_VALUE}",
        **expected_body,
    }


@pytest.mark.asyncio
async def test_open_access_refused_carries_the_refusal_code() -> None:
    message = "Le professionnel n'est pas autorisé par le patient : recueillez son consentement."
    gw, _, _ = gateway_for(lambda r: outcome(403, message, "no_consent"))
    with pytest.raises(ForbiddenError) as caught:
        await gw.open_access(login(), patient(), AccessRequest())
    assert (str(caught.value), caught.value.status, caught.value.reason) == (
        message,
        403,
        "no_consent",
    )


@pytest.mark.asyncio
async def test_open_access_in_another_mode_than_asked_is_refused() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        answer = access_server(request)
        body = json.loads(answer.content)
        body["mode"] = "bris_de_glace"
        return httpx.Response(200, json=body)

    gw, _, _ = gateway_for(server)
    with pytest.raises(ProtocolError, match="mode"):
        await gw.open_access(login(), patient(), AccessRequest())


@pytest.mark.asyncio
async def test_end_access() -> None:
    gw, rec, _ = gateway_for(access_server)
    await gw.end_access(grant(), "patient_closed")
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("POST", "/auth/access/end")
    assert bearer(request) == f"Bearer {PATIENT_TOKEN}"
    assert json.loads(request.content) == {"reason": "patient_closed"}


# -- document search -------------------------------------------------------------------------------
def paged_server(docs: list[DocumentMeta], *, next_base: str = BASE, archived: int = 0) -> Handler:
    """Serves ``docs`` in pages of ``_count`` (``_offset`` paging), with ``archived`` more
    documents for ``isArchived=true``."""
    archived_docs = [make_doc(9000 + i, archived=True) for i in range(archived)]

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.url.query.decode()))
        pool = archived_docs if params.get("isArchived") == "true" else docs
        count, offset = int(params["_count"]), int(params.get("_offset", 0))
        page = pool[offset : offset + count]
        nxt = None
        if offset + count < len(pool):
            kept = [(k, v) for k, v in parse_qsl(request.url.query.decode()) if k != "_offset"]
            query = httpx.QueryParams([*kept, ("_offset", str(offset + count))])
            nxt = f"{next_base}/DocumentReference?{query}"
        return fhir_json(doc_bundle(page, len(pool), nxt))

    return handle


async def collect(gw: HttpDmpGateway, query: DocumentQuery) -> list[DocumentPage]:
    return [page async for page in gw.search_documents(grant(), query)]


@pytest.mark.asyncio
async def test_search_follows_next_links_page_by_page() -> None:
    docs = [make_doc(i) for i in range(7)]
    gw, rec, _ = gateway_for(paged_server(docs))
    pages = await collect(gw, DocumentQuery(page_size=3))
    assert [len(p.documents) for p in pages] == [3, 3, 1]
    assert [d for p in pages for d in p.documents] == docs
    assert {p.total for p in pages} == {7}
    assert len(rec.requests) == 3
    assert all(bearer(r) == f"Bearer {PATIENT_TOKEN}" for r in rec.requests)
    assert all(r.url.host == "dmp.test" for r in rec.requests)


@pytest.mark.asyncio
async def test_search_yields_each_page_as_it_arrives() -> None:
    docs = [make_doc(i) for i in range(5)]
    gw, rec, _ = gateway_for(paged_server(docs))
    pages = gw.search_documents(grant(), DocumentQuery(page_size=2))
    first = await anext(pages)
    assert len(first.documents) == 2 and len(rec.requests) == 1
    await pages.aclose()
    assert len(rec.requests) == 1


@pytest.mark.asyncio
async def test_search_parameters() -> None:
    gw, rec, _ = gateway_for(paged_server([]))
    query = DocumentQuery(
        type_codes=("11488-4", "34133-9"),
        class_codes=("10",),
        act_from=date(2023, 1, 1),
        act_to=date(2024, 12, 31),
        deposited_since=datetime(2024, 6, 1, 12, 30, tzinfo=UTC),
        page_size=50,
    )
    pages = await collect(gw, query)
    assert pages == [DocumentPage((), 0)]
    assert rec.params() == [
        ("patient.identifier", f"{INS_NIR_SYSTEM}|{INS_VALUE}"),
        ("status", "current"),
        ("type", "11488-4,34133-9"),
        ("category", "10"),
        ("period-start", "2023-01-01"),
        ("period-end", "2024-12-31"),
        ("date", "ge2024-06-01T12:30:00+00:00"),
        ("_count", "50"),
    ]
    assert b"%2B00%3A00" in rec.requests[0].url.query  # the "+" is encoded


@pytest.mark.asyncio
async def test_default_search_sends_only_patient_status_and_count() -> None:
    gw, rec, _ = gateway_for(paged_server([]))
    await collect(gw, DocumentQuery())
    assert [k for k, _ in rec.params()] == ["patient.identifier", "status", "_count"]


@pytest.mark.asyncio
async def test_naive_deposit_date_is_read_as_utc() -> None:
    gw, rec, _ = gateway_for(paged_server([]))
    await collect(gw, DocumentQuery(deposited_since=datetime(2024, 6, 1)))
    assert ("date", "ge2024-06-01T00:00:00+00:00") in rec.params()


@pytest.mark.asyncio
async def test_include_archived_adds_the_archived_search() -> None:
    docs = [make_doc(i) for i in range(3)]
    gw, rec, _ = gateway_for(paged_server(docs, archived=3))
    pages = await collect(gw, DocumentQuery(include_archived=True, page_size=2))
    found = [d for p in pages for d in p.documents]
    assert [d.archived for d in found] == [False] * 3 + [True] * 3
    assert {p.total for p in pages} == {6}
    archived_requests = [r for r in rec.requests if b"isArchived=true" in r.url.query]
    assert len(archived_requests) == 2


@pytest.mark.asyncio
async def test_unknown_total_stays_unknown() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return fhir_json(doc_bundle([make_doc(1)], None))

    gw, _, _ = gateway_for(server)
    assert [p.total for p in await collect(gw, DocumentQuery())] == [None]


@pytest.mark.parametrize(
    "next_base",
    [
        "http://evil.test:8470",
        "http://dmp.test:8471",
        "https://dmp.test:8470",
        "http://dmp.test.evil.test:8470",
        "//evil.test",
    ],
)
@pytest.mark.asyncio
async def test_next_link_to_another_origin_is_refused(next_base: str) -> None:
    docs = [make_doc(i) for i in range(4)]
    gw, rec, _ = gateway_for(paged_server(docs, next_base=next_base))
    pages = gw.search_documents(grant(), DocumentQuery(page_size=2))
    first = await anext(pages)
    assert len(first.documents) == 2
    with pytest.raises(ProtocolError, match="autre adresse"):
        await anext(pages)
    assert [r.url.host for r in rec.requests] == ["dmp.test"]


@pytest.mark.asyncio
async def test_relative_next_link_is_resolved_on_the_base() -> None:
    docs = [make_doc(i) for i in range(3)]
    gw, rec, _ = gateway_for(paged_server(docs, next_base=""))
    pages = await collect(gw, DocumentQuery(page_size=2))
    assert sum(len(p.documents) for p in pages) == 3
    assert str(rec.requests[1].url).startswith(f"{BASE}/DocumentReference?")


@pytest.mark.asyncio
async def test_base_path_prefix_is_kept_and_enforced_for_links() -> None:
    base = "https://dmp.example.fr/fhir"
    docs = [make_doc(i) for i in range(3)]
    gw, rec, _ = gateway_for(paged_server(docs, next_base=base), base=base)
    pages = await collect(gw, DocumentQuery(page_size=2))
    assert sum(len(p.documents) for p in pages) == 3
    assert [r.url.path for r in rec.requests] == ["/fhir/DocumentReference"] * 2
    gw2, rec2, _ = gateway_for(
        paged_server(docs, next_base="https://dmp.example.fr/other"), base=base
    )
    with pytest.raises(ProtocolError):
        await collect(gw2, DocumentQuery(page_size=2))
    assert len(rec2.requests) == 1


@pytest.mark.asyncio
async def test_a_paging_loop_is_a_protocol_error() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return fhir_json(doc_bundle([make_doc(1)], 5, f"{BASE}/DocumentReference?_offset=1"))

    gw, rec, _ = gateway_for(server)
    with pytest.raises(ProtocolError, match="déjà lue"):
        await collect(gw, DocumentQuery())
    assert len(rec.requests) == 2  # the page that links to itself is not asked again


@pytest.mark.asyncio
async def test_a_document_of_another_patient_is_a_protocol_error() -> None:
    other = make_doc(1, patient_ins="155066926496190")
    gw, _, _ = gateway_for(lambda r: fhir_json(doc_bundle([other], 1)))
    with pytest.raises(ProtocolError, match="autre patient"):
        await collect(gw, DocumentQuery())


# -- retrieve --------------------------------------------------------------------------------------
def binary_server(body: bytes = PDF, *, as_fhir: bool = False) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if as_fhir:
            return fhir_json(fhir.binary("doc0001", "application/pdf", body))
        return httpx.Response(200, content=body, headers={"content-type": "application/pdf"})

    return handle


@pytest.mark.asyncio
async def test_retrieve_raw_body() -> None:
    gw, rec, _ = gateway_for(binary_server())
    assert await gw.retrieve(grant(), make_doc(1)) == PDF
    (request,) = rec.requests
    assert (request.method, request.url.path) == ("GET", "/Binary/doc0001")
    assert request.headers["accept"].startswith("application/pdf")
    assert bearer(request) == f"Bearer {PATIENT_TOKEN}"


@pytest.mark.asyncio
async def test_retrieve_binary_resource() -> None:
    gw, _, _ = gateway_for(binary_server(as_fhir=True))
    assert await gw.retrieve(grant(), make_doc(1)) == PDF


@pytest.mark.asyncio
async def test_retrieve_checks_the_sha1_and_size() -> None:
    gw, _, _ = gateway_for(binary_server(PDF + b"tampered"))
    with pytest.raises(ProtocolError, match="SHA-1"):
        await gw.retrieve(grant(), make_doc(1))
    with pytest.raises(ProtocolError, match="taille"):
        await gw.retrieve(grant(), make_doc(1, sha1=""))
    assert await gw.retrieve(grant(), make_doc(1, sha1="", size=0)) == PDF + b"tampered"


@pytest.mark.asyncio
async def test_retrieve_quotes_the_id_in_the_path() -> None:
    gw, rec, _ = gateway_for(binary_server())
    await gw.retrieve(grant(), make_doc(1, id="../auth/whoami", sha1="", size=0))
    assert rec.requests[0].url.raw_path == b"/Binary/..%2Fauth%2Fwhoami"


# -- error mapping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (400, "param", ServerError),
        (401, "expired_token", AuthenticationError),
        (403, "matrix", ForbiddenError),
        (404, "not_found", NotFoundError),
        (409, "duplicate", ServerError),
        (410, "not_current", ServerError),
        (413, None, ServerError),
        (415, "unsupported_media_type", ServerError),
        (422, "invalid_ins", ServerError),
        (429, None, ServerError),
        (500, None, ServerError),
        (502, None, ServerError),
        (503, "no_test_ca", ServerError),
    ],
)
@pytest.mark.asyncio
async def test_error_statuses(status: int, reason: str | None, error: type[ServerError]) -> None:
    text = f"Message du serveur {status}."
    gw, rec, _ = gateway_for(lambda r: outcome(status, text, reason), max_retries=0)
    with pytest.raises(error) as caught:
        await gw.retrieve(grant(), make_doc(1))
    assert type(caught.value) is error
    assert (str(caught.value), caught.value.status, caught.value.reason) == (text, status, reason)
    assert len(rec.requests) == 1


@pytest.mark.asyncio
async def test_error_without_operation_outcome_has_a_french_message() -> None:
    gw, _, _ = gateway_for(lambda r: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as caught:
        await gw.challenge()
    assert caught.value.status == 502 and caught.value.reason is None
    assert "Passerelle" in str(caught.value)
    assert "<html>" not in str(caught.value)


@pytest.mark.asyncio
async def test_oauth_error_answer() -> None:
    body = {"error": "invalid_grant", "error_description": "auth_req_id inconnu."}
    gw, _, _ = gateway_for(lambda r: httpx.Response(400, json=body))
    with pytest.raises(ServerError) as caught:
        await gw.challenge()
    assert (str(caught.value), caught.value.reason) == ("auth_req_id inconnu.", "invalid_grant")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>portail captif</html>"),
        httpx.Response(200, content=b"\xff\xfe\x00garbage"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"resourceType": "OperationOutcome", "issue": []}),
    ],
)
@pytest.mark.asyncio
async def test_unreadable_success_answers_are_protocol_errors(response: httpx.Response) -> None:
    gw, _, _ = gateway_for(lambda r: response)
    with pytest.raises(ProtocolError) as caught:
        await gw.find_patient(login(), PATIENT_INS)
    assert "portail" not in str(caught.value) and "garbage" not in str(caught.value)
    assert INS_VALUE not in str(caught.value)


@pytest.mark.asyncio
async def test_redirects_are_not_followed() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://evil.test/steal"})

    gw, rec, _ = gateway_for(server)
    with pytest.raises(ProtocolError, match="redirection"):
        await gw.find_patient(login(), PATIENT_INS)
    assert [r.url.host for r in rec.requests] == ["dmp.test"]


# -- retries ---------------------------------------------------------------------------------------
def flaky(failures: list[httpx.Response], then: Handler) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return failures.pop(0) if failures else then(request)

    return handle


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.asyncio
async def test_get_honours_retry_after(status: int) -> None:
    failures = [outcome(status, "Plus tard.", Retry_After="2")]
    gw, rec, slept = gateway_for(flaky(failures, patient_server(True)))
    assert await gw.find_patient(login(), PATIENT_INS) == patient()
    assert slept == [2.0]
    assert len(rec.requests) == 2


@pytest.mark.asyncio
async def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    failures = [outcome(503, "Plus tard.", Retry_After=when)]
    gw, _, slept = gateway_for(flaky(failures, patient_server(True)))
    await gw.find_patient(login(), PATIENT_INS)
    assert len(slept) == 1 and 1.0 < slept[0] <= 3.0


@pytest.mark.asyncio
async def test_retries_are_bounded() -> None:
    failures = [outcome(429, "Trop de requêtes.", Retry_After="1") for _ in range(5)]
    gw, rec, slept = gateway_for(flaky(failures, patient_server(True)))
    with pytest.raises(ServerError) as caught:
        await gw.find_patient(login(), PATIENT_INS)
    assert caught.value.status == 429
    assert slept == [1.0, 1.0]
    assert len(rec.requests) == 3


@pytest.mark.asyncio
async def test_a_long_retry_after_is_not_waited() -> None:
    failures = [outcome(503, "Maintenance.", Retry_After="3600")]
    gw, rec, slept = gateway_for(flaky(failures, patient_server(True)))
    with pytest.raises(ServerError, match="Maintenance"):
        await gw.find_patient(login(), PATIENT_INS)
    assert slept == [] and len(rec.requests) == 1


@pytest.mark.asyncio
async def test_without_retry_after_a_short_backoff() -> None:
    failures = [outcome(503, "x"), outcome(503, "x")]
    gw, _, slept = gateway_for(flaky(failures, patient_server(True)))
    await gw.find_patient(login(), PATIENT_INS)
    assert slept == [1.0, 2.0]


@pytest.mark.asyncio
async def test_paging_requests_are_retried_too() -> None:
    docs = [make_doc(i) for i in range(4)]
    pages_server = paged_server(docs)
    calls = {"n": 0}

    def server(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 2:
            return outcome(429, "x", Retry_After="1")
        return pages_server(request)

    gw, _, slept = gateway_for(server)
    pages = await collect(gw, DocumentQuery(page_size=2))
    assert sum(len(p.documents) for p in pages) == 4 and slept == [1.0]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.asyncio
async def test_posts_are_never_retried(status: int) -> None:
    failures = [outcome(status, "Plus tard.", Retry_After="1")]
    gw, rec, slept = gateway_for(flaky(failures, access_server))
    with pytest.raises(ServerError) as caught:
        await gw.open_access(login(), patient(), AccessRequest())
    assert caught.value.status == status
    assert slept == [] and len(rec.requests) == 1


# -- network ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (httpx.ReadTimeout("timed out"), "délai"),
        (httpx.ConnectTimeout("timed out"), "délai"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connexion refusée"),
        (httpx.RemoteProtocolError("peer closed"), "interrompue"),
        (httpx.ReadError("reset"), "interrompue"),
    ],
)
@pytest.mark.asyncio
async def test_transport_failures_are_network_errors(exc: Exception, why: str) -> None:
    def server(request: httpx.Request) -> httpx.Response:
        raise exc

    gw, _, slept = gateway_for(server)
    with pytest.raises(NetworkError) as caught:
        await gw.find_patient(login(), PATIENT_INS)
    assert str(caught.value).startswith("Serveur DMP injoignable (dmp.test:8470)")
    assert why in str(caught.value)
    assert caught.value.__cause__ is None  # the httpx error (with the URL) is not chained
    assert slept == []


# -- logging ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_log_has_method_path_status_only(caplog: pytest.LogCaptureFixture) -> None:
    docs = [make_doc(i) for i in range(3)]
    routes: dict[str, Handler] = {
        "/auth/challenge": auth_server,
        "/auth/card": auth_server,
        "/auth/whoami": auth_server,
        "/Patient": patient_server(True),
        "/auth/access": access_server,
        "/DocumentReference": paged_server(docs),
        "/Binary/doc0000": binary_server(),
    }
    gw, _, _ = gateway_for(lambda r: routes[r.url.path](r))
    with caplog.at_level(logging.DEBUG, logger="console.dmp"):
        who = await gw.login_with_card(b"CERT-DER", await gw.challenge(), b"SIG", "RS256")
        record = await gw.find_patient(who, PATIENT_INS)
        assert record is not None
        opened = await gw.open_access(who, record, AccessRequest(consent_method="oral"))
        async for _ in gw.search_documents(opened, DocumentQuery(page_size=2)):
            pass
        await gw.retrieve(opened, docs[0])
    text = caplog.text
    assert "GET /Patient -> 200" in text
    assert "GET /DocumentReference -> 200" in text
    for secret in (
        PRO_TOKEN,
        PATIENT_TOKEN,
        INS_VALUE,
        "n0nce",
        base64.b64encode(b"CERT-DER").decode(),
        base64.b64encode(b"SIG").decode(),
        "DELAUNAY",
        "%PDF",
        "?",
    ):
        assert secret not in text
