"""Opening a patient's record: find by INS, access mode, documents, bodies, closing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

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
        hidden = 0
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
            total = None if page.total is None else max(page.total - hidden, len(dossier.documents))
            yield DocumentPage(shown, total)

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
