"""Bris de glace and access tracing without Qt: the episode (console.domain.emergency), the
service that runs it on every end path (console.services.emergency), the journals, the access
history (console.services.history) and the FHIR mapping of AuditEvent and whoami."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from console.dmp.mapping import audit_record_from_fhir, professional_from_whoami
from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.emergency import (
    Attestation,
    AttestationRecord,
    AuditRecord,
    EmergencyEpisode,
    EndReason,
    HistorySource,
    JournalAction,
    ProfessionalIdentity,
    build_history,
    end_reason_for_lock,
    format_duration,
    format_remaining,
)
from console.domain.errors import (
    AccessRefusedError,
    CacheClosedError,
    ForbiddenError,
    NetworkError,
    ProtocolError,
)
from console.domain.ins import INS, nir_key
from console.domain.journal import ChainedEntry, JournalEntry, JournalHead, chain
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.rules import AccessRequest
from console.services.dossier import OpenDossier
from console.services.emergency import (
    CacheJournal,
    EmergencyEvent,
    EmergencyService,
    MemoryJournal,
    TracedDossierService,
)
from console.services.history import HistoryService
from console.services.ports import DmpGateway
from console.services.session import SessionService

T0 = datetime(2025, 3, 14, 22, 0, tzinfo=UTC)
EMERGENCY = "899700000029"
NIR = "255081416802538"
PATIENT = PatientRecord(INS.parse(NIR), "Durand", "Marie Claire", date(1955, 8, 14), "female")
OTHER = PatientRecord(
    INS.parse(f"1840375123456{nir_key('1840375123456'):02d}"), "Martin", "Paul", None, "male"
)
IDENTITY = ProfessionalIdentity(
    EMERGENCY, "Karim BENALI", "10", "Médecin", "SM59", "1997000456", "CH de Saint-Martin"
)
BRIS = AccessRequest(
    AccessMode.BRIS_DE_GLACE,
    reason_code="PATIENT_INCONSCIENT",
    justification="Patient inconscient, famille injoignable",
)


# -- fakes ----------------------------------------------------------------------------------------


class FakeTime:
    """A clock the test moves; ``sleep`` waits until the clock passes its deadline."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + timedelta(seconds=seconds), future))
        await future

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
        for deadline, future in list(self._sleepers):
            if deadline <= self.now:
                self._sleepers.remove((deadline, future))
                if not future.done():
                    future.set_result(None)


def doc(n: int, *, masked: bool = False, ins: str = NIR) -> DocumentMeta:
    return DocumentMeta(
        id=f"{n:032x}",
        master_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        patient_ins=ins,
        type_code="11488-4",
        class_code="10",
        title=f"Compte rendu n°{n}",
        author_id_nat="899700000094",
        created=T0 - timedelta(days=n),
        deposited=T0 - timedelta(days=n),
        visibility=frozenset({Visibility.MASQUE_PS}) if masked else frozenset(),
    )


