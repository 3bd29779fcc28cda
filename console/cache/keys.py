"""The cache's key, bound to the professional's card (or, for e-CPS, to the OS keychain).

Choice: **derived from the card's signature** (binding ``card-rsa-pkcs1-hkdf-v1``).

At login the card (PIN session open) signs a fixed label with RSASSA-PKCS1-v1_5 SHA-256::

    label = b"\\xffDMP-CONSOLE-CACHE-KEY v1\\x00" + idNat (UTF-8)
    sig   = card.sign(label, "RS256")                  # deterministic for a given key
    okm   = HKDF-SHA256(ikm=sig, salt=b"DMP-CONSOLE-CACHE v1",
                        info=b"sqlcipher+header\\x00" + SPKI-SHA256 + b"\\x00" + idNat, L=64)
    db_key  = okm[:32]   -> PRAGMA key = "x'<64 hex>'"  (raw key: no PBKDF2 at open)
    mac_key = okm[32:]   -> key check value, header MAC

PKCS#1 v1.5 signatures are deterministic, so the same card always gives the same key; the
signature is verified against the certificate's public key (a card that signed with another
key, or with a randomised padding, would give another key), used once and never stored; the
keys live in memory only while the cache is open. Deriving needs the card *and* its PIN.

Why not a random data key wrapped by the card's public key: unwrapping needs an RSA
*decryption* on the card, and the authentication key of a CPS (like the sandbox's SoftHSM2
keys, generated ``SIGN | VERIFY`` only) is a signature key; a signature is what every card
offers. Why not a passphrase: the key must need the card.

Limits:

- A new card (renewal, loss) has a new key pair: the old cache cannot be opened any more. It
  is a cache: the header tells the console so (:class:`CacheOwnershipError`), the user may
  discard it; pending deposits of the old cache are then lost, so renew after they are sent.
- Whoever holds the card and its PIN can derive the key (that is the point); the key is as
  strong as the card's RSA key and the PIN counter.
- Domain separation: the label starts with the byte 0xFF, which no UTF-8 text contains, so
  a signed login challenge (the console signs ``nonce.encode("utf-8")``) can never be this
  label: a hostile server cannot obtain the cache key by sending it as a nonce. Any other
  signing path of the console must refuse data that :func:`is_cache_label` recognises.
- The file name is a hash of the idNat: it tells which professional has a cache on this
  computer (as her OS account does), nothing about patients.

Header (``<stem>.header.json``, not secret): format, version, binding, owner (the file stem),
the SHA-256 of the certificate's SubjectPublicKeyInfo and a key check value
``HMAC-SHA256(mac_key, "DMP-CONSOLE-CACHE-KCV v1")``. On open, a card whose public key is not
the header's is refused *before* it signs anything, and a key whose check value differs is
refused before the database file is opened: :class:`CacheOwnershipError`, nothing touched.

e-CPS (no card; binding ``keyring-v1``): 32 random bytes kept in the OS keychain through
``keyring`` (service :data:`KEYRING_SERVICE`, user = idNat), derived the same way. When no
usable keychain backend exists (a headless Linux session has none), there is no cache:
:class:`CacheUnavailableError` with a plain message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from console.domain.retention import (
    CacheCorruptError,
    CacheOwnershipError,
    CacheUnavailableError,
)

__all__ = [
    "BINDING_CARD",
    "BINDING_KEYRING",
    "HEADER_FORMAT",
    "HEADER_VERSION",
    "KEYRING_SERVICE",
    "CacheHeader",
    "CacheKeys",
    "CachePaths",
    "CardSigner",
    "KeyringBackend",
    "cache_label",
    "cache_paths",
    "cache_stem",
    "card_keys",
    "check_header",
    "check_key",
    "is_cache_label",
    "keyring_keys",
    "new_header",
    "read_header",
    "spki_fingerprint",
    "system_keyring",
    "write_header",
]

BINDING_CARD = "card-rsa-pkcs1-hkdf-v1"
BINDING_KEYRING = "keyring-v1"
HEADER_FORMAT = "dmp-console-cache"
HEADER_VERSION = 1
KEYRING_SERVICE = "staff-console-cache"

_LABEL_PREFIX = b"\xffDMP-CONSOLE-CACHE-KEY v1\x00"
_HKDF_SALT = b"DMP-CONSOLE-CACHE v1"
_HKDF_INFO = b"sqlcipher+header\x00"
_KCV_LABEL = b"DMP-CONSOLE-CACHE-KCV v1"
_STEM_LABEL = b"DMP-CONSOLE-CACHE-NAME v1\x00"

WRONG_CARD_MESSAGE = (
    "Ce cache appartient à une autre carte : il ne peut pas être ouvert avec celle-ci. "
    "Rien n'a été modifié ni supprimé."
)
WRONG_KEYRING_MESSAGE = (
    "La clé du cache hors ligne conservée dans le trousseau du système ne correspond pas à "
    "ce cache : il ne peut pas être ouvert. Rien n'a été modifié ni supprimé."
)


# --- names ------------------------------------------------------------------------------------


def cache_stem(id_nat: str) -> str:
    """The file stem of `id_nat`'s cache (a hash: the idNat does not appear on disk)."""
    return hashlib.sha256(_STEM_LABEL + id_nat.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class CachePaths:
    """The files of one professional's cache."""

    db: Path
    header: Path

    @property
    def wal(self) -> Path:
        return self.db.with_name(self.db.name + "-wal")

    @property
    def shm(self) -> Path:
        return self.db.with_name(self.db.name + "-shm")

    @property
    def seal(self) -> Path:
        """The journal's sealed head, outside the database (see ``console.cache.journal``)."""
        return self.db.with_name(self.db.stem + ".journal-seal.json")

    def all(self) -> tuple[Path, ...]:
        return (self.db, self.wal, self.shm, self.header, self.seal)


def cache_paths(directory: Path, id_nat: str) -> CachePaths:
    """Where `id_nat`'s cache lives under `directory` (``Settings.data_dir / "cache"``)."""
    stem = cache_stem(id_nat)
    return CachePaths(directory / f"{stem}.db", directory / f"{stem}.header.json")


def cache_label(id_nat: str) -> bytes:
    """The data the card signs to derive the key (see the module doc)."""
    return _LABEL_PREFIX + id_nat.encode("utf-8")


def is_cache_label(data: bytes) -> bool:
    """Whether `data` is a cache-key label: no other signing path may sign it."""
    return data.startswith(_LABEL_PREFIX)


def spki_fingerprint(certificate_der: bytes) -> str:
    """SHA-256 (hex) of the certificate's SubjectPublicKeyInfo (survives a re-issued cert)."""
    cert = x509.load_der_x509_certificate(certificate_der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


# --- keys -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CacheKeys:
    """The cache's keys, in memory only while the cache is open (:meth:`wipe` on close).

    Attributes:
        binding: How the key is bound (:data:`BINDING_CARD` or :data:`BINDING_KEYRING`).
        fingerprint: The card's public-key fingerprint ("" for the keychain).
    """

    binding: str
    fingerprint: str
    _db_key: bytearray = field(repr=False)
    _mac_key: bytearray = field(repr=False)

    @classmethod
    def derive(cls, ikm: bytes, *, binding: str, fingerprint: str, id_nat: str) -> CacheKeys:
        """HKDF-SHA256 of `ikm` into the database key and the header MAC key."""
        info = _HKDF_INFO + fingerprint.encode("ascii") + b"\x00" + id_nat.encode("utf-8")
        okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=_HKDF_SALT, info=info).derive(ikm)
        return cls(binding, fingerprint, bytearray(okm[:32]), bytearray(okm[32:]))

    @property
    def wiped(self) -> bool:
        return not self._db_key

    def pragma_key(self) -> str:
        """The ``PRAGMA key`` statement with the raw key (never log it)."""
        if self.wiped:
            raise CacheCorruptError("La clé du cache a été effacée.")
        return f"PRAGMA key = \"x'{self._db_key.hex()}'\""

    def kcv(self) -> str:
        """The key check value written in the header (reveals nothing of the keys)."""
        return self.mac(_KCV_LABEL)

    def mac(self, data: bytes) -> str:
        return hmac.new(bytes(self._mac_key), data, hashlib.sha256).hexdigest()

    def wipe(self) -> None:
        """Overwrite the keys (best effort: Python may hold copies of derived strings)."""
        for buffer in (self._db_key, self._mac_key):
            for i in range(len(buffer)):
                buffer[i] = 0
            del buffer[:]


class CardSigner(Protocol):
    """What the key derivation needs of a card session (``services.ports.CardSession``)."""

    @property
    def certificate_der(self) -> bytes: ...

    async def sign(self, data: bytes, algorithm: str = "RS256") -> bytes: ...


async def card_keys(card: CardSigner, id_nat: str) -> CacheKeys:
    """Derive the cache keys of `id_nat` with `card` (one RS256 signature on the card).

    Raises:
        CacheUnavailableError: the card's key is not RSA, or its signature does not verify
            (a card whose signatures are not deterministic PKCS#1 v1.5 cannot bind a cache).
        CardError: from the card (removed, session closed...).
    """
    certificate_der = card.certificate_der
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CacheUnavailableError(
            "La clé de cette carte n'est pas une clé RSA : pas de cache hors ligne."
        )
    label = cache_label(id_nat)
    signature = await card.sign(label, "RS256")
    try:
        public_key.verify(signature, label, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise CacheUnavailableError(
            "La carte n'a pas produit une signature vérifiable : pas de cache hors ligne."
        ) from None
    fingerprint = spki_fingerprint(certificate_der)
    try:
        return CacheKeys.derive(
            signature, binding=BINDING_CARD, fingerprint=fingerprint, id_nat=id_nat
        )
    finally:
        del signature


# --- e-CPS: the OS keychain -------------------------------------------------------------------


class KeyringBackend(Protocol):
    """The part of a ``keyring`` backend the cache uses (an in-memory one in tests)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...

    def delete_password(self, service: str, username: str) -> None: ...


NO_KEYRING_MESSAGE = (
    "Aucun trousseau sécurisé du système n'est disponible : sans carte CPS, la console ne "
    "garde pas de cache hors ligne. Les dossiers restent consultables en ligne."
)


def system_keyring() -> tuple[KeyringBackend | None, str]:
    """The OS keychain when a usable ``keyring`` backend exists, else None; and why.

    A backend is usable when its priority is positive (keyring's ``fail`` and ``null``
    backends, what a headless Linux session gets, are not). Nothing is read or written here,
    so no unlock prompt is shown.
    """
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None, "le paquet keyring n'est pas installé"
    try:
        backend: Any = keyring.get_keyring()
    except Exception as exc:  # a broken backend configuration must not stop the console
        return None, f"keyring: {type(exc).__name__}"
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    priority = float(getattr(backend, "priority", 0) or 0)
    if isinstance(backend, fail.Keyring) or priority <= 0:
        return None, f"aucun trousseau utilisable (keyring: {name})"
    keyring_backend: KeyringBackend = backend
    return keyring_backend, name


def keyring_keys(backend: KeyringBackend, id_nat: str, *, create: bool) -> CacheKeys:
    """The cache keys of `id_nat` kept in `backend` (a new secret if `create` and none).

    Raises:
        CacheUnavailableError: the keychain failed or is locked, or holds no key and
            `create` is False.
    """
    try:
        stored = backend.get_password(KEYRING_SERVICE, id_nat)
        if stored is None:
            if not create:
                raise CacheUnavailableError(
                    "La clé du cache hors ligne n'est plus dans le trousseau du système."
                )
            stored = secrets.token_hex(32)
            backend.set_password(KEYRING_SERVICE, id_nat, stored)
    except CacheUnavailableError:
        raise
    except Exception as exc:  # keyring raises its own tree (locked, denied, no backend)
        raise CacheUnavailableError(
            f"Le trousseau du système a refusé l'accès à la clé du cache ({type(exc).__name__})."
        ) from None
    try:
        secret = bytes.fromhex(stored)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise CacheUnavailableError("La clé du cache conservée dans le trousseau est invalide.")
    return CacheKeys.derive(secret, binding=BINDING_KEYRING, fingerprint="", id_nat=id_nat)


# --- header -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheHeader:
    """The plaintext header next to the database (nothing secret, nothing about patients)."""

    owner: str
    binding: str
    fingerprint: str
    kcv: str
    created: str
    version: int = HEADER_VERSION

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": HEADER_FORMAT,
                "version": self.version,
                "owner": self.owner,
                "binding": self.binding,
                "fingerprint": self.fingerprint,
                "kcv": self.kcv,
                "created": self.created,
            },
            indent=1,
            sort_keys=True,
        )


def new_header(id_nat: str, keys: CacheKeys, now: datetime | None = None) -> CacheHeader:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return CacheHeader(
        owner=cache_stem(id_nat),
        binding=keys.binding,
        fingerprint=keys.fingerprint,
        kcv=keys.kcv(),
        created=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def read_header(path: Path) -> CacheHeader | None:
    """The header at `path`, None when there is none.

    Raises:
        CacheCorruptError: the file exists but is not a header this console understands.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CacheCorruptError(f"En-tête du cache illisible ({type(exc).__name__}).") from None
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != HEADER_FORMAT:
            raise ValueError("not a cache header")
        version = int(data["version"])
        if version != HEADER_VERSION:
            raise CacheCorruptError(
                f"Version d'en-tête de cache inconnue ({version}) : mettez la console à jour."
            )
        return CacheHeader(
            owner=str(data["owner"]),
            binding=str(data["binding"]),
            fingerprint=str(data["fingerprint"]),
            kcv=str(data["kcv"]),
            created=str(data["created"]),
            version=version,
        )
    except (ValueError, KeyError, TypeError):
        raise CacheCorruptError("En-tête du cache illisible : le cache est conservé.") from None


def write_header(path: Path, header: CacheHeader) -> None:
    """Write `header` atomically (temporary file, fsync, rename, fsync of the directory)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".header-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(header.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory: rename is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_header(header: CacheHeader, *, id_nat: str, binding: str, fingerprint: str) -> None:
    """Before any signature: is this cache `id_nat`'s, bound the way we are about to open it?

    Raises:
        CacheOwnershipError: another owner, another binding or another card's public key.
    """
    if header.owner != cache_stem(id_nat):
        raise CacheOwnershipError(WRONG_CARD_MESSAGE)
    if header.binding != binding:
        raise CacheOwnershipError(
            WRONG_KEYRING_MESSAGE if binding == BINDING_KEYRING else WRONG_CARD_MESSAGE
        )
    if binding == BINDING_CARD and not hmac.compare_digest(header.fingerprint, fingerprint):
        raise CacheOwnershipError(WRONG_CARD_MESSAGE)


def check_key(header: CacheHeader, keys: CacheKeys) -> None:
    """Before opening the database: does `keys` match the header's key check value?"""
    if not hmac.compare_digest(header.kcv, keys.kcv()):
        raise CacheOwnershipError(
            WRONG_KEYRING_MESSAGE if keys.binding == BINDING_KEYRING else WRONG_CARD_MESSAGE
        )
