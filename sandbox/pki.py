"""The sandbox's test PKI: a look-alike of "AC IGC-SANTE FORT PERSONNES" and CPS/CPE certificates.

Everything here is obviously a *test* PKI (organisation "ASIP-SANTE SANDBOX (TEST)"); it never
claims to be the real IGC-Santé. Layout under the sandbox directory::

    DIR/pki/ca.pem          the CA certificate (PEM)
    DIR/pki/ca.key          the CA private key (PEM, unencrypted, mode 0600)
    DIR/pki/<persona>.pem   each card's authentication certificate (written by sandbox.tokens)

Card certificate subjects mimic real CPS authentication certificates (RFC 4514 order, most
specific first)::

    CPS: CN=<idNat>+SN=<family name>+GN=<given name>,title=<profession>,OU=<structure id>,
         O=<structure name>,C=FR
    CPE: CN=<structure id>/<employee number>+SN=...+GN=...,title=Secrétariat médical,...

This module only uses `cryptography`; it never touches PKCS#11.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.personas import Persona

__all__ = [
    "CA_COMMON_NAME",
    "CA_KEY_FILE",
    "CA_ORGANIZATION",
    "CA_ORGANIZATIONAL_UNIT",
    "CERT_FILE",
    "CardIdentity",
    "CertificateError",
    "SignatureError",
    "TestCA",
    "card_certificate_path",
    "create_ca",
    "issue_card_certificate",
    "load_ca",
    "load_ca_certificate",
    "parse_card_certificate",
    "sign_with_key",
    "subject_string",
    "verify_card_certificate",
    "verify_signature",
]

CA_COMMON_NAME = "TEST AC IGC-SANTE FORT PERSONNES"
CA_ORGANIZATION = "ASIP-SANTE SANDBOX (TEST)"
CA_ORGANIZATIONAL_UNIT = "IGC-SANTE TEST"
CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"

CA_KEY_SIZE = 2048
CARD_KEY_SIZE = 2048
CA_VALIDITY = dt.timedelta(days=3652)
CARD_VALIDITY = dt.timedelta(days=3 * 365)
_BACKDATE = dt.timedelta(minutes=5)
"""Certificates start slightly in the past so that a small clock skew does not reject them."""

SIGNATURE_ALGORITHMS = ("RS256", "PS256")


class CertificateError(ValueError):
    """A card certificate is not acceptable (wrong issuer, bad CA signature, out of validity)."""


class SignatureError(ValueError):
    """A signature does not verify, or its algorithm is unknown."""


@dataclass(frozen=True, slots=True)
class TestCA:
    """The sandbox test CA: its certificate and private key."""

    __test__ = False  # not a pytest test class

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """What a card certificate says about its holder."""

    id_nat: str
    """idNat: "8" + RPPS for a CPS, "<structure id>/<employee number>" for a CPE."""
    family_name: str
    given_name: str
    profession_label: str
    card_kind: str
    """"CPS" or "CPE"."""
    structure_name: str
    structure_id: str | None
    """From OU (CPS and CPE) or from the CN of a CPE; None when the certificate has neither."""
    employee_number: str | None
    """Only for a CPE."""


def _pki_dir(directory: Path) -> Path:
    return Path(directory) / "pki"


def card_certificate_path(directory: Path, persona_id: str) -> Path:
    """Where the PEM certificate of a persona's card is written: ``DIR/pki/<persona id>.pem``."""
    return _pki_dir(directory) / f"{persona_id}.pem"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ca_name() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, CA_ORGANIZATIONAL_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
        ]
    )


