"""HttpDmpGateway against the real sandbox (``dmp-sandbox serve``) over loopback HTTP, with the
personas' SoftHSM2 cards: login, patient lookup, access modes, paged search, retrieve, the
server's refusals, its injected faults, and a dead server."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from console.dmp import DocumentPage, HttpDmpGateway
from console.domain.dossier import AccessGrant, DocumentQuery, PatientRecord, ProfessionalLogin
from console.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    NetworkError,
    ServerError,
)
from console.domain.habilitation import habilitation_matrix
from console.domain.ins import INS, nir_key
from console.domain.models import AccessMode, Actor, PatientPolicy
from console.domain.rules import AccessRequest, visible_documents
from sandbox.testcard import sign_with_card
from sandbox.testing import free_port
from tests.integration.conftest import Sandbox

pytestmark = pytest.mark.integration

NURSE_FORBIDDEN = ("51969-4", "ATTEST-RESID", "68599-0")


@pytest_asyncio.fixture
async def gateway(sandbox: Sandbox) -> AsyncIterator[HttpDmpGateway]:
    gw = HttpDmpGateway(sandbox.url, timeout=30.0)
    try:
        yield gw
    finally:
        await gw.aclose()


async def card_login(
    gw: HttpDmpGateway, sandbox: Sandbox, persona_id: str, algorithm: str = "RS256"
) -> ProfessionalLogin:
    """The console's path: challenge from the gateway, signature on the SoftHSM2 card."""
    persona = sandbox.persona(persona_id)
    nonce = await gw.challenge()
    signed = await asyncio.to_thread(
        sign_with_card,
        sandbox.directory,
        persona["token_label"],
        persona["pin"],
        nonce.encode("utf-8"),
        algorithm,
    )
    return await gw.login_with_card(signed.certificate_der, nonce, signed.signature, algorithm)


def ins_of(sandbox: Sandbox, value: str) -> INS:
    return INS(sandbox.patients["ins_system"], value)


async def open_patient(
    gw: HttpDmpGateway,
    sandbox: Sandbox,
    persona_id: str,
    ins: str,
    request: AccessRequest | None = None,
) -> AccessGrant:
    who = await card_login(gw, sandbox, persona_id)
    record = await gw.find_patient(who, ins_of(sandbox, ins))
    assert record is not None
    return await gw.open_access(who, record, request or AccessRequest())


async def all_pages(
    gw: HttpDmpGateway, grant: AccessGrant, query: DocumentQuery
) -> list[DocumentPage]:
    return [page async for page in gw.search_documents(grant, query)]


def actor(sandbox: Sandbox, persona_id: str) -> Actor:
    p = sandbox.persona(persona_id)
    return Actor(
        p["id_nat"],
        p["profession"],
        p["family_name"],
        p["given_name"],
        regulator=p["role"] == "regulator",
    )


def policy(sandbox: Sandbox, ins: str) -> PatientPolicy:
    """What patients.json says of ``ins`` (the sandbox's seed) as the rules need it."""
    pats = sandbox.patients
    ids = {pid: sandbox.persona(pid)["id_nat"] for pid in sandbox.personas}
    care = {ids[pid] for pid, lst in pats["care_team"].items() if ins in lst}
    mt_eq = {ids[pid] for pid, lst in pats["mt_equivalent"].items() if ins in lst}
    blocked = {ids[pats["blocked"]["persona"]]} if pats["blocked"]["ins"] == ins else set()
    return PatientPolicy(
        ins,
        medecin_traitant=ids["gp"] if ins in pats["treated_by_gp"] else None,
        care_team=frozenset(care),
        mt_equivalents=frozenset(mt_eq),
        blocked=frozenset(blocked),
        opposed_bris_de_glace=ins == pats["opposed_bris_de_glace"],
        opposed_centre_15=ins == pats["opposed_centre_15"],
    )


# -- login and patient --------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
@pytest.mark.asyncio
async def test_card_login(gateway: HttpDmpGateway, sandbox: Sandbox, algorithm: str) -> None:
    who = await card_login(gateway, sandbox, "gp", algorithm)
    gp = sandbox.persona("gp")
    assert (who.id_nat, who.profession) == (gp["id_nat"], "10")
    assert who.display_name == f"{gp['given_name']} {gp['family_name']}"
    assert who.expires_at > datetime.now(UTC)
    assert gateway.server_label == sandbox.url.removeprefix("http://")


