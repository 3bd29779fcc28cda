"""The access history of the patient open: what this professional did on her record.

Two sources, merged by :func:`console.domain.emergency.build_history`:

- the DMP's traces (``GET /AuditEvent?patient.identifier=`` with the patient token: the
  server answers only the caller's own traces on that patient), authoritative; reading them
  is itself traced by the server (it shows in the next reading);
- the console's journal on this computer (the cache's hash chain, or the in-memory one).

Offline (or when the server refuses), the history shows the local journal alone and says
why the server's part is missing. The bris de glace (and centre 15) episodes are grouped.
"""

from __future__ import annotations

import logging
from typing import Protocol

from console.domain.dossier import AccessGrant
from console.domain.emergency import AccessHistory, AuditRecord, build_history
from console.domain.errors import ConsoleError
from console.services.dossier import OpenDossier
from console.services.emergency import Journal

__all__ = ["AuditSource", "HistoryService"]

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 1000
"""Most server traces read for one history (the newest)."""


class AuditSource(Protocol):
    """The server's traces (``HttpDmpGateway.audit_events``)."""

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = ..., page_size: int = ...
    ) -> list[AuditRecord]: ...


class HistoryService:
    """Builds the access history of an open dossier.

    Args:
        gateway: The server's traces.
        journal: The console's journal (the one the emergency service writes).
        limit: Most server traces read.
    """

    def __init__(self, gateway: AuditSource, journal: Journal, *, limit: int = DEFAULT_LIMIT):
        self._gateway = gateway
        self._journal = journal
        self._limit = limit

    async def history(self, dossier: OpenDossier, professional_id: str) -> AccessHistory:
        """The history of `professional_id` on `dossier`'s patient (its grant must be live for
        the server's part)."""
        grant = dossier.grant
        ins = grant.patient.ins.value
        server_error: str | None = None
        try:
            audit = await self._gateway.audit_events(grant, limit=self._limit)
        except ConsoleError as exc:
            log.info("server traces unavailable: %s", type(exc).__name__)
            audit = []
            server_error = str(exc)
        try:
            local = await self._journal.entries(ins)
        except ConsoleError as exc:
            log.warning("local journal unavailable: %s", type(exc).__name__)
            local = []
        return build_history(
            ins, audit, local, actor_id_nat=professional_id, server_error=server_error
        )
