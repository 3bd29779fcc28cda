"""Access tracing and the exceptional access modes (bris de glace, centre 15).

:class:`EmergencyService` is the one path through which the console opens, reads and closes a
patient's record when it is wired (``console.app``): it journals every step in the console's
journal, and runs the exceptional episodes (:class:`~console.domain.emergency.
EmergencyEpisode`):

- **start**: ``open()`` asks the DMP (through :class:`DossierService`); a bris de glace or a
  centre 15 access starts an episode: journal entry, cache episode (what it reveals goes with
  it), countdown, listeners told (the banner shows);
- **during**: each document opened is journaled and recorded; in bris de glace, the masked
  documents the lists reveal are recorded too;
- **end**, on every path, exactly once: the button (``stop()``, ``user``), the time box
  (``expired``), the card leaving the reader (``card_removed``: :meth:`session_locked`, a lock
  listener of the session), closing the patient (``patient_closed``), quitting (``quit``:
  :meth:`aclose`), another lock or the logout. The mode stops at once (``end_now()`` is
  synchronous: the banner goes, the documents are dropped), then in the background: journal
  entry, ``POST /auth/access/end`` with the reason, the cache's episode purged, and for a bris
  de glace, whatever ended it, the attestation: kept in the professional's encrypted cache
  (sealed into its spool when the cache has just closed: a card pulled, a logout, quitting),
  listed by "Attestations de bris de glace" until she saves it; ended while the session lasts
  (button, time box, patient closed), the banner also offers it at once.
  Entering again asks again: nothing of an ended episode is reused.

:class:`TracedDossierService` is a :class:`DossierService` whose ``open``, ``documents``,
``retrieve`` and ``close`` go through the tracker: the views keep calling the dossier service
they know and everything they do is traced.

The journal is a :class:`Journal`: :class:`MemoryJournal` without a cache (tests, e-CPS
without a keychain), :class:`CacheJournal` over the encrypted cache; an entry made while the
cache is closed (the card was just pulled) waits in memory and is written, with its own time,
at the next opening of that professional's cache.

No patient data in logs: only types of errors and counts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import logging
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from console.domain.dossier import AccessGrant, DocumentPage, DocumentQuery, PatientRecord
from console.domain.emergency import (
    DEFAULT_TIME_BOX,
    EXCEPTIONAL_MODES,
    PROFESSION_LABELS,
    Attestation,
    AttestationRecord,
    EmergencyEpisode,
    EndReason,
    JournalAction,
    ProfessionalIdentity,
    end_reason_for_lock,
)
from console.domain.errors import AccessRefusedError, ConsoleError, DmpError
from console.domain.journal import (
    ChainedEntry,
    DetailValue,
    JournalEntry,
    JournalHead,
    VerifyResult,
    chain,
    verify,
)
from console.domain.models import AccessMode, DocumentMeta
from console.domain.rules import AccessRequest
from console.services.dossier import DossierService, OpenDossier, write_atomically
from console.services.ports import DmpGateway
from console.services.session import SessionService

if TYPE_CHECKING:
    from console.services.cache import CacheService

__all__ = [
    "ATTESTED_ENDS",
    "AttestationRenderer",
    "CacheJournal",
    "EmergencyEvent",
    "EmergencyListener",
    "EmergencyService",
    "EndedEpisode",
    "EpisodeCache",
    "IdentitySource",
    "Journal",
    "MemoryJournal",
    "TracedDossierService",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
AttestationRenderer = Callable[[Attestation], bytes]
"""Renders an attestation to PDF bytes (``console.reports.attestation.render_attestation``);
called on a worker thread."""

ATTESTED_ENDS = frozenset({EndReason.USER, EndReason.EXPIRED, EndReason.PATIENT_CLOSED})
"""The ends after which the banner offers the attestation at once: the session goes on and
the professional is there to take it. After a lock, a logout or quitting the views keep
nothing of the patient: the attestation is made all the same and kept in her encrypted cache
(see the module doc), and she finds it at her next login."""

IDENTITY_TIMEOUT_S = 5.0
"""Longest wait for ``/auth/whoami`` at the start of an episode (then: the login's data)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- the journal ------------------------------------------------------------------------------


class Journal(Protocol):
    """Where the console journals what the professional does (append-only, hash-chained)."""

    async def append(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None = None,
        document_ids: Sequence[str] = (),
        mode: str = "",
        detail: Mapping[str, DetailValue] | None = None,
        at: datetime | None = None,
    ) -> JournalHead | None:
        """Append one entry; the head after it (None when it could not be written yet)."""
        ...

    async def entries(self, patient_ins: str) -> list[JournalEntry]:
        """The entries about one patient, oldest first."""
        ...


class MemoryJournal:
    """A journal in memory, chained like the cache's (for tests, and without a cache)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self.records: list[ChainedEntry] = []

    @property
    def head(self) -> JournalHead:
        last = self.records[-1] if self.records else None
        return JournalHead() if last is None else JournalHead(last.seq, last.hash)

    async def append(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None = None,
        document_ids: Sequence[str] = (),
        mode: str = "",
        detail: Mapping[str, DetailValue] | None = None,
        at: datetime | None = None,
    ) -> JournalHead:
        entry = JournalEntry(
            seq=self.head.seq + 1,
            timestamp=at or self._clock(),
            actor=actor,
            action=action,
            patient_ins=patient_ins,
            document_ids=tuple(document_ids),
            mode=mode,
            detail=dict(detail or {}),
        )
        self.records.append(chain(self.head, entry))
        return self.head

    async def entries(self, patient_ins: str) -> list[JournalEntry]:
        return [r.entry for r in self.records if r.entry.patient_ins == patient_ins]

    def verify(self) -> VerifyResult:
        return verify(self.records, anchor=self.head)


@dataclass(frozen=True, slots=True)
class _Pending:
    actor: str
    action: str
    patient_ins: str | None
    document_ids: tuple[str, ...]
    mode: str
    detail: Mapping[str, DetailValue]
    at: datetime


class CacheJournal:
    """The journal in the professional's encrypted cache (``CacheService``).

    The cache is open only while the session is (it closes at once when the card leaves):
    an entry made while it is closed, or open for another professional, is sealed into that
    professional's spool (``CacheService.seal``: encrypted to a key only her cache holds,
    durable, taken in with its own timestamp at the next opening of her cache). When it
    cannot be sealed (her cache was never opened in this process, a disk error) it waits in
    :attr:`pending`, in memory, for the next append or :meth:`flush` once her cache is open
    (the app calls :meth:`flush` after opening it); quitting first loses those (the server's
    AuditEvents remain the authoritative trace).
    """

    def __init__(self, cache: CacheService, clock: Clock = utc_now) -> None:
        self.cache = cache
        self._clock = clock
        self.pending: list[_Pending] = []
        self._lock = asyncio.Lock()

    def _writable(self, actor: str) -> bool:
        return self.cache.is_open and self.cache.id_nat == actor

    async def _write(self, item: _Pending) -> JournalHead:
        def append(store: Any) -> ChainedEntry:
            record: ChainedEntry = store.journal.append(
                item.actor,
                item.action,
                patient_ins=item.patient_ins,
                document_ids=item.document_ids,
                mode=item.mode,
                detail=item.detail,
                timestamp=item.at,
            )
            return record

        record = await self.cache.call(append)
        return JournalHead(record.seq, record.hash)

    async def flush(self) -> int:
        """Write the pending entries of the open cache's owner; how many were written."""
        from console.domain.errors import CacheError

        written = 0
        async with self._lock:
            for item in list(self.pending):
                if not self._writable(item.actor):
                    continue
                try:
                    await self._write(item)
                except CacheError:
                    break
                self.pending.remove(item)
                written += 1
        if written:
            log.info("journal: %d pending entry(ies) written", written)
        return written

    async def append(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None = None,
        document_ids: Sequence[str] = (),
        mode: str = "",
        detail: Mapping[str, DetailValue] | None = None,
        at: datetime | None = None,
    ) -> JournalHead | None:
        from console.domain.errors import CacheError

        item = _Pending(
            actor,
            action,
            patient_ins,
            tuple(document_ids),
            mode,
            dict(detail or {}),
            at or self._clock(),
        )
        if self._writable(actor):
            if self.pending:
                await self.flush()
            async with self._lock:
                try:
                    return await self._write(item)
                except CacheError as exc:  # closed meanwhile (card pulled): sealed below
                    log.info("journal entry kept for later: %s", type(exc).__name__)
        if await self._seal(item):
            return None
        self.pending.append(item)
        return None

    async def _seal(self, item: _Pending) -> bool:
        """Seal `item` into its author's spool (see the class doc); whether it was."""
        from console.domain.errors import CacheError

        if not self.cache.can_seal(item.actor):
            return False
        try:
            return await self.cache.seal_journal_entry(
                item.actor,
                item.action,
                patient_ins=item.patient_ins,
                document_ids=item.document_ids,
                mode=item.mode,
                detail=item.detail,
                at=item.at,
            )
        except CacheError as exc:
            log.warning("journal entry not sealed: %s", type(exc).__name__)
            return False

    async def entries(self, patient_ins: str) -> list[JournalEntry]:
        from console.domain.errors import CacheError

        stored: list[JournalEntry] = []
        if self.cache.is_open:
            try:
                records = await self.cache.journal_records(patient_ins=patient_ins)
                stored = [r.entry for r in records]
            except CacheError:
                stored = []
        waiting = [
            JournalEntry(
                0, p.at, p.actor, p.action, p.patient_ins, p.document_ids, p.mode, p.detail
            )
            for p in self.pending
            if p.patient_ins == patient_ins
        ]
        return stored + waiting


