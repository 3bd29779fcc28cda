"""Reading through the offline cache: what is read online is kept, and read again offline.

:class:`OfflineGateway` wraps the DMP gateway (``console.app`` gives it to the dossier service
and the other services instead of the bare gateway):

- **online**, it forwards every call and keeps what the professional reads in her encrypted
  cache (:class:`~console.services.cache.CacheService`): the patient at each opening
  (``remember_patient``), the metadata of every page listed (``put_documents``, admission
  applies), the body of every document opened (``put_body``), all with the grant's context
  (``cache.context(grant.mode, grant.episode_id)``: what a bris de glace reveals goes with its
  episode); after a complete listing, ``reconcile`` drops the cached documents the server no
  longer lists (masked, deleted, replaced) among those the query covered, then
  ``mark_synced``;
- **offline** (the server cannot be reached: :class:`~console.domain.errors.NetworkError`),
  it says so to its listeners (``online=False`` and the last synchronisation: the window's
  status bar), finds the patients of the cache by INS, opens them READ-ONLY with a synthetic
  grant (:func:`is_offline_grant`: normal mode only, nothing sent), lists their cached
  documents and serves the bodies already opened; any other body raises
  :class:`DocumentUnavailableOfflineError`. Back online (any answer of the server, or
  :meth:`OfflineGateway.probe`), new openings use the server again.

The cache is used only when it is open (after the card login; closed on lock and logout): a
cache error never stops a reading, it is logged (type only, no patient data).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.errors import DmpError, NetworkError
from console.domain.ins import INS
from console.domain.models import AccessMode, DocStatus, DocumentMeta

if TYPE_CHECKING:  # annotations only: this module loads before the first paint
    from console.domain.emergency import AuditRecord, ProfessionalIdentity
    from console.domain.profile import AdvanceDirectives, PatientSummary, RelatedContact
    from console.domain.retention import CacheContext
    from console.domain.rules import AccessRequest
    from console.domain.session import EcpsPollStatus, EcpsRequest
    from console.domain.vaccination import Immunization, NewImmunization
    from console.services.cache import CacheService
    from console.services.ports import DmpGateway

__all__ = [
    "OFFLINE_TOKEN_PREFIX",
    "ConnectivityListener",
    "DocumentUnavailableOfflineError",
    "OfflineGateway",
    "OfflineUnavailableError",
    "is_offline_grant",
    "matches_query",
]

log = logging.getLogger(__name__)

OFFLINE_TOKEN_PREFIX = "offline:"
"""The token of a grant made by the console offline (never sent to a server)."""

OFFLINE_GRANT_LIFETIME = timedelta(hours=12)

ConnectivityListener = Callable[[bool, datetime | None], None]
"""``listener(online, last_sync)`` when the server becomes unreachable or reachable again."""


class OfflineUnavailableError(NetworkError):
    """Offline, and the cache cannot answer (patient not cached, exceptional mode...)."""


class DocumentUnavailableOfflineError(OfflineUnavailableError):
    """Offline, and this document's body was never opened on this computer."""


def is_offline_grant(grant: AccessGrant) -> bool:
    """Whether `grant` was made offline from the cache (read-only, nothing sent)."""
    return grant.token.startswith(OFFLINE_TOKEN_PREFIX)