class FakeGateway:
    """The DMP as the services see it: grants, ends, bodies, identity."""

    server_label = "fake:0"

    def __init__(self, clock: FakeTime) -> None:
        self.clock = clock
        self.opened: list[AccessRequest] = []
        self.ended: list[tuple[str, str]] = []
        self.refusals: dict[AccessMode, tuple[str, str]] = {}
        self.end_errors: list[Exception] = []
        self.token_life = timedelta(hours=1)
        self.documents = [doc(1), doc(2, masked=True), doc(3)]
        self.identity: ProfessionalIdentity | Exception = IDENTITY
        self._n = 0

    async def open_access(
        self, login: ProfessionalLogin, patient: PatientRecord, request: AccessRequest
    ) -> AccessGrant:
        self.opened.append(request)
        refusal = self.refusals.get(request.mode)
        if refusal is not None:
            raise ForbiddenError(refusal[1], 403, refusal[0])
        self._n += 1
        return AccessGrant(
            patient,
            request.mode,
            f"token-{self._n}",
            self.clock() + self.token_life,
            f"ep{self._n}",
        )

    async def end_access(self, grant: AccessGrant, reason: str) -> None:
        if self.end_errors:
            raise self.end_errors.pop(0)
        self.ended.append((grant.episode_id, reason))

    async def search_documents(
        self, grant: AccessGrant, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        yield DocumentPage(tuple(self.documents), len(self.documents))

    async def retrieve(self, grant: AccessGrant, document: DocumentMeta) -> bytes:
        return b"%PDF-1.4 body"

    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity:
        if isinstance(self.identity, Exception):
            raise self.identity
        return self.identity


class FakeSession:
    def __init__(self) -> None:
        self.login: ProfessionalLogin | None = ProfessionalLogin(
            EMERGENCY, "Karim BENALI", "10", "pro-token", T0 + timedelta(hours=8)
        )


class Rendered:
    """A fake attestation renderer that keeps what it was asked."""

    def __init__(self) -> None:
        self.attestations: list[Attestation] = []

    def __call__(self, attestation: Attestation) -> bytes:
        self.attestations.append(attestation)
        return b"%PDF-1.7 attestation"


class FakeEpisodeCache:
    """The episode side of the cache: open or closed, and the attestations it kept."""

    def __init__(self) -> None:
        self.is_open = True
        self.episodes: list[str] = []
        self.kept: list[tuple[str, AttestationRecord, bytes]] = []
        self.saved: list[str] = []

    async def begin_episode(self, episode_id: str, expires_at: datetime) -> None:
        self.episodes.append(episode_id)

    async def end_episode(self, episode_id: str) -> None:
        self.episodes.remove(episode_id)

    async def keep_attestation(self, id_nat: str, record: AttestationRecord, pdf: bytes) -> bool:
        self.kept.append((id_nat, record, pdf))
        return True

    async def mark_attestation_saved(self, episode_id: str) -> bool:
        self.saved.append(episode_id)
        return True


@dataclasses.dataclass
class Rig:
    time: FakeTime
    gateway: FakeGateway
    dossiers: TracedDossierService
    service: EmergencyService
    journal: MemoryJournal
    rendered: Rendered
    events: list[tuple[EmergencyEvent, str]]
    cache: FakeEpisodeCache


def make_rig(*, time_box: timedelta = timedelta(minutes=60)) -> Rig:
    time = FakeTime()
    gateway = FakeGateway(time)
    dossiers = TracedDossierService(cast(DmpGateway, gateway), cast(SessionService, FakeSession()))
    journal = MemoryJournal(time)
    rendered = Rendered()
    cache = FakeEpisodeCache()
    service = EmergencyService(
        dossiers,
        journal=journal,
        cache=cache,
        identity=gateway,
        render=rendered,
        time_box=time_box,
        clock=time,
        sleep=time.sleep,
        server_label="fake:0",
    )
    events: list[tuple[EmergencyEvent, str]] = []
    service.add_listener(lambda event, episode: events.append((event, episode.episode_id)))
    return Rig(time, gateway, dossiers, service, journal, rendered, events, cache)


async def settle(rounds: int = 20) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def actions(journal: MemoryJournal) -> list[str]:
    return [r.entry.action for r in journal.records]


# -- the episode (pure) ---------------------------------------------------------------------------


def grant(
    mode: AccessMode = AccessMode.BRIS_DE_GLACE, life: timedelta = timedelta(hours=1)
) -> AccessGrant:
    return AccessGrant(PATIENT, mode, "t", T0 + life, "ep-1")


def test_the_deadline_is_the_time_box_or_the_token_whichever_comes_first() -> None:
    def start(g: AccessGrant, box: timedelta) -> EmergencyEpisode:
        return EmergencyEpisode.start(
            g, IDENTITY, reason_code="URGENCE_VITALE", justification="x" * 12, now=T0, time_box=box
        )

    assert start(grant(), timedelta(minutes=60)).deadline == T0 + timedelta(minutes=60)
    assert start(grant(), timedelta(minutes=15)).deadline == T0 + timedelta(minutes=15)
    short = start(grant(life=timedelta(seconds=5)), timedelta(minutes=60))
    assert short.deadline == T0 + timedelta(seconds=5)
    # centre 15 has no console time box: the token's life
    c15 = start(grant(AccessMode.CENTRE_15), timedelta(minutes=15))
    assert c15.deadline == T0 + timedelta(hours=1) and c15.reason_code is None
    with pytest.raises(ValueError, match="normal"):
        start(grant(AccessMode.NORMAL), timedelta(minutes=60))


def test_remaining_time_counts_down_and_stops_at_the_end() -> None:
    episode = EmergencyEpisode.start(
        grant(), IDENTITY, reason_code="URGENCE_VITALE", justification="j" * 10, now=T0
    )
    assert format_remaining(episode.remaining(T0)) == "60:00"
    assert format_remaining(episode.remaining(T0 + timedelta(minutes=17, seconds=43))) == "42:17"
    assert format_remaining(episode.remaining(T0 + timedelta(minutes=59, seconds=59.2))) == "00:01"
    assert format_remaining(episode.remaining(T0 + timedelta(hours=2))) == "00:00"
    assert episode.expired(T0 + timedelta(minutes=60))
    assert episode.end(EndReason.USER, T0 + timedelta(minutes=5))
    assert not episode.end(EndReason.EXPIRED, T0 + timedelta(minutes=60))  # the first stays
    assert episode.end_reason is EndReason.USER
    assert episode.remaining(T0 + timedelta(minutes=6)) == timedelta(0)
    assert episode.duration() == timedelta(minutes=5)


def test_durations_and_reasons_are_worded_in_french() -> None:
    assert format_duration(timedelta(minutes=42, seconds=17)) == "42 min 17 s"
    assert format_duration(timedelta(hours=1, minutes=2)) == "1 h 02 min"
    assert format_duration(timedelta(seconds=8)) == "8 s"
    assert format_remaining(timedelta(minutes=90)) == "90:00"
    assert EndReason.parse("application_closed") is EndReason.QUIT
    assert EndReason.parse("card_removed") is EndReason.CARD_REMOVED
    assert EndReason.parse("anything") is EndReason.PATIENT_CLOSED
    assert end_reason_for_lock("card_removed") is EndReason.CARD_REMOVED
    assert end_reason_for_lock("idle") is EndReason.SESSION_LOCKED
    assert end_reason_for_lock(None) is EndReason.LOGOUT
    assert EndReason.EXPIRED.label == "durée maximale écoulée"


def test_the_episode_records_documents_opened_and_masked_ones_revealed() -> None:
    episode = EmergencyEpisode.start(
        grant(), IDENTITY, reason_code="URGENCE_VITALE", justification="j" * 10, now=T0
    )
    revealed = episode.record_listed(
        [doc(1), doc(2, masked=True), doc(9, masked=True, ins=OTHER.ins.value)]
    )
    assert [d.id for d in revealed] == [doc(2).id]
    assert episode.record_listed([doc(2, masked=True)]) == []  # once
    first = episode.record_opened(doc(2, masked=True), T0 + timedelta(minutes=1))
    assert first is not None and first.masked and first.openings == 1
    again = episode.record_opened(doc(2, masked=True), T0 + timedelta(minutes=3))
    assert (
        again is not None and again.openings == 2 and again.opened_at == T0 + timedelta(minutes=1)
    )
    assert episode.record_opened(doc(5, ins=OTHER.ins.value), T0) is None
    assert episode.revealed[doc(2).id].openings == 2
    assert episode.opened[doc(2).id].type_label  # the type's French label
    episode.end(EndReason.EXPIRED, T0 + timedelta(hours=1))
    assert episode.record_opened(doc(3), T0 + timedelta(hours=2)) is None


def test_an_attestation_needs_an_ended_bris_de_glace() -> None:
    episode = EmergencyEpisode.start(
        grant(), IDENTITY, reason_code="URGENCE_VITALE", justification="j" * 10, now=T0
    )
    with pytest.raises(ValueError, match="not ended"):
        Attestation.of(episode, generated_at=T0)
    episode.end(EndReason.USER, T0 + timedelta(minutes=3))
    attestation = Attestation.of(episode, generated_at=T0, journal_head=JournalHead(3, "a" * 64))
    assert attestation.duration == timedelta(minutes=3)
    assert attestation.reason_label.startswith("Urgence vitale")
    c15 = EmergencyEpisode.start(
        grant(AccessMode.CENTRE_15), IDENTITY, reason_code=None, justification=None, now=T0
    )
    c15.end(EndReason.USER, T0)
    with pytest.raises(ValueError, match="only a bris de glace"):
        Attestation.of(c15, generated_at=T0)


# -- the service: start, during, every end ---------------------------------------------------------


@pytest.mark.asyncio
async def test_a_bris_de_glace_starts_counts_down_and_stops_on_the_button() -> None:
    rig = make_rig()
    dossier = await rig.dossiers.open(PATIENT, BRIS)
    episode = rig.service.active
    assert episode is not None and episode.episode_id == "ep1"
    assert episode.professional == IDENTITY  # from whoami
    assert rig.events == [(EmergencyEvent.STARTED, "ep1")]
    rig.time.advance(minutes=17, seconds=43)
    await settle()
    assert format_remaining(rig.service.remaining()) == "42:17"

    pages = [p async for p in rig.dossiers.documents(dossier, DocumentQuery())]
    assert len(pages[0].documents) == 3
    assert list(episode.revealed) == [doc(2).id]
    body = await rig.dossiers.retrieve(dossier, doc(2, masked=True))
    assert body.startswith(b"%PDF")

    task = rig.service.stop()
    assert task is not None
    assert rig.service.active is None and dossier.documents == {}  # stopped at once
    ended = await task
    assert rig.gateway.ended == [("ep1", "user")]
    assert ended.server_ended and ended.attestation == b"%PDF-1.7 attestation"
    [attestation] = rig.rendered.attestations
    assert attestation.end_reason is EndReason.USER
    assert [d.id for d in attestation.documents] == [doc(2).id] and attestation.documents[0].masked
    assert attestation.journal_head is not None and attestation.journal_head.seq == 3
    assert actions(rig.journal) == [
        JournalAction.BDG_STARTED,
        JournalAction.DOCUMENT_OPENED,
        JournalAction.BDG_ENDED,
        JournalAction.ATTESTATION_ISSUED,
    ]
    start, opened, end, issued = (r.entry for r in rig.journal.records)
    assert start.detail["reason"] == "PATIENT_INCONSCIENT" and start.mode == "bris_de_glace"
    assert start.detail["justification"] == BRIS.justification
    assert opened.document_ids == (doc(2).id,) and opened.detail == {
        "episode": "ep1",
        "masked": True,
    }
    assert end.detail["end_reason"] == "user" and end.detail["revealed"] == 1
    assert len(str(issued.detail["sha256"])) == 64
    assert rig.journal.verify().ok
    assert [e for e, _ in rig.events] == [
        EmergencyEvent.STARTED,
        EmergencyEvent.DOCUMENT,
        EmergencyEvent.ENDING,
        EmergencyEvent.ENDED,
    ]
    # Closing the patient afterwards does not tell the server a second time.
    await rig.dossiers.close(dossier, "patient_closed")
    assert rig.gateway.ended == [("ep1", "user")]


END_PATHS = [
    "user",
    "expired",
    "card_removed",
    "patient_closed",
    "quit",
    "session_locked",
    "logout",
]


async def end_by(rig: Rig, path: str, dossier: OpenDossier) -> None:
    match path:
        case "user":
            rig.service.stop()
        case "expired":
            rig.time.advance(minutes=59, seconds=59)
            await settle()
            assert rig.service.active is not None  # not a second early
            rig.time.advance(seconds=1)
        case "card_removed":
            rig.service.session_locked("card_removed")
        case "patient_closed":
            await rig.dossiers.close(dossier, "patient_closed")
        case "quit":
            await rig.service.aclose()
        case "session_locked":
            rig.service.session_locked("idle")
        case "logout":
            rig.service.session_locked(None)
    await settle()
    await rig.service.wait_idle(1.0)


@pytest.mark.parametrize("path", END_PATHS)
@pytest.mark.asyncio
async def test_every_end_path_stops_the_mode_on_the_server_with_its_reason(path: str) -> None:
    rig = make_rig()
    dossier = await rig.dossiers.open(PATIENT, BRIS)
    await end_by(rig, path, dossier)
    assert rig.service.active is None
    assert rig.gateway.ended == [("ep1", path)]
    end = next(r.entry for r in rig.journal.records if r.entry.action == JournalAction.BDG_ENDED)
    assert end.detail["end_reason"] == path
    # Whatever ended it, the bris de glace is attested and the attestation kept in the
    # professional's cache (sealed into its spool when it has just closed).
    assert [a.end_reason.value for a in rig.rendered.attestations] == [path]
    assert [(who, r.episode_id, r.end_reason.value) for who, r, _ in rig.cache.kept] == [
        (EMERGENCY, "ep1", path)
    ]
    issued = [
        r.entry for r in rig.journal.records if r.entry.action == JournalAction.ATTESTATION_ISSUED
    ]
    assert [e.detail["kept"] for e in issued] == [True]
    # The banner offers it at once only while the session goes on: after a lock, a logout or
    # quitting, the views keep nothing of the patient.
    attested = path in ("user", "expired", "patient_closed")
    assert (rig.service.last_ended is not None) is attested
    if rig.service.last_ended is not None:
        assert rig.service.last_ended.attestation is not None
    # Whatever the path, the views' close afterwards changes nothing on the server.
    await rig.dossiers.close(dossier, "session_locked")
    assert rig.gateway.ended == [("ep1", path)]
    assert rig.journal.verify().ok


@pytest.mark.asyncio
async def test_entering_again_asks_again_and_a_new_episode_ends_the_previous() -> None:
    rig = make_rig()
    first = await rig.dossiers.open(PATIENT, BRIS)
    second = await rig.dossiers.open(OTHER, BRIS)  # another patient, asked again
    assert rig.gateway.opened == [BRIS, BRIS]
    active = rig.service.active
    assert active is not None and active.episode_id == "ep2" and active.patient == OTHER
    await settle()
    await rig.service.wait_idle(1.0)
    assert rig.gateway.ended == [("ep1", "patient_closed")]
    assert first.documents == {}
    rig.service.stop()
    await rig.service.wait_idle(1.0)
    third = await rig.dossiers.open(OTHER, BRIS)  # nothing of the ended episode is reused
    assert third.grant.episode_id == "ep3" and third is not second
    assert len(rig.gateway.opened) == 3


@pytest.mark.asyncio
async def test_a_refusal_is_journaled_and_raised_with_its_reason() -> None:
    rig = make_rig()
    rig.gateway.refusals[AccessMode.BRIS_DE_GLACE] = (
        "opposed_bris_de_glace",
        "Le patient s'est opposé à l'accès en bris de glace.",
    )
    with pytest.raises(AccessRefusedError) as refused:
        await rig.dossiers.open(PATIENT, BRIS)
    assert refused.value.reason == "opposed_bris_de_glace"
    assert rig.service.active is None and rig.events == []
    [entry] = [r.entry for r in rig.journal.records]
    assert entry.action == JournalAction.ACCESS_REFUSED
    assert entry.detail == {"refusal": "opposed_bris_de_glace", "reason": "PATIENT_INCONSCIENT"}


@pytest.mark.asyncio
async def test_a_normal_access_is_traced_and_ended_too() -> None:
    rig = make_rig()
    dossier = await rig.dossiers.open(PATIENT, AccessRequest(consent_method="oral"))
    assert rig.service.active is None and rig.events == []
    _ = [p async for p in rig.dossiers.documents(dossier, DocumentQuery())]
    await rig.dossiers.retrieve(dossier, doc(1))
    rig.service.session_locked("card_removed")  # the card leaves: the normal access ends too
    await rig.service.wait_idle(1.0)
    await rig.dossiers.close(dossier, "session_locked")
    assert rig.gateway.ended == [("ep1", "card_removed")]
    assert actions(rig.journal) == [
        JournalAction.PATIENT_OPENED,
        JournalAction.DOCUMENT_OPENED,
        JournalAction.PATIENT_CLOSED,
    ]
    assert rig.journal.records[0].entry.detail == {"consent": "oral"}
    assert rig.journal.records[2].entry.detail == {"end_reason": "card_removed"}


@pytest.mark.asyncio
async def test_the_server_unreachable_at_the_end_is_said_and_retried_once() -> None:
    rig = make_rig()
    await rig.dossiers.open(PATIENT, BRIS)
    rig.gateway.end_errors = [NetworkError("injoignable"), NetworkError("injoignable")]
    task = rig.service.stop()
    assert task is not None
    await settle()
    rig.time.advance(seconds=1)  # the retry's pause
    ended = await task
    assert not ended.server_ended and ended.server_error == "injoignable"
    assert rig.rendered.attestations[0].server_ended is False
    assert rig.gateway.end_errors == []


@pytest.mark.asyncio
async def test_whoami_failing_falls_back_to_the_login() -> None:
    rig = make_rig()
    rig.gateway.identity = ProtocolError("bad")
    await rig.dossiers.open(PATIENT, BRIS)
    active = rig.service.active
    assert active is not None
    assert active.professional.name == "Karim BENALI"
    assert active.professional.profession_text == "Médecin"


@pytest.mark.asyncio
async def test_centre_15_runs_an_episode_without_attestation() -> None:
    rig = make_rig()
    await rig.dossiers.open(PATIENT, AccessRequest(AccessMode.CENTRE_15))
    active = rig.service.active
    assert active is not None and active.mode is AccessMode.CENTRE_15
    task = rig.service.stop()
    assert task is not None
    ended = await task
    assert ended.attestation is None and rig.rendered.attestations == []
    assert actions(rig.journal) == [JournalAction.CENTRE15_STARTED, JournalAction.CENTRE15_ENDED]
    assert rig.gateway.ended == [("ep1", "user")]


# -- the journals ---------------------------------------------------------------------------------


class FakeJournalTable:
    def __init__(self) -> None:
        self.records: list[ChainedEntry] = []

    def append(self, actor: str, action: str, **fields: Any) -> ChainedEntry:
        head = (
            JournalHead(self.records[-1].seq, self.records[-1].hash)
            if self.records
            else JournalHead()
        )
        entry = JournalEntry(
            head.seq + 1,
            fields["timestamp"],
            actor,
            action,
            fields["patient_ins"],
            tuple(fields["document_ids"]),
            fields["mode"],
            dict(fields["detail"]),
        )
        record = chain(head, entry)
        self.records.append(record)
        return record


class FakeCache:
    """What CacheJournal uses of CacheService."""

    def __init__(self) -> None:
        self.is_open = False
        self.id_nat: str | None = None
        self.journal = FakeJournalTable()

    async def call(self, fn: Any) -> Any:
        if not self.is_open:
            raise CacheClosedError("fermé")
        return fn(self)

    async def journal_records(self, *, patient_ins: str | None = None) -> list[ChainedEntry]:
        return [r for r in self.journal.records if r.entry.patient_ins == patient_ins]

    def can_seal(self, id_nat: str) -> bool:
        return False  # never opened in this process: pending in memory (the spool: test_cache)

    async def seal_journal_entry(self, actor: str, action: str, **fields: Any) -> bool:
        raise AssertionError("nothing can be sealed for a cache never opened")


@pytest.mark.asyncio
async def test_cache_journal_keeps_entries_while_the_cache_is_closed() -> None:
    cache = FakeCache()
    journal = CacheJournal(cast(Any, cache), clock=FakeTime())
    assert await journal.append(EMERGENCY, "bdg_ended", patient_ins=NIR, at=T0) is None
    assert len(journal.pending) == 1
    assert [e.action for e in await journal.entries(NIR)] == ["bdg_ended"]  # shown anyway
    cache.is_open, cache.id_nat = True, "someone-else"
    await journal.flush()
    assert len(journal.pending) == 1  # not another professional's cache
    cache.id_nat = EMERGENCY
    head = await journal.append(EMERGENCY, "patient_opened", patient_ins=NIR, at=T0 + timedelta(1))
    assert head == JournalHead(2, cache.journal.records[-1].hash)
    assert journal.pending == []
    assert [(r.entry.action, r.entry.timestamp) for r in cache.journal.records] == [
        ("bdg_ended", T0),  # written with its own time
        ("patient_opened", T0 + timedelta(1)),
    ]


# -- the history -----------------------------------------------------------------------------


def audit(
    n: int,
    subtype: str,
    at: datetime,
    *,
    purpose: str = "bris_de_glace",
    refs: tuple[str, ...] = (),
    description: str = "",
    outcome: str = "0",
) -> AuditRecord:
    return AuditRecord(
        id=f"a{n}",
        recorded=at,
        type_code="110113" if "emergency" in subtype else "rest",
        subtype=subtype,
        outcome=outcome,
        purpose=purpose,
        actor_id_nat=EMERGENCY,
        patient_ins=NIR,
        references=refs,
        description=description,
    )


def local(
    seq: int, at: datetime, action: str, *, actor: str = EMERGENCY, ins: str = NIR, **detail: str
) -> JournalEntry:
    docs = ("d1",) if action == "document_opened" else ()
    mode = "bris_de_glace" if "episode" in detail else "normal"
    return JournalEntry(seq, at, actor, action, ins, docs, mode, detail)


def test_history_groups_the_bris_de_glace_episodes() -> None:
    epi = "e" * 32
    ref = (f"DocumentReference/{epi}",)
    d1 = ("DocumentReference/d1",)
    yesterday = T0 - timedelta(days=1)
    server = [
        audit(1, "access", yesterday, purpose="normal", refs=("DocumentReference/x",)),
        audit(2, "search", yesterday + timedelta(minutes=1), purpose="normal"),
        audit(3, "emergency-override-started", T0, refs=ref, description="URGENCE_VITALE : x"),
        audit(4, "search", T0 + timedelta(minutes=1), refs=d1),
        audit(5, "retrieve", T0 + timedelta(minutes=2), refs=d1),
        audit(
            6,
            "emergency-override-stopped",
            T0 + timedelta(minutes=9),
            refs=ref,
            description="Fin du bris de glace (motif de fin : expired), durée 9 min.",
        ),
        audit(7, "access", T0 + timedelta(hours=1), outcome="4", description="Accès refusé"),
    ]
    journal = [
        local(1, T0, "bdg_started", episode=epi, reason="URGENCE_VITALE"),
        local(2, T0 + timedelta(minutes=2), "document_opened", episode=epi),
        local(3, T0, "document_opened", actor="someone-else"),
        local(4, T0, "document_opened", ins="other"),
    ]
    history = build_history(NIR, server, journal, actor_id_nat=EMERGENCY)
    [episode] = history.episodes
    assert episode.episode_id == epi and episode.mode is AccessMode.BRIS_DE_GLACE
    assert episode.ended_at == T0 + timedelta(minutes=9) and episode.end_reason == "expired"
    assert episode.document_ids == ("d1",)
    assert episode.detail == "URGENCE_VITALE : x"
    assert [(e.source, e.action) for e in episode.entries] == [
        (HistorySource.SERVER, "emergency-override-started"),
        (HistorySource.LOCAL, "bdg_started"),
        (HistorySource.SERVER, "search"),
        (HistorySource.SERVER, "retrieve"),
        (HistorySource.LOCAL, "document_opened"),
        (HistorySource.SERVER, "emergency-override-stopped"),
    ]
    outside = [e for e in history.entries if e.episode_id is None]
    assert [e.action for e in outside] == ["access", "search", "access"]
    assert not outside[0].succeeded and outside[0].detail == "Accès refusé"
    assert history.entries[0].at >= history.entries[-1].at  # newest first
    assert all(e.document_ids == () for e in history.entries if e.action == "access")


@pytest.mark.asyncio
async def test_history_service_shows_the_local_journal_when_the_server_fails() -> None:
    journal = MemoryJournal(FakeTime())
    await journal.append(EMERGENCY, "patient_opened", patient_ins=NIR, mode="normal", at=T0)

    class Audit:
        def __init__(self) -> None:
            self.error: Exception | None = NetworkError("Serveur DMP injoignable.")

        async def audit_events(
            self, grant: AccessGrant, *, limit: int = 1000, page_size: int = 200
        ) -> list[AuditRecord]:
            if self.error is not None:
                raise self.error
            return [audit(1, "search", T0 + timedelta(minutes=1), purpose="normal")]

    source = Audit()
    service = HistoryService(source, journal)
    dossier = OpenDossier(AccessGrant(PATIENT, AccessMode.NORMAL, "t", T0, "e"))
    history = await service.history(dossier, EMERGENCY)
    assert history.server_error == "Serveur DMP injoignable."
    assert [e.source for e in history.entries] == [HistorySource.LOCAL]
    source.error = None
    history = await service.history(dossier, EMERGENCY)
    assert history.server_error is None
    assert [e.source for e in history.entries] == [HistorySource.SERVER, HistorySource.LOCAL]


# -- FHIR mapping ---------------------------------------------------------------------------------


def test_audit_event_and_whoami_mapping() -> None:
    resource = {
        "resourceType": "AuditEvent",
        "id": "42",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110113"},
        "subtype": [
            {"system": "https://sandbox.dmp.local/x", "code": "emergency-override-started"}
        ],
        "action": "E",
        "recorded": "2025-03-14T22:00:00+00:00",
        "outcome": "0",
        "agent": [
            {
                "requestor": True,
                "who": {
                    "identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": EMERGENCY},
                    "display": "Karim BENALI",
                },
                "purposeOfUse": [{"coding": [{"system": "x", "code": "bris_de_glace"}]}],
            }
        ],
        "entity": [
            {
                "what": {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": NIR}},
                "description": "URGENCE_VITALE (…) : <b>inconscient</b>",
            },
            {"what": {"reference": "DocumentReference/abc"}},
        ],
    }
    record = audit_record_from_fhir(resource)
    assert (record.type_code, record.subtype, record.purpose) == (
        "110113",
        "emergency-override-started",
        "bris_de_glace",
    )
    assert record.actor_id_nat == EMERGENCY and record.patient_ins == NIR
    assert record.referenced_ids == ("abc",) and record.succeeded
    assert record.description == "URGENCE_VITALE (…) : <b>inconscient</b>"  # kept as text
    with pytest.raises(ProtocolError, match="recorded"):
        audit_record_from_fhir({**resource, "recorded": "hier"})

    who = professional_from_whoami(
        {
            "id_nat": EMERGENCY,
            "name": "Karim BENALI",
            "profession": "10",
            "profession_label": "Médecin",
            "specialty": "SM59",
            "structure": {"id": "1997000456", "name": "CH de Saint-Martin"},
        }
    )
    assert who == IDENTITY
    with pytest.raises(ProtocolError, match="id_nat"):
        professional_from_whoami({"name": "x"})
