"""The patient's "Entourage et volontés": person of trust, relatives to contact, advance
directives, as the rules let the professional logged in see them.

The console applies the rule itself first (:func:`~console.domain.rules.may_see_entourage`):
a section closed to the profession is not even asked for; the server applies it again (403
``entourage_profession``), which is then shown the same way.
"""

from __future__ import annotations

import logging
from typing import Protocol

from console.domain.dossier import AccessGrant, ProfessionalLogin
from console.domain.errors import ForbiddenError
from console.domain.profile import AdvanceDirectives, Entourage, RelatedContact
from console.domain.rules import EntourageSection, Refusal, may_see_entourage
from console.services.dossier import DossierService, NotLoggedInError, OpenDossier

__all__ = ["EntourageGateway", "EntourageService"]

log = logging.getLogger(__name__)


class EntourageGateway(Protocol):
    """The DMP's RelatedPerson and Consent searches (``console.dmp.HttpDmpGateway``)."""

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]: ...

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None: ...


class EntourageService:
    """Loads "Entourage et volontés" of an open record.

    Args:
        gateway: The DMP.
        dossier_service: The session's record service (who is logged in).
    """

    def __init__(self, gateway: EntourageGateway, dossier_service: DossierService) -> None:
        self._gateway = gateway
        self._dossier = dossier_service

    def _login(self) -> ProfessionalLogin:
        login = self._dossier.session.login
        if login is None:
            raise NotLoggedInError("Session verrouillée : reconnectez-vous avec votre carte.")
        return login

    async def load(self, dossier: OpenDossier) -> Entourage:
        """The section as this professional may see it (closed parts marked not allowed)."""
        profession = self._login().profession
        relatives: tuple[RelatedContact, ...] = ()
        relatives_allowed = may_see_entourage(profession, EntourageSection.RELATIVES)
        if relatives_allowed:
            try:
                relatives = tuple(await self._gateway.related_persons(dossier.grant))
            except ForbiddenError as exc:
                if exc.reason != Refusal.ENTOURAGE_PROFESSION.value:
                    raise
                log.info("relatives refused by the server for this profession")
                relatives_allowed = False
        directives: AdvanceDirectives | None = None
        directives_allowed = may_see_entourage(profession, EntourageSection.ADVANCE_DIRECTIVES)
        if directives_allowed:
            try:
                directives = await self._gateway.advance_directives(dossier.grant)
            except ForbiddenError as exc:
                if exc.reason != Refusal.ENTOURAGE_PROFESSION.value:
                    raise
                log.info("advance directives refused by the server for this profession")
                directives_allowed = False
        return Entourage(relatives, relatives_allowed, directives, directives_allowed)
