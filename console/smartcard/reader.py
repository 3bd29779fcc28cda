"""The card reader over PKCS#11 (python-pkcs11): tokens, identity, PIN login, signature.

Roles, as in Electrum's hardware wallets: :class:`Pkcs11CardReader` finds the cards and logs
in; a :class:`Pkcs11CardSession` is one logged-in card that signs; the PIN comes from the
caller (a ``PinPrompt`` of the views, through a service), never from here.

Threading: card middleware is not thread-safe, so *every* PKCS#11 call of a reader (loading the
module, listing slots, reading flags and objects, login, sign, logout) runs on the reader's
single worker thread (a ``ThreadPoolExecutor(max_workers=1)``); the async methods await it.
python-pkcs11 is imported lazily on that thread, so importing this module costs nothing.

PINs: a PIN is only handed to the worker call that logs in, through a one-shot box that is
emptied as soon as it is read; it is never logged, never kept on an object, never put in an
exception message.

PKCS#11 keeps the login state per application and per token: one reader per module and per
process, and do not log in to the same card elsewhere in the process.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.errors import (
    CardError,
    CardMiddlewareError,
    CardRemovedError,
    PinIncorrectError,
    PinLockedError,
)
from console.smartcard.certificate import (
    CertificateFormatError,
    load_certificate,
    parse_card_certificate,
)

__all__ = [
    "SIGNATURE_ALGORITHMS",
    "WORKER_THREAD_PREFIX",
    "Pkcs11CardReader",
    "Pkcs11CardSession",
    "card_removed_error",
    "pin_incorrect_error",
    "pin_locked_error",
    "pin_state_from_flags",
    "pin_state_of",
    "signing_plan",
    "supported_algorithms",
]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

WORKER_THREAD_PREFIX = "pkcs11-worker"
"""Name prefix of the reader's worker thread."""

SIGNATURE_ALGORITHMS: tuple[str, ...] = ("RS256", "PS256")
"""RS256: RSASSA-PKCS1-v1_5 SHA-256. PS256: RSASSA-PSS SHA-256, MGF1-SHA-256, salt 32 bytes."""

# PKCS#11 constants (kept here so that reading them does not import pkcs11).
CKF_TOKEN_INITIALIZED = 0x00000400
CKF_USER_PIN_COUNT_LOW = 0x00010000
CKF_USER_PIN_FINAL_TRY = 0x00020000
CKF_USER_PIN_LOCKED = 0x00040000
CKM_RSA_PKCS = 0x00000001
CKM_RSA_PKCS_PSS = 0x0000000D
CKM_SHA256_RSA_PKCS = 0x00000040
CKM_SHA256_RSA_PKCS_PSS = 0x00000043

_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
"""DER DigestInfo prefix of a SHA-256 hash (RFC 8017 §9.2), for raw CKM_RSA_PKCS."""
_PSS_SALT_LENGTH = 32


# --- PIN state and errors, shared with the fake reader ----------------------------------------


def pin_state_from_flags(flags: int) -> PinState:
    """The PIN state of a token from its CK_TOKEN_INFO flags (CKF_USER_PIN_*).

    Args:
        flags: The token flags (``int(token.flags)`` in python-pkcs11).

    Returns:
        LOCKED, FINAL_TRY, COUNT_LOW or OK, the most severe flag winning.
    """
    if flags & CKF_USER_PIN_LOCKED:
        return PinState.LOCKED
    if flags & CKF_USER_PIN_FINAL_TRY:
        return PinState.FINAL_TRY
    if flags & CKF_USER_PIN_COUNT_LOW:
        return PinState.COUNT_LOW
    return PinState.OK


_LOCKED_MESSAGE = (
    "La carte est bloquée : le code PIN a été saisi trop de fois de façon erronée. "
    "Débloquez-la avec son code de déblocage (PUK) à l'aide de l'outil de gestion "
    "de l'émetteur de la carte (ANS)."
)


