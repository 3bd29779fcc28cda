"""The offline cache as the console uses it: opened after login, closed on lock and logout.

:class:`CacheService` owns the cache's single worker thread (``cache-worker``): the
:class:`~console.cache.store.CacheStore` is opened, used and closed on it, every method here
awaits it, so the GUI thread never blocks on SQLCipher.

Life cycle (wired by ``console.app`` / the session):

- after a card login: ``await cache.open_with_card(card_session)``; e-CPS (no card):
  ``await cache.open_with_keyring(id_nat)``. Both purge at open (retention, and anything an
  exceptional access left behind) and raise a :class:`CacheError` the view shows as is:
  :class:`CacheOwnershipError` (another card's cache: nothing touched),
  :class:`CacheUnavailableError` (no keychain for an e-CPS...: the console works online);
- card removed / idle lock: ``cache.lock()`` (synchronous, from a session listener);
- logout: ``await cache.logout()`` (purges every patient's data first if the professional
  chose so); quitting: ``await cache.aclose()``;
- hourly: ``await cache.purge_if_due()`` (a timer of the app); "purge now":
  ``await cache.purge_now()``;
- while a professional's cache is closed (the card was just pulled, the session ended), what
  still belongs in it (journal entries, a bris de glace attestation) is sealed to its spool
  key (``console/cache/spool.py``: :meth:`CacheService.seal`) and taken in at its next
  opening (:attr:`CacheOpened.spooled`).

:class:`CacheVisitStore` implements ``console.services.visits.VisitStore`` over the cache.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from console.cache.keys import (
    BINDING_CARD,
    BINDING_KEYRING,
    NO_KEYRING_MESSAGE,
    CacheKeys,
    CachePaths,
    KeyringBackend,
    cache_paths,
    cache_stem,
    card_keys,
    check_header,
    check_key,
    keyring_keys,
    new_header,
    read_header,
    spki_fingerprint,
    system_keyring,
    write_header,
)
from console.cache.outbox import OutboxItem, OutboxState
from console.cache.spool import Spool
from console.cache.store import (
    CachedPatient,
    CacheStore,
    Clock,
    PutResult,
    SpoolReport,
    attestation_spool_record,
    journal_spool_record,
    utc_now,
)
from console.domain.dossier import PatientRecord, Visit
from console.domain.emergency import AttestationRecord
from console.domain.ins import INS_NIR_SYSTEM
from console.domain.journal import ChainedEntry, DetailValue, VerifyResult
from console.domain.models import AccessMode, DocumentMeta
from console.domain.retention import (
    CacheClosedError,
    CacheContext,
    CacheCorruptError,
    CacheError,
    CacheOwnershipError,
    CacheUnavailableError,
    PurgeReport,
    RetentionPolicy,
)
from console.services.ports import CardSession
from console.services.visits import VisitKey, VisitStore

__all__ = [
    "WORKER_THREAD_PREFIX",
    "CacheClosedError",
    "CacheError",
    "CacheOpened",
    "CacheOwnershipError",
    "CacheService",
    "CacheUnavailableError",
    "CacheVisitStore",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

WORKER_THREAD_PREFIX = "cache-worker"

KeyringFinder = Callable[[], tuple[KeyringBackend | None, str]]

CLOSED_MESSAGE = "Le cache hors ligne est fermé : reconnectez-vous avec votre carte."


@dataclass(frozen=True, slots=True)
class CacheOpened:
    """What opening did (no patient data)."""

    created: bool
    purged: PurgeReport
    outbox_pending: int
    schema_version: int
    spooled: SpoolReport = field(default_factory=SpoolReport)
    """What was sealed for this cache while it was closed, taken in now."""


class CacheService:
    """One professional's offline cache at a time (see the module doc).

    Args:
        directory: Where the caches live (``Settings.data_dir / "cache"``).
        policy: Retention.
        clock: Aware "now" (tests inject one).
        keyring: Finds the OS keychain for e-CPS (tests inject an in-memory backend).
    """

    def __init__(
        self,
        directory: Path,
        *,
        policy: RetentionPolicy | None = None,
        clock: Clock = utc_now,
        keyring: KeyringFinder = system_keyring,
    ) -> None:
        self.directory = directory
        self.policy = policy or RetentionPolicy()
        self._clock = clock
        self._find_keyring = keyring
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WORKER_THREAD_PREFIX)
        self._store: CacheStore | None = None
        self._id_nat: str | None = None
        self._profession: str = ""
        self._episodes: dict[str, datetime] = {}
        self._sealers: dict[str, bytes] = {}
        """Spool public keys of the caches opened in this process, by idNat: kept after the
        cache closes (a public key reveals nothing), never written to disk."""

    # -- state ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def id_nat(self) -> str | None:
        """The owner of the open cache."""
        return self._id_nat if self._store is not None else None

    def context(
        self,
        mode: AccessMode = AccessMode.NORMAL,
        episode_id: str | None = None,
        *,
        sees_masked: bool = False,
    ) -> CacheContext:
        """The admission context of the open cache's professional for a grant."""
        if self._store is None or self._id_nat is None:
            raise CacheClosedError(CLOSED_MESSAGE)
        return CacheContext(self._id_nat, self._profession, mode, episode_id, sees_masked)

    async def _worker(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn)

    async def call(self, fn: Callable[[CacheStore], _T]) -> _T:
        """Run ``fn(store)`` on the cache's worker (the escape hatch for what is not wrapped).

        Raises:
            CacheClosedError: no cache open (locked, logged out, unavailable).
        """
        store = self._store
        if store is None:
            raise CacheClosedError(CLOSED_MESSAGE)

        def run() -> _T:
            if store.closed:
                raise CacheClosedError(CLOSED_MESSAGE)
            return fn(store)

        return await self._worker(run)

    # -- opening and closing -----------------------------------------------------------------

    async def open_with_card(self, card: CardSession, profession: str) -> CacheOpened:
        """Open (or create) the cache of the card's holder; the card signs once.

        Args:
            card: The logged-in card session (PIN entered).
            profession: The professional's profession code (admission of documents).
        """
        id_nat = card.identity.id_nat
        paths = cache_paths(self.directory, id_nat)
        header = await self._worker(functools.partial(read_header, paths.header))
        if header is not None:  # a wrong card is refused before it signs anything
            check_header(
                header,
                id_nat=id_nat,
                binding=BINDING_CARD,
                fingerprint=spki_fingerprint(card.certificate_der),
            )
        keys = await card_keys(card, id_nat)
        return await self._open(paths, keys, id_nat, profession)

    async def open_with_keyring(self, id_nat: str, profession: str) -> CacheOpened:
        """e-CPS: open the cache with the key kept in the OS keychain.

        Raises:
            CacheUnavailableError: no usable keychain (plain message: no offline cache).
        """
        backend, why = self._find_keyring()
        if backend is None:
            _log.info("no offline cache for e-CPS: %s", why)
            raise CacheUnavailableError(NO_KEYRING_MESSAGE)
        paths = cache_paths(self.directory, id_nat)

        def derive() -> CacheKeys:
            header = read_header(paths.header)
            if header is not None:
                check_header(header, id_nat=id_nat, binding=BINDING_KEYRING, fingerprint="")
            return keyring_keys(backend, id_nat, create=header is None)

        keys = await self._worker(derive)
        return await self._open(paths, keys, id_nat, profession)

    async def _open(
        self, paths: CachePaths, keys: CacheKeys, id_nat: str, profession: str
    ) -> CacheOpened:
        if self._store is not None:
            await self.close()
        policy = self.policy
        clock = self._clock

        def open_store() -> tuple[CacheStore, bytes, CacheOpened]:
            try:
                header = read_header(paths.header)
                created = header is None
                if header is None:
                    if paths.db.exists():
                        raise CacheCorruptError(
                            "L'en-tête du cache a disparu : le cache est conservé mais ne "
                            "peut pas être ouvert."
                        )
                    write_header(paths.header, new_header(id_nat, keys, clock()))
                else:
                    check_key(header, keys)
                store = CacheStore.open(paths, keys, clock=clock)
            finally:
                keys.wipe()
            try:
                public = store.spool_public_key()
                spooled = store.drain_spool(spool)
                purged = store.purge_all_episodes() + store.purge_expired(policy)
                pending = store.outbox.unsent()
                version = store.schema_version
            except BaseException:
                store.close()
                raise
            return store, public, CacheOpened(created, purged, pending, version, spooled)

        spool = self.spool(id_nat)
        store, public, opened = await self._worker(open_store)
        self._store, self._id_nat, self._profession = store, id_nat, profession
        self._sealers[id_nat] = public
        if opened.spooled.total or opened.spooled.unreadable:
            _log.info("cache spool taken in at open: %s", opened.spooled)
        self._episodes.clear()
        if opened.purged.total:
            _log.info("cache purged at open: %s", opened.purged)
        return opened

    async def close(self) -> None:
        """Close the cache (the key is gone from memory; the card is needed again)."""
        store, self._store = self._store, None
        self._episodes.clear()
        if store is not None:
            await self._worker(store.close)

    def lock(self) -> None:
        """Close at once, from a synchronous listener (card removed, idle lock).

        Calls already queued on the worker run first; any later call raises
        :class:`CacheClosedError`.
        """
        store, self._store = self._store, None
        self._episodes.clear()
        if store is not None:
            try:
                self._executor.submit(store.close)
            except RuntimeError:  # the worker already stopped (quitting): nothing runs
                _log.debug("cache worker stopped before the lock")

    async def logout(self, *, purge: bool | None = None) -> PurgeReport | None:
        """Logout: purge every patient's data first if chosen (default: the policy), close."""
        report = None
        if self._store is not None and (
            self.policy.purge_all_at_logout if purge is None else purge
        ):
            report = await self.call(lambda s: s.purge_patient_data())
        await self.close()
        self._id_nat = None
        return report

    async def aclose(self) -> None:
        """Quit: close and stop the worker."""
        await self.close()
        self._executor.shutdown(wait=True)

    async def discard(self, id_nat: str) -> bool:
        """Delete the cache files of `id_nat` (an old cache no card can open any more).

        Only after the user confirmed, having been told that deposits still queued in it are
        lost with it (they are encrypted: nobody can tell how many). Refused while that cache
        is open. Returns whether there was anything to delete.
        """
        if self._store is not None and self._id_nat == id_nat:
            raise CacheError("Ce cache est ouvert : fermez la session avant de le supprimer.")
        paths = cache_paths(self.directory, id_nat)

        spool = self.spool(id_nat)
        self._sealers.pop(id_nat, None)

        def remove() -> bool:
            found = False
            for path in (paths.wal, paths.shm, paths.db, paths.header):
                if path.exists():
                    path.unlink()
                    found = True
            spool.discard()
            return found

        return await self._worker(remove)

    # -- the sealed spool ------------------------------------------------------------------------

    def spool(self, id_nat: str) -> Spool:
        """`id_nat`'s spool (next to the cache's files)."""
        stem = cache_stem(id_nat)
        return Spool(self.directory / f"{stem}.spool", stem)

    def can_seal(self, id_nat: str) -> bool:
        """Whether a record can be sealed for `id_nat`'s cache (opened in this process)."""
        return id_nat in self._sealers

    async def seal(self, id_nat: str, record: Mapping[str, Any]) -> bool:
        """Seal `record` (a JSON object with a ``kind``) into `id_nat`'s spool, durably; taken
        in at the next opening of that cache. False when it cannot be sealed (that cache was
        never opened in this process). Runs off the cache's worker (which may be stopping).

        Raises:
            CacheError: the spool could not be written (disk).
        """
        public = self._sealers.get(id_nat)
        if public is None:
            return False
        spool = self.spool(id_nat)
        name = spool.next_name()  # taken now: the order the records were made in
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, functools.partial(spool.write, public, dict(record), name=name)
            )
        except OSError as exc:
            raise CacheError(f"Le dépôt chiffré n'a pas pu être écrit ({exc.strerror}).") from None
        return True

    async def seal_journal_entry(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None,
        document_ids: Iterable[str],
        mode: str,
        detail: Mapping[str, DetailValue],
        at: datetime,
    ) -> bool:
        """:meth:`seal` one journal entry of `actor` (written with its own time at the next
        opening of her cache)."""
        record = journal_spool_record(
            actor,
            action,
            patient_ins=patient_ins,
            document_ids=document_ids,
            mode=mode,
            detail=detail,
            at=at,
        )
        return await self.seal(actor, record)

    # -- bris de glace attestations ----------------------------------------------------------

    async def keep_attestation(self, id_nat: str, record: AttestationRecord, pdf: bytes) -> bool:
        """Keep `pdf` in `id_nat`'s cache: now if it is open, else sealed into its spool.
        False when neither is possible (no cache for this professional in this process)."""
        if self._store is not None and self._id_nat == id_nat:
            try:
                await self.call(lambda s: s.put_attestation(record, pdf))
            except CacheClosedError:
                pass  # closed meanwhile (the card was pulled): sealed below
            else:
                return True
        return await self.seal(id_nat, attestation_spool_record(record, pdf))

    async def attestations(self, *, unsaved_only: bool = False) -> list[AttestationRecord]:
        return await self.call(lambda s: s.attestations(unsaved_only=unsaved_only))

    async def attestation_pdf(self, episode_id: str) -> bytes | None:
        return await self.call(lambda s: s.attestation_pdf(episode_id))

    async def mark_attestation_saved(self, episode_id: str) -> bool:
        return await self.call(lambda s: s.mark_attestation_saved(episode_id))

    # -- retention -----------------------------------------------------------------------------

    async def purge_if_due(self) -> PurgeReport | None:
        """The hourly purge (the app's timer may call it more often: it runs when due)."""
        if self._store is None:
            return None
        policy = self.policy
        return await self.call(lambda s: s.purge_if_due(policy))

    async def purge_now(self, *, everything: bool = False) -> PurgeReport:
        """ "Purger maintenant": what retention expired, or every patient's data."""
        policy = self.policy
        if everything:
            return await self.call(lambda s: s.purge_patient_data())
        return await self.call(lambda s: s.purge_expired(policy))

    async def begin_episode(self, episode_id: str, expires_at: datetime) -> None:
        """A bris de glace (or centre 15) started: what it reveals goes with it."""
        self._episodes[episode_id] = expires_at
        await self.call(lambda s: s.begin_episode(episode_id, expires_at))

    async def end_episode(self, episode_id: str) -> PurgeReport:
        """The episode ended (button, expiry, card removal, patient closed, quit)."""
        self._episodes.pop(episode_id, None)
        return await self.call(lambda s: s.purge_episode(episode_id))

    # -- patients and documents ---------------------------------------------------------------

    async def remember_patient(self, patient: PatientRecord, ctx: CacheContext) -> bool:
        return await self.call(lambda s: s.touch_patient(patient, ctx))

    async def put_documents(
        self, patient_ins: str, docs: Sequence[DocumentMeta], ctx: CacheContext
    ) -> PutResult:
        """Cache metadata (admission applies: see ``console.domain.retention``)."""
        result = await self.call(lambda s: s.put_documents(patient_ins, docs, ctx))
        if result.refused:
            _log.info("cache refused %d document(s)", sum(result.refused.values()))
        return result

    async def put_body(self, doc_id: str, content: bytes) -> bool:
        """Keep an opened document's body; False when its metadata is not cached."""

        def put(store: CacheStore) -> bool:
            try:
                store.put_body(doc_id, content)
            except KeyError:
                return False
            return True

        return await self.call(put)

    async def get_body(self, doc_id: str) -> bytes | None:
        return await self.call(lambda s: s.get_body(doc_id))

    async def patients(self) -> list[CachedPatient]:
        return await self.call(lambda s: s.patients())

    async def documents(self, patient_ins: str) -> list[DocumentMeta]:
        return await self.call(lambda s: s.documents(patient_ins))

    async def mark_synced(self, patient_ins: str) -> None:
        await self.call(lambda s: s.mark_synced(patient_ins))

    async def reconcile(
        self,
        patient_ins: str,
        visible_ids: Collection[str],
        *,
        checked_ids: Collection[str] | None = None,
    ) -> int:
        """After a sync: drop the cached documents the server no longer shows (masked,
        deleted, replaced). See :meth:`CacheStore.reconcile`."""
        return await self.call(
            lambda s: s.reconcile(patient_ins, visible_ids, checked_ids=checked_ids)
        )

    # -- outbox --------------------------------------------------------------------------------

    async def enqueue(
        self,
        payload: bytes,
        *,
        kind: str = "deposit",
        patient_ins: str | None = None,
        batch_id: str | None = None,
        info: Mapping[str, Any] | None = None,
        journal_action: str | None = None,
        journal_detail: Mapping[str, DetailValue] | None = None,
    ) -> OutboxItem:
        """Queue a deposit; with `journal_action`, its journal entry in the same transaction."""
        actor = self._require_actor()

        def enqueue(store: CacheStore) -> OutboxItem:
            with store.transaction():
                item = store.outbox.enqueue(
                    payload, kind=kind, patient_ins=patient_ins, batch_id=batch_id, info=info
                )
                if journal_action is not None:
                    store.journal.append(
                        actor,
                        journal_action,
                        patient_ins=patient_ins,
                        detail={**(journal_detail or {}), "master_id": item.master_id},
                    )
            return item

        return await self.call(enqueue)

    async def claim(self, limit: int = 1) -> list[OutboxItem]:
        return await self.call(lambda s: s.outbox.claim(limit))

    async def ack(self, item_id: int, server_id: str | None = None) -> bool:
        return await self.call(lambda s: s.outbox.ack(item_id, server_id))

    async def fail(self, item_id: int, error: str, *, retry_at: datetime | None = None) -> None:
        await self.call(lambda s: s.outbox.fail(item_id, error, retry_at=retry_at))

    async def outbox_items(
        self, state: OutboxState | None = None, *, batch_id: str | None = None
    ) -> list[OutboxItem]:
        return await self.call(lambda s: s.outbox.items(state, batch_id=batch_id))

    # -- journal -------------------------------------------------------------------------------

    def _require_actor(self) -> str:
        if self._store is None or self._id_nat is None:
            raise CacheClosedError(CLOSED_MESSAGE)
        return self._id_nat

    async def journal(
        self,
        action: str,
        *,
        patient_ins: str | None = None,
        document_ids: Iterable[str] = (),
        mode: AccessMode | str = "",
        detail: Mapping[str, DetailValue] | None = None,
    ) -> ChainedEntry:
        """Append to the journal as the cache's owner (committed, synchronous=FULL)."""
        actor = self._require_actor()
        ids = tuple(document_ids)
        mode_text = str(mode)
        return await self.call(
            lambda s: s.journal.append(
                actor,
                action,
                patient_ins=patient_ins,
                document_ids=ids,
                mode=mode_text,
                detail=detail,
            )
        )

    async def journal_records(self, *, patient_ins: str | None = None) -> list[ChainedEntry]:
        return await self.call(lambda s: s.journal.records(patient_ins=patient_ins))

    async def verify_journal(self) -> VerifyResult:
        return await self.call(lambda s: s.journal.verify())

    # -- visits ----------------------------------------------------------------------------

    def active_episode(self) -> str | None:
        """The exceptional-access episode in progress, if exactly one is (else None)."""
        return next(iter(self._episodes)) if len(self._episodes) == 1 else None


