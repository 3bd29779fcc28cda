"""The scriptable fake card reader (console.smartcard.fake): PIN counter, removal, latency,
injected errors, and PINs never kept anywhere."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import traceback
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.card import CardIdentity, PinState
from console.domain.errors import (
    CardMiddlewareError,
    CardRemovedError,
    PinIncorrectError,
    PinLockedError,
)
from console.services.ports import CardReader, CardSession
from console.smartcard import FakeCardReader, FakeToken, pin_state_of
from console.smartcard.fake import DEFAULT_IDENTITY, FakeCall

GOOD = "4711"
WRONG = "0000"

_shared_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _card(identity: CardIdentity | None = None, **kwargs: Any) -> FakeToken:
    kwargs.setdefault("pin", GOOD)
    kwargs.setdefault("private_key", _shared_key)
    return FakeToken(identity, **kwargs)


def _verify(card: FakeToken, signature: bytes, data: bytes, algorithm: str) -> None:
    public = x509.load_der_x509_certificate(card.certificate_der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    if algorithm == "RS256":
        public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    else:
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        public.verify(signature, data, pss, hashes.SHA256())


@pytest.mark.asyncio
async def test_fakes_satisfy_the_service_ports() -> None:
    card = _card()
    fake = FakeCardReader([card])
    reader: CardReader = fake  # mypy --strict checks the shapes against the ports
    session: CardSession = await fake.login(card.info, GOOD)
    assert session.certificate_der == card.certificate_der
    assert [t.key for t in await reader.tokens()] == [card.key]


@pytest.mark.asyncio
async def test_tokens_follow_insertion_and_removal() -> None:
    gp = _card(slot_id=1)
    nurse = _card(
        identity=CardIdentity("899700000045", "PETIT", "Julie", "Infirmier", "CPS"), slot_id=2
    )
    reader = FakeCardReader([gp])
    assert [t.label for t in await reader.tokens()] == ["CPS MARTIN Claire"]
    reader.insert(nurse)
    assert [t.label for t in await reader.tokens()] == ["CPS MARTIN Claire", "CPS PETIT Julie"]
    reader.remove(gp)
    tokens = await reader.tokens()
    assert [t.key for t in tokens] == [nurse.key]
    assert tokens[0].pin_state is PinState.OK
    with pytest.raises(ValueError, match="already holds"):
        reader.insert(_card(slot_id=2))


@pytest.mark.asyncio
async def test_identity_is_read_without_pin() -> None:
    card = _card()
    reader = FakeCardReader([card])
    (token,) = await reader.tokens()
    assert await reader.identity(token) == DEFAULT_IDENTITY
    assert reader.login_attempts() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("algorithm", ["RS256", "PS256"])
async def test_login_and_sign_verifies_with_the_certificate(algorithm: str) -> None:
    card = _card()
    reader = FakeCardReader([card])
    (token,) = await reader.tokens()
    session = await reader.login(token, GOOD)
    assert session.identity == DEFAULT_IDENTITY
    assert session.token.key == token.key
    assert session.supported_algorithms == ("RS256", "PS256")
    signature = await session.sign(b"nonce-123", algorithm)
    _verify(card, signature, b"nonce-123", algorithm)
    await session.logout()
    await session.logout()  # idempotent
    assert not session.is_open
    with pytest.raises(CardMiddlewareError, match="fermée"):
        await session.sign(b"x")


@pytest.mark.asyncio
async def test_pss_refused_when_the_card_lacks_it_and_unknown_algorithm() -> None:
    card = _card(supports_pss=False)
    reader = FakeCardReader([card])
    session = await reader.login(card.info, GOOD)
    assert session.supported_algorithms == ("RS256",)
    with pytest.raises(CardMiddlewareError, match="PS256"):
        await session.sign(b"x", "PS256")
    with pytest.raises(ValueError, match="unknown signature algorithm"):
        await session.sign(b"x", "ES256")


@pytest.mark.asyncio
async def test_wrong_pins_count_down_to_lock() -> None:
    card = _card()
    reader = FakeCardReader([card])

    with pytest.raises(PinIncorrectError) as first:
        await reader.login(card.info, WRONG)
    assert pin_state_of(first.value) is PinState.COUNT_LOW
    assert (await reader.tokens())[0].pin_state is PinState.COUNT_LOW

    with pytest.raises(PinIncorrectError, match="qu'un essai") as second:
        await reader.login(card.info, WRONG)
    assert pin_state_of(second.value) is PinState.FINAL_TRY
    assert (await reader.tokens())[0].pin_state is PinState.FINAL_TRY

    with pytest.raises(PinLockedError, match="PUK") as third:
        await reader.login(card.info, WRONG)
    assert pin_state_of(third.value) is PinState.LOCKED
    assert (await reader.tokens())[0].pin_state is PinState.LOCKED
    assert reader.login_attempts(card) == 3

    # Locked: even the good PIN is refused, without presenting it to the card.
    with pytest.raises(PinLockedError):
        await reader.login(card.info, GOOD)
    assert reader.login_attempts(card) == 3
    assert reader.calls[-1] == FakeCall("login", card.label, None, "PinLockedError")


@pytest.mark.asyncio
async def test_good_pin_resets_the_counter() -> None:
    card = _card()
    reader = FakeCardReader([card])
    for _ in range(2):
        with pytest.raises(PinIncorrectError):
            await reader.login(card.info, WRONG)
    assert card.pin_state is PinState.FINAL_TRY
    session = await reader.login(card.info, GOOD)
    assert session.token.pin_state is PinState.OK
    assert (await reader.tokens())[0].pin_state is PinState.OK
    assert [c.pin_matched for c in reader.calls if c.operation == "login"] == [False, False, True]


@pytest.mark.asyncio
async def test_card_inserted_locked_refuses_at_once() -> None:
    card = _card(tries_left=0)
    reader = FakeCardReader([card])
    (token,) = await reader.tokens()
    assert token.pin_state is PinState.LOCKED
    with pytest.raises(PinLockedError):
        await reader.login(token, GOOD)
    assert reader.login_attempts() == 0


@settings(max_examples=40, deadline=None)
@given(attempts=st.lists(st.booleans(), max_size=8), max_tries=st.integers(1, 4))
def test_pin_counter_matches_a_model(attempts: list[bool], max_tries: int) -> None:
    """Any sequence of good/wrong PINs: the reported state follows the card's counter."""
    card = _card(max_tries=max_tries)
    reader = FakeCardReader([card])

    async def scenario() -> None:
        tries = max_tries
        for good in attempts:
            if tries == 0:
                with pytest.raises(PinLockedError):
                    await reader.login(card.info, GOOD if good else WRONG)
                continue
            if good:
                session = await reader.login(card.info, GOOD)
                await session.logout()
                tries = max_tries
            else:
                tries -= 1
                expected = PinLockedError if tries == 0 else PinIncorrectError
                with pytest.raises(expected):
                    await reader.login(card.info, WRONG)
            if tries == 0:
                model = PinState.LOCKED
            elif tries == 1 and max_tries > 1:
                model = PinState.FINAL_TRY
            elif tries < max_tries:
                model = PinState.COUNT_LOW
            else:
                model = PinState.OK
            assert (await reader.tokens())[0].pin_state is model

    asyncio.run(scenario())


