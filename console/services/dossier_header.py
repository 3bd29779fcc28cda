"""The open record's header: the patient, her médecin traitant, the access mode in force and
what the DMP tells this professional (see :mod:`console.domain.profile`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from console.domain.dossier import AccessGrant
from console.domain.models import AccessMode
from console.domain.profile import HeaderNotice, PatientSummary, header_notices
from console.services.dossier import DossierService, OpenDossier

__all__ = ["DossierHeaderInfo", "DossierHeaderService", "HeaderGateway"]


class HeaderGateway(Protocol):
    """The Patient read of an open record (``console.dmp.HttpDmpGateway``)."""

    async def patient_summary(self, grant: AccessGrant) -> PatientSummary: ...


@dataclass(frozen=True, slots=True)
class DossierHeaderInfo:
    """Everything the header shows."""

    summary: PatientSummary
    mode: AccessMode
    ends_at: datetime
    """When the access mode (its token) ends."""
    professional_id: str
    notices: tuple[HeaderNotice, ...]
    complete: bool = True
    """False until the médecin traitant was asked for (identity from the opening only)."""


class DossierHeaderService:
    """Builds the header of an open record.

    Args:
        gateway: The DMP.
        dossier_service: The session's record service (who is logged in).
    """

    def __init__(self, gateway: HeaderGateway, dossier_service: DossierService) -> None:
        self._gateway = gateway
        self._dossier = dossier_service

    def _professional_id(self) -> str:
        login = self._dossier.session.login
        return "" if login is None else login.id_nat

    def _info(
        self, dossier: OpenDossier, summary: PatientSummary, complete: bool
    ) -> DossierHeaderInfo:
        grant = dossier.grant
        professional = self._professional_id()
        return DossierHeaderInfo(
            summary=summary,
            mode=grant.mode,
            ends_at=grant.expires_at,
            professional_id=professional,
            notices=header_notices(summary, professional, grant.mode),
            complete=complete,
        )

    def initial(self, dossier: OpenDossier) -> DossierHeaderInfo:
        """What is known at once, from the opening (no request)."""
        return self._info(dossier, PatientSummary(dossier.patient), complete=False)

    async def load(self, dossier: OpenDossier) -> DossierHeaderInfo:
        """The full header: the patient as the open record reads her, médecin traitant
        included."""
        summary = await self._gateway.patient_summary(dossier.grant)
        return self._info(dossier, summary, complete=True)