def pin_locked_error(*, just_locked: bool = False) -> PinLockedError:
    """The error of a locked card (``pin_state`` LOCKED attached).

    Args:
        just_locked: The card locked itself on the wrong PIN just typed.
    """
    prefix = "Code PIN incorrect. " if just_locked else ""
    return PinLockedError(prefix + _LOCKED_MESSAGE, PinState.LOCKED)


def pin_incorrect_error(
    state: PinState, *, length_invalid: bool = False
) -> PinIncorrectError | PinLockedError:
    """The error of a rejected PIN, with the card's PIN state *after* the attempt.

    The state is attached as ``error.pin_state`` (read it with :func:`pin_state_of`) so that the
    PIN dialog can show the tries left. A card that locked itself on this attempt gives a
    :class:`PinLockedError`.

    Args:
        state: The PIN state read from the token after the failed attempt.
        length_invalid: The card refused the PIN for its length or characters.
    """
    if state is PinState.LOCKED:
        return pin_locked_error(just_locked=True)
    message = (
        "Code PIN refusé : il n'a pas le bon nombre de chiffres."
        if length_invalid
        else "Code PIN incorrect."
    )
    if state is PinState.FINAL_TRY:
        message += " Il ne reste qu'un essai : un nouveau code erroné bloquera la carte."
    elif state is PinState.COUNT_LOW:
        message += " Attention : la carte se bloque après plusieurs codes erronés."
    return PinIncorrectError(message, state)


def pin_state_of(error: BaseException) -> PinState | None:
    """The PIN state attached to a PIN error by this package, if any."""
    state = getattr(error, "pin_state", None)
    return state if isinstance(state, PinState) else None


def card_removed_error() -> CardRemovedError:
    """The error of a card that left its reader."""
    return CardRemovedError("La carte a été retirée du lecteur.")


# --- signature mechanisms -----------------------------------------------------------------------


def signing_plan(algorithm: str, mechanisms: frozenset[int]) -> tuple[int, bool]:
    """Which PKCS#11 mechanism signs with `algorithm` on a token offering `mechanisms`.

    The hash-and-sign mechanisms (CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS) are preferred;
    when a card only offers the raw ones (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS), the SHA-256 hash
    (and its DigestInfo for PKCS#1 v1.5) is computed here and the card signs it.

    Args:
        algorithm: "RS256" or "PS256".
        mechanisms: The token's mechanism numbers.

    Returns:
        (mechanism number, whether the data must be hashed here first).

    Raises:
        ValueError: `algorithm` is neither RS256 nor PS256.
        CardMiddlewareError: The card cannot sign with `algorithm`.
    """
    if algorithm == "RS256":
        candidates = ((CKM_SHA256_RSA_PKCS, False), (CKM_RSA_PKCS, True))
    elif algorithm == "PS256":
        candidates = ((CKM_SHA256_RSA_PKCS_PSS, False), (CKM_RSA_PKCS_PSS, True))
    else:
        raise ValueError(
            f"unknown signature algorithm {algorithm!r} (expected one of "
            f"{', '.join(SIGNATURE_ALGORITHMS)})"
        )
    for mechanism, prehash in candidates:
        if mechanism in mechanisms:
            return mechanism, prehash
    raise CardMiddlewareError(f"La carte ne sait pas signer en {algorithm}.")


def supported_algorithms(mechanisms: frozenset[int]) -> tuple[str, ...]:
    """The algorithms of :data:`SIGNATURE_ALGORITHMS` a token offering `mechanisms` can use."""
    found = []
    for algorithm in SIGNATURE_ALGORITHMS:
        try:
            signing_plan(algorithm, mechanisms)
        except CardMiddlewareError:
            continue
        found.append(algorithm)
    return tuple(found)


# --- worker-side helpers ------------------------------------------------------------------------


