"""An in-memory card reader for tests and demos, scriptable for what SoftHSM2 cannot do.

:class:`FakeCardReader` has the same async API as :class:`~console.smartcard.reader.
Pkcs11CardReader`; a :class:`FakeToken` is a card with a software RSA key and a CPS/CPE
certificate. Tests script it::

    card = FakeToken(pin="1234")               # a GP's CPS, issued by a throwaway test CA
    reader = FakeCardReader([card], latency_s=0.05)
    reader.remove(card)                        # later calls about it: CardRemovedError
    reader.remove_during_next_sign()           # the card leaves in the middle of a signature
    reader.fail_next(CardMiddlewareError("..."), operation="tokens")

PIN counter as on a CPS: 3 tries; a wrong PIN gives COUNT_LOW, FINAL_TRY when one try is
left, LOCKED at zero (that last wrong PIN raises PinLockedError); a good PIN resets it.
The tokens keep only a salted hash of their PIN and the call log only whether a PIN matched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.errors import CardMiddlewareError, PinLockedError
from console.smartcard.certificate import parse_card_certificate
from console.smartcard.reader import (
    SIGNATURE_ALGORITHMS,
    card_removed_error,
    pin_incorrect_error,
    pin_locked_error,
)

__all__ = [
    "DEFAULT_IDENTITY",
    "FakeCall",
    "FakeCardReader",
    "FakeCardSession",
    "FakeToken",
    "card_subject",
    "fake_ca",
]

DEFAULT_IDENTITY = CardIdentity(
    id_nat="899700000011",
    family_name="MARTIN",
    given_name="Claire",
    profession_label="Médecin",
    card_kind="CPS",
    structure_name="Cabinet médical du Parc",
)
"""The default holder of a FakeToken (the sandbox GP's identity)."""

FAKE_CA_NAME = "FAKE AC IGC-SANTE (TEST ONLY)"
_KEY_SIZE = 2048
_serials = itertools.count(1)


@functools.cache
def fake_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """The throwaway CA of fake cards (one per process, never trusted by any server)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Console fake cards"),
            x509.NameAttribute(NameOID.COMMON_NAME, FAKE_CA_NAME),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def card_subject(identity: CardIdentity) -> x509.Name:
    """The certificate subject of `identity`, in the CPS/CPE form (see certificate.py)."""
    holder = [x509.NameAttribute(NameOID.COMMON_NAME, identity.id_nat)]
    if identity.family_name:
        holder.append(x509.NameAttribute(NameOID.SURNAME, identity.family_name))
    if identity.given_name:
        holder.append(x509.NameAttribute(NameOID.GIVEN_NAME, identity.given_name))
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")])]
    if identity.structure_name:
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.structure_name)]
            )
        )
    if identity.structure_id:
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, identity.structure_id)]
            )
        )
    if identity.profession_label:
        rdns.append(
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.TITLE, identity.profession_label)]
            )
        )
    rdns.append(x509.RelativeDistinguishedName(holder))
    return x509.Name(rdns)


def _issue(identity: CardIdentity, public_key: rsa.RSAPublicKey) -> bytes:
    ca_cert, ca_key = fake_ca()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(card_subject(identity))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


class FakeToken:
    """A fake card: a software RSA key, its certificate, a PIN counter.

    Args:
        identity: The holder (default :data:`DEFAULT_IDENTITY`); its certificate is issued by
            :func:`fake_ca`. Not allowed together with `certificate_der`.
        pin: The good PIN (only a salted hash of it is kept).
        slot_id: The slot the card goes in.
        label: Token label (default "CPS <FAMILY> <Given>", "CPE ..." for a CPE).
        serial: Token serial (default: unique per FakeToken).
        max_tries: PIN tries of the card (3 on a CPS).
        tries_left: Tries left now (default `max_tries`; 0 makes a locked card).
        supports_pss: Whether the card signs PS256.
        private_key: The card's key (default: a new RSA-2048 key).
        certificate_der: A certificate for `private_key` made elsewhere (e.g. by the sandbox's
            test CA, so that the sandbox accepts the fake card); the identity is read from it.
    """

    def __init__(
        self,
        identity: CardIdentity | None = None,
        *,
        pin: str = "1234",
        slot_id: int = 1,
        label: str | None = None,
        serial: str | None = None,
        max_tries: int = 3,
        tries_left: int | None = None,
        supports_pss: bool = True,
        private_key: rsa.RSAPrivateKey | None = None,
        certificate_der: bytes | None = None,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        if certificate_der is not None:
            if identity is not None:
                raise ValueError("give either identity or certificate_der, not both")
            if private_key is None:
                raise ValueError("certificate_der needs the matching private_key")
            self.certificate_der = bytes(certificate_der)
            self.identity = parse_card_certificate(self.certificate_der)
            self.private_key = private_key
        else:
            self.identity = identity if identity is not None else DEFAULT_IDENTITY
            self.private_key = private_key or rsa.generate_private_key(
                public_exponent=65537, key_size=_KEY_SIZE
            )
            self.certificate_der = _issue(self.identity, self.private_key.public_key())
        self.slot_id = slot_id
        kind = self.identity.card_kind
        self.label = (
            label or f"{kind} {self.identity.family_name} {self.identity.given_name}".strip()
        )
        self.serial = serial or f"FAKE{next(_serials):012d}"
        self.max_tries = max_tries
        self.tries_left = max_tries if tries_left is None else max(0, min(tries_left, max_tries))
        self.supports_pss = supports_pss
        self._pin_salt = os.urandom(16)
        self._pin_digest = self._digest(pin)
        self._generation = 0
        """How many times the card was inserted: a session only lives in its generation."""

    def _digest(self, pin: str) -> bytes:
        return hashlib.sha256(self._pin_salt + pin.encode("utf-8")).digest()

    def _pin_matches(self, pin: str) -> bool:
        return hmac.compare_digest(self._digest(pin), self._pin_digest)

    @property
    def key(self) -> tuple[int, str]:
        """Same as ``TokenInfo.key``."""
        return (self.slot_id, self.serial)

    @property
    def pin_state(self) -> PinState:
        """The PIN flags the card reports now."""
        if self.tries_left <= 0:
            return PinState.LOCKED
        if self.tries_left == 1 and self.max_tries > 1:
            return PinState.FINAL_TRY
        if self.tries_left < self.max_tries:
            return PinState.COUNT_LOW
        return PinState.OK

    @property
    def info(self) -> TokenInfo:
        """The card as a reader lists it."""
        return TokenInfo(
            slot_id=self.slot_id,
            label=self.label,
            serial=self.serial,
            manufacturer="Console fake cards",
            model="FakeToken",
            pin_state=self.pin_state,
        )

    def lock(self) -> None:
        """Lock the PIN (as after too many wrong PINs)."""
        self.tries_left = 0

    def sign_now(self, data: bytes, algorithm: str = "RS256") -> bytes:
        """Sign synchronously with the card's key (no reader, no PIN: for test fixtures)."""
        if algorithm == "RS256":
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if algorithm == "PS256":
            if not self.supports_pss:
                raise CardMiddlewareError("La carte ne sait pas signer en PS256.")
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return self.private_key.sign(data, pss, hashes.SHA256())
        raise ValueError(
            f"unknown signature algorithm {algorithm!r} (expected one of "
            f"{', '.join(SIGNATURE_ALGORITHMS)})"
        )

    def __repr__(self) -> str:
        return (
            f"FakeToken(label={self.label!r}, slot_id={self.slot_id}, serial={self.serial!r}, "
            f"tries_left={self.tries_left})"
        )


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One call to the fake reader, for assertions.

    Attributes:
        operation: "tokens", "identity", "login", "sign" or "logout".
        token_label: The card concerned, if any.
        pin_matched: For a login that reached the card: whether the PIN was right; None when no
            PIN was tried (locked card, card absent, injected failure) and for other calls.
        outcome: "ok", or the class name of the error raised.
    """

    operation: str
    token_label: str | None = None
    pin_matched: bool | None = None
    outcome: str = "ok"


class FakeCardSession:
    """A fake card after PIN login.

    Attributes:
        token: The card (its state at login).
        identity: The holder, from its certificate.
        certificate_der: The certificate, DER-encoded.
    """

    def __init__(self, reader: FakeCardReader, card: FakeToken) -> None:
        self.token = card.info
        self.identity = parse_card_certificate(card.certificate_der)
        self.certificate_der = card.certificate_der
        self._reader = reader
        self._card = card
        self._generation = card._generation
        self.closed = False

    @property
    def supported_algorithms(self) -> tuple[str, ...]:
        """The signature algorithms the card offers."""
        return SIGNATURE_ALGORITHMS if self._card.supports_pss else ("RS256",)

    @property
    def is_open(self) -> bool:
        """Whether the session can still sign (not logged out, card still in since login)."""
        return not self.closed and self._reader._alive(self)

    async def sign(self, data: bytes, algorithm: str = "RS256") -> bytes:
        """Sign `data` (see :meth:`Pkcs11CardSession.sign`)."""
        return await self._reader._sign(self, bytes(data), algorithm)

    async def logout(self) -> None:
        """Log out (idempotent; a removed card counts as logged out)."""
        await self._reader._logout(self)

    def __repr__(self) -> str:
        return (
            f"FakeCardSession(token={self.token.label!r}, id_nat={self.identity.id_nat!r}, "
            f"open={self.is_open})"
        )


class FakeCardReader:
    """An in-memory card reader with the API of ``Pkcs11CardReader`` (see the module doc).

    Args:
        tokens: Cards inserted from the start.
        latency_s: Time every call takes (a real card answers in tens to hundreds of ms).
    """

    def __init__(self, tokens: Iterable[FakeToken] = (), *, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.calls: list[FakeCall] = []
        self.closed = False
        self._present: dict[int, FakeToken] = {}
        self._sessions: dict[tuple[int, str], FakeCardSession] = {}
        self._failures: list[tuple[str | None, BaseException]] = []
        self._removals_during_sign: list[FakeToken | None] = []
        for card in tokens:
            self.insert(card)

    def __repr__(self) -> str:
        labels = [card.label for card in self.present]
        return f"FakeCardReader(present={labels!r}, latency_s={self.latency_s})"

    # -- scripting -----------------------------------------------------------------------------

    @property
    def present(self) -> list[FakeToken]:
        """The cards in the slots, by slot."""
        return [self._present[slot] for slot in sorted(self._present)]

    def insert(self, card: FakeToken) -> None:
        """Put `card` in its slot (a session opened before a removal stays dead)."""
        occupant = self._present.get(card.slot_id)
        if occupant is card:
            return
        if occupant is not None:
            raise ValueError(f"slot {card.slot_id} already holds {occupant.label!r}")
        card._generation += 1
        self._present[card.slot_id] = card

    def remove(self, card: FakeToken) -> None:
        """Take `card` out: its sessions die, later calls about it raise CardRemovedError."""
        if self._present.get(card.slot_id) is card:
            del self._present[card.slot_id]
        session = self._sessions.get(card.key)
        if session is not None and session._card is card:
            del self._sessions[card.key]

    def remove_during_next_sign(self, card: FakeToken | None = None) -> None:
        """The next signature (with `card`, or any card) loses its card halfway through."""
        self._removals_during_sign.append(card)

    def fail_next(
        self, error: BaseException, *, operation: str | None = None, times: int = 1
    ) -> None:
        """The next `times` calls (of `operation` only, if given) raise `error`.

        Args:
            error: E.g. ``CardMiddlewareError("...")`` or ``CardRemovedError(...)``.
            operation: "tokens", "identity", "login", "sign" or "logout"; None for any.
            times: How many calls fail.
        """
        self._failures.extend((operation, error) for _ in range(times))

    def login_attempts(self, card: FakeToken | None = None) -> int:
        """How many PINs were presented to a card (to `card` only, if given)."""
        return sum(
            1
            for call in self.calls
            if call.operation == "login"
            and call.pin_matched is not None
            and (card is None or call.token_label == card.label)
        )

    # -- reader API ----------------------------------------------------------------------------

    async def tokens(self) -> list[TokenInfo]:
        """The cards present, with their PIN state."""
        await self._enter("tokens", None)
        found = [card.info for card in self.present]
        self._log("tokens")
        return found

    async def identity(self, token: TokenInfo) -> CardIdentity:
        """The holder of `token`, from its certificate (no PIN)."""
        await self._enter("identity", token.label)
        card = self._card_for(token, "identity")
        identity = parse_card_certificate(card.certificate_der)
        self._log("identity", card.label)
        return identity

    async def login(self, token: TokenInfo, pin: str) -> FakeCardSession:
        """Log in to `token` with `pin` (see ``Pkcs11CardReader.login``)."""
        if not isinstance(pin, str):
            raise TypeError("the PIN must be a str")
        check = _PinCheck(pin)
        del pin
        try:
            await self._enter("login", token.label)
            card = self._card_for(token, "login")
            if card.pin_state is PinState.LOCKED:
                self._log("login", card.label, outcome=PinLockedError.__name__)
                raise pin_locked_error()
            if not check(card):
                card.tries_left = max(0, card.tries_left - 1)
                error = pin_incorrect_error(card.pin_state)
                self._log("login", card.label, pin_matched=False, outcome=type(error).__name__)
                raise error
        finally:
            check.clear()
        card.tries_left = card.max_tries
        previous = self._sessions.pop(card.key, None)
        if previous is not None:
            previous.closed = True
        session = FakeCardSession(self, card)
        self._sessions[card.key] = session
        self._log("login", card.label, pin_matched=True)
        return session

    async def close(self) -> None:
        """Log out of every card; later calls raise CardMiddlewareError (idempotent)."""
        for session in self._sessions.values():
            session.closed = True
        self._sessions.clear()
        self.closed = True

    # -- internals -----------------------------------------------------------------------------

    def _log(
        self,
        operation: str,
        label: str | None = None,
        *,
        pin_matched: bool | None = None,
        outcome: str = "ok",
    ) -> None:
        self.calls.append(FakeCall(operation, label, pin_matched, outcome))

    async def _enter(self, operation: str, label: str | None) -> None:
        if self.closed:
            self._log(operation, label, outcome=CardMiddlewareError.__name__)
            raise CardMiddlewareError("Le lecteur de cartes est fermé.")
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        for index, (target, injected) in enumerate(self._failures):
            if target is None or target == operation:
                del self._failures[index]
                self._log(operation, label, outcome=type(injected).__name__)
                raise injected

    def _card_for(self, token: TokenInfo, operation: str) -> FakeToken:
        card = self._present.get(token.slot_id)
        if card is None or card.serial != token.serial:
            self._log(operation, token.label, outcome="CardRemovedError")
            raise card_removed_error()
        return card

    def _alive(self, session: FakeCardSession) -> bool:
        card = session._card
        return (
            not self.closed
            and self._present.get(card.slot_id) is card
            and card._generation == session._generation
        )

    def _take_removal(self, card: FakeToken) -> bool:
        for index, target in enumerate(self._removals_during_sign):
            if target is None or target is card:
                del self._removals_during_sign[index]
                return True
        return False

    async def _sign(self, session: FakeCardSession, data: bytes, algorithm: str) -> bytes:
        label = session._card.label
        if algorithm not in SIGNATURE_ALGORITHMS:
            raise ValueError(
                f"unknown signature algorithm {algorithm!r} (expected one of "
                f"{', '.join(SIGNATURE_ALGORITHMS)})"
            )
        if session.closed:
            error: Exception = CardMiddlewareError(
                "La session de la carte est fermée : reconnectez-vous avec le code PIN."
            )
            self._log("sign", label, outcome=type(error).__name__)
            raise error
        if not self._alive(session):
            self._log("sign", label, outcome="CardRemovedError")
            raise card_removed_error()
        if self._take_removal(session._card):
            if self.latency_s > 0:
                await asyncio.sleep(self.latency_s / 2)
            self.remove(session._card)
            self._log("sign", label, outcome="CardRemovedError")
            raise card_removed_error()
        await self._enter("sign", label)
        if session.closed or not self._alive(session):
            self._log("sign", label, outcome="CardRemovedError")
            raise card_removed_error()
        try:
            signature = session._card.sign_now(data, algorithm)
        except CardMiddlewareError as exc:
            self._log("sign", label, outcome=type(exc).__name__)
            raise
        self._log("sign", label)
        return signature

    async def _logout(self, session: FakeCardSession) -> None:
        if session.closed:
            return
        label = session._card.label
        session.closed = True
        if self._sessions.get(session._card.key) is session:
            del self._sessions[session._card.key]
        if self.closed or not self._alive(session):
            self._log("logout", label)
            return
        await self._enter("logout", label)
        self._log("logout", label)


class _PinCheck:
    """Checks a PIN against a card once, then forgets it. Its repr never shows the PIN."""

    __slots__ = ("_pin",)

    def __init__(self, pin: str) -> None:
        self._pin: str | None = pin

    def __call__(self, card: FakeToken) -> bool:
        pin, self._pin = self._pin, None
        return pin is not None and card._pin_matches(pin)

    def clear(self) -> None:
        self._pin = None

    def __repr__(self) -> str:
        return "_PinCheck(<hidden>)"