def matches_query(doc: DocumentMeta, query: DocumentQuery) -> bool:
    """Whether the server would list `doc` for `query` (the console's approximation: the
    cache's answer offline, and which cached documents a listing covered)."""
    if doc.status is not DocStatus.CURRENT:
        return False
    if doc.archived and not query.include_archived:
        return False
    if query.type_codes and doc.type_code not in query.type_codes:
        return False
    if query.class_codes and doc.class_code not in query.class_codes:
        return False
    act = doc.created.date()
    if query.act_from is not None and act < query.act_from:
        return False
    if query.act_to is not None and act > query.act_to:
        return False
    return query.deposited_since is None or doc.deposited >= query.deposited_since


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OfflineGateway:
    """A :class:`~console.services.ports.DmpGateway` that caches what is read and reads the
    cache when the server cannot be reached (see the module doc).

    Args:
        gateway: The DMP gateway.
        cache: The offline cache (None: no cache, offline reading impossible).
        clock: Aware "now".
    """

    def __init__(
        self,
        gateway: DmpGateway,
        cache: CacheService | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.inner = gateway
        self.cache = cache
        self._clock = clock
        self.online = True
        """Whether the last call reached the server."""
        self.last_sync: datetime | None = None
        """When the server last answered."""
        self._listeners: list[ConnectivityListener] = []

    # -- connectivity --------------------------------------------------------------------------

    @property
    def server_label(self) -> str:
        return self.inner.server_label

    @server_label.setter
    def server_label(self, label: str) -> None:
        self.inner.server_label = label

    def add_listener(self, listener: ConnectivityListener) -> None:
        """``listener(online, last_sync)`` at each change of reachability."""
        self._listeners.append(listener)

    def _set_online(self, online: bool) -> None:
        if online:
            self.last_sync = self._clock()
        if online is self.online:
            return
        self.online = online
        for listener in list(self._listeners):
            try:
                listener(online, self.last_sync)
            except Exception:
                log.exception("connectivity listener failed")

    async def _call[T](self, make: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await make()
        except NetworkError:
            self._set_online(False)
            raise
        except DmpError:
            self._set_online(True)  # it answered (a refusal is an answer)
            raise
        self._set_online(True)
        return result

    async def probe(self) -> bool:
        """Ask the server for a challenge: whether it answers (listeners told of a change)."""
        try:
            await self._call(self.inner.challenge)
        except DmpError as exc:
            return not isinstance(exc, NetworkError)
        return True

    # -- the cache, best effort ---------------------------------------------------------------

    def _cache_open(self) -> CacheService | None:
        cache = self.cache
        if cache is None or not cache.is_open:
            return None
        return cache

    async def _cached[T](self, make: Callable[[CacheService], Awaitable[T]]) -> T | None:
        cache = self._cache_open()
        if cache is None:
            return None
        try:
            return await make(cache)
        except Exception as exc:  # the cache never stops a reading
            log.warning("offline cache not updated: %s", type(exc).__name__)
            return None

    def _context(
        self, cache: CacheService, grant: AccessGrant, *, sees_masked: bool = False
    ) -> CacheContext:
        return cache.context(grant.mode, grant.episode_id or None, sees_masked=sees_masked)

    async def cached_patient(self, login: ProfessionalLogin, ins: INS) -> PatientRecord | None:
        """The patient of `ins` in `login`'s open cache, if any."""
        cache = self._cache_open()
        if cache is None or cache.id_nat != login.id_nat:
            return None
        patients = await self._cached(lambda c: c.patients())
        for cached in patients or ():
            if cached.record.ins.value == ins.value and cached.episode_id is None:
                return cached.record
        return None

    async def cached_patients(self) -> list[PatientRecord]:
        """The patients of the open cache (normal mode only), most recent first."""
        patients = await self._cached(lambda c: c.patients())
        found = [p for p in patients or () if p.episode_id is None]
        found.sort(key=lambda p: p.last_access, reverse=True)
        return [p.record for p in found]

    # -- authentication (forwarded) -----------------------------------------------------------

    async def challenge(self) -> str:
        return await self._call(self.inner.challenge)

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin:
        return await self._call(
            lambda: self.inner.login_with_card(certificate_der, nonce, signature, algorithm)
        )

    async def start_ecps(self, id_nat: str, binding_message: str) -> EcpsRequest:
        return await self._call(lambda: self.inner.start_ecps(id_nat, binding_message))

    async def poll_ecps(self, request: EcpsRequest) -> ProfessionalLogin | EcpsPollStatus:
        return await self._call(lambda: self.inner.poll_ecps(request))

    async def refresh_ecps(self, login: ProfessionalLogin) -> ProfessionalLogin:
        return await self._call(lambda: self.inner.refresh_ecps(login))

    # -- the record ---------------------------------------------------------------------------

    async def find_patient(self, login: ProfessionalLogin, ins: INS) -> PatientRecord | None:
        try:
            return await self._call(lambda: self.inner.find_patient(login, ins))
        except NetworkError:
            cached = await self.cached_patient(login, ins)
            if cached is None:
                raise OfflineUnavailableError(
                    "Hors ligne : ce patient n'est pas dans le cache de cet ordinateur."
                ) from None
            return cached

    async def open_access(
        self, login: ProfessionalLogin, patient: PatientRecord, request: AccessRequest
    ) -> AccessGrant:
        try:
            grant = await self._call(lambda: self.inner.open_access(login, patient, request))
        except NetworkError:
            if request.mode is not AccessMode.NORMAL:
                raise OfflineUnavailableError(
                    "Hors ligne : un accès exceptionnel demande le serveur du DMP."
                ) from None
            if await self.cached_patient(login, patient.ins) is None:
                raise OfflineUnavailableError(
                    "Hors ligne : ce patient n'est pas dans le cache de cet ordinateur."
                ) from None
            return AccessGrant(
                patient,
                AccessMode.NORMAL,
                OFFLINE_TOKEN_PREFIX + uuid.uuid4().hex,
                self._clock() + OFFLINE_GRANT_LIFETIME,
            )
        if grant.mode is AccessMode.NORMAL:
            await self._cached(lambda c: c.remember_patient(patient, self._context(c, grant)))
        return grant

    async def end_access(self, grant: AccessGrant, reason: str) -> None:
        if is_offline_grant(grant):
            return
        await self._call(lambda: self.inner.end_access(grant, reason))

    async def search_documents(
        self, grant: AccessGrant, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        ins = grant.patient.ins.value
        if is_offline_grant(grant):
            cached = await self._cached(lambda c: c.documents(ins))
            docs = tuple(d for d in cached or () if matches_query(d, query))
            yield DocumentPage(docs, len(docs))
            return
        seen: set[str] = set()
        remembered = False
        pages = self.inner.search_documents(grant, query)
        try:
            while True:
                try:
                    page = await self._call(pages.__anext__)
                except StopAsyncIteration:
                    break
                if not remembered:
                    remembered = True
                    await self._cached(
                        lambda c: c.remember_patient(grant.patient, self._context(c, grant))
                    )
                await self._keep(grant, page.documents)
                seen.update(d.id for d in page.documents)
                yield page
        finally:
            aclose = getattr(pages, "aclose", None)
            if aclose is not None:
                await aclose()
        await self._sync(grant, query, seen)

    async def _keep(self, grant: AccessGrant, docs: Sequence[DocumentMeta]) -> None:
        if not docs:
            return
        ins = grant.patient.ins.value
        # The server lists another author's masked document in normal mode only to those
        # with the médecin traitant's rights: she has them on this patient.
        masked_of_others = any(d.masked for d in docs) and grant.mode is AccessMode.NORMAL
        await self._cached(
            lambda c: c.put_documents(
                ins,
                docs,
                self._context(
                    c,
                    grant,
                    sees_masked=masked_of_others
                    and any(d.masked and d.author_id_nat != c.id_nat for d in docs),
                ),
            )
        )

    async def _sync(self, grant: AccessGrant, query: DocumentQuery, seen: Iterable[str]) -> None:
        """After a complete listing: drop what the server no longer shows, among the cached
        documents the query covered."""
        ins = grant.patient.ins.value
        cached = await self._cached(lambda c: c.documents(ins))
        if cached is None:
            return
        covered = [d.id for d in cached if matches_query(d, query)]
        visible = set(seen)
        dropped = await self._cached(lambda c: c.reconcile(ins, visible, checked_ids=covered))
        if dropped:
            log.info("offline cache: %d document(s) no longer visible purged", dropped)
        if grant.mode is AccessMode.NORMAL:
            await self._cached(lambda c: c.mark_synced(ins))

    async def retrieve(self, grant: AccessGrant, document: DocumentMeta) -> bytes:
        if is_offline_grant(grant):
            body = await self._cached(lambda c: c.get_body(document.id))
            if body is None:
                raise DocumentUnavailableOfflineError(
                    "Document non disponible hors ligne : il n'a pas été ouvert sur cet "
                    "ordinateur avant la coupure."
                )
            return body
        try:
            body = await self._call(lambda: self.inner.retrieve(grant, document))
        except NetworkError:
            cached = await self._cached(lambda c: c.get_body(document.id))
            if cached is None:
                raise DocumentUnavailableOfflineError(
                    "Document non disponible hors ligne : il n'a pas été ouvert sur cet "
                    "ordinateur avant la coupure."
                ) from None
            return cached
        await self._cached(lambda c: c.put_body(document.id, body))
        return body

    # -- the other sections: online only --------------------------------------------------------

    async def _online[T](self, grant: AccessGrant, make: Callable[[], Awaitable[T]]) -> T:
        if is_offline_grant(grant):
            raise OfflineUnavailableError("Hors ligne : non disponible sans le serveur du DMP.")
        return await self._call(make)

    async def patient_summary(self, grant: AccessGrant) -> PatientSummary:
        return await self._online(grant, lambda: self.inner.patient_summary(grant))

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]:
        return await self._online(grant, lambda: self.inner.immunizations(grant))

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization:
        return await self._online(grant, lambda: self.inner.add_immunization(grant, new))

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]:
        return await self._online(grant, lambda: self.inner.related_persons(grant))

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None:
        return await self._online(grant, lambda: self.inner.advance_directives(grant))

    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity:
        return await self._online(grant, lambda: self.inner.professional_identity(grant))

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = 1000, page_size: int = 200
    ) -> list[AuditRecord]:
        return await self._online(
            grant, lambda: self.inner.audit_events(grant, limit=limit, page_size=page_size)
        )

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        # What the Protocol does not name (deposit, patch_document...) goes to the gateway.
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