# -- the other ports ------------------------------------------------------------------------------


class EpisodeCache(Protocol):
    """What the service needs of the offline cache (``CacheService``)."""

    @property
    def is_open(self) -> bool: ...

    async def begin_episode(self, episode_id: str, expires_at: datetime) -> None: ...

    async def end_episode(self, episode_id: str) -> Any: ...

    async def keep_attestation(
        self, id_nat: str, record: AttestationRecord, pdf: bytes
    ) -> bool: ...

    async def mark_attestation_saved(self, episode_id: str) -> bool: ...


class IdentitySource(Protocol):
    """Who holds a grant (``HttpDmpGateway.professional_identity``: ``/auth/whoami``)."""

    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity: ...


class EmergencyEvent(StrEnum):
    STARTED = "started"
    """An episode started (show the banner)."""
    DOCUMENT = "document"
    """A document was opened during it."""
    ENDING = "ending"
    """It ended: the mode stopped now (drop the dossier, stop the banner's countdown)."""
    ENDED = "ended"
    """Everything after the end is done (server told, attestation made): see ``last_ended``
    (set only for the ends after which the session goes on: :data:`ATTESTED_ENDS`)."""
    CLEARED = "cleared"
    """What was kept of that ended episode (its attestation) was dropped (lock, logout)."""


