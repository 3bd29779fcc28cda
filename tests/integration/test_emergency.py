"""Bris de glace against the real sandbox over loopback, with the personas' SoftHSM2 cards:
the server's refusals (no justification, an opposed patient), the AuditEvents of every read,
every end path told to ``/auth/access/end`` with its reason, the time box running out (a
second server whose bris de glace lasts seconds), the patient's notifications, and the access
history built from the server's traces and the console's journal."""

# pytest-qt's QtBot methods are not annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from console.dmp import HttpDmpGateway
from console.domain.dossier import DocumentQuery, PatientRecord, ProfessionalLogin
from console.domain.emergency import AuditRecord, EndReason, JournalAction
from console.domain.errors import AccessRefusedError, AuthenticationError
from console.domain.models import AccessMode, DocumentMeta
from console.domain.rules import AccessRequest
from console.services.emergency import (
    EmergencyEvent,
    EmergencyService,
    MemoryJournal,
    TracedDossierService,
)
from console.services.history import HistoryService
from console.views.consent import AccessModeDialog, RefusalBox
from sandbox.testing import SandboxProcess
from tests.integration.conftest import Sandbox
from tests.integration.test_dmp_client import card_login, ins_of

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread() -> None:
    """Qt objects left in reference cycles by earlier GUI tests must be collected here, on the
    GUI thread: a collection triggered on a worker thread (the attestation's rendering, the
    cache's or the card's worker) would destroy them there (Qt warns, and may crash)."""
    gc.collect()


JUSTIFICATION = "Patient inconscient aux urgences, famille injoignable"
BRIS = AccessRequest(
    AccessMode.BRIS_DE_GLACE, reason_code="URGENCE_VITALE", justification=JUSTIFICATION
)
SHORT_BRIS_S = 3


class StaticSession:
    """The part of SessionService the dossier service reads: the professional's login."""

    def __init__(self, login: ProfessionalLogin) -> None:
        self.login: ProfessionalLogin | None = login


@dataclass
class Console:
    gateway: HttpDmpGateway
    login: ProfessionalLogin
    dossiers: TracedDossierService
    service: EmergencyService
    journal: MemoryJournal
    events: list[tuple[EmergencyEvent, str]]

    async def patient(self, sandbox: Sandbox, nir: str) -> PatientRecord:
        found = await self.gateway.find_patient(self.login, ins_of(sandbox, nir))
        assert found is not None
        return found


async def make_console(url: str, sandbox: Sandbox, persona: str = "emergency") -> Console:
    gateway = HttpDmpGateway(url, timeout=30.0)
    login = await card_login(gateway, sandbox, persona)
    session: Any = StaticSession(login)
    dossiers = TracedDossierService(gateway, session)
    journal = MemoryJournal()
    service = EmergencyService(dossiers, journal=journal, identity=gateway, server_label=url)
    events: list[tuple[EmergencyEvent, str]] = []
    service.add_listener(lambda event, episode: events.append((event, episode.episode_id)))
    return Console(gateway, login, dossiers, service, journal, events)


@pytest_asyncio.fixture
async def console(sandbox: Sandbox) -> AsyncIterator[Console]:
    made = await make_console(sandbox.url, sandbox)
    try:
        yield made
    finally:
        await made.service.aclose()
        await made.gateway.aclose()


@pytest.fixture(scope="module")
def short_sandbox(sandbox: Sandbox) -> Iterator[str]:
    """A second server on the same data whose bris de glace lasts seconds."""
    extra = ("--bris-de-glace-seconds", str(SHORT_BRIS_S))
    with SandboxProcess(sandbox.directory, extra_args=extra) as process:
        yield process.url


async def stopped_events(console: Console, sandbox: Sandbox, nir: str) -> list[AuditRecord]:
    """The emergency-override-stopped traces of this professional on `nir` (a new bris de
    glace gives the token that reads them; it is ended again)."""
    dossier = await console.dossiers.open(await console.patient(sandbox, nir), BRIS)
    try:
        records = await console.gateway.audit_events(dossier.grant)
    finally:
        await console.dossiers.close(dossier, "patient_closed")
    return [r for r in records if r.subtype == "emergency-override-stopped"]


def ended_with(records: list[AuditRecord], episode_id: str) -> str | None:
    for record in records:
        if episode_id in record.referenced_ids:
            return record.description
    return None


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bris_de_glace_without_justification_is_refused_by_the_server(
    console: Console, sandbox: Sandbox
) -> None:
    patient = await console.patient(sandbox, sandbox.adults()[0])
    for justification in (None, "   trop  court "):
        request = AccessRequest(
            AccessMode.BRIS_DE_GLACE, reason_code="URGENCE_VITALE", justification=justification
        )
        with pytest.raises(AccessRefusedError) as refused:
            await console.dossiers.open(patient, request)
        assert refused.value.reason == "no_justification"
        assert "justification" in str(refused.value)
    assert console.service.active is None and console.events == []
    assert [r.entry.detail["refusal"] for r in console.journal.records] == ["no_justification"] * 2


