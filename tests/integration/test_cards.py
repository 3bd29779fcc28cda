"""The sandbox's test PKI and the personas' SoftHSM2 cards (sandbox.pki, .tokens, .testcard).

Signatures are made on the tokens through python-pkcs11: in this process when it can load
SoftHSM2 with this module's configuration, and always also in a child process (the path used
when another test module of the session already loaded SoftHSM2 with another configuration).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from sandbox.personas import BY_ID, Persona
from sandbox.pki import (
    CertificateError,
    SignatureError,
    create_ca,
    issue_card_certificate,
    load_ca,
    load_ca_certificate,
    parse_card_certificate,
    sign_with_key,
    subject_string,
    verify_card_certificate,
    verify_signature,
)
from sandbox.testcard import (
    can_use_in_process,
    card_auth_body,
    open_card,
    read_card_certificate,
    release_sandbox_cards,
    sign_with_card,
    use_sandbox_cards,
)
from sandbox.tokens import (
    KEY_ID,
    ProvisioningError,
    provision_cards,
    softhsm_env,
    softhsm_util_path,
)

pytestmark = pytest.mark.integration

PERSONA_IDS = ("gp", "nurse", "secretary")
PERSONAS: tuple[Persona, ...] = tuple(BY_ID[i] for i in PERSONA_IDS)
ALGORITHMS = ("RS256", "PS256")
MODES = ("in_process", "child_process")


@pytest.fixture(scope="module")
def cards_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    saved_conf = os.environ.get("SOFTHSM2_CONF")
    directory = tmp_path_factory.mktemp("cards")
    started = time.monotonic()
    provision_cards(directory, PERSONAS)
    elapsed = time.monotonic() - started
    assert elapsed < 15, f"provisioning {len(PERSONAS)} cards took {elapsed:.1f} s"
    yield directory
    # Let later test modules load SoftHSM2 with their own configuration.
    release_sandbox_cards()
    if saved_conf is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = saved_conf


def _in_process(mode: str, directory: Path) -> bool:
    if mode == "child_process":
        return False
    if not can_use_in_process(directory):
        pytest.skip("SoftHSM2 already loaded in this process with another configuration")
    return True


def _nonce() -> bytes:
    return secrets.token_urlsafe(32).encode("ascii")


def test_one_token_per_persona_with_its_label(cards_dir: Path) -> None:
    result = subprocess.run(
        [str(softhsm_util_path()), "--show-slots"],
        env=softhsm_env(cards_dir),
        capture_output=True,
        text=True,
        check=True,
    )
    labels = {
        line.split(":", 1)[1].strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("Label:")
    }
    labels.discard("")
    assert labels == {p.token_label for p in PERSONAS}


def test_pki_files(cards_dir: Path) -> None:
    pki = cards_dir / "pki"
    assert stat.S_IMODE((pki / "ca.key").stat().st_mode) == 0o600
    ca_cert = load_ca_certificate(cards_dir)
    assert "TEST" in ca_cert.subject.rfc4514_string()
    constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    usage = ca_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert load_ca(cards_dir).certificate == ca_cert
    for persona in PERSONAS:
        cert = x509.load_pem_x509_certificate((pki / f"{persona.id}.pem").read_bytes())
        verify_card_certificate(cert, ca_cert)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("persona_id", PERSONA_IDS)
def test_certificate_on_card_verifies_and_names_the_persona(
    cards_dir: Path, persona_id: str, mode: str
) -> None:
    persona = BY_ID[persona_id]
    signed = sign_with_card(
        cards_dir,
        persona.token_label,
        persona.pin,
        _nonce(),
        in_process=_in_process(mode, cards_dir),
    )
    cert = x509.load_der_x509_certificate(signed.certificate_der)
    verify_card_certificate(cert, load_ca_certificate(cards_dir))
    pem = x509.load_pem_x509_certificate((cards_dir / "pki" / f"{persona.id}.pem").read_bytes())
    assert pem == cert

    identity = parse_card_certificate(cert)
    assert identity.id_nat == persona.id_nat
    assert identity.family_name == persona.family_name
    assert identity.given_name == persona.given_name
    assert identity.profession_label == persona.profession_label
    assert identity.structure_name == persona.structure.name
    assert identity.structure_id == persona.structure.id
    assert identity.card_kind == persona.card_kind
    if persona.card_kind == "CPE":
        assert identity.employee_number == "SEC0042"
        assert identity.id_nat.startswith(persona.structure.id + "/")
    else:
        assert identity.employee_number is None
        assert identity.id_nat.startswith("8997")

    cn_rdn = next(
        rdn for rdn in cert.subject.rdns if rdn.get_attributes_for_oid(NameOID.COMMON_NAME)
    )
    assert {a.oid for a in cn_rdn} == {NameOID.COMMON_NAME, NameOID.SURNAME, NameOID.GIVEN_NAME}
    assert cert.subject.rdns[-1] == cn_rdn  # most specific RDN, first in RFC 4514 order
    first_rdn = subject_string(cert.subject).split(",", 1)[0]
    assert set(first_rdn.split("+")) == {
        f"CN={persona.id_nat}",
        f"SN={persona.family_name}",
        f"GN={persona.given_name}",
    }
    assert f"title={persona.profession_label},OU={persona.structure.id}," in subject_string(
        cert.subject
    )
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "FR"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signature_made_on_card_verifies_only_for_its_nonce(
    cards_dir: Path, algorithm: str, mode: str
) -> None:
    persona = BY_ID["gp"]
    nonce, other_nonce = _nonce(), _nonce()
    signed = sign_with_card(
        cards_dir,
        persona.token_label,
        persona.pin,
        nonce,
        algorithm,
        in_process=_in_process(mode, cards_dir),
    )
    cert = x509.load_der_x509_certificate(signed.certificate_der)
    verify_signature(cert, nonce, signed.signature, algorithm)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_signature(cert, other_nonce, signed.signature, algorithm)
    other_algorithm = "PS256" if algorithm == "RS256" else "RS256"
    with pytest.raises(SignatureError):
        verify_signature(cert, nonce, signed.signature, other_algorithm)


def test_signature_of_another_card_does_not_verify(cards_dir: Path) -> None:
    gp, nurse = BY_ID["gp"], BY_ID["nurse"]
    nonce = _nonce()
    by_nurse = sign_with_card(cards_dir, nurse.token_label, nurse.pin, nonce)
    gp_cert = x509.load_pem_x509_certificate((cards_dir / "pki" / "gp.pem").read_bytes())
    assert gp.id == "gp"
    with pytest.raises(SignatureError):
        verify_signature(gp_cert, nonce, by_nurse.signature, "RS256")


def test_card_auth_body(cards_dir: Path) -> None:
    secretary = BY_ID["secretary"]
    body = card_auth_body(cards_dir, secretary.token_label, secretary.pin, "nonce-42", "PS256")
    assert body["nonce"] == "nonce-42"
    assert body["algorithm"] == "PS256"
    cert = x509.load_der_x509_certificate(base64.b64decode(body["certificate"]))
    verify_signature(cert, b"nonce-42", base64.b64decode(body["signature"]), "PS256")
    assert parse_card_certificate(cert).card_kind == "CPE"


@pytest.mark.parametrize("mode", MODES)
def test_wrong_pin_is_refused(cards_dir: Path, mode: str) -> None:
    persona = BY_ID["nurse"]
    wrong = "9999" if persona.pin != "9999" else "8888"
    with pytest.raises(pkcs11.exceptions.PinIncorrect):
        sign_with_card(
            cards_dir,
            persona.token_label,
            wrong,
            _nonce(),
            in_process=_in_process(mode, cards_dir),
        )


@pytest.mark.parametrize("mode", MODES)
def test_unknown_card_is_reported(cards_dir: Path, mode: str) -> None:
    with pytest.raises(pkcs11.exceptions.NoSuchToken, match="CPS NOBODY"):
        sign_with_card(
            cards_dir, "CPS NOBODY", "1234", _nonce(), in_process=_in_process(mode, cards_dir)
        )


def test_private_key_stays_on_the_card(cards_dir: Path) -> None:
    _in_process("in_process", cards_dir)
    persona = BY_ID["gp"]
    module = use_sandbox_cards(cards_dir)
    assert read_card_certificate(module, persona.token_label) == (
        x509.load_pem_x509_certificate((cards_dir / "pki" / "gp.pem").read_bytes()).public_bytes(
            Encoding.DER
        )
    )
    with open_card(module, persona.token_label, persona.pin) as card:
        session = card._session
        key = session.get_key(pkcs11.ObjectClass.PRIVATE_KEY, pkcs11.KeyType.RSA, id=KEY_ID)
        assert key[pkcs11.Attribute.SENSITIVE] is True
        assert key[pkcs11.Attribute.EXTRACTABLE] is False
        assert key[pkcs11.Attribute.NEVER_EXTRACTABLE] is True
        assert key[pkcs11.Attribute.LOCAL] is True  # generated on the token
        assert key[pkcs11.Attribute.TOKEN] is True
        assert key[pkcs11.Attribute.DECRYPT] is False
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[pkcs11.Attribute.PRIVATE_EXPONENT]
        public = session.get_key(pkcs11.ObjectClass.PUBLIC_KEY, pkcs11.KeyType.RSA, id=KEY_ID)
        cert_key = card.certificate().public_key()
        assert isinstance(cert_key, rsa.RSAPublicKey)
        modulus = int.from_bytes(public[pkcs11.Attribute.MODULUS], "big")
        assert modulus == cert_key.public_numbers().n
        assert cert_key.key_size == 2048
        with pytest.raises(ValueError, match="unknown signature algorithm"):
            card.sign(b"x", "ES256")


def test_certificate_of_another_ca_is_refused(cards_dir: Path, tmp_path: Path) -> None:
    ca_cert = load_ca_certificate(cards_dir)
    impostor = create_ca(tmp_path / "impostor")  # same name, other key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = issue_card_certificate(impostor, key.public_key(), BY_ID["gp"])
    assert forged.issuer == ca_cert.subject
    with pytest.raises(CertificateError, match="does not verify"):
        verify_card_certificate(forged, ca_cert)
    # A forged certificate still "works" with its own key: only the chain check stops it.
    verify_signature(forged, b"n", sign_with_key(key, b"n", "PS256"), "PS256")

    self_signed = (
        x509.CertificateBuilder()
        .subject_name(forged.subject)
        .issuer_name(forged.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(forged.not_valid_before_utc)
        .not_valid_after(forged.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(CertificateError, match="issuer"):
        verify_card_certificate(self_signed, ca_cert)


def test_expired_or_not_yet_valid_certificate_is_refused(cards_dir: Path) -> None:
    ca = load_ca(cards_dir)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    expired = issue_card_certificate(
        ca,
        key.public_key(),
        BY_ID["nurse"],
        not_before=now - dt.timedelta(days=4 * 365),
        validity=dt.timedelta(days=3 * 365),
    )
    with pytest.raises(CertificateError, match="expired"):
        verify_card_certificate(expired, ca.certificate)
    verify_card_certificate(expired, ca.certificate, now=now - dt.timedelta(days=2 * 365))

    valid = issue_card_certificate(ca, key.public_key(), BY_ID["nurse"])
    with pytest.raises(CertificateError, match="not yet valid"):
        verify_card_certificate(valid, ca.certificate, now=now - dt.timedelta(days=1))
    with pytest.raises(CertificateError, match="expired"):
        verify_card_certificate(valid, ca.certificate, now=now + dt.timedelta(days=4 * 365))
    verify_card_certificate(valid, ca.certificate)


def test_unparseable_subject_and_unknown_algorithm(cards_dir: Path) -> None:
    ca = load_ca(cards_dir)
    with pytest.raises(ValueError, match="has no SN"):
        parse_card_certificate(ca.certificate)
    cert = x509.load_pem_x509_certificate((cards_dir / "pki" / "gp.pem").read_bytes())
    with pytest.raises(SignatureError, match="unknown signature algorithm"):
        verify_signature(cert, b"n", b"sig", "HS256")


def test_provisioning_refuses_existing_tokens(cards_dir: Path) -> None:
    with pytest.raises(ProvisioningError, match="already holds SoftHSM2 tokens"):
        provision_cards(cards_dir, PERSONAS[:1])


def test_provisioning_never_loads_pkcs11_in_the_caller(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from sandbox.personas import BY_ID\n"
        "from sandbox.tokens import provision_cards\n"
        "provision_cards(Path(sys.argv[1]), [BY_ID['physio']])\n"
        "assert 'pkcs11' not in sys.modules, 'pkcs11 was imported'\n"
    )
    env = dict(os.environ)
    env.pop("SOFTHSM2_CONF", None)
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "one")], env=env, check=True, timeout=60
    )
    assert (tmp_path / "one" / "pki" / "physio.pem").is_file()
    assert (tmp_path / "one" / "softhsm2.conf").is_file()
