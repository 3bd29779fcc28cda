"""The session state machine: logged out, authenticating, active, locked (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SessionState(StrEnum):
    LOGGED_OUT = "logged_out"
    AUTHENTICATING = "authenticating"
    ACTIVE = "active"
    LOCKED = "locked"


class LockReason(StrEnum):
    CARD_REMOVED = "card_removed"
    IDLE = "idle"
    USER = "user"


class SessionEvent(StrEnum):
    LOGIN_STARTED = "login_started"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    LOGGED_OUT = "logged_out"


class InvalidTransitionError(RuntimeError):
    pass


_TRANSITIONS: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (SessionState.LOGGED_OUT, SessionEvent.LOGIN_STARTED): SessionState.AUTHENTICATING,
    (SessionState.AUTHENTICATING, SessionEvent.LOGIN_SUCCEEDED): SessionState.ACTIVE,
    (SessionState.AUTHENTICATING, SessionEvent.LOGIN_FAILED): SessionState.LOGGED_OUT,
    (SessionState.ACTIVE, SessionEvent.LOCKED): SessionState.LOCKED,
    (SessionState.LOCKED, SessionEvent.UNLOCKED): SessionState.ACTIVE,
}


@dataclass(slots=True)
class SessionMachine:
    """Allowed transitions of the professional's session; logging out is always allowed."""

    state: SessionState = SessionState.LOGGED_OUT
    lock_reason: LockReason | None = None

    def fire(self, event: SessionEvent, lock_reason: LockReason | None = None) -> SessionState:
        if event is SessionEvent.LOGGED_OUT:
            self.state, self.lock_reason = SessionState.LOGGED_OUT, None
            return self.state
        if self.state is SessionState.AUTHENTICATING and event is SessionEvent.LOCKED:
            # The card left during login: the attempt fails, nothing was unlocked.
            self.state, self.lock_reason = SessionState.LOGGED_OUT, None
            return self.state
        target = _TRANSITIONS.get((self.state, event))
        if target is None:
            raise InvalidTransitionError(f"{event} is not allowed in state {self.state}")
        self.state = target
        self.lock_reason = lock_reason if target is SessionState.LOCKED else None
        return target