def create_ca(directory: Path) -> TestCA:
    """Create the self-signed test CA and write ``DIR/pki/ca.pem`` and ``DIR/pki/ca.key``.

    Overwrites an existing CA in that directory (callers decide whether that is wanted).
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
    name = _ca_name()
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    pki = _pki_dir(directory)
    pki.mkdir(parents=True, exist_ok=True)
    (pki / CERT_FILE).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = pki / CA_KEY_FILE
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.chmod(key_path, 0o600)
    return TestCA(certificate=cert, private_key=key)


def load_ca_certificate(directory: Path) -> x509.Certificate:
    """The test CA certificate of a sandbox directory (``DIR/pki/ca.pem``)."""
    path = _pki_dir(directory) / CERT_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no sandbox test CA at {path}: run `dmp-sandbox init` on that directory first"
        ) from None
    return x509.load_pem_x509_certificate(data)


def load_ca(directory: Path) -> TestCA:
    """The test CA (certificate and private key) of a sandbox directory."""
    cert = load_ca_certificate(directory)
    key_path = _pki_dir(directory) / CA_KEY_FILE
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{key_path} does not hold an RSA private key")
    return TestCA(certificate=cert, private_key=key)


def _card_subject(persona: Persona) -> x509.Name:
    cn = persona.id_nat
    if persona.card_kind == "CPE" and "/" not in cn:
        cn = f"{persona.structure.id}/{cn}"
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.ORGANIZATION_NAME, persona.structure.name)]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, persona.structure.id)]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.TITLE, persona.profession_label)]
            ),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                    x509.NameAttribute(NameOID.SURNAME, persona.family_name),
                    x509.NameAttribute(NameOID.GIVEN_NAME, persona.given_name),
                ]
            ),
        ]
    )


def issue_card_certificate(
    ca: TestCA,
    public_key: rsa.RSAPublicKey,
    persona: Persona,
    *,
    not_before: dt.datetime | None = None,
    validity: dt.timedelta = CARD_VALIDITY,
) -> x509.Certificate:
    """Issue the CPS (or CPE) authentication certificate of `persona` for `public_key`.

    `not_before` and `validity` exist for tests (e.g. an already expired certificate).
    """
    start = not_before if not_before is not None else _now() - _BACKDATE
    try:
        ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    except x509.ExtensionNotFound:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(_card_subject(persona))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )


_NAME_LABELS = {NameOID.SURNAME: "SN", NameOID.GIVEN_NAME: "GN", NameOID.TITLE: "title"}


def subject_string(name: x509.Name) -> str:
    """RFC 4514 form of a name, with SN/GN/title spelled out (for messages and logs)."""
    return name.rfc4514_string(_NAME_LABELS)


def _single(name: x509.Name, oid: x509.ObjectIdentifier, label: str, *, required: bool) -> str:
    values = name.get_attributes_for_oid(oid)
    if not values:
        if required:
            raise ValueError(f"card certificate subject {subject_string(name)!r} has no {label}")
        return ""
    if len(values) > 1:
        raise ValueError(f"card certificate subject {subject_string(name)!r} has several {label}")
    value = values[0].value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"card certificate subject {subject_string(name)!r} has an empty {label}")
    return value


def parse_card_certificate(cert: x509.Certificate) -> CardIdentity:
    """Read the holder's identity from a CPS/CPE certificate subject.

    Raises ValueError with a clear message when the subject does not have the CPS form.
    """
    subject = cert.subject
    cn = _single(subject, NameOID.COMMON_NAME, "CN (idNat)", required=True)
    family = _single(subject, NameOID.SURNAME, "SN (family name)", required=True)
    given = _single(subject, NameOID.GIVEN_NAME, "GN (given name)", required=True)
    title = _single(subject, NameOID.TITLE, "title (profession)", required=True)
    org = _single(subject, NameOID.ORGANIZATION_NAME, "O (structure)", required=True)
    ou = _single(subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU", required=False) or None
    if "/" in cn:
        structure_id, _, employee = cn.partition("/")
        if not structure_id or not employee or "/" in employee:
            raise ValueError(
                f"card certificate CN {cn!r} is neither an idNat nor "
                "'<structure id>/<employee number>'"
            )
        return CardIdentity(
            id_nat=cn,
            family_name=family,
            given_name=given,
            profession_label=title,
            card_kind="CPE",
            structure_name=org,
            structure_id=structure_id,
            employee_number=employee,
        )
    if not cn.isalnum():
        raise ValueError(f"card certificate CN {cn!r} is not an idNat")
    return CardIdentity(
        id_nat=cn,
        family_name=family,
        given_name=given,
        profession_label=title,
        card_kind="CPS",
        structure_name=org,
        structure_id=ou,
        employee_number=None,
    )


def verify_card_certificate(
    cert: x509.Certificate, ca_cert: x509.Certificate, now: dt.datetime | None = None
) -> None:
    """Check that `cert` was issued by the test CA `ca_cert` and is valid at `now`.

    Raises CertificateError saying what is wrong: issuer, CA signature, or validity period.
    """
    if cert.issuer != ca_cert.subject:
        raise CertificateError(
            f"certificate issuer {subject_string(cert.issuer)!r} is not the sandbox test CA "
            f"{subject_string(ca_cert.subject)!r}"
        )
    ca_key = ca_cert.public_key()
    if not isinstance(ca_key, rsa.RSAPublicKey):
        raise CertificateError("the test CA key is not an RSA key")
    hash_algorithm = cert.signature_hash_algorithm
    if hash_algorithm is None:
        raise CertificateError("certificate signature algorithm has no hash (not RSA PKCS#1 v1.5)")
    try:
        ca_key.verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_algorithm
        )
    except InvalidSignature:
        raise CertificateError(
            "certificate signature does not verify with the sandbox test CA key "
            "(forged certificate, or issued by another CA with the same name)"
        ) from None
    moment = now if now is not None else _now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if moment < cert.not_valid_before_utc:
        raise CertificateError(
            f"certificate is not yet valid (valid from {cert.not_valid_before_utc.isoformat()})"
        )
    if moment > cert.not_valid_after_utc:
        raise CertificateError(
            f"certificate has expired (valid until {cert.not_valid_after_utc.isoformat()})"
        )


def verify_signature(cert: x509.Certificate, data: bytes, signature: bytes, algorithm: str) -> None:
    """Check `signature` over `data` with the certificate's RSA key.

    "RS256": RSASSA-PKCS1-v1_5 with SHA-256. "PS256": RSASSA-PSS with SHA-256 and MGF1-SHA-256
    (any salt length is accepted; signers should use the digest length, 32).
    Raises SignatureError when it does not verify or the algorithm is unknown.
    """
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the certificate key is not an RSA key")
    if algorithm == "RS256":
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    elif algorithm == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    else:
        raise SignatureError(
            f"unknown signature algorithm {algorithm!r} (expected one of "
            f"{', '.join(SIGNATURE_ALGORITHMS)})"
        )
    try:
        key.verify(signature, data, pad, hashes.SHA256())
    except InvalidSignature:
        raise SignatureError(
            f"{algorithm} signature does not verify with the certificate key"
        ) from None


def sign_with_key(private_key: rsa.RSAPrivateKey, data: bytes, algorithm: str = "RS256") -> bytes:
    """Software counterpart of a card signature (for tests that need a key off any card)."""
    if algorithm == "RS256":
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if algorithm == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        return private_key.sign(data, pss, hashes.SHA256())
    raise SignatureError(
        f"unknown signature algorithm {algorithm!r} (expected one of "
        f"{', '.join(SIGNATURE_ALGORITHMS)})"
    )