class _PinBox:
    """Carries a PIN to the worker once; emptied when read. Its repr never shows the PIN."""

    __slots__ = ("_pin",)

    def __init__(self, pin: str) -> None:
        self._pin: str | None = pin

    def take(self) -> str:
        pin, self._pin = self._pin, None
        if pin is None:
            raise CardMiddlewareError("La connexion à la carte a été annulée.")
        return pin

    def clear(self) -> None:
        self._pin = None

    def __repr__(self) -> str:
        return "_PinBox(<hidden>)"


class _Handle:
    """A logged-in PKCS#11 session and its key. Its pkcs11 objects are only touched by the
    worker thread."""

    def __init__(
        self, key: tuple[int, str], session: Any, private_key: Any, mechanisms: frozenset[int]
    ) -> None:
        self.key = key
        self.session = session
        self.private_key = private_key
        self.mechanisms = mechanisms
        self.closed = False
        self.removed = False

    def __repr__(self) -> str:
        return f"_Handle(key={self.key!r}, closed={self.closed}, removed={self.removed})"


class _LoginTicket:
    """Where the worker leaves the session of a login, so that a cancelled login can close it."""

    __slots__ = ("delivered", "handle")

    def __init__(self) -> None:
        self.handle: _Handle | None = None
        self.delivered = False


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return str(value).strip()


def _token_info(slot_id: int, token: Any) -> TokenInfo:
    return TokenInfo(
        slot_id=int(slot_id),
        label=_decode(token.label),
        serial=_decode(token.serial),
        manufacturer=_decode(token.manufacturer_id),
        model=_decode(token.model),
        pin_state=pin_state_from_flags(int(token.flags)),
    )


def _attribute_or(obj: Any, attribute: Any, default: Any) -> Any:
    import pkcs11.exceptions as p11e

    try:
        return obj[attribute]
    except (p11e.AttributeTypeInvalid, p11e.AttributeSensitive, KeyError):
        return default


def _certificate_rank(label: str, der: bytes, index: int) -> tuple[int, int, int]:
    """Sort key choosing the authentication certificate among the card's certificates."""
    lowered = label.lower()
    by_label = 0 if ("authentif" in lowered or "authentic" in lowered) else 1
    try:
        cert = load_certificate(der)
    except CertificateFormatError:
        return (3, by_label, index)
    usage = 1
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return (2, by_label, index)
    except x509.ExtensionNotFound:
        pass
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if key_usage.digital_signature and not key_usage.content_commitment:
            usage = 0
    except x509.ExtensionNotFound:
        pass
    return (by_label, usage, index)


def _read_certificate(session: Any) -> tuple[bytes, bytes | None]:
    """The DER and CKA_ID of the card's authentication certificate (public object)."""
    from pkcs11 import Attribute, ObjectClass

    found: list[tuple[tuple[int, int, int], bytes, bytes | None]] = []
    objects = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}))
    for index, obj in enumerate(objects):
        value = _attribute_or(obj, Attribute.VALUE, None)
        if not value:
            continue
        der = bytes(value)
        label = str(_attribute_or(obj, Attribute.LABEL, "") or "")
        cka_id = _attribute_or(obj, Attribute.ID, None)
        found.append((_certificate_rank(label, der, index), der, bytes(cka_id) if cka_id else None))
    if not found:
        raise CertificateFormatError(
            "La carte ne contient aucun certificat d'authentification lisible : ce n'est pas "
            "une carte CPS/CPE."
        )
    found.sort(key=lambda item: item[0])
    return found[0][1], found[0][2]


def _find_private_key(session: Any, cka_id: bytes | None) -> Any:
    from pkcs11 import Attribute, KeyType, ObjectClass

    template: dict[Any, Any] = {
        Attribute.CLASS: ObjectClass.PRIVATE_KEY,
        Attribute.KEY_TYPE: KeyType.RSA,
    }
    if cka_id is not None:
        keys = list(session.get_objects({**template, Attribute.ID: cka_id}))
        if keys:
            return keys[0]
    keys = list(session.get_objects(template))
    if len(keys) == 1:
        return keys[0]
    raise CardMiddlewareError(
        "La clé privée d'authentification de la carte est introuvable."
        if not keys
        else "La carte a plusieurs clés privées et aucune ne correspond au certificat."
    )


