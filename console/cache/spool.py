"""The sealed spool: what must reach a professional's cache while it is closed.

The cache closes the moment the card leaves the reader; but what happens just after still
belongs in it: the journal entries of the end of a bris de glace, the attestation of that
bris de glace (rendered once the mode has stopped). Before the spool they waited in memory
and quitting lost them.

Each professional's cache holds an X25519 key pair (``spool_key``, inside the encrypted
database). When the cache opens, the console keeps only the *public* half in memory. While
the cache is closed, a record for it is **sealed** to that public key and written to
``<cache>/<stem>.spool/``:

- ephemeral X25519 key agreement, HKDF-SHA256, AES-256-GCM (an ECIES/HPKE-like construction
  from ``cryptography``); the associated data binds the blob to its cache's stem;
- one file per record, written atomically (temporary file, fsync, rename, fsync of the
  directory) with permissions 0600 in a 0700 directory, named so that names sort in the
  order the records were made.

Nobody can read a sealed file without the private key, which only the card (or the e-CPS
keychain) unlocks: the spool is write-only for the console while the cache is closed, so
"nothing about patients on disk outside the encrypted cache" holds. At the next opening of
that cache, :meth:`Spool.drain` hands the records (oldest first) to the store, which writes
them in one transaction; the files go only after the commit. A file that cannot be unsealed
(damaged, another key) is renamed ``*.unreadable`` and counted, never silently dropped.

The public key is never written to disk: a record can be sealed only in the process that
opened the cache (so a planted public key cannot redirect what is sealed).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "MAGIC",
    "SealedRecord",
    "Spool",
    "SpoolError",
    "new_key_pair",
    "public_key_of",
    "seal",
    "unseal",
]

_log = logging.getLogger(__name__)

MAGIC = b"DMPSPOOL1"
_SUFFIX = ".sealed"
_UNREADABLE = ".unreadable"
_INFO = b"dmp-console spool v1"
_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw


class SpoolError(Exception):
    """A sealed file cannot be read (damaged, or sealed to another key)."""


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 pair: (private, public), 32 raw bytes each."""
    private = X25519PrivateKey.generate()
    return (
        private.private_bytes(_RAW, _RAW_PRIVATE, serialization.NoEncryption()),
        private.public_key().public_bytes(_RAW, _RAW_PUBLIC),
    )


def public_key_of(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(_RAW, _RAW_PUBLIC)


def _key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=_INFO
    ).derive(shared)


def seal(public: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """`plaintext` sealed to `public` (32 raw bytes); `context` is bound as associated data."""
    recipient = X25519PublicKey.from_public_bytes(public)
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes(_RAW, _RAW_PUBLIC)
    key = _key(ephemeral.exchange(recipient), ephemeral_public, public)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext, MAGIC + context)
    return MAGIC + ephemeral_public + nonce + sealed


def unseal(private: bytes, blob: bytes, *, context: bytes) -> bytes:
    """The plaintext of `blob`.

    Raises:
        SpoolError: not a sealed blob, damaged, sealed to another key or another context.
    """
    header = len(MAGIC) + 32 + 12
    if len(blob) < header + 16 or not blob.startswith(MAGIC):
        raise SpoolError("not a sealed spool record")
    ephemeral_public = blob[len(MAGIC) : len(MAGIC) + 32]
    nonce = blob[len(MAGIC) + 32 : header]
    secret = X25519PrivateKey.from_private_bytes(private)
    public = secret.public_key().public_bytes(_RAW, _RAW_PUBLIC)
    try:
        shared = secret.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
        key = _key(shared, ephemeral_public, public)
        return AESGCM(key).decrypt(nonce, blob[header:], MAGIC + context)
    except (InvalidTag, ValueError):
        raise SpoolError("the record cannot be unsealed with this cache's key") from None


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """One record read back from the spool: its file and its JSON object."""

    path: Path
    record: Mapping[str, Any]


class Spool:
    """The spool directory of one cache (``<cache dir>/<stem>.spool``).

    Args:
        directory: The spool's directory (created 0700 on the first write).
        context: Bound to every record (the cache's stem): a file copied into another
            professional's spool cannot be unsealed there.
    """

    _counter = itertools.count()
    _counter_lock = threading.Lock()

    def __init__(self, directory: Path, context: str) -> None:
        self.directory = directory
        self.context = context.encode("utf-8")

    # -- writing (cache closed; any thread) -----------------------------------------------------

    @classmethod
    def next_name(cls) -> str:
        """A file name that sorts after every name made before it in this process."""
        with cls._counter_lock:
            n = next(cls._counter)
        return f"{time.time_ns():020d}-{n:08d}-{uuid.uuid4().hex[:8]}{_SUFFIX}"

    def write(self, public: bytes, record: Mapping[str, Any], *, name: str | None = None) -> Path:
        """Seal `record` (a JSON object) to `public` and write it durably; its path.

        Give `name` (:meth:`next_name`, taken when the record was made) to keep the order of
        records written on several threads.
        """
        data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
        blob = seal(public, data, context=self.context)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.directory / (name or self.next_name())
        temporary = final.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, blob)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
        _fsync_directory(self.directory)
        return final

    # -- reading (cache open, on its worker) ---------------------------------------------------

    def pending(self) -> list[Path]:
        """The sealed files waiting, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX))

    def read(self, private: bytes) -> Iterator[SealedRecord]:
        """The records waiting, oldest first; an unreadable file is set aside (renamed
        ``*.unreadable``, logged without its content) and skipped."""
        for path in self.pending():
            try:
                blob = path.read_bytes()
                record = json.loads(unseal(private, blob, context=self.context))
                if not isinstance(record, dict):
                    raise SpoolError("a spool record is not a JSON object")
            except (OSError, SpoolError, ValueError) as exc:
                _log.warning("spool record set aside: %s", type(exc).__name__)
                self._set_aside(path)
                continue
            yield SealedRecord(path, record)

    def unreadable(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.name.endswith(_UNREADABLE))

    def remove(self, paths: list[Path]) -> None:
        """Delete records once what they carried is committed to the cache."""
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
        if paths:
            _fsync_directory(self.directory)

    def discard(self) -> None:
        """Delete the whole spool (the cache itself is being deleted)."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            path.unlink(missing_ok=True)
        self.directory.rmdir()

    def _set_aside(self, path: Path) -> None:
        try:
            path.rename(path.with_name(path.name + _UNREADABLE))
        except OSError as exc:
            _log.warning("spool record not set aside: %s", type(exc).__name__)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