EmergencyListener = Callable[[EmergencyEvent, EmergencyEpisode], None]


@dataclass(frozen=True, slots=True)
class EndedEpisode:
    """An episode after its end.

    Attributes:
        attestation: The attestation PDF (bris de glace ended by the button, the time box or
            closing the patient), else None.
        server_error: Why the server could not be told of the end (offline...), or None.
    """

    episode: EmergencyEpisode
    attestation: bytes | None = None
    attestation_error: str | None = None
    server_error: str | None = None

    @property
    def server_ended(self) -> bool:
        return bool(self.episode.server_ended)


def _default_renderer(attestation: Attestation) -> bytes:
    from console.reports.attestation import render_attestation

    return render_attestation(attestation)


# -- the service ---------------------------------------------------------------------------------


class EmergencyService:
    """Traces every access and runs the exceptional episodes (see the module doc).

    Args:
        dossiers: The dossier service (its own ``open``/``close`` are used, never overridden
            ones: give it a :class:`TracedDossierService` to route the views through here).
        journal: Where to journal (in memory if None).
        cache: The offline cache, for the episodes (none: nothing to purge).
        identity: Who holds a grant, for the attestation (none: the login's data).
        render: PDF renderer of the attestation (reportlab's by default).
        time_box: Longest bris de glace (``Settings.bris_de_glace_minutes``).
        clock: Aware "now".
        sleep: Awaited by the countdown (tests make time pass with it).
        tick_s: Longest sleep of the countdown: the wall clock is read again at least this
            often (a computer that slept does not overrun the time box).
        server_label: The server, as the attestation names it.
    """

    def __init__(
        self,
        dossiers: DossierService,
        *,
        journal: Journal | None = None,
        cache: EpisodeCache | None = None,
        identity: IdentitySource | None = None,
        render: AttestationRenderer | None = None,
        time_box: timedelta = DEFAULT_TIME_BOX,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        tick_s: float = 1.0,
        server_label: str = "",
    ) -> None:
        self._dossiers = dossiers
        self.journal: Journal = journal if journal is not None else MemoryJournal(clock)
        self._cache = cache
        self._identity = identity
        self._render = render or _default_renderer
        self.time_box = time_box
        self._clock = clock
        self._sleep = sleep
        self._tick_s = tick_s
        self.server_label = server_label
        self._listeners: list[EmergencyListener] = []
        self._episode: EmergencyEpisode | None = None
        self._episode_dossier: OpenDossier | None = None
        self._countdown: asyncio.Task[None] | None = None
        self._open: dict[int, OpenDossier] = {}
        """Dossiers opened through here and not closed yet, by ``id()``."""
        self._closing: collections.OrderedDict[tuple[int, str], asyncio.Task[Any]] = (
            collections.OrderedDict()
        )
        """Recent closings, keyed by (``id()`` of the dossier, its token's hash): a second
        close of the same dossier awaits the first instead of telling the server again."""
        self._tasks: set[asyncio.Task[Any]] = set()
        """The ends in progress (journal, server, attestation), for :meth:`wait_idle`."""
        self.last_ended: EndedEpisode | None = None
        if isinstance(dossiers, TracedDossierService):
            dossiers.tracker = self

    # -- observers -----------------------------------------------------------------------------
    def add_listener(self, listener: EmergencyListener) -> None:
        """``listener(event, episode)`` at each step of an episode (on the loop's thread)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: EmergencyListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _emit(self, event: EmergencyEvent, episode: EmergencyEpisode) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, episode)
            except Exception as exc:  # one broken view must not stop the end of a bris de glace
                # Type and stack, never the message (it could name the patient).
                stack = "".join(traceback.format_tb(exc.__traceback__))
                log.error("emergency listener failed: %s\n%s", type(exc).__name__, stack)

    # -- state ---------------------------------------------------------------------------------
    @property
    def active(self) -> EmergencyEpisode | None:
        """The exceptional episode in progress, if any."""
        episode = self._episode
        return episode if episode is not None and episode.active else None

    @property
    def active_dossier(self) -> OpenDossier | None:
        """The dossier of the episode in progress."""
        return self._episode_dossier if self.active is not None else None

    def remaining(self) -> timedelta:
        """Time left in the episode in progress (zero when none)."""
        episode = self.active
        return timedelta(0) if episode is None else episode.remaining(self._clock())

    def is_open(self, dossier: OpenDossier) -> bool:
        """Whether `dossier` is open through here and not ended (for the views)."""
        return id(dossier) in self._open and self._open[id(dossier)] is dossier

    # -- journal -------------------------------------------------------------------------------
    async def _journal(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None,
        document_ids: Sequence[str] = (),
        mode: str = "",
        detail: Mapping[str, DetailValue] | None = None,
        at: datetime | None = None,
    ) -> JournalHead | None:
        """Journal, never failing the action it traces (the server traced it anyway)."""
        try:
            return await self.journal.append(
                actor,
                action,
                patient_ins=patient_ins,
                document_ids=document_ids,
                mode=mode,
                detail=detail,
                at=at or self._clock(),
            )
        except Exception as exc:
            log.error("journal entry %s could not be written: %s", action, type(exc).__name__)
            return None

    # -- opening -------------------------------------------------------------------------------
    async def open(self, patient: PatientRecord, request: AccessRequest) -> OpenDossier:
        """Open `patient`'s record as `request` asks; start an episode in an exceptional mode.

        A refusal is journaled and raised (:class:`AccessRefusedError`: its ``reason`` is the
        rules' code, ``opposed_bris_de_glace``...). A new episode ends the one in progress
        (``patient_closed``): one exceptional access at a time.
        """
        actor = self._dossiers.professional_id()
        ins = patient.ins.value
        try:
            dossier = await DossierService.open(self._dossiers, patient, request)
        except AccessRefusedError as exc:
            detail: dict[str, DetailValue] = {"refusal": exc.reason}
            if request.reason_code is not None:
                detail["reason"] = request.reason_code
            await self._journal(
                actor,
                JournalAction.ACCESS_REFUSED,
                patient_ins=ins,
                mode=request.mode.value,
                detail=detail,
            )
            raise
        started = self._clock()
        grant = dossier.grant
        if self.active is not None:  # one record at a time: the new one replaces it
            self.end_now(EndReason.PATIENT_CLOSED)
        self._open[id(dossier)] = dossier
        if grant.mode not in EXCEPTIONAL_MODES:
            opened: dict[str, DetailValue] = {}
            if request.consent_method is not None:
                opened["consent"] = request.consent_method
            await self._journal(
                actor,
                JournalAction.PATIENT_OPENED,
                patient_ins=ins,
                mode=grant.mode.value,
                detail=opened,
                at=started,
            )
            return dossier

        professional = await self._professional(grant)
        episode = EmergencyEpisode.start(
            grant,
            professional,
            reason_code=request.reason_code,
            justification=request.justification,
            now=started,
            time_box=self.time_box,
        )
        if not episode.episode_id:
            episode.episode_id = hashlib.sha256(grant.token.encode()).hexdigest()[:32]
        self._episode, self._episode_dossier = episode, dossier
        self._countdown = self._spawn(self._run_countdown(episode), end=False)
        await self._journal(
            actor,
            JournalAction.started(grant.mode),
            patient_ins=ins,
            mode=grant.mode.value,
            detail=episode.journal_detail(),
            at=started,
        )
        if self._cache is not None and self._cache.is_open:
            try:
                await self._cache.begin_episode(episode.episode_id, episode.deadline)
            except ConsoleError as exc:
                log.warning("cache episode not begun: %s", type(exc).__name__)
        if episode.active:
            self._emit(EmergencyEvent.STARTED, episode)
        return dossier

    async def _professional(self, grant: AccessGrant) -> ProfessionalIdentity:
        login = self._dossiers.session.login
        fallback = ProfessionalIdentity(
            id_nat=login.id_nat if login is not None else "",
            name=login.display_name if login is not None else "",
            profession=login.profession if login is not None else "",
            profession_label=PROFESSION_LABELS.get(login.profession, "") if login else "",
        )
        if self._identity is None:
            return fallback
        try:
            async with asyncio.timeout(IDENTITY_TIMEOUT_S):
                found = await self._identity.professional_identity(grant)
        except (ConsoleError, TimeoutError) as exc:
            log.warning("professional identity unavailable: %s", type(exc).__name__)
            return fallback
        if fallback.id_nat and found.id_nat != fallback.id_nat:
            log.warning("whoami names another professional than the login: ignored")
            return fallback
        return found

    # -- during --------------------------------------------------------------------------------
    def documents_listed(self, dossier: OpenDossier, documents: Iterable[DocumentMeta]) -> None:
        """Documents listed in `dossier`: a bris de glace records the masked ones it reveals."""
        episode = self.active
        if episode is not None and dossier is self._episode_dossier:
            fresh = episode.record_listed(documents)
            if fresh:
                log.info("bris de glace revealed %d masked document(s)", len(fresh))

    async def document_opened(self, dossier: OpenDossier, doc: DocumentMeta) -> None:
        """`doc` was opened (its body fetched) in `dossier`: journaled, and recorded by the
        episode in progress when it is that dossier's."""
        login = self._dossiers.session.login
        actor = login.id_nat if login is not None else ""
        at = self._clock()
        grant = dossier.grant
        detail: dict[str, DetailValue] = {}
        episode = self.active
        if episode is not None and dossier is self._episode_dossier:
            episode.record_opened(doc, at)
            detail["episode"] = episode.episode_id
        if doc.masked:
            detail["masked"] = True
        await self._journal(
            actor,
            JournalAction.DOCUMENT_OPENED,
            patient_ins=grant.patient.ins.value,
            document_ids=(doc.id,),
            mode=grant.mode.value,
            detail=detail,
            at=at,
        )
        if episode is not None and episode.active and dossier is self._episode_dossier:
            self._emit(EmergencyEvent.DOCUMENT, episode)

    async def retrieve(self, dossier: OpenDossier, doc: DocumentMeta) -> bytes:
        """The body of `doc`, then :meth:`document_opened`."""
        data = await DossierService.retrieve(self._dossiers, dossier, doc)
        await self.document_opened(dossier, doc)
        return data

    # -- the end -------------------------------------------------------------------------------
    def stop(self) -> asyncio.Task[EndedEpisode] | None:
        """The professional's button: end the episode in progress (``user``)."""
        return self.end_now(EndReason.USER)

    def end_now(self, reason: EndReason) -> asyncio.Task[EndedEpisode] | None:
        """End the episode in progress now (synchronous: the mode stops before this returns).

        The rest (journal, server, cache, attestation) runs in the returned task; None when no
        episode is in progress.
        """
        episode, dossier = self.active, self._episode_dossier
        if episode is None or dossier is None:
            return None
        episode.end(reason, self._clock())
        self._episode = self._episode_dossier = None
        countdown, self._countdown = self._countdown, None
        if countdown is not None and countdown is not _current_task():
            countdown.cancel()
        self._open.pop(id(dossier), None)
        dossier.documents.clear()
        self._emit(EmergencyEvent.ENDING, episode)
        task = self._spawn(self._finish(episode, dossier, reason))
        self._closing[_key(dossier)] = task
        self._trim()
        return task

    async def _finish(
        self, episode: EmergencyEpisode, dossier: OpenDossier, reason: EndReason
    ) -> EndedEpisode:
        actor = episode.professional.id_nat
        ins = episode.patient.ins.value
        head = await self._journal(
            actor,
            JournalAction.ended(episode.mode),
            patient_ins=ins,
            document_ids=tuple(episode.opened),
            mode=episode.mode.value,
            detail={
                "episode": episode.episode_id,
                "end_reason": reason.value,
                "duration_s": round(episode.duration().total_seconds()),
                "opened": len(episode.opened),
                "revealed": len(episode.revealed),
            },
            at=episode.ended_at,
        )
        server_error = await self._end_on_server(dossier.grant, reason)
        episode.server_ended = server_error is None
        if self._cache is not None and self._cache.is_open:
            try:
                await self._cache.end_episode(episode.episode_id)
            except ConsoleError as exc:  # the next opening of the cache purges it anyway
                log.warning("cache episode not purged now: %s", type(exc).__name__)
        pdf: bytes | None = None
        pdf_error: str | None = None
        if episode.mode is AccessMode.BRIS_DE_GLACE:
            try:
                attestation, pdf = await self._attestation(episode, head)
            except Exception as exc:
                log.error("attestation failed: %s", type(exc).__name__)
                pdf_error = "L'attestation n'a pas pu être produite."
            else:
                kept = await self._keep_attestation(actor, attestation, pdf)
                await self._journal(
                    actor,
                    JournalAction.ATTESTATION_ISSUED,
                    patient_ins=ins,
                    mode=episode.mode.value,
                    detail={
                        "episode": episode.episode_id,
                        "sha256": hashlib.sha256(pdf).hexdigest(),
                        "kept": kept,
                    },
                )
        if reason not in ATTESTED_ENDS:  # the views keep nothing of the patient: the cache has it
            pdf = None
        ended = EndedEpisode(episode, pdf, pdf_error, server_error)
        if reason in ATTESTED_ENDS:  # after a lock or a logout nothing of the patient is kept
            self.last_ended = ended
        self._emit(EmergencyEvent.ENDED, episode)
        return ended

    async def _end_on_server(self, grant: AccessGrant, reason: EndReason) -> str | None:
        """``POST /auth/access/end`` (one retry on a network error); the error, or None."""
        for attempt in (1, 2):
            try:
                await self._dossiers.gateway.end_access(grant, reason.value)
            except DmpError as exc:
                from console.domain.errors import NetworkError

                if isinstance(exc, NetworkError) and attempt == 1:
                    await self._sleep(1.0)
                    continue
                log.warning("access not ended on the server: %s", type(exc).__name__)
                return str(exc)
            return None
        return None  # pragma: no cover (the loop always returns)

    async def _attestation(
        self, episode: EmergencyEpisode, head: JournalHead | None
    ) -> tuple[Attestation, bytes]:
        attestation = Attestation.of(
            episode,
            generated_at=self._clock(),
            journal_head=head,
            server_label=self.server_label,
        )
        loop = asyncio.get_running_loop()
        return attestation, await loop.run_in_executor(None, self._render, attestation)

    async def _keep_attestation(self, actor: str, attestation: Attestation, pdf: bytes) -> bool:
        """Keep the attestation in `actor`'s encrypted cache (see the module doc)."""
        if self._cache is None:
            return False
        try:
            kept = await self._cache.keep_attestation(actor, AttestationRecord.of(attestation), pdf)
        except ConsoleError as exc:
            log.warning("attestation not kept in the cache: %s", type(exc).__name__)
            return False
        if not kept:
            log.warning("attestation not kept: no cache for this professional")
        return kept

    async def _run_countdown(self, episode: EmergencyEpisode) -> None:
        while episode.active:
            left = (episode.deadline - self._clock()).total_seconds()
            if left <= 0:
                break
            await self._sleep(min(left, self._tick_s))
        if episode.active and episode is self._episode:
            self.end_now(EndReason.EXPIRED)

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, dossier: OpenDossier, reason: str | EndReason = "patient_closed") -> None:
        """Close `dossier` and end its access on the server with `reason` (the views' close).

        The episode in progress ends with it; a dossier already ended (the time box, the
        button, a lock) is only waited for; a normal access is journaled and ended.
        """
        end = reason if isinstance(reason, EndReason) else EndReason.parse(reason)
        dossier.documents.clear()
        if dossier is self._episode_dossier and self.active is not None:
            task: asyncio.Task[Any] | None = self.end_now(end)
        else:
            task = self._closing.get(_key(dossier))
            if task is None:
                task = self._close_normal(dossier, end)
        if task is not None:
            await asyncio.shield(task)

    def _close_normal(self, dossier: OpenDossier, reason: EndReason) -> asyncio.Task[Any]:
        self._open.pop(id(dossier), None)
        task = self._spawn(self._finish_normal(dossier, reason))
        self._closing[_key(dossier)] = task
        self._trim()
        return task

    async def _finish_normal(self, dossier: OpenDossier, reason: EndReason) -> None:
        login = self._dossiers.session.login
        grant = dossier.grant
        await self._journal(
            login.id_nat if login is not None else "",
            JournalAction.PATIENT_CLOSED,
            patient_ins=grant.patient.ins.value,
            mode=grant.mode.value,
            detail={"end_reason": reason.value},
        )
        await self._end_on_server(grant, reason)

    def session_locked(self, lock_reason: str | None) -> None:
        """Lock listener of the session (``SessionService.add_lock_listener``): the card left
        (``card_removed``), another lock (``session_locked``) or the logout (None: ``logout``)
        ends every access in progress now, before the views are emptied."""
        reason = end_reason_for_lock(None if lock_reason is None else str(lock_reason))
        self.forget()
        self.end_now(reason)
        for dossier in list(self._open.values()):
            self._close_normal(dossier, reason)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait for the ends in progress (server told, journal written)."""
        pending = [t for t in self._tasks if not t.done()]  # countdowns are not in it
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Quitting: end everything (``quit``) and wait (at most `timeout` s) for the server."""
        self.end_now(EndReason.QUIT)
        for dossier in list(self._open.values()):
            self._close_normal(dossier, EndReason.QUIT)
        await self.wait_idle(timeout)

    # -- after -----------------------------------------------------------------------------------
    async def save_attestation(self, ended: EndedEpisode, path: Path) -> None:
        """Write `ended`'s attestation to `path` (atomically, off the loop's thread).

        Raises:
            ValueError: it has no attestation.
        """
        if ended.attestation is None:
            raise ValueError("no attestation for this episode")
        data = ended.attestation
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(write_atomically, path, data)
        )
        if self._cache is not None and self._cache.is_open:
            try:
                await self._cache.mark_attestation_saved(ended.episode.episode_id)
            except ConsoleError as exc:  # saved all the same; it stays listed as unsaved
                log.warning("attestation not marked saved: %s", type(exc).__name__)

    def forget(self) -> None:
        """Drop what is kept of the last ended episode (the session locks or ends)."""
        ended, self.last_ended = self.last_ended, None
        if ended is not None:
            self._emit(EmergencyEvent.CLEARED, ended.episode)

    # -- plumbing ------------------------------------------------------------------------------
    def _spawn[T](self, coro: Awaitable[T], *, end: bool = True) -> asyncio.Task[T]:
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        if end:
            self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("emergency task failed: %s", type(exc).__name__)

    def _trim(self, keep: int = 32) -> None:
        while len(self._closing) > keep:
            self._closing.popitem(last=False)


