"""The PKCS#11 card reader against the sandbox's real SoftHSM2 tokens (python-pkcs11).

Uses the session's `sandbox_dir` (``dmp-sandbox init`` with cards; SOFTHSM2_CONF exported), so
that the whole test session loads SoftHSM2 with one configuration.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import threading
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from console.domain.card import PinState, TokenInfo
from console.domain.errors import CardMiddlewareError, CardRemovedError, PinIncorrectError
from console.services.ports import CardReader, CardSession
from console.smartcard import (
    CardMonitor,
    Pkcs11CardReader,
    find_softhsm_module,
    pin_state_of,
)
from console.smartcard.reader import (
    CKM_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    WORKER_THREAD_PREFIX,
)

pytestmark = pytest.mark.integration

Persona = dict[str, Any]


@dataclass
class CallLog:
    """What the reader's debug hook saw: (operation, thread name, thread id)."""

    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def __call__(self, operation: str) -> None:
        thread = threading.current_thread()
        self.calls.append((operation, thread.name, threading.get_ident()))

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _, _ in self.calls]


@pytest.fixture(scope="module")
def module_path() -> Path:
    found = find_softhsm_module()
    if found is None:
        pytest.skip("SoftHSM2 is not installed")
    return found


@pytest.fixture(scope="module")
def personas(sandbox_dir: Path) -> dict[str, Persona]:
    data = json.loads((sandbox_dir / "personas.json").read_text(encoding="utf-8"))
    return {p["id"]: p for p in data}


@pytest.fixture
def call_log() -> CallLog:
    return CallLog()


@pytest_asyncio.fixture
async def reader(module_path: Path, call_log: CallLog) -> AsyncIterator[Pkcs11CardReader]:
    card_reader = Pkcs11CardReader(module_path, on_call=call_log)
    try:
        yield card_reader
    finally:
        await card_reader.close()  # logs out: the cards stay usable by other tests


async def _token(reader: Pkcs11CardReader, persona: Persona) -> TokenInfo:
    for token in await reader.tokens():
        if token.label == persona["token_label"]:
            return token
    raise AssertionError(f"no token {persona['token_label']!r}")


