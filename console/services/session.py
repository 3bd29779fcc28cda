"""The professional's session: card or e-CPS login, lock, resume, token renewal, logout.

Signals are plain callbacks (no Qt here):

* :meth:`SessionService.add_listener` -- ``(state, lock_reason)`` at every state change; views
  empty themselves when the session locks or ends.
* :meth:`SessionService.add_lock_listener` -- ``(lock_reason)`` when the session stops being
  usable: locked (the reason) or ended (None). Called before the views are told, after the
  tokens are dropped: the place for the encrypted cache to close and the outbox to pause.
* :meth:`SessionService.add_login_listener` -- ``(card_session, login)`` once a login or an
  unlock succeeded, before the views are told, while the card's PIN session is open (None
  for an e-CPS session): the place to open the encrypted cache with the card.

Lock: the professional token and the card session are dropped at once (synchronously), the
patient closes (the machine's ``patient_mode``), then the listeners run. Resume needs the same
proofs as a login: the card + its PIN (a new challenge signed), or a new e-CPS approval. The
same professional resumes her session (same ``generation``); anybody else ends it first.

Token renewal (see :meth:`SessionService._keep_fresh`), ``refresh_margin`` (60 s) before
``expires_at``:

* card session: a new challenge signed by the card session still logged in (no PIN); a card
  gone locks the session (CARD_REMOVED), a failure (network, server) is retried every
  ``refresh_retry`` until the token's end, which locks it (EXPIRED).
* e-CPS session: a new CIBA request would ring the phone, so the login's refresh token is
  exchanged for a new token and the next refresh token (OAuth refresh grant, no phone). A
  failure (network, server) is retried every ``refresh_retry`` until the token's end, which
  locks it (EXPIRED). A refresh token the server refuses (``invalid_grant``: expired, revoked,
  replayed) locks the session at once (EXPIRED, :attr:`SessionService.lock_message` saying a
  new approval on the phone is needed). A login without a refresh token, or a server whose
  session cap stops the renewals pushing the end back, locks at the token's end (EXPIRED).
  In every case a new approval on the phone resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import (
    CardError,
    CardRemovedError,
    ConsoleError,
    DmpError,
    NetworkError,
    PinLockedError,
    ProtocolError,
)
from console.domain.models import AccessMode
from console.domain.session import (
    AuthMethod,
    EcpsExpiredError,
    EcpsPending,
    EcpsPollStatus,
    EcpsRefreshRefusedError,
    EcpsRequest,
    LockReason,
    SessionEvent,
    SessionMachine,
    SessionState,
    is_valid_id_nat,
    new_binding_message,
)
from console.services.notice import PreferenceStore
from console.services.ports import CardReader, CardSession, DmpGateway, PinPrompt

__all__ = [
    "ECPS_EXPIRED_MESSAGE",
    "ECPS_REFRESH_REFUSED_MESSAGE",
    "LOCKED_CARD_MESSAGE",
    "CardChoice",
    "InvalidIdentifierError",
    "LockListener",
    "LoginListener",
    "SessionBusyError",
    "SessionHolder",
    "SessionListener",
    "SessionService",
]

log = logging.getLogger(__name__)

SessionListener = Callable[[SessionState, LockReason | None], None]
LockListener = Callable[[LockReason | None], None]
LoginListener = Callable[[CardSession | None, ProfessionalLogin], None]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

LOCKED_CARD_MESSAGE = (
    "Le code PIN de cette carte est bloqué. Débloquez-le avec le code PUK à l'aide des outils "
    "de l'émetteur de la carte (ANS : CPS Gestion), puis réessayez."
)
ECPS_REFRESH_REFUSED_MESSAGE: Final = (
    "Le serveur DMP a refusé de prolonger la session e-CPS (autorisation expirée ou révoquée). "
    "Pour la reprendre, validez une nouvelle demande e-CPS sur votre téléphone."
)
ECPS_EXPIRED_MESSAGE: Final = (
    "La session e-CPS a expiré sans pouvoir être prolongée. Pour la reprendre, validez une "
    "nouvelle demande e-CPS sur votre téléphone."
)
RECENT_KEY: Final = "ecps.recent_id_nats"
"""Preference key of the national identifiers recently used for e-CPS (no patient data)."""
RECENT_MAX: Final = 5
SLOW_DOWN_STEP_S: Final = 5.0
"""CIBA core 1.0, section 11: after ``slow_down``, poll 5 s less often."""
MIN_POLL_S: Final = 0.2
MAX_WAKE_S: Final = 30.0
"""The renewal task wakes at least this often: a suspended laptop's timers do not run, the
wall clock does."""


class SessionBusyError(ConsoleError):
    """A login is already running."""


class InvalidIdentifierError(ConsoleError, ValueError):
    """Not a national identifier (e-CPS login)."""


@dataclass(frozen=True, slots=True)
class CardChoice:
    """A card found in a reader, with its holder when the certificate could be read."""

    token: TokenInfo
    identity: CardIdentity | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SessionHolder:
    """Who the session belongs to (kept while locked, dropped at logout).

    Attributes:
        id_nat: National identifier.
        display_name: "Given FAMILY" (the card's certificate, or the server's directory).
        method: How she logged in last.
        profession_label: From the card ("" for e-CPS: the server gives a code).
    """

    id_nat: str
    display_name: str
    method: AuthMethod
    profession_label: str = ""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SessionService:
    """The professional's session (see the module doc).

    Args:
        reader: The card readers.
        gateway: The DMP.
        preferences: Where the recent e-CPS identifiers are kept (none: not kept).
        clock: Current UTC time (token expiry, CIBA expiry).
        sleep: Awaited for every pause (polls, renewal); tests make time pass with it.
        refresh_margin: The session's token is renewed this long before it expires (card: a
            new signature; e-CPS: the refresh token).
        refresh_retry: Pause before trying a failed renewal again.
        binding_message: Makes the code compared on the phone.
    """

    def __init__(
        self,
        reader: CardReader,
        gateway: DmpGateway,
        *,
        preferences: PreferenceStore | None = None,
        clock: Clock = _utc_now,
        sleep: Sleep = asyncio.sleep,
        refresh_margin: timedelta = timedelta(seconds=60),
        refresh_retry: timedelta = timedelta(seconds=15),
        binding_message: Callable[[], str] = new_binding_message,
    ) -> None:
        self.reader = reader
        self.gateway = gateway
        self.machine = SessionMachine()
        self.login: ProfessionalLogin | None = None
        """The professional token (None unless ACTIVE)."""
        self.identity: CardIdentity | None = None
        """The card's holder (card sessions; kept while locked)."""
        self.card_token: TokenInfo | None = None
        """The session's card (card sessions; kept while locked to pre-select it)."""
        self.holder: SessionHolder | None = None
        self.lock_message: str | None = None
        """Why the session locked, in French, when the reason alone does not say it all (an
        e-CPS session the server would not prolong); None otherwise."""
        self._preferences = preferences
        self._clock = clock
        self._sleep = sleep
        self._refresh_margin = refresh_margin
        self._refresh_retry = refresh_retry
        self._binding_message = binding_message
        self._card: CardSession | None = None
        self._attempt_no = 0
        self._refresh_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._listeners: list[SessionListener] = []
        self._lock_listeners: list[LockListener] = []
        self._login_listeners: list[LoginListener] = []

    # -- observers ---------------------------------------------------------------------------
    def add_listener(self, listener: SessionListener) -> None:
        """``listener(state, lock_reason)`` at every state change."""
        self._listeners.append(listener)

    def add_lock_listener(self, listener: LockListener) -> None:
        """``listener(reason)`` when the session locks (reason) or ends (None), before views."""
        self._lock_listeners.append(listener)

    def add_login_listener(self, listener: LoginListener) -> None:
        """``listener(card_session, login)`` after each successful login or unlock, before
        the views; ``card_session`` is the card's open PIN session (it stays open until the
        session locks or ends), None for e-CPS. A listener must not block: spawn the work."""
        self._login_listeners.append(listener)

    def _notify_logged_in(self, card: CardSession | None, login: ProfessionalLogin) -> None:
        for listener in list(self._login_listeners):
            try:
                listener(card, login)
            except Exception:  # the views must still hear of the login
                log.exception("session login listener failed")

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self.machine.state, self.machine.lock_reason)
            except Exception:  # a broken view must not keep the session unlocked
                log.exception("session listener failed")

    def _notify_closed(self, reason: LockReason | None) -> None:
        for listener in list(self._lock_listeners):
            try:
                listener(reason)
            except Exception:  # the next listener (and the views) must still hear it
                log.exception("session lock listener failed")

    @property
    def state(self) -> SessionState:
        return self.machine.state

    @property
    def method(self) -> AuthMethod | None:
        """Card or e-CPS: the current (or locked) session's, else None."""
        return self.machine.method

    # -- patient ----------------------------------------------------------------------------------
    def patient_opened(self, mode: AccessMode) -> None:
        """A patient's record is shown, opened in `mode` (ACTIVE only)."""
        self.machine.fire(SessionEvent.PATIENT_OPENED, mode=mode)

    def patient_closed(self) -> None:
        """No patient is shown any more (ignored outside ACTIVE: locking closed it)."""
        if self.machine.state is SessionState.ACTIVE:
            self.machine.fire(SessionEvent.PATIENT_CLOSED)

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

    def _begin(self, method: AuthMethod) -> tuple[int, bool]:
        """Enter AUTHENTICATING (from LOGGED_OUT, or LOCKED to resume)."""
        if self.machine.state is SessionState.AUTHENTICATING:
            raise SessionBusyError("Une connexion est déjà en cours.")
        resuming = self.machine.state is SessionState.LOCKED
        self.machine.fire(
            SessionEvent.UNLOCK_STARTED if resuming else SessionEvent.LOGIN_STARTED,
            method=method,
        )
        self._attempt_no += 1
        self._notify()
        return self._attempt_no, resuming

    def _current(self, attempt: int) -> bool:
        """Whether the login `attempt` still runs (not abandoned by a logout meanwhile)."""
        return attempt == self._attempt_no and self.machine.state is SessionState.AUTHENTICATING

    def _failed(self, attempt: int) -> None:
        if self._current(attempt):
            self.machine.fire(SessionEvent.LOGIN_FAILED)
            self._notify()

    async def login_with_card(
        self, token: TokenInfo, prompt: PinPrompt
    ) -> ProfessionalLogin | None:
        """PIN, then the server's challenge signed by the card. ``None`` if the user cancelled.

        From LOCKED, this resumes the session (same professional) or ends it (another one).
        The PIN state is read before the PIN is asked; a locked card is refused without any
        login attempt; the PIN is never retried, kept or logged.
        """
        if self.machine.state is SessionState.ACTIVE:
            await self.logout()
        if self.machine.state is SessionState.AUTHENTICATING:
            raise SessionBusyError("Une connexion est déjà en cours.")
        token = await self._fresh(token)
        if token.pin_state is PinState.LOCKED:
            raise PinLockedError(LOCKED_CARD_MESSAGE, PinState.LOCKED)
        identity = await self.reader.identity(token)
        attempt, resuming = self._begin(AuthMethod.CARD)
        try:
            pin = await prompt.ask_pin(token, identity, token.pin_state)
            if pin is None:
                self._failed(attempt)
                return None
            try:
                card = await self.reader.login(token, pin)
            finally:
                del pin
            login = await self._authenticate(card)
        except BaseException:
            self._failed(attempt)
            raise
        if not self._current(attempt):  # logged out meanwhile
            await _quiet_logout(card)
            return None
        holder = SessionHolder(
            identity.id_nat, identity.display_name, AuthMethod.CARD, identity.profession_label
        )
        self._succeeded(resuming, holder, login)
        self._card, self.card_token, self.identity = card, token, identity
        self._start_refresh()
        self._notify_logged_in(card, login)
        self._notify()
        return login

    async def _authenticate(self, card: CardSession) -> ProfessionalLogin:
        try:
            return await self._card_login(card)
        except BaseException:
            await _quiet_logout(card)
            raise

    async def _card_login(self, card: CardSession) -> ProfessionalLogin:
        nonce = await self.gateway.challenge()
        signature = await card.sign(nonce.encode("utf-8"))
        return await self.gateway.login_with_card(card.certificate_der, nonce, signature, "RS256")

    def _succeeded(self, resuming: bool, holder: SessionHolder, login: ProfessionalLogin) -> None:
        """AUTHENTICATING -> ACTIVE; another professional on a locked session ends it first."""
        previous = self.holder
        if resuming and (previous is None or previous.id_nat != holder.id_nat):
            # Another professional: the locked session ends, nothing of it is kept.
            attempt = self.machine.attempt or holder.method
            self._close(notify=True)
            self.machine.fire(SessionEvent.LOGIN_STARTED, method=attempt)
        self.machine.fire(SessionEvent.LOGIN_SUCCEEDED)
        self.holder, self.login = holder, login
        self.lock_message = None
        self.identity = self.card_token = None
        self._card = None

    # -- e-CPS ------------------------------------------------------------------------------------
    def recent_id_nats(self) -> list[str]:
        """The national identifiers recently used for e-CPS, most recent first."""
        if self._preferences is None:
            return []
        raw = self._preferences.get(RECENT_KEY)
        try:
            values = json.loads(raw) if raw else []
        except ValueError:
            return []
        if not isinstance(values, list):
            return []
        return [v for v in values if isinstance(v, str) and is_valid_id_nat(v)][:RECENT_MAX]

    def _remember(self, id_nat: str) -> None:
        if self._preferences is None:
            return
        recent = [id_nat, *(v for v in self.recent_id_nats() if v != id_nat)][:RECENT_MAX]
        try:
            self._preferences.set(RECENT_KEY, json.dumps(recent))
        except OSError:
            log.warning("could not remember the e-CPS identifier")

    async def login_with_ecps(
        self, id_nat: str, on_pending: Callable[[EcpsPending], None] | None = None
    ) -> ProfessionalLogin | None:
        """Push a login request to the professional's phone and wait for her answer.

        Polls at the server's interval (5 s longer after each ``slow_down``). Cancel the task
        to give up. From LOCKED, this resumes the session (same professional) or ends it.
        ``None`` when the session was ended (logout) while waiting.

        Args:
            id_nat: Her national identifier.
            on_pending: Called once the request is on the phone (binding message, expiry).

        Raises:
            InvalidIdentifierError: `id_nat` is not an identifier (nothing is sent).
            EcpsRefusedError: she refused on the phone.
            EcpsExpiredError: nobody answered in time.
            EcpsUnknownIdentifierError, DmpError: the server refused or cannot be reached.
        """
        id_nat = id_nat.strip()
        if not is_valid_id_nat(id_nat):
            raise InvalidIdentifierError("Identifiant national invalide.")
        if self.machine.state is SessionState.ACTIVE:
            await self.logout()
        attempt, resuming = self._begin(AuthMethod.ECPS)
        try:
            request = await self.gateway.start_ecps(id_nat, self._binding_message())
            if on_pending is not None:
                on_pending(EcpsPending(request.id_nat, request.binding_message, request.expires_at))
            login = await self._wait_for_phone(request)
        except BaseException:
            self._failed(attempt)
            raise
        if not self._current(attempt):
            return None  # logged out meanwhile: nothing was opened
        self._remember(id_nat)
        self._succeeded(resuming, SessionHolder(id_nat, login.display_name, AuthMethod.ECPS), login)
        self._start_refresh()
        self._notify_logged_in(None, login)
        self._notify()
        return login

    async def _wait_for_phone(self, request: EcpsRequest) -> ProfessionalLogin:
        interval = max(request.interval_s, MIN_POLL_S)
        while True:
            await self._sleep(interval)
            try:
                result = await self.gateway.poll_ecps(request)
            except NetworkError:
                if self._clock() >= request.expires_at:
                    raise EcpsExpiredError("La demande de connexion e-CPS a expiré.") from None
                log.info("e-CPS poll failed (network); polling again")
                continue
            if isinstance(result, ProfessionalLogin):
                return result
            if result is EcpsPollStatus.SLOW_DOWN:
                interval += SLOW_DOWN_STEP_S
            if self._clock() >= request.expires_at:
                raise EcpsExpiredError("La demande de connexion e-CPS a expiré.")

    # -- token renewal ------------------------------------------------------------------------
    def _start_refresh(self) -> None:
        self._stop_refresh()
        self._refresh_task = asyncio.ensure_future(self._keep_fresh(self.machine.generation))

    def _stop_refresh(self) -> None:
        task, self._refresh_task = self._refresh_task, None
        if task is None or task.done():
            return
        try:
            running = asyncio.current_task()
        except RuntimeError:
            running = None
        if task is not running:
            task.cancel()

    @property
    def refreshing(self) -> bool:
        """Whether the token renewal task runs (ACTIVE sessions)."""
        return self._refresh_task is not None and not self._refresh_task.done()

    def _still(self, generation: int) -> bool:
        return self.machine.state is SessionState.ACTIVE and self.machine.generation == generation

    async def _keep_fresh(self, generation: int) -> None:
        """Renew the session's token before it expires; lock what cannot be renewed."""
        renewable = True  # e-CPS: False once a refresh no longer pushes the end back
        try:
            while self._still(generation):
                login = self.login
                if login is None:
                    return
                now = self._clock()
                method = self.machine.method
                if now >= login.expires_at:
                    log.info("professional token expired: locking")
                    ended = ECPS_EXPIRED_MESSAGE if method is AuthMethod.ECPS else None
                    self.lock(LockReason.EXPIRED, ended)
                    return
                due = login.expires_at - self._refresh_margin
                card = self._card
                if method is AuthMethod.CARD and card is not None and now >= due:
                    if not await self._renew(card, generation):
                        return
                    continue
                ecps = method is AuthMethod.ECPS and renewable and login.refresh_token is not None
                if ecps and now >= due:
                    extended = await self._refresh_ecps(login, generation)
                    if extended is None:
                        return
                    renewable = extended
                    continue
                target = due if method is AuthMethod.CARD or ecps else login.expires_at
                wait = (target - now).total_seconds()
                await self._sleep(min(max(wait, 0.0), MAX_WAKE_S))
        except asyncio.CancelledError:
            raise
        except Exception:  # never let the renewal die silently with a session open
            log.exception("token renewal failed")
            if self._still(generation):
                self.lock(LockReason.EXPIRED)

    async def _renew(self, card: CardSession, generation: int) -> bool:
        """One renewal with the card; False when the session locked (stop)."""
        try:
            login = await self._card_login(card)
        except CardRemovedError:
            if self._still(generation):
                self.lock(LockReason.CARD_REMOVED)
            return False
        except (CardError, DmpError) as exc:
            log.warning("token renewal failed (%s): retrying", type(exc).__name__)
            current = self.login
            if current is None:
                return False
            left = (current.expires_at - self._clock()).total_seconds()
            await self._sleep(min(max(left, 0.0), self._refresh_retry.total_seconds()))
            return True
        if not self._still(generation) or self._card is not card:
            return False
        holder = self.holder
        if holder is None or login.id_nat != holder.id_nat:
            raise ProtocolError("Le jeton renouvelé n'est pas celui du même professionnel.")
        self.login = login
        log.info("professional token renewed")
        return True

    async def _refresh_ecps(self, login: ProfessionalLogin, generation: int) -> bool | None:
        """One renewal of an e-CPS session with its refresh token (no phone).

        Returns:
            None when the session locked or changed meanwhile (stop); else whether a later
            renewal may push its end back (False: the server's session cap is reached, the
            token is left to expire). A failure to try again counts as True.
        """
        try:
            renewed = await self.gateway.refresh_ecps(login)
        except EcpsRefreshRefusedError:
            log.info("e-CPS refresh token refused: locking")
            if self._still(generation):
                self.lock(LockReason.EXPIRED, ECPS_REFRESH_REFUSED_MESSAGE)
            return None
        except DmpError as exc:
            log.warning("e-CPS session renewal failed (%s): retrying", type(exc).__name__)
            left = (login.expires_at - self._clock()).total_seconds()
            await self._sleep(min(max(left, 0.0), self._refresh_retry.total_seconds()))
            return True
        if not self._still(generation) or self.login is not login:
            return None
        holder = self.holder
        if holder is None or renewed.id_nat != holder.id_nat:
            raise ProtocolError("Le jeton renouvelé n'est pas celui du même professionnel.")
        self.login = renewed
        log.info("e-CPS session renewed")
        pushed_back = renewed.expires_at > login.expires_at
        return pushed_back and renewed.expires_at - self._refresh_margin > self._clock()

    # -- lock and logout -------------------------------------------------------------------
    def card_removed(self, token: TokenInfo) -> None:
        """Called by the card monitor: the session's card left -> lock at once.

        An e-CPS session has no card: no card concerns it.
        """
        if self.machine.method is not AuthMethod.CARD:
            return
        if self.card_token is None or token.key != self.card_token.key:
            return
        if self.machine.state is SessionState.ACTIVE:
            self.lock(LockReason.CARD_REMOVED)

    def lock(self, reason: LockReason, message: str | None = None) -> None:
        """Lock an ACTIVE session now: tokens and card session dropped, lock listeners, views.

        Does nothing in another state. `message` (French) says more than `reason` when given;
        it is :attr:`lock_message` until the next login or the end of the session.
        """
        if self.machine.state is not SessionState.ACTIVE:
            return
        if reason is LockReason.CARD_REMOVED and self.machine.method is not AuthMethod.CARD:
            return
        self.lock_message = message
        self.login = None
        self._stop_refresh()
        card, self._card = self._card, None
        if card is not None:
            self._logout_later(card)
        self.machine.fire(SessionEvent.LOCKED, reason=reason)
        self._notify_closed(reason)
        self._notify()

    def _logout_later(self, card: CardSession) -> None:
        """Log the card out without waiting (a lock cannot wait for the card)."""
        coro = _quiet_logout(card)
        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:  # no event loop at all (never in the console)
            coro.close()
            return
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _close(self, *, notify: bool) -> CardSession | None:
        """End the session now (tokens, holder); the card session to log out, if any."""
        card, self._card = self._card, None
        self._stop_refresh()
        self.login = None
        self.identity = None
        self.card_token = None
        self.holder = None
        self.lock_message = None
        was_open = self.machine.state in (SessionState.ACTIVE, SessionState.LOCKED) or (
            self.machine.resuming
        )
        self.machine.fire(SessionEvent.LOGGED_OUT)
        if was_open:
            self._notify_closed(None)
        if notify:
            self._notify()
        return card

    async def logout(self) -> None:
        """End the session (also abandons a login running)."""
        self._attempt_no += 1
        card = self._close(notify=True)
        if card is not None:
            await _quiet_logout(card)

    async def aclose(self) -> None:
        """Quit: end the session, wait for the card logouts started by a lock."""
        if self.machine.state is not SessionState.LOGGED_OUT:
            await self.logout()
        self._stop_refresh()
        if self._background:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._background, return_exceptions=True)


async def _quiet_logout(card: CardSession) -> None:
    try:
        await card.logout()
    except CardError:
        pass
