"""The Protocols through which services talk to adapters (wired in ``console.app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.ins import INS
from console.domain.models import DocumentMeta
from console.domain.rules import AccessRequest
from console.domain.session import EcpsPhoneRequest, EcpsPollStatus, EcpsRequest

if TYPE_CHECKING:  # annotations only: kept off the path to the login window's first paint
    from console.domain.emergency import AuditRecord, ProfessionalIdentity
    from console.domain.profile import AdvanceDirectives, PatientSummary, RelatedContact
    from console.domain.vaccination import Immunization, NewImmunization


class CardSession(Protocol):
    """A card after PIN login: it signs the server's challenge."""

    token: TokenInfo
    identity: CardIdentity
    certificate_der: bytes

    async def sign(self, data: bytes, algorithm: str = "RS256") -> bytes: ...

    async def logout(self) -> None: ...


class CardReader(Protocol):
    """The card readers (PKCS#11 module): finds cards, reads who they belong to, logs in."""

    async def tokens(self) -> list[TokenInfo]: ...

    async def identity(self, token: TokenInfo) -> CardIdentity: ...

    async def login(self, token: TokenInfo, pin: str) -> CardSession: ...

    async def close(self) -> None: ...


class PinPrompt(Protocol):
    """Asks the PIN (implemented in views). ``None`` means the user cancelled."""

    async def ask_pin(
        self, token: TokenInfo, identity: CardIdentity, state: PinState
    ) -> str | None: ...


class DmpGateway(Protocol):
    """The DMP API (the sandbox, or any PDSm / IHE MHD server)."""

    server_label: str

    async def challenge(self) -> str: ...

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin: ...

    async def start_ecps(self, id_nat: str, binding_message: str) -> EcpsRequest:
        """Push a login request to the professional's phone (CIBA ``POST /auth/ciba``).

        Raises EcpsUnknownIdentifierError for an identifier the directory does not know.
        """
        ...

    async def poll_ecps(self, request: EcpsRequest) -> ProfessionalLogin | EcpsPollStatus:
        """One poll of the token endpoint: the login once approved, else the pending status.

        Raises EcpsRefusedError (refused on the phone), EcpsExpiredError (lapsed).
        """
        ...

    async def refresh_ecps(self, login: ProfessionalLogin) -> ProfessionalLogin:
        """Renew an e-CPS session with its login's refresh token (no phone): the new login.

        Raises EcpsRefreshRefusedError when the server refuses it (a new approval on the phone
        is needed), NetworkError or another DmpError when it may be tried again.
        """
        ...

    async def find_patient(self, login: ProfessionalLogin, ins: INS) -> PatientRecord | None: ...

    async def open_access(
        self, login: ProfessionalLogin, patient: PatientRecord, request: AccessRequest
    ) -> AccessGrant: ...

    async def end_access(self, grant: AccessGrant, reason: str) -> None: ...

    def search_documents(
        self, grant: AccessGrant, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        """Pages of documents as the server sends them (the first page first)."""
        ...

    async def retrieve(self, grant: AccessGrant, document: DocumentMeta) -> bytes: ...

    # -- the open record's other sections (issue 9) -------------------------------------------
    async def patient_summary(self, grant: AccessGrant) -> PatientSummary: ...

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]: ...

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization: ...

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]: ...

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None: ...

    # -- traceability (issue 6) ---------------------------------------------------------------
    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity: ...

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = ..., page_size: int = ...
    ) -> list[AuditRecord]: ...

    async def aclose(self) -> None: ...


class EcpsPhone(Protocol):
    """The demo's phone: the sandbox's control endpoints that play the e-CPS app."""

    async def available(self) -> bool:
        """Whether the server plays the phone (it is the sandbox)."""
        ...

    async def pending(self, id_nat: str) -> list[EcpsPhoneRequest]: ...

    async def answer(self, request: EcpsPhoneRequest, approve: bool) -> None: ...
