"""The professional's session as a state machine, and the e-CPS (CIBA) login values (pure).

States::

    LOGGED_OUT --LOGIN_STARTED--> AUTHENTICATING --LOGIN_SUCCEEDED--> ACTIVE (patient_mode)
                                   | LOGIN_FAILED, or LOCKED          | PATIENT_OPENED(mode)
                                   v (the card left)                  | PATIENT_CLOSED
                                  LOGGED_OUT                          | LOCKED(reason)
                                                                      v
    LOCKED --UNLOCK_STARTED--> AUTHENTICATING (resuming) --LOGIN_SUCCEEDED--> ACTIVE
      ^                              | LOGIN_FAILED
      +------------------------------+
    any state --LOGGED_OUT--> LOGGED_OUT

* ACTIVE is only ever entered from AUTHENTICATING: a card + PIN + the server's challenge, or an
  e-CPS approval on the phone. A locked session resumes the same way (``resuming``).
* The access mode of the patient open (normal, bris de glace, centre 15) is a field of the
  ACTIVE state (:attr:`SessionMachine.patient_mode`); every other state has none, so no
  patient data may be shown outside ACTIVE. Locking closes the patient.
* ``generation`` counts sessions: a resumed session keeps its number, a new login (another
  card on the unlock page included) gets the next one. Views use it to tell "resume" from
  "a new professional".
* An e-CPS session has no card: it cannot be locked for ``CARD_REMOVED``. Its token is renewed
  with the refresh token of its login (no phone); when the server refuses it, it locks
  (``EXPIRED``) and only a new approval on the phone resumes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from console.domain.errors import DmpError
from console.domain.models import AccessMode

__all__ = [
    "BINDING_ALPHABET",
    "AuthMethod",
    "EcpsError",
    "EcpsExpiredError",
    "EcpsPending",
    "EcpsPhoneRequest",
    "EcpsPollStatus",
    "EcpsRefreshRefusedError",
    "EcpsRefusedError",
    "EcpsRequest",
    "EcpsUnknownIdentifierError",
    "InvalidTransitionError",
    "LockReason",
    "SessionEvent",
    "SessionMachine",
    "SessionState",
    "is_valid_id_nat",
    "new_binding_message",
]


class SessionState(StrEnum):
    LOGGED_OUT = "logged_out"
    AUTHENTICATING = "authenticating"
    ACTIVE = "active"
    LOCKED = "locked"


class AuthMethod(StrEnum):
    """How the professional proved who she is."""

    CARD = "card"
    """CPS/CPE card + PIN; the card signs the server's challenge."""
    ECPS = "ecps"
    """e-CPS: a push approval on her phone (CIBA); no card."""


class LockReason(StrEnum):
    CARD_REMOVED = "card_removed"
    IDLE = "idle"
    USER = "user"
    EXPIRED = "expired"
    """The professional token expired and could not be renewed: with the card, or for e-CPS
    with the refresh token (refused, or the server's session cap reached)."""


class SessionEvent(StrEnum):
    LOGIN_STARTED = "login_started"
    UNLOCK_STARTED = "unlock_started"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    PATIENT_OPENED = "patient_opened"
    PATIENT_CLOSED = "patient_closed"
    LOCKED = "locked"
    LOGGED_OUT = "logged_out"


class InvalidTransitionError(RuntimeError):
    """An event the current state does not accept (a programming error, not a user error)."""


