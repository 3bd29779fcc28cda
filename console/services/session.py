"""Login with a professional card, and what happens when the card leaves.

Signals are plain callbacks (no Qt here): views register a listener and empty themselves
when the session locks or ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import CardError, CardRemovedError, ConsoleError, PinLockedError
from console.domain.session import LockReason, SessionEvent, SessionMachine, SessionState
from console.services.ports import CardReader, CardSession, DmpGateway, PinPrompt

log = logging.getLogger(__name__)

SessionListener = Callable[[SessionState, LockReason | None], None]

LOCKED_CARD_MESSAGE = (
    "Le code PIN de cette carte est bloqué. Débloquez-le avec le code PUK à l'aide des outils "
    "de l'émetteur de la carte (ANS : CPS Gestion), puis réessayez."
)


@dataclass(frozen=True, slots=True)
class CardChoice:
    """A card found in a reader, with its holder when the certificate could be read."""

    token: TokenInfo
    identity: CardIdentity | None
    error: str | None = None


class SessionService:
    """The professional's session: card login, lock on removal, logout."""

    def __init__(self, reader: CardReader, gateway: DmpGateway) -> None:
        self.reader = reader
        self.gateway = gateway
        self.machine = SessionMachine()
        self.login: ProfessionalLogin | None = None
        self.identity: CardIdentity | None = None
        self.card_token: TokenInfo | None = None
        self._card: CardSession | None = None
        self._listeners: list[SessionListener] = []

    # -- observers ---------------------------------------------------------------------------
    def add_listener(self, listener: SessionListener) -> None:
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self.machine.state, self.machine.lock_reason)
            except Exception:  # a broken view must not keep the session unlocked
                log.exception("session listener failed")

    @property
    def state(self) -> SessionState:
        return self.machine.state

    # -- cards ----------------------------------------------------------------------------------
    async def cards(self) -> list[CardChoice]:
        """The cards present, each with its holder (read without the PIN)."""
        choices = []
        for token in await self.reader.tokens():
            try:
                choices.append(CardChoice(token, await self.reader.identity(token)))
            except ConsoleError as exc:
                choices.append(CardChoice(token, None, str(exc)))
        return choices

    async def _fresh(self, token: TokenInfo) -> TokenInfo:
        for present in await self.reader.tokens():
            if present.key == token.key:
                return present
        raise CardRemovedError("La carte a été retirée du lecteur.")

    async def login_with_card(
        self, token: TokenInfo, prompt: PinPrompt
    ) -> ProfessionalLogin | None:
        """PIN, then the server's challenge signed by the card. ``None`` if the user cancelled.

        The PIN state is read before the PIN is asked; a locked card is refused without any
        login attempt; the PIN is never retried, kept or logged.
        """
        if self.machine.state is SessionState.ACTIVE:
            await self.logout()
        token = await self._fresh(token)
        if token.pin_state is PinState.LOCKED:
            raise PinLockedError(LOCKED_CARD_MESSAGE)
        identity = await self.reader.identity(token)
        resuming = self.machine.state is SessionState.LOCKED
        if not resuming:
            self.machine.fire(SessionEvent.LOGIN_STARTED)
        try:
            pin = await prompt.ask_pin(token, identity, token.pin_state)
            if pin is None:
                self._login_failed(resuming)
                return None
            try:
                card = await self.reader.login(token, pin)
            finally:
                del pin
            login = await self._authenticate(card)
        except BaseException:
            self._login_failed(resuming)
            raise
        if resuming and self.identity is not None and identity.id_nat != self.identity.id_nat:
            # Another professional's card: the previous session ends, nothing of it shows.
            await self.logout()
            self.machine.fire(SessionEvent.LOGIN_STARTED)
            resuming = False
        self._card, self.card_token, self.identity, self.login = card, token, identity, login
        self.machine.fire(SessionEvent.UNLOCKED if resuming else SessionEvent.LOGIN_SUCCEEDED)
        self._notify()
        return login

    def _login_failed(self, resuming: bool) -> None:
        if not resuming and self.machine.state is SessionState.AUTHENTICATING:
            self.machine.fire(SessionEvent.LOGIN_FAILED)

    async def _authenticate(self, card: CardSession) -> ProfessionalLogin:
        try:
            nonce = await self.gateway.challenge()
            signature = await card.sign(nonce.encode("utf-8"))
            return await self.gateway.login_with_card(
                card.certificate_der, nonce, signature, "RS256"
            )
        except BaseException:
            await _quiet_logout(card)
            raise

    # -- lock and logout -------------------------------------------------------------------
    def card_removed(self, token: TokenInfo) -> None:
        """Called by the card monitor: the session's card left -> lock at once."""
        if self.card_token is None or token.key != self.card_token.key:
            return
        if self.machine.state is SessionState.ACTIVE:
            self.lock(LockReason.CARD_REMOVED)

    def lock(self, reason: LockReason) -> None:
        """Drop every token and the card session; listeners empty the views."""
        self.login = None
        card, self._card = self._card, None
        if card is not None:
            _forget(card)
        if self.machine.state is SessionState.ACTIVE:
            self.machine.fire(SessionEvent.LOCKED, reason)
        self._notify()

    async def logout(self) -> None:
        card, self._card = self._card, None
        self.login = None
        self.identity = None
        self.card_token = None
        if card is not None:
            await _quiet_logout(card)
        self.machine.fire(SessionEvent.LOGGED_OUT)
        self._notify()


def _forget(card: CardSession) -> None:
    """Lock path: we cannot await here (called from a monitor callback); the card is gone
    anyway, the reader's worker will fail the logout harmlessly."""
    del card


async def _quiet_logout(card: CardSession) -> None:
    try:
        await card.logout()
    except CardError:
        pass