def test_and_by_the_dialog(qtbot: QtBot, sandbox: Sandbox) -> None:
    patient = PatientRecord(ins_of(sandbox, sandbox.adults()[0]), "X", "Y", None, "female")
    dialog = AccessModeDialog(patient)
    qtbot.addWidget(dialog)
    dialog.show()
    radio = dialog.bris_radio
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(6, radio.height() // 2))
    dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findData("URGENCE_VITALE"))
    qtbot.keyClicks(dialog.justification_edit, "trop court")  # 9 characters without spaces
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.justification_edit, " !")
    assert dialog.ok_button.isEnabled()


@pytest.mark.asyncio
async def test_a_patient_who_opposed_it_is_refused_with_a_clear_message(
    console: Console, sandbox: Sandbox, qtbot: QtBot
) -> None:
    patient = await console.patient(sandbox, sandbox.patients["opposed_bris_de_glace"])
    with pytest.raises(AccessRefusedError) as refused:
        await console.dossiers.open(patient, BRIS)
    assert refused.value.reason == "opposed_bris_de_glace"
    assert str(refused.value) == "Le patient s'est opposé à l'accès en bris de glace."
    box = RefusalBox()
    qtbot.addWidget(box)
    box.show_refusal(refused.value.reason, str(refused.value))
    assert box.title_label.text().startswith("Le patient s'est opposé")
    assert "Aucun accès n'a été ouvert" in box.advice_label.text()
    [entry] = [r.entry for r in console.journal.records]
    assert entry.action == JournalAction.ACCESS_REFUSED
    assert entry.detail["refusal"] == "opposed_bris_de_glace"


# -- traces -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_read_has_an_audit_event(console: Console, sandbox: Sandbox) -> None:
    patient = await console.patient(sandbox, sandbox.adults()[0])
    dossier = await console.dossiers.open(patient, BRIS)
    episode = console.service.active
    assert episode is not None
    assert episode.professional.structure_name == "Centre hospitalier de Saint-Martin"
    docs: list[DocumentMeta] = []
    async for page in console.dossiers.search(dossier, [DocumentQuery(page_size=5)]):
        docs.extend(page.documents)
        break
    assert docs, "the seeded adult has documents"
    first = docs[0]
    async with httpx.AsyncClient(base_url=sandbox.url) as client:  # a read by id (ITI-68)
        answer = await client.get(
            f"/DocumentReference/{first.id}",
            headers={"Authorization": f"Bearer {dossier.grant.token}"},
        )
    assert answer.status_code == 200
    body = await console.dossiers.retrieve(dossier, first)
    assert body

    records = await console.gateway.audit_events(dossier.grant)
    # From the episode's start as the server dated it (its clock, to the second), not the
    # console's: the two clocks may part by a fraction of a second across a second boundary.
    [opened] = [r for r in records if r.referenced_ids == (episode.episode_id,)]
    since = opened.recorded
    mine = [r for r in records if r.recorded >= since and r.succeeded]

    def of(subtype: str) -> list[AuditRecord]:
        return [r for r in mine if r.subtype == subtype and r.purpose == "bris_de_glace"]

    searches = [r for r in of("search") if first.id in r.referenced_ids]
    [read] = [r for r in of("read") if r.referenced_ids == (first.id,)]
    [retrieve] = [r for r in of("retrieve") if r.referenced_ids == (first.id,)]
    [started] = of("emergency-override-started")
    assert len(searches) == 1
    assert started.type_code == "110113" and started.referenced_ids == (episode.episode_id,)
    assert "URGENCE_VITALE" in started.description and JUSTIFICATION in started.description
    for record in (*searches, read, retrieve, started):
        assert record.actor_id_nat == console.login.id_nat
        assert record.patient_ins == sandbox.adults()[0]
        assert record.succeeded
    assert [r.entry.action for r in console.journal.records] == [
        JournalAction.BDG_STARTED,
        JournalAction.DOCUMENT_OPENED,
    ]

    # The access history groups the episode with what it read.
    history = await HistoryService(console.gateway, console.journal).history(
        dossier, console.login.id_nat
    )
    group = next(e for e in history.episodes if e.episode_id == episode.episode_id)
    assert first.id in group.document_ids
    assert {e.action for e in group.entries} >= {"search", "read", "retrieve", "bdg_started"}
    console.service.stop()
    await console.service.wait_idle(10)