def _current_task() -> asyncio.Task[Any] | None:
    """The running task, None outside one (a Qt slot called while the loop is not running)."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _key(dossier: OpenDossier) -> tuple[int, str]:
    return id(dossier), hashlib.sha256(dossier.grant.token.encode()).hexdigest()


class TracedDossierService(DossierService):
    """A :class:`DossierService` whose opening, lists, bodies and closing go through an
    :class:`EmergencyService` (set as :attr:`tracker` by the service's constructor).

    Without a tracker it behaves as its parent.
    """

    def __init__(self, gateway: DmpGateway, session: SessionService) -> None:
        super().__init__(gateway, session)
        self.tracker: EmergencyService | None = None

    async def open(self, patient: PatientRecord, request: AccessRequest) -> OpenDossier:
        if self.tracker is None:
            return await super().open(patient, request)
        return await self.tracker.open(patient, request)

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        pages = super().documents(dossier, query)
        try:
            async for page in pages:
                if self.tracker is not None:
                    self.tracker.documents_listed(dossier, page.documents)
                yield page
        finally:  # closed with us (a cancelled opening stops its search at once)
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()

    async def retrieve(self, dossier: OpenDossier, doc: DocumentMeta) -> bytes:
        if self.tracker is None:
            return await super().retrieve(dossier, doc)
        return await self.tracker.retrieve(dossier, doc)

    async def close(self, dossier: OpenDossier, reason: str = "patient_closed") -> None:
        if self.tracker is None:
            await super().close(dossier, reason)
        else:
            await self.tracker.close(dossier, reason)
