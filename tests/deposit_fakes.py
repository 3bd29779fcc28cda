"""Shared fakes of the deposit tests (unit and GUI): a scripted DMP, actors, small PDFs."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reportlab.pdfgen import canvas

from console.domain.deposit import DepositReceipt
from console.domain.dossier import AccessGrant, ProfessionalLogin
from console.domain.errors import (
    AuthenticationError,
    ForbiddenError,
    NetworkError,
    RetryableServerError,
    ServerError,
)
from console.domain.ins import nir_key
from console.domain.models import Actor, DocumentMeta
from console.services.deposit import RetryPolicy

NIR = "2550814168025" + f"{nir_key('2550814168025'):02d}"
GP = Actor("899700000011", "10", "MARTIN", "Claire", structure_id="3997000012301")
SECRETARY = Actor(
    "1997000456/SEC0042", "SECRETARIAT_MEDICAL", "MERCIER", "Nadia", structure_id="1997000456",
    structure_name="Centre hospitalier de Saint-Martin",
)  # fmt: skip
FAST = RetryPolicy(base_s=0.01, cap_s=0.05, max_retry_after_s=0.2)


def login_of(actor: Actor) -> ProfessionalLogin:
    return ProfessionalLogin(
        actor.id_nat, actor.display_name, actor.profession, "tok", datetime.now(UTC)
    )


def make_pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def master_of(bundle: bytes) -> str:
    body = json.loads(bundle)
    refs = [
        e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "DocumentReference"
    ]
    return str(refs[0]["masterIdentifier"]["value"])


class FakeDmp:
    """Stores deposits by masterIdentifier (idempotent, as the DMP); scripted failures.

    ``plan[master_id]`` is a list of what the next requests for that document meet:
    ``("429", delay)``, ``"503"``, ``"net"`` (no answer, nothing stored), ``"lost"`` (stored,
    then the answer is lost), ``"422"``, ``("403", reason)``, ``"401"``.
    """

    def __init__(self, actor: Actor = GP, latency: float = 0.005) -> None:
        self.actor = actor
        self.latency = latency
        self.stored: dict[str, str] = {}
        self.plan: dict[str, list[Any]] = {}
        self.default: list[Any] = []
        self.requests: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_alone = True
        self.patches: list[tuple[str, list[Mapping[str, Any]]]] = []
        self.patch_answer: Any = None

    async def deposit(self, auth: ProfessionalLogin | AccessGrant, bundle: bytes) -> DepositReceipt:
        master = master_of(bundle)
        self.requests.append(master)
        if len(self.requests) == 2 and self.in_flight:
            self.first_alone = False
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
            steps = self.plan.setdefault(master, list(self.default))
            step = steps.pop(0) if steps else "ok"
            kind, arg = step if isinstance(step, tuple) else (step, None)
            match kind:
                case "429":
                    raise RetryableServerError("trop de requêtes", 429, "injected_fault", arg)
                case "503":
                    raise RetryableServerError("indisponible", 503, "injected_fault", None)
                case "net":
                    raise NetworkError("réseau coupé")
                case "lost":
                    self._store(master)
                    raise NetworkError("réponse perdue")
                case "422":
                    raise ServerError("date dans le futur", 422, "future_date")
                case "403":
                    raise ForbiddenError("refusé", 403, arg)
                case "401":
                    raise AuthenticationError("jeton expiré", 401, "expired_token")
            replayed = master in self.stored
            return DepositReceipt("sub", (self._store(master),), replayed)
        finally:
            self.in_flight -= 1

    def _store(self, master: str) -> str:
        return self.stored.setdefault(master, f"doc{len(self.stored) + 1}")

    async def patch_document(
        self, auth: ProfessionalLogin | AccessGrant, doc_id: str, ops: Sequence[Mapping[str, Any]]
    ) -> DocumentMeta:
        self.patches.append((doc_id, list(ops)))
        if isinstance(self.patch_answer, Exception):
            raise self.patch_answer
        assert isinstance(self.patch_answer, DocumentMeta)
        return self.patch_answer

    async def whoami_actor(self, login: ProfessionalLogin) -> Actor:
        return self.actor