class CacheVisitStore:
    """``VisitStore`` over the encrypted cache: last visits survive a restart.

    Only the open cache's owner's visits are kept (another professional's: not remembered).
    A visit in an exceptional mode is kept only while its episode runs (it goes with the
    episode). The documents the cache holds already were admitted when they were listed
    (:class:`~console.services.offline.OfflineGateway`, with the grant's context); the others
    are admitted here. A visit some of whose documents the cache refused (a masked document it
    cannot vouch for) is not recorded: the next opening is then a first opening, so nothing
    is missed. A normal-mode opening the server did not list (offline, served from the cache:
    the patient's last synchronisation is older than the opening) is not recorded either:
    the previous visit stays, so what reached the DMP meanwhile is searched at the next
    opening online. When the cache is not open, `fallback` (if any) serves.

    ``forget`` does not delete the cache's visits: locking closes the cache (unreadable
    without the card) and retention purges them; the fallback forgets as asked.
    """

    def __init__(self, cache: CacheService, fallback: VisitStore | None = None) -> None:
        self.cache = cache
        self.fallback = fallback

    def _usable(self, key: VisitKey) -> bool:
        return self.cache.is_open and self.cache.id_nat == key.professional

    def _episode(self, key: VisitKey) -> str | None:
        return None if key.mode is AccessMode.NORMAL else self.cache.active_episode()

    async def last_visit(self, key: VisitKey) -> Visit | None:
        if not self._usable(key):
            return None if self.fallback is None else await self.fallback.last_visit(key)
        episode = self._episode(key)
        if key.mode is not AccessMode.NORMAL and episode is None:
            return None
        found = await self.cache.call(lambda s: s.last_visit(key.patient, key.mode))
        if found is None:
            return None
        at, complete, visit_episode = found
        if visit_episode != episode:
            return None
        return Visit(at, complete_history=complete)

    async def known_documents(self, key: VisitKey) -> list[DocumentMeta]:
        if not self._usable(key):
            return [] if self.fallback is None else await self.fallback.known_documents(key)
        return await self.cache.call(lambda s: s.visit_documents(key.patient, key.mode))

    async def record_visit(
        self, key: VisitKey, visit: Visit, documents: Sequence[DocumentMeta]
    ) -> None:
        if not self._usable(key):
            if self.fallback is not None:
                await self.fallback.record_visit(key, visit, documents)
            return
        episode = self._episode(key)
        if key.mode is not AccessMode.NORMAL and episode is None:
            return
        ctx = self.cache.context(key.mode, episode)
        docs = [d for d in documents if d.patient_ins == key.patient]
        # DocumentMeta carries the NIR only: a patient row made here says INS-NIR; the
        # dossier service's remember_patient() writes the identity as the DMP returned it.
        system = INS_NIR_SYSTEM

        def record(store: CacheStore) -> None:
            with store.transaction():
                if key.mode is AccessMode.NORMAL and _listed_from_cache(store, key, visit):
                    return
                if not store.ensure_patient(key.patient, system, ctx):
                    return
                # What the cache holds was admitted as it was listed, under the grant's
                # context (a médecin traitant's masked documents included): admitting it
                # again here, without that context, would refuse and delete it.
                cached = store.document_ids(key.patient)
                fresh = [d for d in docs if d.id not in cached]
                result = store.put_documents(key.patient, fresh, ctx)
                if result.refused:
                    store.forget_visit(key.patient, key.mode)
                    return
                store.record_visit(
                    key.patient,
                    key.mode,
                    visit.at,
                    complete_history=visit.complete_history,
                    document_ids=[d.id for d in docs],
                    episode_id=episode,
                )

        await self.cache.call(record)

    async def forget(self, professional: str | None = None) -> None:
        if self.fallback is not None:
            await self.fallback.forget(professional)


def _listed_from_cache(store: CacheStore, key: VisitKey, visit: Visit) -> bool:
    """Whether the opening `visit` of `key`'s patient was served from the cache: the offline
    gateway marks the patient synchronised after each complete listing by the server (normal
    mode), so a synchronisation older than the opening means the server listed nothing.
    (Never synchronised: unknown, the visit is recorded as before.)"""
    patient = store.patient(key.patient)
    synced = None if patient is None else patient.last_sync
    return synced is not None and synced < visit.at
