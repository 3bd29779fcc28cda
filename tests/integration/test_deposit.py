"""Deposits against the real sandbox (``dmp-sandbox serve`` on loopback) with the personas'
SoftHSM2 cards and real encrypted caches (SQLCipher, key from the card's signature).

- the GP deposits, then reads it back (search + Binary); the outbox and the journal say so;
- a document's life: mask / unmask / show to the patient / replace / delete by its author;
- a nurse cannot mask another professional's document: refused client-side (nothing sent),
  and 403 ``not_author`` from the server when forced;
- the secretary deposits on behalf of the hospital doctor (author) and is recorded as the one
  who entered it (``data-enterer``); a batch with every kind of bad file deposits the good
  ones, exactly once, and nothing of the bad ones; its receipt PDF says so (pypdf);
- with 429 (Retry-After), 503 and delays injected by ``/sandbox/faults``, a batch completes
  exactly once.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from console.dmp import HttpDmpGateway
from console.dmp.bundle import update_patch
from console.domain.deposit import DepositDraft, ItemStatus, Problem
from console.domain.dossier import AccessGrant, DocumentQuery, ProfessionalLogin
from console.domain.errors import ForbiddenError
from console.domain.ins import INS
from console.domain.localtime import to_local
from console.domain.models import DocStatus, DocumentMeta, Visibility
from console.domain.rules import AccessRequest, Refusal, UpdateAction, refusal_message
from console.services.cache import CacheService
from console.services.deposit import (
    BatchDepositService,
    DepositService,
    Doctor,
    PumpStop,
    RetryPolicy,
    UpdateRefusedError,
    write_receipt,
)
from console.smartcard import Pkcs11CardReader, find_softhsm_module
from tests.integration.conftest import Sandbox

pytestmark = pytest.mark.integration

FAST = RetryPolicy(base_s=0.05, cap_s=0.5, max_retry_after_s=2.0)


def make_pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


class PatchCounter:
    """The real gateway, counting the PATCH requests it is asked to send."""

    def __init__(self, gateway: HttpDmpGateway) -> None:
        self.gateway = gateway
        self.patches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gateway, name)

    async def patch_document(self, *args: Any) -> DocumentMeta:
        self.patches += 1
        return await self.gateway.patch_document(*args)


@dataclass
class World:
    sandbox: Sandbox
    gateway: HttpDmpGateway
    reader: Pkcs11CardReader
    tmp: Path
    cards: dict[str, Any] = field(default_factory=dict)
    caches: list[CacheService] = field(default_factory=list)

    async def login(self, persona_id: str) -> ProfessionalLogin:
        """The console's path: the card signs the server's challenge."""
        persona = self.sandbox.persona(persona_id)
        card = self.cards.get(persona_id)
        if card is None:
            token = next(t for t in await self.reader.tokens() if t.label == persona["token_label"])
            card = self.cards[persona_id] = await self.reader.login(token, persona["pin"])
        nonce = await self.gateway.challenge()
        signature = await card.sign(nonce.encode("utf-8"), "RS256")
        return await self.gateway.login_with_card(card.certificate_der, nonce, signature, "RS256")

    async def cache(self, persona_id: str) -> CacheService:
        """A real encrypted cache, its key derived from the persona's card."""
        cache = CacheService(self.tmp / "cache")
        await self.cache_open(cache, persona_id)
        self.caches.append(cache)
        return cache

    async def cache_open(self, cache: CacheService, persona_id: str) -> None:
        persona = self.sandbox.persona(persona_id)
        await cache.open_with_card(self.cards[persona_id], persona["profession"])

    async def grant(self, persona_id: str, nir: str, **request: Any) -> AccessGrant:
        login = await self.login(persona_id)
        patient = await self.gateway.find_patient(login, self.ins(nir))
        assert patient is not None
        return await self.gateway.open_access(login, patient, AccessRequest(**request))

    def ins(self, nir: str) -> INS:
        return INS(self.sandbox.patients["ins_system"], nir)

    async def documents(self, grant: AccessGrant) -> list[DocumentMeta]:
        found: list[DocumentMeta] = []
        async for page in self.gateway.search_documents(grant, DocumentQuery(page_size=1000)):
            found.extend(page.documents)
        return found

    async def masters(self, nir: str) -> Counter[str]:
        """How many current documents of the patient carry each masterIdentifier."""
        grant = await self.grant("hospital_doctor", nir, consent_method="oral")
        return Counter(d.master_id for d in await self.documents(grant))