@pytest.mark.asyncio
async def test_removed_card_raises_and_its_session_stays_dead_after_reinsertion() -> None:
    card = _card()
    reader = FakeCardReader([card])
    token = card.info
    session = await reader.login(token, GOOD)
    reader.remove(card)
    assert await reader.tokens() == []
    assert not session.is_open
    with pytest.raises(CardRemovedError):
        await session.sign(b"x")
    with pytest.raises(CardRemovedError):
        await reader.identity(token)
    with pytest.raises(CardRemovedError):
        await reader.login(token, GOOD)

    reader.insert(card)
    assert [t.key for t in await reader.tokens()] == [token.key]
    with pytest.raises(CardRemovedError):
        await session.sign(b"x")  # the same card back: the PIN must be typed again
    await session.logout()  # a removed card counts as logged out: no error
    again = await reader.login(token, GOOD)
    assert again.is_open
    _verify(card, await again.sign(b"y"), b"y", "RS256")


@pytest.mark.asyncio
async def test_another_card_in_the_same_slot_is_not_the_logged_in_one() -> None:
    first = _card(slot_id=3)
    reader = FakeCardReader([first])
    token = first.info
    session = await reader.login(token, GOOD)
    reader.remove(first)
    reader.insert(_card(slot_id=3))
    with pytest.raises(CardRemovedError):
        await reader.identity(token)
    with pytest.raises(CardRemovedError):
        await session.sign(b"x")


@pytest.mark.asyncio
async def test_removal_during_next_sign() -> None:
    card = _card()
    reader = FakeCardReader([card], latency_s=0.02)
    session = await reader.login(card.info, GOOD)
    _verify(card, await session.sign(b"a"), b"a", "RS256")
    reader.remove_during_next_sign()
    with pytest.raises(CardRemovedError):
        await session.sign(b"b")
    assert await reader.tokens() == []
    assert reader.calls[-2] == FakeCall("sign", card.label, None, "CardRemovedError")


@pytest.mark.asyncio
async def test_removal_while_a_slow_signature_runs() -> None:
    card = _card()
    reader = FakeCardReader([card])
    session = await reader.login(card.info, GOOD)
    reader.latency_s = 0.2
    signing = asyncio.create_task(session.sign(b"slow"))
    await asyncio.sleep(0.05)
    assert not signing.done()
    reader.remove(card)
    with pytest.raises(CardRemovedError):
        await signing


@pytest.mark.asyncio
async def test_removal_while_login_waits_for_the_card() -> None:
    card = _card()
    reader = FakeCardReader([card], latency_s=0.2)
    login = asyncio.create_task(reader.login(card.info, GOOD))
    await asyncio.sleep(0.05)
    reader.remove(card)
    with pytest.raises(CardRemovedError):
        await login
    assert reader.login_attempts() == 0


