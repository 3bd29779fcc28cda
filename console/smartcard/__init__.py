"""The card adapter: PKCS#11 reader (python-pkcs11), fake reader, card monitor, certificates.

Public names::

    Pkcs11CardReader, Pkcs11CardSession      the real reader (one worker thread, lazy module)
    FakeCardReader, FakeToken, FakeCardSession, FakeCall   the scriptable in-memory reader
    CardMonitor                               polls a reader, reports insertions and removals
    parse_card_certificate, CertificateFormatError        CPS/CPE certificate subjects
    default_module_path, find_softhsm_module, resolve_module_path, softhsm_module_candidates
    pin_state_of                              the PIN state attached to a PIN error

Importing this package does not import python-pkcs11 (loaded on the reader's worker thread at
its first call).
"""

from __future__ import annotations

from console.smartcard.certificate import (
    CertificateFormatError,
    load_certificate,
    parse_card_certificate,
)
from console.smartcard.fake import FakeCall, FakeCardReader, FakeCardSession, FakeToken
from console.smartcard.modules import (
    default_module_path,
    find_softhsm_module,
    resolve_module_path,
    softhsm_module_candidates,
)
from console.smartcard.monitor import CardMonitor, TokenSource
from console.smartcard.reader import (
    SIGNATURE_ALGORITHMS,
    Pkcs11CardReader,
    Pkcs11CardSession,
    pin_state_from_flags,
    pin_state_of,
)

__all__ = [
    "SIGNATURE_ALGORITHMS",
    "CardMonitor",
    "CertificateFormatError",
    "FakeCall",
    "FakeCardReader",
    "FakeCardSession",
    "FakeToken",
    "Pkcs11CardReader",
    "Pkcs11CardSession",
    "TokenSource",
    "default_module_path",
    "find_softhsm_module",
    "load_certificate",
    "parse_card_certificate",
    "pin_state_from_flags",
    "pin_state_of",
    "resolve_module_path",
    "softhsm_module_candidates",
]
