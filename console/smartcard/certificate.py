"""Who holds a card: the subject of its authentication certificate, parsed with `cryptography`.

CPS (health professional) authentication certificates name their holder like this (RFC 4514
order, most specific first)::

    CN=<idNat>+SN=<family name>+GN=<given name>,title=<profession>,OU=<structure id>,
    O=<structure name>,C=FR

A CPE (employee of a structure, e.g. a medical secretary) has ``CN=<structure id>/<employee
number>``; its SN, GN and title may be absent. idNat is "8" + RPPS for most professionals
("0" + ADELI for some); the sandbox's test ids start with 8997.
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

from console.domain.card import CardIdentity
from console.domain.errors import ConsoleError

__all__ = ["CertificateFormatError", "load_certificate", "parse_card_certificate"]

_ID_NAT = re.compile(r"[0-9][0-9A-Za-z]{3,29}")
_CPE_CN = re.compile(r"([0-9][0-9A-Za-z]{3,29})/([0-9A-Za-z][0-9A-Za-z_.-]{0,29})")


class CertificateFormatError(ConsoleError, ValueError):
    """The card's certificate is unreadable or does not name a CPS/CPE holder."""


def load_certificate(der: bytes) -> x509.Certificate:
    """Decode a DER X.509 certificate.

    Args:
        der: The certificate, DER-encoded (as stored in the card's CKA_VALUE).

    Returns:
        The certificate.

    Raises:
        CertificateFormatError: `der` is not a DER X.509 certificate.
    """
    try:
        return x509.load_der_x509_certificate(bytes(der))
    except (ValueError, TypeError):
        raise CertificateFormatError(
            "Le certificat de la carte est illisible (ce n'est pas un certificat X.509 DER)."
        ) from None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier, label: str) -> str:
    """The single value of `oid` in `name` ("" when absent)."""
    values = name.get_attributes_for_oid(oid)
    if not values:
        return ""
    if len(values) > 1:
        raise CertificateFormatError(
            f"Le certificat de la carte n'est pas un certificat CPS/CPE : plusieurs {label} "
            f"dans le sujet {name.rfc4514_string()!r}."
        )
    value = values[0].value
    if not isinstance(value, str):
        raise CertificateFormatError(
            f"Le certificat de la carte n'est pas un certificat CPS/CPE : {label} illisible."
        )
    return value.strip()


def _not_a_card(subject: x509.Name, why: str) -> CertificateFormatError:
    return CertificateFormatError(
        f"Le certificat de la carte n'est pas un certificat CPS/CPE ({why}) : "
        f"sujet {subject.rfc4514_string()!r}."
    )


def parse_card_certificate(der: bytes) -> CardIdentity:
    """Read the holder's identity from a CPS or CPE authentication certificate.

    Only the subject is read: this checks neither the issuer nor the validity dates (the server
    does, at authentication).

    Args:
        der: The certificate, DER-encoded.

    Returns:
        The holder: ``card_kind`` "CPS" with the idNat, or "CPE" with the structure's name and
        the employee number (``id_nat`` is then the whole "<structure id>/<employee>").

    Raises:
        CertificateFormatError: `der` is unreadable, or its subject is not a CPS/CPE one.
    """
    subject = load_certificate(der).subject
    cn = _attribute(subject, NameOID.COMMON_NAME, "CN")
    family = _attribute(subject, NameOID.SURNAME, "SN (nom)")
    given = _attribute(subject, NameOID.GIVEN_NAME, "GN (prénom)")
    title = _attribute(subject, NameOID.TITLE, "title (profession)")
    structure = _attribute(subject, NameOID.ORGANIZATION_NAME, "O (structure)")
    structure_id = _attribute(subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU (structure)")
    if not cn:
        raise _not_a_card(subject, "pas de CN")
    cpe = _CPE_CN.fullmatch(cn)
    if cpe is not None:
        return CardIdentity(
            id_nat=cn,
            family_name=family,
            given_name=given,
            profession_label=title,
            card_kind="CPE",
            structure_name=structure,
            structure_id=structure_id or cpe.group(1),
            employee_number=cpe.group(2),
        )
    if _ID_NAT.fullmatch(cn) is None:
        raise _not_a_card(
            subject, "le CN n'est ni un identifiant national ni '<structure>/<employé>'"
        )
    if not family:
        raise _not_a_card(subject, "pas de SN (nom)")
    if not title:
        raise _not_a_card(subject, "pas de title (profession)")
    return CardIdentity(
        id_nat=cn,
        family_name=family,
        given_name=given,
        profession_label=title,
        card_kind="CPS",
        structure_name=structure,
        structure_id=structure_id,
    )