def _map_pkcs11_error(exc: BaseException) -> CardError | None:
    """The console error of a python-pkcs11 exception (None when `exc` is not one)."""
    import pkcs11.exceptions as p11e

    if not isinstance(exc, p11e.PKCS11Error):
        return None
    if isinstance(exc, p11e.PinLocked):
        return pin_locked_error()
    if isinstance(exc, p11e.PinIncorrect | p11e.PinInvalid | p11e.PinLenRange):
        return pin_incorrect_error(
            PinState.COUNT_LOW, length_invalid=not isinstance(exc, p11e.PinIncorrect)
        )
    removed = (
        p11e.TokenNotPresent,
        p11e.TokenNotRecognised,
        p11e.DeviceRemoved,
        p11e.SessionHandleInvalid,
        p11e.SessionClosed,
        p11e.NoSuchToken,
        p11e.SlotIDInvalid,
    )
    if isinstance(exc, removed):
        return card_removed_error()
    detail = str(exc).strip()
    return CardMiddlewareError(
        f"Erreur du module de la carte ({type(exc).__name__}{': ' + detail if detail else ''})."
    )


# --- the reader ---------------------------------------------------------------------------------


class Pkcs11CardSession:
    """A card after PIN login, as returned by :meth:`Pkcs11CardReader.login`.

    Attributes:
        token: The card (its state at login).
        identity: The holder, from the authentication certificate.
        certificate_der: That certificate, DER-encoded.
    """

    def __init__(
        self,
        reader: Pkcs11CardReader,
        token: TokenInfo,
        identity: CardIdentity,
        certificate_der: bytes,
        handle: _Handle,
    ) -> None:
        self.token = token
        self.identity = identity
        self.certificate_der = certificate_der
        self._reader = reader
        self._handle = handle

    @property
    def supported_algorithms(self) -> tuple[str, ...]:
        """The signature algorithms the card offers ("RS256", "PS256")."""
        return supported_algorithms(self._handle.mechanisms)

    @property
    def is_open(self) -> bool:
        """Whether the session can still sign (not logged out, card not seen removed)."""
        return not (self._handle.closed or self._handle.removed)

    async def sign(self, data: bytes, algorithm: str = "RS256") -> bytes:
        """Sign `data` on the card.

        Args:
            data: The bytes to sign (e.g. the UTF-8 server challenge); hashed by the card.
            algorithm: "RS256" (RSASSA-PKCS1-v1_5 SHA-256) or "PS256" (RSASSA-PSS SHA-256,
                MGF1-SHA-256, salt 32).

        Returns:
            The signature.

        Raises:
            ValueError: Unknown `algorithm`.
            CardRemovedError: The card left the reader (before or during the signature).
            CardMiddlewareError: The session is closed, or the module failed.
        """
        return await self._reader._sign(self._handle, bytes(data), algorithm)

    async def logout(self) -> None:
        """Log out and close the session (idempotent; a removed card counts as logged out).

        Raises:
            CardMiddlewareError: The module failed to log out.
        """
        await self._reader._logout(self._handle)

    def __repr__(self) -> str:
        return (
            f"Pkcs11CardSession(token={self.token.label!r}, id_nat={self.identity.id_nat!r}, "
            f"open={self.is_open})"
        )


