"""Opening a patient's record: find by INS, access mode, documents, bodies, closing."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.errors import AccessRefusedError, ConsoleError, DmpError
from console.domain.ins import INS
from console.domain.models import DocumentMeta
from console.domain.rules import AccessRequest, console_may_show
from console.services.ports import DmpGateway
from console.services.session import SessionService

log = logging.getLogger(__name__)


class PatientNotFoundError(ConsoleError):
    """No DMP for this INS."""


class NotLoggedInError(ConsoleError):
    """The session is locked or ended: log in again."""


@dataclass(slots=True)
class OpenDossier:
    """A patient opened in an access mode; the documents fetched so far."""

    grant: AccessGrant
    documents: dict[str, DocumentMeta] = field(default_factory=dict)

    @property
    def patient(self) -> PatientRecord:
        return self.grant.patient


def first_opening_query(today: date, years: int = 2) -> DocumentQuery:
    """The DMP's usage rule: a first opening lists the current documents of the last 2 years."""
    try:
        start = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - years, day=28)
    return DocumentQuery(act_from=start)


class DossierService:
    def __init__(self, gateway: DmpGateway, session: SessionService) -> None:
        self.gateway = gateway
        self.session = session

    def _login(self) -> ProfessionalLogin:
        login = self.session.login
        if login is None:
            raise NotLoggedInError("Session verrouillée : reconnectez-vous avec votre carte.")
        return login

    def professional_id(self) -> str:
        """The idNat of the professional logged in (raises NotLoggedInError when none)."""
        return self._login().id_nat

    async def find_patient(self, ins_text: str) -> PatientRecord:
        """Validate the INS locally (no request for an invalid one), then look it up."""
        ins = INS.parse(ins_text.strip())
        patient = await self.gateway.find_patient(self._login(), ins)
        if patient is None:
            raise PatientNotFoundError("Aucun DMP n'est ouvert pour cet INS.")
        return patient

    async def open(self, patient: PatientRecord, request: AccessRequest) -> OpenDossier:
        try:
            grant = await self.gateway.open_access(self._login(), patient, request)
        except DmpError as exc:
            reason = getattr(exc, "reason", None)
            if getattr(exc, "status", None) == 403:
                raise AccessRefusedError(str(exc), reason or "refused") from exc
            raise
        return OpenDossier(grant)

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        """Pages as they arrive, each re-checked against the rules the console can evaluate."""
        profession = self._login().profession
        hidden = listed = 0
        async for page in self.gateway.search_documents(dossier.grant, query):
            shown = tuple(
                d
                for d in page.documents
                if console_may_show(profession, d, include_archived=query.include_archived)
            )
            if len(shown) != len(page.documents):
                hidden += len(page.documents) - len(shown)
                log.warning("server sent %d document(s) the rules hide", hidden)
            for doc in shown:
                dossier.documents[doc.id] = doc
            listed += len(shown)
            total = None if page.total is None else max(page.total - hidden, listed)
            yield DocumentPage(shown, total)

    async def search(
        self, dossier: OpenDossier, queries: Sequence[DocumentQuery]
    ) -> AsyncIterator[DocumentPage]:
        """The pages of several searches one after the other, each document once.

        An opening runs its main search then the vaccination history without a date limit
        (:func:`~console.domain.dossier.opening_queries`); a document both return is sent
        once. ``total`` adds the totals announced so far, less the duplicates dropped.
        """
        seen: set[str] = set()
        announced = dropped = 0
        counted = True
        for query in queries:
            first = True
            pages = self.documents(dossier, query)
            try:
                async for page in pages:
                    if first:
                        first = False
                        if page.total is None:
                            counted = False
                        else:
                            announced += page.total
                    fresh = tuple(d for d in page.documents if d.id not in seen)
                    dropped += len(page.documents) - len(fresh)
                    seen.update(d.id for d in fresh)
                    yield DocumentPage(
                        fresh, max(announced - dropped, len(seen)) if counted else None
                    )
            finally:
                # Closed at once (not when collected): a cancelled opening stops its search.
                aclose = getattr(pages, "aclose", None)
                if aclose is not None:
                    await aclose()

    def adopt(self, dossier: OpenDossier, documents: Sequence[DocumentMeta]) -> None:
        """Make ``documents`` (remembered from an earlier opening) retrievable in ``dossier``."""
        for doc in documents:
            dossier.documents.setdefault(doc.id, doc)

    async def save_copy(self, data: bytes, path: Path) -> None:
        """Write a copy of a document's body to ``path``, atomically, off the GUI thread."""
        await asyncio.get_running_loop().run_in_executor(None, write_atomically, path, data)

    async def retrieve(self, dossier: OpenDossier, doc: DocumentMeta) -> bytes:
        if doc.id not in dossier.documents:
            raise AccessRefusedError("Document inconnu de ce dossier.", "unknown_document")
        return await self.gateway.retrieve(dossier.grant, doc)

    async def close(self, dossier: OpenDossier, reason: str = "patient_closed") -> None:
        """End the access mode on the server too (best effort when offline)."""
        dossier.documents.clear()
        try:
            await self.gateway.end_access(dossier.grant, reason)
        except DmpError as exc:
            log.warning("could not end the access mode on the server: %s", type(exc).__name__)


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file in the same folder and a rename: the file
    is either the old one or the complete new one, never a truncated copy."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