END_PATHS = ["user", "card_removed", "patient_closed", "quit", "session_locked", "logout"]


@pytest.mark.parametrize("path", END_PATHS)
@pytest.mark.asyncio
async def test_each_end_path_calls_access_end_with_its_reason(
    console: Console, sandbox: Sandbox, path: str
) -> None:
    dossier = await console.dossiers.open(await console.patient(sandbox, sandbox.adults()[1]), BRIS)
    episode = console.service.active
    assert episode is not None
    match path:
        case "user":
            console.service.stop()
        case "card_removed" | "session_locked" | "logout":
            lock = {"card_removed": "card_removed", "session_locked": "idle", "logout": None}[path]
            console.service.session_locked(lock)
        case "patient_closed":
            await console.dossiers.close(dossier, "patient_closed")
        case "quit":
            await console.service.aclose()
    await console.service.wait_idle(10)
    assert episode.end_reason is EndReason(path) and episode.server_ended
    # The token no longer works: the mode stopped on the server.
    with pytest.raises(AuthenticationError):
        await console.gateway.retrieve(dossier.grant, _any_document(dossier))
    description = ended_with(
        await stopped_events(console, sandbox, sandbox.adults()[1]), episode.episode_id
    )
    assert description is not None, "no emergency-override-stopped for the episode"
    assert f"motif de fin : {path}" in description


def _any_document(dossier: Any) -> DocumentMeta:
    now = datetime.now(UTC)
    ins = dossier.grant.patient.ins.value
    return DocumentMeta("0" * 32, "m", ins, "11488-4", "10", "t", "x", now, now)


@pytest.mark.asyncio
async def test_after_expiry_the_server_refuses_a_retrieve(
    short_sandbox: str, sandbox: Sandbox
) -> None:
    console = await make_console(short_sandbox, sandbox)
    try:
        patient = await console.patient(sandbox, sandbox.adults()[0])
        dossier = await console.dossiers.open(patient, BRIS)
        episode = console.service.active
        assert episode is not None
        assert (episode.deadline - episode.started_at).total_seconds() <= SHORT_BRIS_S + 1
        assert [p async for p in console.dossiers.documents(dossier, DocumentQuery())]
        # Another grant (another patient: one episode per patient), left alone: after the time
        # box the server itself refuses its token.
        other_patient = await console.patient(sandbox, sandbox.adults()[1])
        other = await console.gateway.open_access(console.login, other_patient, BRIS)
        other_docs = [
            d
            async for p in console.gateway.search_documents(other, DocumentQuery(page_size=5))
            for d in p.documents
        ]
        assert other_docs
        async with asyncio.timeout(SHORT_BRIS_S + 10):
            while not any(e is EmergencyEvent.ENDING for e, _ in console.events):
                await asyncio.sleep(0.1)
        assert episode.end_reason is EndReason.EXPIRED
        # ends_at is given to the second: wait one more second past it.
        left = (other.expires_at - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(0.0, left) + 1.2)
        with pytest.raises(AuthenticationError) as refused:
            await console.gateway.retrieve(other, other_docs[0])
        assert refused.value.reason == "expired_token"
        await console.service.wait_idle(10)
        assert episode.server_ended
        await console.gateway.end_access(other, "expired")
        assert console.service.last_ended is not None
        assert console.service.last_ended.attestation is not None  # expiry gives one
    finally:
        await console.service.aclose()
        await console.gateway.aclose()

    main = await make_console(sandbox.url, sandbox)
    try:
        description = ended_with(
            await stopped_events(main, sandbox, sandbox.adults()[0]), episode.episode_id
        )
    finally:
        await main.service.aclose()
        await main.gateway.aclose()
    assert description is not None and "motif de fin : expired" in description


@pytest.mark.asyncio
async def test_the_patient_is_notified_of_the_bris_de_glace_and_the_first_access(
    console: Console, sandbox: Sandbox
) -> None:
    patient = await console.patient(sandbox, sandbox.adults()[1])
    await console.dossiers.open(patient, BRIS)
    console.service.stop()
    await console.service.wait_idle(10)
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        answer = await client.get(f"/sandbox/patients/{sandbox.adults()[1]}/notifications")
    assert answer.status_code == 200
    mine = [n for n in answer.json()["notifications"] if n["id_nat"] == console.login.id_nat]
    kinds = [n["kind"] for n in mine]
    assert kinds.count("first_access") == 1
    assert "bris_de_glace" in kinds
    last = [n for n in mine if n["kind"] == "bris_de_glace"][-1]
    assert "Karim BENALI" in last["message"] and "bris de glace" in last["message"]
    assert "Urgence vitale" in last["message"]