class Pkcs11CardReader:
    """Cards read through a PKCS#11 module (Cryptolib CPS, or SoftHSM2 for the sandbox).

    The module is loaded on first use. One worker thread runs every PKCS#11 call.

    Args:
        module_path: The PKCS#11 module (see :mod:`console.smartcard.modules`).
        on_call: Debug hook, called *on the worker thread* with the name of each operation
            before it runs ("load", "tokens", "identity", "login", "sign", "logout", "close",
            "abandon"); never with its arguments.
    """

    def __init__(
        self, module_path: Path | str, *, on_call: Callable[[str], None] | None = None
    ) -> None:
        self.module_path = Path(module_path)
        self._on_call = on_call
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WORKER_THREAD_PREFIX)
        self._closed = False
        # Worker-only state:
        self._lib: Any = None
        self._worker: int | None = None
        self._sessions: dict[tuple[int, str], _Handle] = {}

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("loaded" if self._lib is not None else "not loaded")
        return f"Pkcs11CardReader({str(self.module_path)!r}, {state})"

    # -- public API --------------------------------------------------------------------------

    async def tokens(self) -> list[TokenInfo]:
        """The initialised tokens present in the slots, with their PIN state.

        Raises:
            CardMiddlewareError: The module is missing, not loadable, or failed.
        """
        return await self._run("tokens", self._tokens_sync)

    async def identity(self, token: TokenInfo) -> CardIdentity:
        """The holder of `token`, from its authentication certificate, read without the PIN.

        Raises:
            CardRemovedError: The card is no longer in its slot (or another card is).
            CertificateFormatError: The card holds no CPS/CPE certificate.
            CardMiddlewareError: The module failed.
        """
        return await self._run("identity", functools.partial(self._identity_sync, token))

    async def login(self, token: TokenInfo, pin: str) -> Pkcs11CardSession:
        """Log in to `token` with `pin` (one attempt: the PIN is never retried).

        The token's flags are read first: a locked card is refused without any login attempt.
        A new login to a card this reader is already logged in to closes the previous session.

        Args:
            token: The card, as listed by :meth:`tokens`.
            pin: The PIN typed by the user; only passed to the worker's login call.

        Returns:
            The logged-in card.

        Raises:
            PinIncorrectError: Wrong PIN; ``pin_state_of(error)`` is the state after it.
            PinLockedError: The card is (or just became) locked.
            CardRemovedError: The card is no longer in its slot.
            CertificateFormatError: The card holds no CPS/CPE certificate.
            CardMiddlewareError: The module failed.
        """
        if not isinstance(pin, str):
            raise TypeError("the PIN must be a str")
        box = _PinBox(pin)
        del pin
        ticket = _LoginTicket()
        try:
            handle, fresh, identity, der = await self._run(
                "login", functools.partial(self._login_sync, token, box, ticket)
            )
        except asyncio.CancelledError:
            box.clear()
            self._abandon(ticket)
            raise
        finally:
            box.clear()
        ticket.delivered = True
        return Pkcs11CardSession(self, fresh, identity, der, handle)

    async def close(self) -> None:
        """Log out of every card, and stop the worker thread (idempotent).

        The module stays loaded in the process (python-pkcs11 loads a module once per process).
        """
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._executor, functools.partial(self._in_worker, "close", self._close_sync)
            )
        except CardError as exc:
            _log.warning("closing the card sessions failed: %s", type(exc).__name__)
        finally:
            self._executor.shutdown(wait=False)

    # -- plumbing ----------------------------------------------------------------------------

    async def _run(self, operation: str, fn: Callable[[], _T]) -> _T:
        if self._closed:
            raise CardMiddlewareError("Le lecteur de cartes est fermé.")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._in_worker, operation, fn)
        )

    def _in_worker(self, operation: str, fn: Callable[[], _T]) -> _T:
        ident = threading.get_ident()
        if self._worker is None:
            self._worker = ident
        elif self._worker != ident:  # pragma: no cover - a ThreadPoolExecutor(1) never does it
            raise RuntimeError("PKCS#11 call outside the reader's worker thread")
        if self._on_call is not None:
            self._on_call(operation)
        try:
            return fn()
        except CardError:
            raise
        except Exception as exc:
            mapped = _map_pkcs11_error(exc)
            if mapped is None:
                raise
            _log.debug("PKCS#11 %s failed: %s", operation, type(exc).__name__)
            raise mapped from exc

    def _abandon(self, ticket: _LoginTicket) -> None:
        """After a cancelled login: close the session it may still open (FIFO worker)."""
        if self._closed:
            return

        def close_if_undelivered() -> None:
            handle = ticket.handle
            if handle is not None and not ticket.delivered:
                self._close_handle(handle)

        try:
            self._executor.submit(self._in_worker, "abandon", close_if_undelivered)
        except RuntimeError:  # executor already shut down
            pass

    def _load(self) -> Any:
        if self._lib is not None:
            return self._lib
        if self._on_call is not None:
            self._on_call("load")
        path = self.module_path
        if not path.is_file():
            raise CardMiddlewareError(
                f"Module PKCS#11 introuvable : {path}. Installez le logiciel de la carte "
                "(Cryptolib CPS de l'ANS) ou indiquez le chemin du module dans la configuration."
            )
        try:
            import pkcs11
        except ImportError as exc:
            raise CardMiddlewareError(
                f"La bibliothèque python-pkcs11 est indisponible ({exc}) : le module {path} "
                "ne peut pas être chargé."
            ) from exc
        try:
            lib = pkcs11.lib(str(path))
        except Exception as exc:
            raise CardMiddlewareError(
                f"Impossible de charger le module PKCS#11 {path} : {exc}"
            ) from exc
        _log.info(
            "PKCS#11 module loaded: %s (%s, %s)",
            path,
            _decode(lib.manufacturer_id),
            _decode(lib.library_description),
        )
        self._lib = lib
        return lib

    def _find_token(self, info: TokenInfo) -> Any:
        import pkcs11.exceptions as p11e

        lib = self._load()
        for slot in lib.get_slots(token_present=True):
            if int(slot.slot_id) != info.slot_id:
                continue
            try:
                token = slot.get_token()
            except (p11e.TokenNotPresent, p11e.TokenNotRecognised):
                break
            if _decode(token.serial) != info.serial:
                break  # another card in the same slot
            return token
        raise card_removed_error()

    def _forget_absent(self, present: set[tuple[int, str]]) -> None:
        """Drop the sessions of cards that left their slot (they cannot sign any more)."""
        for key in [k for k in self._sessions if k not in present]:
            handle = self._sessions.pop(key)
            handle.removed = True
            self._close_quietly(handle)

    # -- worker jobs -------------------------------------------------------------------------

    def _tokens_sync(self) -> list[TokenInfo]:
        import pkcs11.exceptions as p11e

        lib = self._load()
        found: list[TokenInfo] = []
        for slot in lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except (
                p11e.TokenNotPresent,
                p11e.TokenNotRecognised,
                p11e.DeviceRemoved,
                p11e.SlotIDInvalid,
            ):
                continue
            if not int(token.flags) & CKF_TOKEN_INITIALIZED:
                continue
            found.append(_token_info(slot.slot_id, token))
        self._forget_absent({t.key for t in found})
        return found

    def _identity_sync(self, info: TokenInfo) -> CardIdentity:
        token = self._find_token(info)
        with token.open() as session:
            der, _ = _read_certificate(session)
        return parse_card_certificate(der)

    def _pin_state_after_failure(self, info: TokenInfo) -> PinState:
        try:
            return pin_state_from_flags(int(self._find_token(info).flags))
        except CardError:
            return PinState.COUNT_LOW

    def _login_sync(
        self, info: TokenInfo, box: _PinBox, ticket: _LoginTicket
    ) -> tuple[_Handle, TokenInfo, CardIdentity, bytes]:
        import pkcs11.exceptions as p11e

        token = self._find_token(info)
        if pin_state_from_flags(int(token.flags)) is PinState.LOCKED:
            box.clear()
            raise pin_locked_error()
        previous = self._sessions.pop(info.key, None)
        if previous is not None:
            self._close_quietly(previous)
        session: Any = None
        rejected: BaseException | None = None
        pin = box.take()
        try:
            session = token.open(user_pin=pin)
        except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange) as exc:
            rejected = exc
        except p11e.UserAlreadyLoggedIn:
            raise CardMiddlewareError(
                "La carte est déjà ouverte par une autre partie du programme."
            ) from None
        finally:
            del pin
        if session is None:
            _log.info("card login refused: %s", type(rejected).__name__)
            state = self._pin_state_after_failure(info)
            raise pin_incorrect_error(
                state, length_invalid=not isinstance(rejected, p11e.PinIncorrect)
            ) from None
        try:
            der, cka_id = _read_certificate(session)
            identity = parse_card_certificate(der)
            private_key = _find_private_key(session, cka_id)
            mechanisms = frozenset(int(m) for m in token.slot.get_mechanisms())
            fresh = _token_info(token.slot.slot_id, token.slot.get_token())
        except BaseException:
            try:
                session.close()
            except Exception:  # already failing: report the first error
                _log.debug("closing the card session after a failed login failed")
            raise
        handle = _Handle(info.key, session, private_key, mechanisms)
        self._sessions[info.key] = handle
        ticket.handle = handle
        return handle, fresh, identity, der

    def _sign_sync(self, handle: _Handle, data: bytes, algorithm: str) -> bytes:
        from pkcs11 import MGF, Mechanism

        if handle.removed:
            raise card_removed_error()
        if handle.closed:
            raise CardMiddlewareError(
                "La session de la carte est fermée : reconnectez-vous avec le code PIN."
            )
        mechanism, prehash = signing_plan(algorithm, handle.mechanisms)
        payload = data
        if prehash:
            digest = hashlib.sha256(data).digest()
            payload = _SHA256_DIGEST_INFO + digest if algorithm == "RS256" else digest
        param = (Mechanism.SHA256, MGF.SHA256, _PSS_SALT_LENGTH) if algorithm == "PS256" else None
        try:
            signature = handle.private_key.sign(
                payload, mechanism=Mechanism(mechanism), mechanism_param=param
            )
        except Exception as exc:
            mapped = _map_pkcs11_error(exc)
            if isinstance(mapped, CardRemovedError):
                handle.removed = True
                self._sessions.pop(handle.key, None)
                self._close_quietly(handle)
            raise
        return bytes(signature)

    def _logout_sync(self, handle: _Handle) -> None:
        if handle.closed:
            return
        if self._sessions.get(handle.key) is handle:
            del self._sessions[handle.key]
        if handle.removed:
            self._close_quietly(handle)
            return
        self._close_handle(handle)

    def _close_handle(self, handle: _Handle) -> None:
        """Log out and close; a card gone counts as logged out, other failures raise."""
        if handle.closed:
            return
        handle.closed = True
        if self._sessions.get(handle.key) is handle:
            del self._sessions[handle.key]
        try:
            handle.session.close()
        except Exception as exc:
            mapped = _map_pkcs11_error(exc)
            if isinstance(mapped, CardRemovedError):
                handle.removed = True
                return
            raise

    def _close_quietly(self, handle: _Handle) -> None:
        try:
            self._close_handle(handle)
        except Exception as exc:
            _log.warning("closing a card session failed: %s", type(exc).__name__)

    def _close_sync(self) -> None:
        for handle in list(self._sessions.values()):
            self._close_quietly(handle)
        self._sessions.clear()

    # -- session calls -----------------------------------------------------------------------

    async def _sign(self, handle: _Handle, data: bytes, algorithm: str) -> bytes:
        if algorithm not in SIGNATURE_ALGORITHMS:
            raise ValueError(
                f"unknown signature algorithm {algorithm!r} (expected one of "
                f"{', '.join(SIGNATURE_ALGORITHMS)})"
            )
        return await self._run("sign", functools.partial(self._sign_sync, handle, data, algorithm))

    async def _logout(self, handle: _Handle) -> None:
        if handle.closed or self._closed:
            return
        await self._run("logout", functools.partial(self._logout_sync, handle))