def _verify(certificate_der: bytes, signature: bytes, data: bytes, algorithm: str) -> None:
    key = x509.load_der_x509_certificate(certificate_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    if algorithm == "RS256":
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        key.verify(signature, data, pss, hashes.SHA256())


@pytest.mark.asyncio
async def test_tokens_are_the_personas_cards(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    tokens = await reader.tokens()
    assert {t.label for t in tokens} == {p["token_label"] for p in personas.values()}
    for token in tokens:
        assert token.serial
        assert token.manufacturer == "SoftHSM project"
        assert token.pin_state is not PinState.LOCKED
    assert len({t.key for t in tokens}) == len(tokens)


@pytest.mark.asyncio
async def test_identity_is_read_without_pin(
    reader: Pkcs11CardReader, personas: dict[str, Persona], call_log: CallLog
) -> None:
    for persona in personas.values():
        identity = await reader.identity(await _token(reader, persona))
        assert identity.id_nat == persona["id_nat"]
        assert identity.family_name == persona["family_name"]
        assert identity.given_name == persona["given_name"]
        assert identity.profession_label == persona["profession_label"]
        assert identity.card_kind == persona["card_kind"]
        assert identity.structure_name == persona["structure"]["name"]
        if persona["card_kind"] == "CPE":
            assert identity.employee_number == persona["id_nat"].split("/")[1]
    assert "login" not in call_log.operations


@pytest.mark.asyncio
@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
async def test_login_and_sign_a_nonce(
    reader: Pkcs11CardReader,
    personas: dict[str, Persona],
    sandbox_dir: Path,
    algorithm: str,
) -> None:
    gp = personas["gp"]
    token = await _token(reader, gp)
    session = await reader.login(token, gp["pin"])
    assert session.token.key == token.key
    assert session.identity.id_nat == gp["id_nat"]
    assert session.supported_algorithms == ("RS256", "PS256")
    pem = (sandbox_dir / gp["certificate"]).read_bytes()
    on_disk = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert session.certificate_der == on_disk

    nonce = b"b64-nonce-from-the-server-0123456789"
    signature = await session.sign(nonce, algorithm)
    _verify(session.certificate_der, signature, nonce, algorithm)
    with pytest.raises(ValueError, match="unknown signature algorithm"):
        await session.sign(nonce, "ES256")
    await session.logout()
    assert not session.is_open
    with pytest.raises(CardMiddlewareError, match="fermée"):
        await session.sign(nonce)
    await session.logout()  # idempotent


@pytest.mark.asyncio
async def test_raw_rsa_mechanisms_hash_on_the_host(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    """Cards offering only CKM_RSA_PKCS / CKM_RSA_PKCS_PSS: DigestInfo and hash made here."""
    nurse = personas["nurse"]
    session = await reader.login(await _token(reader, nurse), nurse["pin"])
    session._handle.mechanisms = frozenset({CKM_RSA_PKCS, CKM_RSA_PKCS_PSS})
    for algorithm in ("RS256", "PS256"):
        signature = await session.sign(b"challenge", algorithm)
        _verify(session.certificate_der, signature, b"challenge", algorithm)
    session._handle.mechanisms = frozenset({CKM_RSA_PKCS})
    assert session.supported_algorithms == ("RS256",)
    with pytest.raises(CardMiddlewareError, match="PS256"):
        await session.sign(b"challenge", "PS256")
    await session.logout()


@pytest.mark.asyncio
async def test_wrong_pin_then_the_good_one(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    physio = personas["physio"]
    token = await _token(reader, physio)
    with pytest.raises(PinIncorrectError) as refused:
        await reader.login(token, "99999999")
    # SoftHSM2 reports CKF_USER_PIN_COUNT_LOW after a wrong PIN (never FINAL_TRY nor LOCKED).
    assert pin_state_of(refused.value) is PinState.COUNT_LOW
    assert (await _token(reader, physio)).pin_state is PinState.COUNT_LOW

    session = await reader.login(token, physio["pin"])
    assert session.token.pin_state is PinState.OK
    assert (await _token(reader, physio)).pin_state is PinState.OK
    assert await session.sign(b"after a wrong PIN")
    await session.logout()


@pytest.mark.asyncio
async def test_a_second_login_replaces_the_first(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    dentist = personas["dentist"]
    token = await _token(reader, dentist)
    first = await reader.login(token, dentist["pin"])
    second = await reader.login(token, dentist["pin"])
    assert not first.is_open
    assert second.is_open
    _verify(second.certificate_der, await second.sign(b"x"), b"x", "RS256")
    await second.logout()


@pytest.mark.asyncio
async def test_absent_or_other_card_is_reported_removed(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    token = await _token(reader, personas["gp"])
    ghosts = [
        TokenInfo(slot_id=token.slot_id, label=token.label, serial="not-this-card"),
        TokenInfo(slot_id=987654321, label="gone", serial="0"),
    ]
    for ghost in ghosts:
        with pytest.raises(CardRemovedError):
            await reader.identity(ghost)
        with pytest.raises(CardRemovedError):
            await reader.login(ghost, personas["gp"]["pin"])


@pytest.mark.asyncio
async def test_cancelled_login_leaves_no_open_session(
    module_path: Path, personas: dict[str, Persona]
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def hold_login(operation: str) -> None:
        if operation == "login":
            entered.set()
            release.wait(5)

    reader = Pkcs11CardReader(module_path, on_call=hold_login)
    try:
        midwife = personas["midwife"]
        token = await _token(reader, midwife)
        login = asyncio.create_task(reader.login(token, midwife["pin"]))
        await asyncio.to_thread(entered.wait, 5)
        login.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await login
        await reader.tokens()  # runs after the worker closed the abandoned session
        assert reader._sessions == {}
        session = await reader.login(token, midwife["pin"])
        await session.logout()
    finally:
        release.set()
        await reader.close()


@pytest.mark.asyncio
async def test_every_pkcs11_call_runs_on_the_one_worker_thread(
    module_path: Path, personas: dict[str, Persona]
) -> None:
    log = CallLog()
    reader = Pkcs11CardReader(module_path, on_call=log)
    gp = personas["gp"]
    token = await _token(reader, gp)
    await reader.identity(token)
    session = await reader.login(token, gp["pin"])
    await asyncio.gather(*(session.sign(b"%d" % i) for i in range(5)), reader.tokens())
    await session.logout()
    await reader.close()
    assert log.operations[:2] == ["tokens", "load"]  # the module is loaded once, lazily
    assert log.operations.count("load") == 1
    assert {"load", "tokens", "identity", "login", "sign", "logout", "close"} <= set(log.operations)
    assert len({ident for _, _, ident in log.calls}) == 1
    assert all(name.startswith(WORKER_THREAD_PREFIX) for _, name, _ in log.calls)
    assert log.calls[0][2] != threading.main_thread().ident
    with pytest.raises(CardMiddlewareError, match="fermé"):
        await reader.tokens()


@pytest.mark.asyncio
async def test_monitor_sees_the_cards(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    seen: list[str] = []
    monitor = CardMonitor(reader, 0.05, on_inserted=lambda token: seen.append(token.label))
    monitor.start()
    try:
        async with asyncio.timeout(10):
            while len(seen) < len(personas):
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # a few more polls: no duplicate reports
    finally:
        await monitor.stop()
    assert sorted(seen) == sorted(p["token_label"] for p in personas.values())


@pytest.mark.asyncio
async def test_reader_satisfies_the_service_ports(
    reader: Pkcs11CardReader, personas: dict[str, Persona]
) -> None:
    port: CardReader = reader  # mypy --strict checks the shapes against the ports
    gp = personas["gp"]
    session: CardSession = await reader.login(await _token(reader, gp), gp["pin"])
    assert session.identity.id_nat == gp["id_nat"]
    await session.logout()
    assert await port.tokens()


@pytest.mark.asyncio
async def test_pin_never_kept_logged_or_shown(
    reader: Pkcs11CardReader, personas: dict[str, Persona], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pharmacist = personas["pharmacist"]
    token = await _token(reader, pharmacist)

    wrong = "".join(["8", "4", "2", "6", "1", "9", "3"])  # a fresh, non-interned string
    refs = sys.getrefcount(wrong)
    with pytest.raises(PinIncorrectError) as refused:
        await reader.login(token, wrong)
    error = refused.value
    gc.collect()
    assert sys.getrefcount(wrong) == refs, "a reference to the wrong PIN was kept"
    frames = [
        f for f, _ in traceback.walk_tb(error.__traceback__) if f.f_code.co_filename != __file__
    ]
    assert all(wrong not in frame.f_locals.values() for frame in frames)

    good = "".join(list(pharmacist["pin"]))
    refs = sys.getrefcount(good)
    session = await reader.login(token, good)
    await session.sign(b"x")
    gc.collect()
    assert sys.getrefcount(good) == refs, "a reference to the PIN was kept"

    shown = " ".join(
        [
            repr(reader),
            repr(session),
            str(error),
            repr(error.args),
            repr(vars(session)),
            caplog.text,
        ]
    )
    assert wrong not in shown
    assert pharmacist["pin"] not in shown
    await session.logout()


@pytest.mark.asyncio
async def test_missing_or_broken_module_is_a_clear_middleware_error(tmp_path: Path) -> None:
    missing = tmp_path / "libcps3_pkcs11_lux.so"
    reader = Pkcs11CardReader(missing)
    with pytest.raises(CardMiddlewareError, match="introuvable") as absent:
        await reader.tokens()
    assert str(missing) in str(absent.value)

    broken = tmp_path / "libbroken.so"
    broken.write_bytes(b"not a shared library")
    reader2 = Pkcs11CardReader(broken)
    with pytest.raises(CardMiddlewareError, match="Impossible de charger") as unloadable:
        await reader2.tokens()
    assert str(broken) in str(unloadable.value)
    await reader.close()
    await reader2.close()