@dataclass(slots=True)
class SessionMachine:
    """Allowed transitions of the professional's session; logging out is always allowed.

    Attributes:
        state: The current state.
        lock_reason: Why the session is locked (LOCKED, and AUTHENTICATING while resuming).
        method: How the current session was opened (ACTIVE, LOCKED, resuming); None otherwise.
        attempt: The method of the login running (AUTHENTICATING only).
        resuming: AUTHENTICATING to unlock a locked session (a failure goes back to LOCKED).
        patient_mode: The access mode of the patient open (ACTIVE only), None when none is.
        generation: Number of the current session (0 before the first login).
    """

    state: SessionState = SessionState.LOGGED_OUT
    lock_reason: LockReason | None = None
    method: AuthMethod | None = None
    attempt: AuthMethod | None = None
    resuming: bool = False
    patient_mode: AccessMode | None = None
    generation: int = 0

    def allowed(
        self,
        event: SessionEvent,
        *,
        reason: LockReason | None = None,
        method: AuthMethod | None = None,
        mode: AccessMode | None = None,
    ) -> bool:
        """Whether :meth:`fire` would accept this event now."""
        return self._refusal(event, reason, method, mode) is None

    def _refusal(
        self,
        event: SessionEvent,
        reason: LockReason | None,
        method: AuthMethod | None,
        mode: AccessMode | None,
    ) -> str | None:
        state = self.state
        match event:
            case SessionEvent.LOGGED_OUT:
                return None
            case SessionEvent.LOGIN_STARTED:
                if state is not SessionState.LOGGED_OUT:
                    return "a login starts from LOGGED_OUT (LOCKED: UNLOCK_STARTED)"
                return None if method is not None else "LOGIN_STARTED needs the method"
            case SessionEvent.UNLOCK_STARTED:
                if state is not SessionState.LOCKED:
                    return "an unlock starts from LOCKED"
                return None if method is not None else "UNLOCK_STARTED needs the method"
            case SessionEvent.LOGIN_SUCCEEDED | SessionEvent.LOGIN_FAILED:
                if state is not SessionState.AUTHENTICATING:
                    return f"{event} ends an authentication"
                return None
            case SessionEvent.PATIENT_OPENED:
                if state is not SessionState.ACTIVE:
                    return "a patient is opened in ACTIVE only"
                return None if mode is not None else "PATIENT_OPENED needs the access mode"
            case SessionEvent.PATIENT_CLOSED:
                return None if state is SessionState.ACTIVE else "no patient outside ACTIVE"
            case _:  # SessionEvent.LOCKED
                if reason is None:
                    return "LOCKED needs a reason"
                if state is SessionState.AUTHENTICATING:
                    return None  # the attempt fails
                if state is not SessionState.ACTIVE:
                    return "only an ACTIVE session locks"
                if reason is LockReason.CARD_REMOVED and self.method is not AuthMethod.CARD:
                    return "an e-CPS session has no card to remove"
                return None

    def fire(
        self,
        event: SessionEvent,
        *,
        reason: LockReason | None = None,
        method: AuthMethod | None = None,
        mode: AccessMode | None = None,
    ) -> SessionState:
        """Apply `event`; the new state.

        Args:
            event: What happened.
            reason: For LOCKED: why.
            method: For LOGIN_STARTED and UNLOCK_STARTED: card or e-CPS.
            mode: For PATIENT_OPENED: the access mode granted.

        Raises:
            InvalidTransitionError: the event is not allowed in the current state.
        """
        refusal = self._refusal(event, reason, method, mode)
        if refusal is not None:
            raise InvalidTransitionError(f"{event} refused in state {self.state}: {refusal}")
        match event:
            case SessionEvent.LOGGED_OUT:
                self._reset()
            case SessionEvent.LOGIN_STARTED:
                self.state, self.attempt, self.resuming = SessionState.AUTHENTICATING, method, False
            case SessionEvent.UNLOCK_STARTED:
                self.state, self.attempt, self.resuming = SessionState.AUTHENTICATING, method, True
            case SessionEvent.LOGIN_SUCCEEDED:
                if not self.resuming:
                    self.generation += 1
                self.method, self.attempt = self.attempt, None
                self.state, self.resuming, self.lock_reason = SessionState.ACTIVE, False, None
                self.patient_mode = None
            case SessionEvent.LOGIN_FAILED:
                self._attempt_failed()
            case SessionEvent.PATIENT_OPENED:
                self.patient_mode = mode
            case SessionEvent.PATIENT_CLOSED:
                self.patient_mode = None
            case SessionEvent.LOCKED:  # pragma: no branch
                if self.state is SessionState.AUTHENTICATING:
                    # The attempt fails; a locked session keeps the reason it was locked for.
                    self._attempt_failed()
                else:
                    self.state, self.lock_reason, self.patient_mode = (
                        SessionState.LOCKED,
                        reason,
                        None,
                    )
        return self.state

    def _attempt_failed(self) -> None:
        self.attempt = None
        if self.resuming:  # still locked, for the reason it was locked for
            self.state, self.resuming = SessionState.LOCKED, False
        else:
            self._reset()

    def _reset(self) -> None:
        self.state = SessionState.LOGGED_OUT
        self.lock_reason = self.method = self.attempt = self.patient_mode = None
        self.resuming = False

    @property
    def patient_data_allowed(self) -> bool:
        """Whether views may show patient data now (ACTIVE only)."""
        return self.state is SessionState.ACTIVE


# -- e-CPS (CIBA) ------------------------------------------------------------------------------

BINDING_ALPHABET: Final = "ACDEFGHJKMNPQRTUVWXY34679"
"""Characters of a binding message: none that reads like another (0/O, 1/I/L, 2/Z, 5/S, 8/B)."""
BINDING_LENGTH: Final = 4


def new_binding_message(length: int = BINDING_LENGTH) -> str:
    """A short random code shown both in the console and on the phone, to compare them."""
    return "".join(secrets.choice(BINDING_ALPHABET) for _ in range(length))


def is_valid_id_nat(text: str) -> bool:
    """Whether `text` looks like a national identifier (RPPS-based "8…", ADELI, CPE "x/y")."""
    if not 4 <= len(text) <= 40 or not text[0].isascii() or not text[0].isalnum():
        return False
    return all(c.isascii() and (c.isalnum() or c in "/-") for c in text)


class EcpsPollStatus(StrEnum):
    """A poll of the token endpoint that did not end the request."""

    PENDING = "authorization_pending"
    SLOW_DOWN = "slow_down"


@dataclass(frozen=True, slots=True)
class EcpsRequest:
    """A push login waiting on the professional's phone (CIBA ``auth_req_id``).

    Attributes:
        auth_req_id: The server's handle (a secret: never shown nor logged).
        id_nat: Who is asked.
        binding_message: The code to compare on the phone.
        expires_at: When the request lapses (UTC).
        interval_s: The server's minimum pause between two polls.
    """

    auth_req_id: str = field(repr=False)
    id_nat: str
    binding_message: str
    expires_at: datetime
    interval_s: float


@dataclass(frozen=True, slots=True)
class EcpsPending:
    """What the waiting dialog shows (the request without its handle)."""

    id_nat: str
    binding_message: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class EcpsPhoneRequest:
    """A request as the demo phone lists it (sandbox control endpoint)."""

    auth_req_id: str = field(repr=False)
    id_nat: str
    binding_message: str
    expires_in_s: int


class EcpsError(DmpError):
    """Base of the e-CPS login failures; ``reason`` is the server's code when it gave one."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class EcpsRefusedError(EcpsError):
    """The professional refused the request on her phone."""


class EcpsExpiredError(EcpsError):
    """Nobody answered on the phone before the request expired."""


class EcpsUnknownIdentifierError(EcpsError):
    """The national identifier is not known to the server's directory."""


class EcpsRefreshRefusedError(EcpsError):
    """The server will not renew the e-CPS session with its refresh token (OAuth
    ``invalid_grant``: unknown, expired, revoked or already used): only a new approval on the
    phone opens a session again."""
