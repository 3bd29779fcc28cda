"""The patient's vaccinations: list them, record one, and list the vaccination history
documents (11369-6) without a date limit.

A new vaccination is checked by :func:`~console.domain.vaccination.validate_immunization`
before anything is sent (vaccine of the coded list, date neither in the future nor before the
patient's birth, lot number, performer = the professional logged in); the server checks it
again, and its 422 refusals come back as the same
:class:`~console.domain.vaccination.InvalidImmunizationError`. Either way nothing is written.
The server traces every search and every vaccination recorded (AuditEvent).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Protocol

from console.domain.dossier import AccessGrant, DocumentPage, DocumentQuery, ProfessionalLogin
from console.domain.errors import ServerError
from console.domain.habilitation import habilitation_matrix
from console.domain.models import SECRETARY_ROLE
from console.domain.terminology import VACCINATION_HISTORY
from console.domain.vaccination import (
    Immunization,
    ImmunizationDraft,
    InvalidImmunizationError,
    NewImmunization,
    Performer,
    Problem,
    VaccineCatalogue,
    ValidationIssue,
    immunization_issues,
    sort_immunizations,
    vaccine_catalogue,
    validate_immunization,
)
from console.services.dossier import DossierService, NotLoggedInError, OpenDossier

__all__ = ["VaccinationGateway", "VaccinationService", "history_query"]

log = logging.getLogger(__name__)

_SERVER_PROBLEMS = frozenset(p.value for p in Problem)


class VaccinationGateway(Protocol):
    """The DMP's Immunization API (implemented by ``console.dmp.HttpDmpGateway``)."""

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]: ...

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization: ...


def history_query() -> DocumentQuery:
    """The vaccination history documents (11369-6) without any date limit, archived ones
    included (an old vaccination record is archived, never outdated)."""
    return DocumentQuery(type_codes=(VACCINATION_HISTORY,), include_archived=True)


class VaccinationService:
    """Vaccinations of an open record, for the professional logged in.

    Args:
        gateway: The DMP.
        dossier_service: The session's record service (login, document search).
        today: The local date (tests fix it).
        catalogue: The coded vaccine list (the bundled one by default).
    """

    def __init__(
        self,
        gateway: VaccinationGateway,
        dossier_service: DossierService,
        *,
        today: Callable[[], date] = date.today,
        catalogue: VaccineCatalogue | None = None,
    ) -> None:
        self._gateway = gateway
        self._dossier = dossier_service
        self._today = today
        self._catalogue = catalogue

    @property
    def catalogue(self) -> VaccineCatalogue:
        """The vaccines a vaccination may be recorded with."""
        return self._catalogue or vaccine_catalogue()

    def today(self) -> date:
        return self._today()

    def _login(self) -> ProfessionalLogin:
        login = self._dossier.session.login
        if login is None:
            raise NotLoggedInError("Session verrouillée : reconnectez-vous avec votre carte.")
        return login

    def performer(self) -> Performer:
        """The professional logged in: the performer of any vaccination she records."""
        login = self._login()
        return Performer(login.id_nat, login.display_name)

    def may_read(self) -> bool:
        """Whether the matrix lets her profession read the vaccination history (11369-6)."""
        return habilitation_matrix().allows(self._login().profession, VACCINATION_HISTORY)

    def may_record(self) -> bool:
        """Whether she may record a vaccination (a health professional reading them)."""
        return self._login().profession != SECRETARY_ROLE and self.may_read()

    async def immunizations(self, dossier: OpenDossier) -> list[Immunization]:
        """The patient's vaccinations, newest first."""
        return sort_immunizations(await self._gateway.immunizations(dossier.grant))

    def draft(
        self, vaccine_code: str, occurrence: date | None, lot_number: str
    ) -> ImmunizationDraft:
        """What the form holds, with the professional logged in as performer."""
        return ImmunizationDraft(vaccine_code, occurrence, lot_number, self.performer())

    def check(self, dossier: OpenDossier, draft: ImmunizationDraft) -> tuple[ValidationIssue, ...]:
        """Every problem of ``draft`` for this patient (empty: it may be recorded)."""
        return immunization_issues(
            draft,
            professional=self.performer(),
            profession=self._login().profession,
            today=self._today(),
            birth_date=dossier.patient.birth_date,
            catalogue=self.catalogue,
        )

    async def add(self, dossier: OpenDossier, draft: ImmunizationDraft) -> Immunization:
        """Record ``draft`` on the patient's DMP.

        Raises:
            InvalidImmunizationError: the console's checks or the server (422) refused it;
                nothing was written.
            DmpError: any other failure (network, refusal of the rules...).
        """
        new = validate_immunization(
            draft,
            professional=self.performer(),
            profession=self._login().profession,
            today=self._today(),
            birth_date=dossier.patient.birth_date,
            catalogue=self.catalogue,
        )
        try:
            stored = await self._gateway.add_immunization(dossier.grant, new)
        except ServerError as exc:
            if exc.status == 422 and exc.reason in _SERVER_PROBLEMS:
                log.info("vaccination refused by the server: %s", exc.reason)
                raise InvalidImmunizationError([ValidationIssue(Problem(exc.reason))]) from exc
            raise
        return stored

    def history_documents(self, dossier: OpenDossier) -> AsyncIterator[DocumentPage]:
        """The vaccination history documents (11369-6) of the patient, without a date limit,
        as pages (through the record service: re-checked by the rules, then retrievable)."""
        return self._dossier.documents(dossier, history_query())