@pytest.mark.asyncio
async def test_a_nonce_is_single_use(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    persona = sandbox.persona("nurse")
    nonce = await gateway.challenge()
    signed = await asyncio.to_thread(
        sign_with_card, sandbox.directory, persona["token_label"], persona["pin"], nonce.encode()
    )
    await gateway.login_with_card(signed.certificate_der, nonce, signed.signature, "RS256")
    with pytest.raises(AuthenticationError) as caught:
        await gateway.login_with_card(signed.certificate_der, nonce, signed.signature, "RS256")
    assert (caught.value.status, caught.value.reason) == (401, "nonce_reused")


@pytest.mark.asyncio
async def test_a_signature_of_another_nonce_is_refused(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    persona = sandbox.persona("gp")
    nonce = await gateway.challenge()
    signed = await asyncio.to_thread(
        sign_with_card, sandbox.directory, persona["token_label"], persona["pin"], b"other"
    )
    with pytest.raises(AuthenticationError) as caught:
        await gateway.login_with_card(signed.certificate_der, nonce, signed.signature, "RS256")
    assert caught.value.reason == "bad_signature"


@pytest.mark.asyncio
async def test_find_patient(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    who = await card_login(gateway, sandbox, "gp")
    for row in sandbox.patients["all"][:4]:
        record = await gateway.find_patient(who, ins_of(sandbox, row["ins"]))
        assert record == PatientRecord(
            ins_of(sandbox, row["ins"]),
            row["family_name"],
            row["given_names"],
            datetime.fromisoformat(row["birth_date"]).date(),
            row["gender"],
        )
    body = "1991299123456"
    unknown = INS.parse(f"{body}{nir_key(body):02d}")  # a valid NIR of no seeded patient
    assert await gateway.find_patient(who, unknown) is None


# -- search and rules --------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_small_pages_give_the_same_documents_as_one_big_page(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    chronic = sandbox.patients["chronic"]
    grant = await open_patient(gateway, sandbox, "gp", chronic)
    assert grant.mode is AccessMode.NORMAL and grant.episode_id
    (big,) = await all_pages(gateway, grant, DocumentQuery(page_size=1000))
    assert big.total == len(big.documents) > 100
    pages = await all_pages(gateway, grant, DocumentQuery(page_size=37))
    assert len(pages) == math.ceil(len(big.documents) / 37)
    assert {p.total for p in pages} == {big.total}
    assert [d.id for p in pages for d in p.documents] == [d.id for d in big.documents]
    assert all(d.patient_ins == chronic for d in big.documents)
    # the console's own rules agree with what the server listed for the GP
    gp_docs = list(big.documents)
    assert (
        visible_documents(
            actor(sandbox, "gp"), policy(sandbox, chronic), gp_docs, AccessMode.NORMAL
        )
        == gp_docs
    )
    await gateway.end_access(grant, "patient_closed")


@pytest.mark.asyncio
async def test_nurse_sees_exactly_what_the_rules_allow(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    checked_forbidden = refused = 0
    nurse_patients = sandbox.patients["care_team"]["nurse"]
    treated = [ins for ins in nurse_patients if ins in sandbox.patients["treated_by_gp"]]
    assert treated
    matrix = habilitation_matrix()
    for code in NURSE_FORBIDDEN:
        assert not matrix.allows("60", code)
    for ins in treated:
        gp_grant = await open_patient(gateway, sandbox, "gp", ins)
        gp_docs = [
            d
            async for p in gateway.search_documents(gp_grant, DocumentQuery())
            for d in p.documents
        ]
        nurse_grant = await open_patient(gateway, sandbox, "nurse", ins)
        nurse_pages = await all_pages(gateway, nurse_grant, DocumentQuery(page_size=25))
        nurse_docs = [d for p in nurse_pages for d in p.documents]
        assert not {d.type_code for d in nurse_docs} & set(NURSE_FORBIDDEN)
        # The GP (médecin traitant) sees every type but ATTEST-RESID, masked ones included:
        # from her view, the rules give the nurse's.
        expected = visible_documents(
            actor(sandbox, "nurse"), policy(sandbox, ins), gp_docs, AccessMode.NORMAL
        )
        assert sorted(d.id for d in nurse_docs) == sorted(d.id for d in expected)
        assert {p.total for p in nurse_pages} == {len(expected)}
        checked_forbidden += sum(d.type_code in NURSE_FORBIDDEN for d in gp_docs)
        # a forbidden document, asked for directly, is refused to the nurse
        forbidden = next((d for d in gp_docs if d.type_code in NURSE_FORBIDDEN), None)
        if forbidden is not None and not forbidden.masked:
            with pytest.raises(ForbiddenError) as caught:
                await gateway.retrieve(nurse_grant, forbidden)
            assert caught.value.reason == "matrix"
            refused += 1
        await gateway.end_access(gp_grant, "patient_closed")
        await gateway.end_access(nurse_grant, "patient_closed")
    assert checked_forbidden > 0, "the seed has no document a nurse may not read: test is void"
    assert refused > 0


@pytest.mark.asyncio
async def test_search_filters(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    grant = await open_patient(gateway, sandbox, "gp", sandbox.patients["chronic"])
    (everything,) = await all_pages(gateway, grant, DocumentQuery(page_size=1000))
    docs = list(everything.documents)
    some_type = docs[0].type_code
    (by_type,) = await all_pages(
        gateway, grant, DocumentQuery(type_codes=(some_type,), page_size=1000)
    )
    assert [d.id for d in by_type.documents] == [d.id for d in docs if d.type_code == some_type]
    some_class = docs[-1].class_code
    (by_class,) = await all_pages(
        gateway, grant, DocumentQuery(class_codes=(some_class,), page_size=1000)
    )
    assert [d.id for d in by_class.documents] == [d.id for d in docs if d.class_code == some_class]
    acts = sorted(d.created for d in docs)
    start, end = acts[len(acts) // 4].date(), acts[3 * len(acts) // 4].date()
    (by_act,) = await all_pages(
        gateway, grant, DocumentQuery(act_from=start, act_to=end, page_size=1000)
    )
    assert by_act.documents
    assert all(start <= d.created.astimezone(UTC).date() <= end for d in by_act.documents)
    since = sorted(d.deposited for d in docs)[len(docs) // 2]
    (recent,) = await all_pages(
        gateway, grant, DocumentQuery(deposited_since=since, page_size=1000)
    )
    assert sorted(d.id for d in recent.documents) == sorted(
        d.id for d in docs if d.deposited >= since
    )
    pages = await all_pages(gateway, grant, DocumentQuery(include_archived=True, page_size=1000))
    with_archived = [d for p in pages for d in p.documents]
    assert [d for d in with_archived if not d.archived] == docs
    assert all(p.total == len(with_archived) for p in pages)
    await gateway.end_access(grant, "patient_closed")


@pytest.mark.asyncio
async def test_retrieve_a_pdf(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    grant = await open_patient(gateway, sandbox, "gp", sandbox.patients["chronic"])
    docs = [d async for p in gateway.search_documents(grant, DocumentQuery()) for d in p.documents]
    pdf = next(d for d in docs if d.content_type == "application/pdf")
    body = await gateway.retrieve(grant, pdf)
    assert body.startswith(b"%PDF-")
    assert len(body) == pdf.size  # and its SHA-1 was checked by retrieve
    other = next(d for d in docs if d.content_type != "application/pdf")
    assert len(await gateway.retrieve(grant, other)) == other.size
    await gateway.end_access(grant, "patient_closed")


# -- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("persona_id", "which", "request_", "reason"),
    [
        ("emergency", "blocked", AccessRequest(), "blocked"),
        (
            "emergency",
            "blocked",
            AccessRequest(AccessMode.BRIS_DE_GLACE, "URGENCE_VITALE", "Patient inconscient"),
            "blocked",
        ),
        (
            "emergency",
            "opposed_bris_de_glace",
            AccessRequest(AccessMode.BRIS_DE_GLACE, "URGENCE_VITALE", "Patient inconscient"),
            "opposed_bris_de_glace",
        ),
        (
            "regulator",
            "opposed_centre_15",
            AccessRequest(AccessMode.CENTRE_15),
            "opposed_centre_15",
        ),
        ("nurse", "opposed_centre_15", AccessRequest(), "no_consent"),
        ("nurse", "chronic", AccessRequest(AccessMode.CENTRE_15), "not_regulator"),
        ("secretary", "chronic", AccessRequest(), "secretary_no_read"),
    ],
)
@pytest.mark.asyncio
async def test_access_refusals(
    gateway: HttpDmpGateway,
    sandbox: Sandbox,
    persona_id: str,
    which: str,
    request_: AccessRequest,
    reason: str,
) -> None:
    special: Any = sandbox.patients[which]
    ins = special["ins"] if isinstance(special, dict) else special
    who = await card_login(gateway, sandbox, persona_id)
    record = await gateway.find_patient(who, ins_of(sandbox, ins))  # identity: anyone
    assert record is not None
    with pytest.raises(ForbiddenError) as caught:
        await gateway.open_access(who, record, request_)
    assert (caught.value.status, caught.value.reason) == (403, reason)
    assert str(caught.value)  # the server's French explanation


@pytest.mark.asyncio
async def test_bris_de_glace_sees_masked_documents(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    masked = sandbox.patients["with_masked"]
    emergency_request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, "PATIENT_INCONSCIENT", "Patient inconscient aux urgences"
    )
    grant = await open_patient(gateway, sandbox, "emergency", masked["ins"], emergency_request)
    assert grant.mode is AccessMode.BRIS_DE_GLACE
    docs = [d async for p in gateway.search_documents(grant, DocumentQuery()) for d in p.documents]
    seen_masked = {d.id for d in docs if d.masked}
    assert seen_masked and seen_masked <= set(masked["document_ids"])
    await gateway.end_access(grant, "user")


@pytest.mark.asyncio
async def test_an_ended_access_token_is_refused(gateway: HttpDmpGateway, sandbox: Sandbox) -> None:
    grant = await open_patient(gateway, sandbox, "gp", sandbox.patients["treated_by_gp"][1])
    await gateway.end_access(grant, "patient_closed")
    await gateway.end_access(grant, "patient_closed")  # idempotent
    with pytest.raises(AuthenticationError) as caught:
        await all_pages(gateway, grant, DocumentQuery())
    assert caught.value.reason in ("revoked_token", "episode_ended")


@pytest.mark.asyncio
async def test_a_professional_token_cannot_read_documents(
    gateway: HttpDmpGateway, sandbox: Sandbox
) -> None:
    who = await card_login(gateway, sandbox, "gp")
    record = await gateway.find_patient(who, ins_of(sandbox, sandbox.patients["chronic"]))
    assert record is not None
    wrong = AccessGrant(record, AccessMode.NORMAL, who.token, who.expires_at)
    with pytest.raises(ForbiddenError) as caught:
        await all_pages(gateway, wrong, DocumentQuery())
    assert caught.value.reason == "no_access_mode"


# -- faults and network ---------------------------------------------------------------------------
def post_fault(sandbox: Sandbox, **rule: Any) -> None:
    with sandbox.client() as client:
        answer = client.post("/sandbox/faults", json=rule)
        assert answer.status_code in (200, 201), answer.text


def clear_faults(sandbox: Sandbox) -> None:
    with sandbox.client() as client:
        client.delete("/sandbox/faults")


@pytest.mark.asyncio
async def test_retry_after_from_the_server(sandbox: Sandbox) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    async with HttpDmpGateway(sandbox.url, sleep=sleep) as gw:
        who = await card_login(gw, sandbox, "gp")
        try:
            post_fault(sandbox, status=429, count=1, path_prefix="/Patient", retry_after=1)
            record = await gw.find_patient(who, ins_of(sandbox, sandbox.patients["chronic"]))
            assert record is not None and slept == [1.0]
            post_fault(sandbox, status=503, count=1, path_prefix="/auth/access", retry_after=1)
            with pytest.raises(ServerError) as caught:
                await gw.open_access(who, record, AccessRequest())
            assert caught.value.status == 503 and slept == [1.0]  # a POST is never retried
        finally:
            clear_faults(sandbox)


@pytest.mark.asyncio
async def test_a_slow_server_times_out(sandbox: Sandbox) -> None:
    async with HttpDmpGateway(sandbox.url, timeout=0.3) as gw:
        try:
            post_fault(sandbox, status=None, count=1, path_prefix="/auth/challenge", delay_ms=1500)
            with pytest.raises(NetworkError, match="délai"):
                await gw.challenge()
        finally:
            clear_faults(sandbox)


@pytest.mark.asyncio
async def test_a_dead_server_is_a_network_error() -> None:
    async with HttpDmpGateway(f"http://127.0.0.1:{free_port()}", timeout=5.0) as gw:
        with pytest.raises(NetworkError) as caught:
            await gw.challenge()
    assert str(caught.value).startswith("Serveur DMP injoignable (127.0.0.1:")


@pytest.mark.asyncio
async def test_a_shared_client_is_left_open(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        gw = HttpDmpGateway(sandbox.url, client=client)
        assert await gw.challenge()
        await gw.aclose()
        assert not client.is_closed
        assert await HttpDmpGateway(sandbox.url, client=client).challenge()
