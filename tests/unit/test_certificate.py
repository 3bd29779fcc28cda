"""CPS/CPE certificate subjects -> CardIdentity (console.smartcard.certificate)."""

from __future__ import annotations

import datetime as dt
import functools
import string

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.card import CardIdentity
from console.domain.errors import CardMiddlewareError, ConsoleError
from console.smartcard.certificate import (
    CertificateFormatError,
    load_certificate,
    parse_card_certificate,
)
from console.smartcard.fake import card_subject
from sandbox.personas import PERSONAS, Persona
from sandbox.pki import TestCA, issue_card_certificate


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _der(subject: x509.Name) -> bytes:
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(_key().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(_key(), hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def _rdn(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(o, v) for o, v in attributes])


def _cps_subject(cn: str = "899700000011", *, title: str | None = "Médecin") -> x509.Name:
    rdns = [
        _rdn((NameOID.COUNTRY_NAME, "FR")),
        _rdn((NameOID.ORGANIZATION_NAME, "Cabinet médical du Parc")),
        _rdn((NameOID.ORGANIZATIONAL_UNIT_NAME, "3997000012301")),
    ]
    if title is not None:
        rdns.append(_rdn((NameOID.TITLE, title)))
    rdns.append(
        _rdn(
            (NameOID.COMMON_NAME, cn),
            (NameOID.SURNAME, "MARTIN"),
            (NameOID.GIVEN_NAME, "Claire"),
        )
    )
    return x509.Name(rdns)


def test_cps_subject_gives_the_professional() -> None:
    identity = parse_card_certificate(_der(_cps_subject()))
    assert identity == CardIdentity(
        id_nat="899700000011",
        family_name="MARTIN",
        given_name="Claire",
        profession_label="Médecin",
        card_kind="CPS",
        structure_name="Cabinet médical du Parc",
        structure_id="3997000012301",
    )
    assert identity.display_name == "Claire MARTIN"


def test_cpe_subject_gives_structure_and_employee() -> None:
    subject = x509.Name(
        [
            _rdn((NameOID.COUNTRY_NAME, "FR")),
            _rdn((NameOID.ORGANIZATION_NAME, "Centre hospitalier de Saint-Martin")),
            _rdn((NameOID.TITLE, "Secrétariat médical")),
            _rdn(
                (NameOID.COMMON_NAME, "1997000456/SEC0042"),
                (NameOID.SURNAME, "MERCIER"),
                (NameOID.GIVEN_NAME, "Nadia"),
            ),
        ]
    )
    identity = parse_card_certificate(_der(subject))
    assert identity.card_kind == "CPE"
    assert identity.id_nat == "1997000456/SEC0042"
    assert identity.employee_number == "SEC0042"
    assert identity.structure_name == "Centre hospitalier de Saint-Martin"
    assert identity.profession_label == "Secrétariat médical"
    assert (identity.family_name, identity.given_name) == ("MERCIER", "Nadia")


def test_cpe_without_names_or_title_is_accepted() -> None:
    subject = x509.Name(
        [_rdn((NameOID.ORGANIZATION_NAME, "Clinique")), _rdn((NameOID.COMMON_NAME, "1234/E1"))]
    )
    identity = parse_card_certificate(_der(subject))
    assert (identity.card_kind, identity.employee_number, identity.family_name) == (
        "CPE",
        "E1",
        "",
    )
    assert identity.display_name == "1234/E1"


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.id)
def test_sandbox_card_certificates_parse_to_their_persona(persona: Persona) -> None:
    """The sandbox's own certificate issuer (sandbox.pki) and the console's parser agree."""
    now = dt.datetime.now(dt.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(_key().public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(_key(), hashes.SHA256())
    )
    cert = issue_card_certificate(TestCA(ca_cert, _key()), _key().public_key(), persona)
    identity = parse_card_certificate(cert.public_bytes(serialization.Encoding.DER))
    assert identity.id_nat == persona.id_nat
    assert identity.card_kind == persona.card_kind
    assert identity.family_name == persona.family_name
    assert identity.given_name == persona.given_name
    assert identity.profession_label == persona.profession_label
    assert identity.structure_name == persona.structure.name
    if persona.card_kind == "CPE":
        assert identity.employee_number == persona.id_nat.split("/")[1]


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x30\x03\x02\x01\x00", b"-----BEGIN CERTIFICATE-----\nMIIB\n"],
    ids=["empty", "text", "der-not-a-cert", "pem"],
)
def test_garbage_is_a_format_error(data: bytes) -> None:
    with pytest.raises(CertificateFormatError, match="illisible") as excinfo:
        parse_card_certificate(data)
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, ConsoleError)
    assert not isinstance(excinfo.value, CardMiddlewareError)


def test_pem_encoded_certificate_is_refused() -> None:
    cert = load_certificate(_der(_cps_subject()))
    with pytest.raises(CertificateFormatError):
        parse_card_certificate(cert.public_bytes(serialization.Encoding.PEM))


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        (
            x509.Name(
                [
                    _rdn((NameOID.ORGANIZATION_NAME, "Example")),
                    _rdn((NameOID.COMMON_NAME, "www.example.com")),
                ]
            ),
            "CN",
        ),
        (x509.Name([_rdn((NameOID.ORGANIZATION_NAME, "Example"))]), "pas de CN"),
        (_cps_subject(title=None), "title"),
        (_cps_subject(cn="8997 00000011"), "CN"),
        (
            x509.Name(
                [
                    _rdn((NameOID.TITLE, "Médecin")),
                    _rdn((NameOID.COMMON_NAME, "899700000011")),
                ]
            ),
            "SN",
        ),
        (
            x509.Name(
                [
                    _rdn((NameOID.TITLE, "Médecin")),
                    _rdn((NameOID.SURNAME, "A")),
                    _rdn((NameOID.COMMON_NAME, "899700000011")),
                    _rdn((NameOID.COMMON_NAME, "899700000029")),
                ]
            ),
            "plusieurs CN",
        ),
    ],
    ids=["web-server", "no-cn", "no-title", "cn-with-space", "no-surname", "two-cn"],
)
def test_non_card_subjects_are_refused_clearly(subject: x509.Name, reason: str) -> None:
    with pytest.raises(CertificateFormatError, match="n'est pas un certificat CPS/CPE") as excinfo:
        parse_card_certificate(_der(subject))
    assert reason in str(excinfo.value)


_name_text = st.text(alphabet=string.ascii_letters + "éèçÉ -'", min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s.strip() != ""
)


@st.composite
def _identities(draw: st.DrawFn) -> CardIdentity:
    kind = draw(st.sampled_from(["CPS", "CPE"]))
    digits = draw(st.text(alphabet=string.digits, min_size=5, max_size=15))
    employee = draw(
        st.text(alphabet=string.ascii_uppercase + string.digits, min_size=1, max_size=8)
    )
    return CardIdentity(
        id_nat=f"8{digits}" if kind == "CPS" else f"1{digits}/{employee}",
        family_name=draw(_name_text),
        given_name=draw(_name_text),
        profession_label=draw(_name_text),
        card_kind=kind,
        structure_name=draw(_name_text),
        structure_id=draw(st.sampled_from(["", f"3{digits}"])) if kind == "CPS" else f"1{digits}",
        employee_number="" if kind == "CPS" else employee,
    )


@settings(max_examples=60, deadline=None)
@given(_identities())
def test_subject_round_trip(identity: CardIdentity) -> None:
    """What the fake cards write (card_subject), the parser reads back."""
    assert parse_card_certificate(_der(card_subject(identity))) == identity