@pytest_asyncio.fixture
async def world(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[World]:
    module = find_softhsm_module()
    if module is None:
        pytest.skip("SoftHSM2 is not installed")
    gateway = HttpDmpGateway(sandbox.url, timeout=30.0)
    reader = Pkcs11CardReader(module)
    found = World(sandbox, gateway, reader, tmp_path)
    try:
        yield found
    finally:
        for cache in found.caches:
            await cache.aclose()
        for card in found.cards.values():
            await card.logout()
        await reader.close()
        await gateway.aclose()
        with httpx.Client(base_url=sandbox.url) as client:
            client.delete("/sandbox/faults")


def gp_patient(sandbox: Sandbox) -> str:
    return str(sandbox.patients["treated_by_gp"][-1])


def doctor_patient(sandbox: Sandbox) -> str:
    chronic = sandbox.patients["chronic"]
    return str(next(n for n in sandbox.patients["care_team"]["hospital_doctor"] if n != chronic))


# -- a professional's deposit and its life ------------------------------------------------------


@pytest.mark.asyncio
async def test_a_gp_deposit_is_read_back(world: World, tmp_path: Path) -> None:
    login = await world.login("gp")
    cache = await world.cache("gp")
    service = DepositService(world.gateway, cache=cache, policy=FAST)
    assert service.persistent
    nir = gp_patient(world.sandbox)
    data = make_pdf("Compte rendu de consultation - test d'intégration")
    path = tmp_path / "cr.pdf"
    path.write_bytes(data)
    file = await service.load_file(path)
    act = date.today() - timedelta(days=2)
    draft = DepositDraft(nir, "11488-4", "Consultation de contrôle", act,
                         frozenset({Visibility.INVISIBLE_PATIENT}))  # fmt: skip
    outcome = await service.deposit(login, file, draft)
    assert outcome.status is ItemStatus.SENT and outcome.receipt is not None
    doc_id = outcome.receipt.document_id

    grant = await world.grant("gp", nir)
    docs = {d.id: d for d in await world.documents(grant)}
    doc = docs[doc_id]
    assert doc.master_id == outcome.master_id
    assert (doc.title, doc.type_code, doc.class_code) == (
        "Consultation de contrôle",
        "11488-4",
        "10",
    )
    assert doc.author_id_nat == login.id_nat and doc.entered_by is None
    assert doc.visibility == {Visibility.INVISIBLE_PATIENT}
    assert to_local(doc.created).date() == act
    assert doc.structure_name == "Cabinet médical du Parc"
    assert await world.gateway.retrieve(grant, doc) == data

    items = await cache.outbox_items()
    (item,) = [i for i in items if i.master_id == outcome.master_id]
    assert item.state.value == "sent" and item.server_id == doc_id and item.payload is None
    actions = [e.entry.action for e in await cache.journal_records()]
    assert actions[-2:] == ["deposit_queued", "deposit_sent"]
    assert (await cache.verify_journal()).ok


@pytest.mark.asyncio
async def test_a_documents_life_by_its_author(world: World, tmp_path: Path) -> None:
    login = await world.login("gp")
    service = DepositService(world.gateway, policy=FAST)
    nir = gp_patient(world.sandbox)
    file = await service.load_bytes("v1.pdf", make_pdf("version 1"))
    yesterday = date.today() - timedelta(days=1)
    first = await service.deposit(login, file, DepositDraft(nir, "11488-4", "CR v1", yesterday))
    assert first.receipt is not None
    grant = await world.grant("gp", nir)
    doc = next(d for d in await world.documents(grant) if d.id == first.receipt.document_id)

    masked = await service.update(login, doc, UpdateAction.MASK)
    assert masked.masked and masked.id == doc.id
    unmasked = await service.update(login, masked, UpdateAction.UNMASK)
    assert not unmasked.masked
    hidden = await service.update(login, unmasked, UpdateAction.HIDE_FROM_PATIENT)
    assert hidden.invisible_to_patient
    shown = await service.update(login, hidden, UpdateAction.SHOW_TO_PATIENT)
    assert shown.visibility == frozenset()

    v2 = await service.load_bytes("v2.pdf", make_pdf("version 2"))
    second = await service.replace(
        login, shown, v2, DepositDraft(nir, "11488-4", "CR v2", yesterday)
    )
    assert second.receipt is not None
    current = {d.id: d for d in await world.documents(grant)}
    assert doc.id not in current  # superseded: no longer listed
    assert current[second.receipt.document_id].replaces == doc.id
    with pytest.raises(UpdateRefusedError) as stale:  # the superseded version, from the table
        await service.update(login, replace(shown, status=DocStatus.CURRENT), UpdateAction.MASK)
    assert stale.value.reason == "not_current"

    deleted = await service.update(login, current[second.receipt.document_id], UpdateAction.DELETE)
    assert deleted.status is DocStatus.ENTERED_IN_ERROR
    assert second.receipt.document_id not in {d.id for d in await world.documents(grant)}


@pytest.mark.asyncio
async def test_a_nurse_cannot_mask_another_professionals_document(world: World) -> None:
    nurse_login = await world.login("nurse")
    nir = world.sandbox.patients["chronic"]  # in the nurse's care team
    grant = await world.grant("nurse", nir)
    doc = next(
        d
        for d in await world.documents(grant)
        if d.author_id_nat != nurse_login.id_nat and not d.masked
    )
    counting = PatchCounter(world.gateway)
    service = DepositService(counting, policy=FAST)

    # client-side: refused, nothing sent
    with pytest.raises(UpdateRefusedError) as refused:
        await service.update(nurse_login, doc, UpdateAction.MASK)
    assert refused.value.reason == Refusal.NOT_AUTHOR.value
    assert str(refused.value) == refusal_message(Refusal.NOT_AUTHOR)
    assert counting.patches == 0

    # forced past the client: the server says no
    with pytest.raises(ForbiddenError) as forbidden:
        await world.gateway.patch_document(
            nurse_login, doc.id, update_patch(UpdateAction.MASK, doc.visibility)
        )
    assert forbidden.value.status == 403 and forbidden.value.reason == "not_author"

    # a table claiming she is the author: the server's refusal is mapped to the same message
    doctored = replace(doc, author_id_nat=nurse_login.id_nat)
    with pytest.raises(UpdateRefusedError) as mapped:
        await service.update(nurse_login, doctored, UpdateAction.MASK)
    assert mapped.value.reason == "not_author" and counting.patches == 1
    assert str(mapped.value) == refusal_message(Refusal.NOT_AUTHOR)
    after = next(d for d in await world.documents(grant) if d.id == doc.id)
    assert not after.masked


# -- the secretary ------------------------------------------------------------------------------


def write_file(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


@pytest.mark.asyncio
async def test_the_secretary_deposits_for_the_doctor_who_is_the_author(
    world: World, tmp_path: Path
) -> None:
    secretary = await world.login("secretary")
    cache = await world.cache("secretary")
    doctor = world.sandbox.persona("hospital_doctor")["id_nat"]
    nir = doctor_patient(world.sandbox)
    batch = BatchDepositService(world.gateway, cache=cache, policy=FAST)
    depositor = await batch.depositor(secretary)
    assert depositor.is_secretary and depositor.structure_id == "1997000456"
    tag = f"secr-{random.randrange(10**9)}"
    folder = tmp_path / "lot"
    for i in range(3):
        write_file(folder, f"{nir}_11502-2_20250301_Biologie_{tag}_{i}.pdf", make_pdf(f"{tag} {i}"))
    await batch.add_paths([folder])
    batch.set_doctor(Doctor(doctor, "Dr LEFEBVRE"))
    assert (await batch.validate()).invalid == 0
    result = await batch.start(secretary)
    assert result.stop is PumpStop.DONE and result.sent == 3

    grant = await world.grant("hospital_doctor", nir, consent_method="oral")
    mine = [d for d in await world.documents(grant) if tag in d.title]
    assert len(mine) == 3
    for doc in mine:
        assert doc.author_id_nat == doctor
        assert doc.entered_by == secretary.id_nat
        assert doc.structure_name == "Centre hospitalier de Saint-Martin"
    assert {d.master_id for d in mine} == {i.master_id for i in batch.items}

    # the secretary never reads: the DMP refuses her a patient token
    patient = await world.gateway.find_patient(secretary, world.ins(nir))
    assert patient is not None
    with pytest.raises(ForbiddenError) as no_read:
        await world.gateway.open_access(secretary, patient, AccessRequest())
    assert no_read.value.reason == "secretary_no_read"


@pytest.mark.asyncio
async def test_a_doctor_outside_her_structure_stops_the_batch_at_its_first_file(
    world: World, tmp_path: Path
) -> None:
    secretary = await world.login("secretary")
    batch = BatchDepositService(world.gateway, policy=FAST)
    await batch.depositor(secretary)
    nir = doctor_patient(world.sandbox)
    folder = tmp_path / "lot"
    for i in range(4):
        write_file(folder, f"{nir}_11488-4_20250301_CR_{i}.pdf", make_pdf(f"gp {i}"))
    await batch.add_paths([folder])
    batch.set_doctor(Doctor(world.sandbox.persona("gp")["id_nat"]))  # another structure
    await batch.validate()
    result = await batch.start(secretary)
    assert result.stop is PumpStop.BATCH_REFUSED
    assert result.message == refusal_message(Refusal.NOT_SAME_STRUCTURE)
    statuses = Counter(i.status for i in batch.items)
    assert statuses == {ItemStatus.FAILED: 1, ItemStatus.CANCELLED: 3}
    assert [e.state.value for e in await batch.queue().entries()] == ["failed"]


def encrypted(data: bytes) -> bytes:
    from pypdf import PdfReader as Reader

    writer = PdfWriter(clone_from=Reader(io.BytesIO(data)))
    writer.encrypt(user_password="x", owner_password="y", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.asyncio
async def test_bad_files_are_reported_one_by_one_and_the_rest_is_deposited_once(
    world: World, tmp_path: Path
) -> None:
    secretary = await world.login("secretary")
    cache = await world.cache("secretary")
    doctor = world.sandbox.persona("hospital_doctor")["id_nat"]
    nir = doctor_patient(world.sandbox)
    # a 256 KiB request limit (so "over the limit" needs no 20 MB file)
    batch = BatchDepositService(world.gateway, cache=cache, policy=FAST, max_body_bytes=256 * 1024)
    await batch.depositor(secretary)
    tag = f"bad-{random.randrange(10**9)}"
    folder = tmp_path / "lot"
    good = [
        write_file(folder, f"{nir}_11488-4_20250302_{tag}_ok_{i}.pdf", make_pdf(f"{tag} {i}"))
        for i in range(3)
    ]
    write_file(folder, "double.pdf", good[0].read_bytes())
    write_file(folder, "word.pdf", b"PK\x03\x04 not a pdf at all")
    write_file(folder, "empty.pdf", b"")
    pdf = make_pdf(f"{tag} tronqué")
    write_file(folder, "truncated.pdf", pdf[: len(pdf) // 2])
    write_file(folder, "locked.pdf", encrypted(make_pdf(f"{tag} chiffré")))
    write_file(
        folder, "huge.pdf", make_pdf("x") + b"%" + random.randbytes(300 * 1024) + b"\n%%EOF\n"
    )
    for name in ("bad_ins.pdf", "bad_type.pdf", "future.pdf"):
        write_file(folder, name, make_pdf(f"{tag} {name}"))
    future = (date.today() + timedelta(days=5)).strftime("%d/%m/%Y")
    (folder / "manifest.csv").write_text(
        "fichier;ins;type;titre;date\n"
        f"double.pdf;{nir};11488-4;{tag} double;02/03/2025\n"
        f"word.pdf;{nir};11488-4;{tag} word;02/03/2025\n"
        f"empty.pdf;{nir};11488-4;{tag} vide;02/03/2025\n"
        f"truncated.pdf;{nir};11488-4;{tag} tronqué;02/03/2025\n"
        f"locked.pdf;{nir};11488-4;{tag} chiffré;02/03/2025\n"
        f"huge.pdf;{nir};11488-4;{tag} énorme;02/03/2025\n"
        f"bad_ins.pdf;{nir[:-2]}{(int(nir[-2:]) + 1) % 97:02d};11488-4;{tag} ins;02/03/2025\n"
        f"bad_type.pdf;{nir};99999-9;{tag} type;02/03/2025\n"
        f"future.pdf;{nir};11488-4;{tag} futur;{future}\n",
        encoding="utf-8",
    )
    await batch.add_paths([folder])
    batch.set_doctor(Doctor(doctor))
    progress = await batch.validate()
    assert progress.invalid == 9
    problems = {i.file_name: [x.problem for x in i.issues] for i in batch.items if i.issues}
    assert problems == {
        "double.pdf": [Problem.DUPLICATE],
        "word.pdf": [Problem.NOT_PDF],
        "empty.pdf": [Problem.EMPTY],
        "truncated.pdf": [Problem.TRUNCATED_PDF],
        "locked.pdf": [Problem.ENCRYPTED_PDF],
        "huge.pdf": [Problem.TOO_LARGE],
        "bad_ins.pdf": [Problem.INVALID_INS],
        "bad_type.pdf": [Problem.UNKNOWN_TYPE],
        "future.pdf": [Problem.FUTURE_DATE],
    }
    result = await batch.start(secretary)
    assert result.stop is PumpStop.DONE and result.sent == 3 and result.refused == 0

    grant = await world.grant("hospital_doctor", nir, consent_method="oral")
    mine = [d for d in await world.documents(grant) if tag in d.title]
    assert sorted(d.title for d in mine) == sorted(f"{tag} ok {i}" for i in range(3))
    counts = Counter(d.master_id for d in mine)
    sent = {i.master_id for i in batch.items if i.status is ItemStatus.SENT}
    assert set(counts) == sent and set(counts.values()) == {1}
    assert not [i for i in batch.items if i.status is ItemStatus.INVALID and i.master_id]

    # the receipt lists every file: identifiers, statuses, the reason of each refusal
    target = tmp_path / "accuse.pdf"
    await write_receipt(batch.receipt(), target)
    assert target.stat().st_mode & 0o777 == 0o600  # patient data: owner only (was 0644)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    flat = "".join(text.split())
    assert "Référencedudépôt" in flat and "masterIdentifier" not in flat  # French, not FHIR
    for item in batch.items:
        assert "".join(item.file_name.split()) in flat
        if item.status is ItemStatus.SENT:
            assert item.master_id in flat and item.server_id in flat
    for words in (
        "deuxfoisdanslelot",
        "n'estpasunPDF",
        "Lefichierestvide",
        "tronqué",
        "chiffré",
        "lalimited'undépôt",
        "INSinvalide",
        "inconnuduDMP",
        "dansle futur",
    ):
        assert "".join(words.split()) in flat, words  # fmt: skip
    assert "Déposé" in text and "Refusé (vérification)" in text


@pytest.mark.asyncio
async def test_a_batch_through_429_503_and_delays_is_deposited_exactly_once(
    world: World, tmp_path: Path
) -> None:
    secretary = await world.login("secretary")
    cache = await world.cache("secretary")
    nir = doctor_patient(world.sandbox)
    batch = BatchDepositService(world.gateway, cache=cache, policy=FAST, concurrency=4)
    await batch.depositor(secretary)
    tag = f"faults-{random.randrange(10**9)}"
    folder = tmp_path / "lot"
    for i in range(8):
        write_file(folder, f"{nir}_11488-4_20250303_{tag}_{i}.pdf", make_pdf(f"{tag} {i}"))
    await batch.add_paths([folder])
    batch.set_doctor(Doctor(world.sandbox.persona("hospital_doctor")["id_nat"]))
    await batch.validate()
    rules = [
        {"status": 429, "count": 3, "retry_after": 1, "path_prefix": "/", "method": "POST"},
        {"status": 503, "count": 2, "path_prefix": "/", "method": "POST"},
        {"status": None, "delay_ms": 400, "count": 3, "path_prefix": "/", "method": "POST"},
    ]
    with httpx.Client(base_url=world.sandbox.url) as client:
        for rule in rules:
            assert client.post("/sandbox/faults", json=rule).status_code == 201
    retried: list[str] = []
    batch.set_listeners(
        lambda item: retried.append(item.message) if item.status is ItemStatus.RETRY_WAIT else None
    )
    started = asyncio.get_running_loop().time()
    result = await batch.start(secretary)
    elapsed = asyncio.get_running_loop().time() - started
    assert result.stop is PumpStop.DONE and result.sent == 8 and result.retried == 5
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    assert len(retried) == 5 and all(retried)  # each retry says why
    with httpx.Client(base_url=world.sandbox.url) as client:
        assert client.get("/sandbox/faults").json()["faults"] == []
    counts = await world.masters(nir)
    masters = [i.master_id for i in batch.items]
    assert all(counts[m] == 1 for m in masters), {m: counts[m] for m in masters}
    entries = await batch.queue().entries()
    assert {e.master_id: e.state.value for e in entries if e.master_id in masters} == dict.fromkeys(
        masters, "sent"
    )