@pytest.mark.asyncio
async def test_latency_applies_to_every_call() -> None:
    card = _card()
    reader = FakeCardReader([card], latency_s=0.5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.tokens(), 0.05)
    reader.latency_s = 0.0
    assert len(await asyncio.wait_for(reader.tokens(), 1.0)) == 1


@pytest.mark.asyncio
async def test_injected_failures_hit_the_chosen_calls_once() -> None:
    card = _card()
    reader = FakeCardReader([card])
    reader.fail_next(CardMiddlewareError("lecteur en panne"), operation="sign")
    reader.fail_next(CardMiddlewareError("module perdu"), operation="tokens", times=2)
    session = await reader.login(card.info, GOOD)  # not a "sign" nor "tokens" call
    for _ in range(2):
        with pytest.raises(CardMiddlewareError, match="module perdu"):
            await reader.tokens()
    assert len(await reader.tokens()) == 1
    with pytest.raises(CardMiddlewareError, match="lecteur en panne"):
        await session.sign(b"x")
    assert await session.sign(b"x")
    reader.fail_next(CardRemovedError("retirée"))
    with pytest.raises(CardRemovedError):
        await reader.identity(card.info)
    assert await reader.identity(card.info) == DEFAULT_IDENTITY
    outcomes = [c.outcome for c in reader.calls]
    assert outcomes.count("CardMiddlewareError") == 3
    assert outcomes.count("CardRemovedError") == 1


@pytest.mark.asyncio
async def test_injected_failure_on_login_presents_no_pin() -> None:
    card = _card()
    reader = FakeCardReader([card])
    reader.fail_next(CardMiddlewareError("boom"), operation="login")
    with pytest.raises(CardMiddlewareError):
        await reader.login(card.info, GOOD)
    assert reader.login_attempts() == 0
    assert card.pin_state is PinState.OK


@pytest.mark.asyncio
async def test_new_login_replaces_the_previous_session_and_close_ends_all() -> None:
    card = _card()
    reader = FakeCardReader([card])
    first = await reader.login(card.info, GOOD)
    second = await reader.login(card.info, GOOD)
    assert not first.is_open
    assert second.is_open
    await reader.close()
    assert second.closed
    with pytest.raises(CardMiddlewareError, match="fermé"):
        await reader.tokens()


def test_certificate_from_elsewhere_gives_the_identity() -> None:
    donor = _card(identity=CardIdentity("1997000456/SEC0042", "MERCIER", "Nadia", "Sec", "CPE"))
    card = FakeToken(private_key=_shared_key, certificate_der=donor.certificate_der, pin=GOOD)
    assert card.identity.card_kind == "CPE"
    assert card.label == "CPE MERCIER Nadia"
    with pytest.raises(ValueError, match="private_key"):
        FakeToken(certificate_der=donor.certificate_der)
    with pytest.raises(ValueError, match="not both"):
        FakeToken(DEFAULT_IDENTITY, certificate_der=donor.certificate_der, private_key=_shared_key)


# --- the PIN is never kept -----------------------------------------------------------------------


def _fresh_pin(value: str) -> str:
    """A PIN string object that nothing else references (not an interned constant)."""
    return "".join(list(value))


def _frames_locals(error: BaseException) -> list[object]:
    values: list[object] = []
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == __file__:
            continue
        values.extend(frame.f_locals.values())
    return values


@pytest.mark.asyncio
async def test_pin_never_kept_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "739164"
    card = _card(pin=secret)
    reader = FakeCardReader([card], latency_s=0.001)

    wrong = _fresh_pin("518273")
    refs_before = sys.getrefcount(wrong)
    with pytest.raises(PinIncorrectError) as refused:
        await reader.login(card.info, wrong)
    error = refused.value
    assert wrong not in _frames_locals(error)
    gc.collect()
    # Checked while the error (its traceback, its frames) is still alive.
    assert sys.getrefcount(wrong) == refs_before, "the fake kept a reference to the wrong PIN"

    good = _fresh_pin(secret)
    refs_before = sys.getrefcount(good)
    session = await reader.login(card.info, good)
    await session.sign(b"x")
    gc.collect()
    assert sys.getrefcount(good) == refs_before, "the fake kept a reference to the PIN"

    reader.remove(card)
    absent = _fresh_pin(secret)
    refs_before = sys.getrefcount(absent)
    with pytest.raises(CardRemovedError) as removed:
        await reader.login(card.info, absent)
    assert absent not in _frames_locals(removed.value)
    gc.collect()
    assert sys.getrefcount(absent) == refs_before, "a refused login kept the PIN"

    shown = " ".join(
        [
            repr(reader),
            repr(card),
            repr(session),
            repr(session.token),
            repr(reader.calls),
            str(error),
            repr(error),
            repr(error.args),
            repr(vars(card)),
            repr(vars(reader)),
            repr(vars(session)),
            caplog.text,
        ]
    )
    for pin in (secret, "518273"):
        assert pin not in shown
