"""The session service without Qt: card and e-CPS logins, lock, resume, renewal, idle lock.

Time is a :class:`FakeTime`: the service's clock and pauses, moved by the test, so a token's
8 hours or an e-CPS request's 2 minutes pass at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import CardRemovedError, NetworkError, PinLockedError
from console.domain.models import AccessMode
from console.domain.session import (
    AuthMethod,
    EcpsExpiredError,
    EcpsPending,
    EcpsPollStatus,
    EcpsRefreshRefusedError,
    EcpsRefusedError,
    EcpsRequest,
    LockReason,
    SessionState,
)
from console.services.idle import IdleLock
from console.services.session import (
    ECPS_EXPIRED_MESSAGE,
    ECPS_REFRESH_REFUSED_MESSAGE,
    RECENT_KEY,
    InvalidIdentifierError,
    SessionBusyError,
    SessionService,
)
from console.smartcard.certificate import parse_card_certificate
from console.smartcard.fake import FakeCardReader, FakeToken

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
GP_PIN = "1234"
NURSE = CardIdentity("899700000045", "PETIT", "Julie", "Infirmier", "CPS")
S = SessionState


class FakeTime:
    """A clock and a ``sleep`` that only move when the test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._waiters: list[tuple[datetime, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - T0).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((self.now + timedelta(seconds=seconds), future))
        await future

    @staticmethod
    async def settle() -> None:
        for _ in range(30):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move the clock by `seconds`, waking each sleeper at its time, in order."""
        target = self.now + timedelta(seconds=seconds)
        while True:
            await self.settle()
            self._waiters = [(t, f) for t, f in self._waiters if not f.done()]
            due = min((t for t, _ in self._waiters if t <= target), default=None)
            if due is None:
                break
            self.now = max(self.now, due)
            for when, future in self._waiters:
                if when <= self.now:
                    future.set_result(None)
        self.now = target
        await self.settle()


class Gateway:
    """The DMP's login endpoints (card challenge/signature, CIBA), on FakeTime.

    Attributes:
        calls: "challenge", "login:<id_nat>", "ciba:<id_nat>", "poll", "refresh" in order.
        polls: When each poll came (FakeTime).
        script: What the next polls answer (a login, a status or an error); then PENDING.
        fail_refresh: What the next refreshes raise, in order; then they succeed.
        session_end: The server's cap of an e-CPS session: no refreshed token outlives it.
        used_refresh: The refresh tokens exchanged (rotation: each one works once).
    """

    server_label = "dmp.test"

    def __init__(self, time: FakeTime, ttl_s: float = 8 * 3600) -> None:
        self.time = time
        self.ttl_s = ttl_s
        self.calls: list[str] = []
        self.polls: list[datetime] = []
        self.script: list[ProfessionalLogin | EcpsPollStatus | Exception] = []
        self.fail_challenge: list[Exception] = []
        self.fail_refresh: list[Exception] = []
        self.session_end: datetime | None = None
        self.used_refresh: set[str] = set()
        self.ciba_expires_s = 120.0
        self.ciba_interval_s = 2.0
        self._serial = 0

    def _login(
        self, id_nat: str, name: str, profession: str, *, refreshable: bool = False
    ) -> ProfessionalLogin:
        self._serial += 1
        expires_at = self.time.now + timedelta(seconds=self.ttl_s)
        if refreshable and self.session_end is not None:
            expires_at = min(expires_at, self.session_end)
        return ProfessionalLogin(
            id_nat=id_nat,
            display_name=name,
            profession=profession,
            token=f"token-{self._serial}",
            expires_at=expires_at,
            refresh_token=f"refresh-{self._serial}" if refreshable else None,
        )

    async def challenge(self) -> str:
        self.calls.append("challenge")
        if self.fail_challenge:
            raise self.fail_challenge.pop(0)
        return f"nonce-{len(self.calls)}"

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin:
        public_key = x509.load_der_x509_certificate(certificate_der).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, nonce.encode(), padding.PKCS1v15(), hashes.SHA256())
        identity = parse_card_certificate(certificate_der)
        self.calls.append(f"login:{identity.id_nat}")
        return self._login(identity.id_nat, identity.display_name, "10")

    def ecps_login(
        self, id_nat: str = "899700000011", *, refreshable: bool = False
    ) -> ProfessionalLogin:
        """An approved e-CPS login; `refreshable`: with a refresh token."""
        return self._login(id_nat, "Claire MARTIN", "10", refreshable=refreshable)

    async def refresh_ecps(self, login: ProfessionalLogin) -> ProfessionalLogin:
        self.calls.append("refresh")
        if self.fail_refresh:
            raise self.fail_refresh.pop(0)
        refresh = login.refresh_token
        if refresh is None or refresh in self.used_refresh:
            raise EcpsRefreshRefusedError("refusé", "invalid_grant")
        self.used_refresh.add(refresh)
        return self._login(login.id_nat, login.display_name, login.profession, refreshable=True)

    async def start_ecps(self, id_nat: str, binding_message: str) -> EcpsRequest:
        self.calls.append(f"ciba:{id_nat}")
        return EcpsRequest(
            auth_req_id=f"req-{len(self.calls)}",
            id_nat=id_nat,
            binding_message=binding_message,
            expires_at=self.time.now + timedelta(seconds=self.ciba_expires_s),
            interval_s=self.ciba_interval_s,
        )

    async def poll_ecps(self, request: EcpsRequest) -> ProfessionalLogin | EcpsPollStatus:
        self.calls.append("poll")
        self.polls.append(self.time.now)
        if self.time.now >= request.expires_at:
            raise EcpsExpiredError("La demande de connexion e-CPS a expiré.", "expired_token")
        if not self.script:
            return EcpsPollStatus.PENDING
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Prompt:
    """The PIN prompt: answers the PINs given, in order (None: cancel)."""

    def __init__(self, *pins: str | None) -> None:
        self.pins = list(pins)
        self.asked: list[tuple[str, PinState]] = []

    async def ask_pin(
        self, token: TokenInfo, identity: CardIdentity, state: PinState
    ) -> str | None:
        self.asked.append((identity.id_nat, state))
        return self.pins.pop(0)


class Preferences:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value


class Events:
    """Everything the listeners heard, in order."""

    def __init__(self, service: SessionService) -> None:
        self.seen: list[str] = []
        service.add_lock_listener(lambda reason: self.seen.append(f"closed:{reason}"))
        service.add_listener(lambda state, reason: self.seen.append(f"{state}:{reason}"))


class World:
    def __init__(self, *cards: FakeToken, ttl_s: float = 8 * 3600) -> None:
        self.time = FakeTime()
        self.gp = FakeToken(pin=GP_PIN)
        self.reader = FakeCardReader(cards or (self.gp,))
        self.gateway = Gateway(self.time, ttl_s)
        self.preferences = Preferences()
        self.service = SessionService(
            self.reader,
            self.gateway,  # type: ignore[arg-type]
            preferences=self.preferences,
            clock=self.time.clock,
            sleep=self.time.sleep,
            binding_message=lambda: "K7QX",
        )
        self.events = Events(self.service)

    async def card_login(
        self, card: FakeToken | None = None, pin: str | None = GP_PIN
    ) -> ProfessionalLogin | None:
        card = card or self.gp
        return await self.service.login_with_card(card.info, Prompt(pin))  # type: ignore[arg-type]

    def sessions_logged_out(self) -> int:
        return [c.operation for c in self.reader.calls].count("logout")


@pytest.fixture
def world() -> Iterator[World]:
    yield World()


# -- card -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_card_login_goes_through_authenticating(world: World) -> None:
    login = await world.card_login()
    service = world.service
    assert login is not None
    assert service.state is S.ACTIVE
    assert service.method is AuthMethod.CARD
    assert service.login is login
    assert service.holder is not None
    assert (service.holder.display_name, service.holder.profession_label) == (
        "Claire MARTIN",
        "Médecin",
    )
    assert world.events.seen == ["authenticating:None", "active:None"]
    assert world.gateway.calls == ["challenge", "login:899700000011"]
    assert service.machine.generation == 1
    assert service.refreshing
    await service.aclose()


@pytest.mark.asyncio
async def test_card_removed_locks_drops_the_token_then_tells_the_cache_then_the_views(
    world: World,
) -> None:
    await world.card_login()
    service = world.service
    service.patient_opened(AccessMode.BRIS_DE_GLACE)
    order: list[str] = []
    service.add_lock_listener(lambda _r: order.append(f"cache sees login={service.login}"))
    service.add_listener(lambda state, _r: order.append(f"view sees {state}"))
    world.events.seen.clear()

    world.reader.remove(world.gp)
    service.card_removed(world.gp.info)

    assert service.state is S.LOCKED
    assert service.machine.lock_reason is LockReason.CARD_REMOVED
    assert service.machine.patient_mode is None
    assert service.login is None
    assert not service.refreshing
    assert world.events.seen == ["closed:card_removed", "locked:card_removed"]
    assert order == ["cache sees login=None", "view sees locked"]
    assert service.holder is not None  # who to ask for, on the unlock page
    await FakeTime.settle()
    assert world.sessions_logged_out() == 1  # the card session let go too
    await service.aclose()


@pytest.mark.asyncio
async def test_another_card_removed_or_an_ecps_session_does_not_lock(world: World) -> None:
    nurse = FakeToken(NURSE, slot_id=2)
    world.reader.insert(nurse)
    await world.card_login()
    world.service.card_removed(nurse.info)
    assert world.service.state is S.ACTIVE
    await world.service.logout()
    world.gateway.script = [world.gateway.ecps_login()]
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    await task
    world.service.card_removed(world.gp.info)
    world.service.lock(LockReason.CARD_REMOVED)  # an e-CPS session has no card to lose
    assert world.service.state is S.ACTIVE
    await world.service.aclose()


@pytest.mark.asyncio
async def test_a_failing_lock_listener_does_not_keep_the_views_showing(world: World) -> None:
    await world.card_login()

    def broken(_reason: LockReason | None) -> None:
        raise RuntimeError("cache failed to close")

    world.service.add_lock_listener(broken)
    world.events.seen.clear()
    world.service.lock(LockReason.USER)
    assert world.events.seen[-1] == "locked:user"
    await world.service.aclose()


@pytest.mark.asyncio
async def test_same_card_back_and_pin_resumes_the_same_session(world: World) -> None:
    await world.card_login()
    first = world.service.login
    world.service.lock(LockReason.IDLE)
    world.events.seen.clear()
    prompt = Prompt(GP_PIN)
    login = await world.service.login_with_card(world.gp.info, prompt)  # type: ignore[arg-type]
    assert login is not None and login is not first
    assert world.service.state is S.ACTIVE
    assert world.service.machine.generation == 1  # resumed, not a new session
    assert world.events.seen == ["authenticating:idle", "active:None"]  # no close
    assert prompt.asked == [("899700000011", PinState.OK)]
    await world.service.aclose()


@pytest.mark.asyncio
async def test_wrong_pin_or_cancel_on_unlock_stays_locked_and_is_not_retried(
    world: World,
) -> None:
    await world.card_login()
    world.service.lock(LockReason.USER)
    with pytest.raises(Exception, match="PIN"):
        await world.card_login(pin="0000")
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.USER
    assert world.reader.login_attempts() == 2  # the login, then one wrong PIN: no retry
    assert await world.card_login(pin=None) is None
    assert world.service.state is S.LOCKED
    assert world.service.login is None
    await world.service.aclose()


@pytest.mark.asyncio
async def test_another_card_on_a_locked_session_closes_it(world: World) -> None:
    nurse = FakeToken(NURSE, pin="4567", slot_id=2)
    world.reader.insert(nurse)
    await world.card_login()
    world.service.patient_opened(AccessMode.NORMAL)
    world.service.lock(LockReason.USER)
    world.events.seen.clear()
    login = await world.card_login(nurse, "4567")
    assert login is not None and login.id_nat == NURSE.id_nat
    service = world.service
    assert service.machine.generation == 2
    assert service.holder is not None and service.holder.id_nat == NURSE.id_nat
    assert service.identity == nurse.identity
    assert service.card_token == nurse.info
    # The previous session ends (cache closed, views told), then the new one is active.
    assert world.events.seen == [
        "authenticating:user",
        "closed:None",
        "logged_out:None",
        "active:None",
    ]
    await service.aclose()


@pytest.mark.asyncio
async def test_removal_during_the_signature_fails_the_login(world: World) -> None:
    world.reader.remove_during_next_sign(world.gp)
    with pytest.raises(CardRemovedError):
        await world.card_login()
    assert world.service.state is S.LOGGED_OUT
    assert world.service.login is None
    assert world.gateway.calls == ["challenge"]  # nothing was sent to log in
    assert world.events.seen == ["authenticating:None", "logged_out:None"]


@pytest.mark.asyncio
async def test_removal_before_the_pin_fails_without_asking(world: World) -> None:
    world.reader.remove(world.gp)
    prompt = Prompt(GP_PIN)
    with pytest.raises(CardRemovedError):
        await world.service.login_with_card(world.gp.info, prompt)  # type: ignore[arg-type]
    assert prompt.asked == []
    assert world.service.state is S.LOGGED_OUT


@pytest.mark.asyncio
async def test_locked_card_is_refused_without_a_login_attempt(world: World) -> None:
    world.gp.lock()
    prompt = Prompt(GP_PIN)
    with pytest.raises(PinLockedError, match="PUK"):
        await world.service.login_with_card(world.gp.info, prompt)  # type: ignore[arg-type]
    assert prompt.asked == []
    assert world.reader.login_attempts() == 0
    assert world.service.state is S.LOGGED_OUT


@pytest.mark.asyncio
async def test_the_pin_is_not_kept(world: World) -> None:
    pin = "".join(str(d) for d in (7, 3, 9, 1))  # built at run time: no constant to find
    card = FakeToken(pin=pin, slot_id=3)
    world.reader.insert(card)
    await world.card_login(card, pin)
    holders = [world.service, world.reader, *world.reader.present]
    for holder in holders:
        for value in vars(holder).values():
            assert pin not in repr(value)
    assert all(pin not in repr(call) for call in world.reader.calls)
    await world.service.aclose()


@pytest.mark.asyncio
async def test_a_second_login_while_one_runs_is_refused(world: World) -> None:
    gate: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    class SlowPrompt:
        async def ask_pin(self, *_args: object) -> str | None:
            return await gate

    first = asyncio.ensure_future(world.service.login_with_card(world.gp.info, SlowPrompt()))  # type: ignore[arg-type]
    await FakeTime.settle()
    with pytest.raises(SessionBusyError):
        await world.card_login()
    with pytest.raises(SessionBusyError):
        await world.service.login_with_ecps("899700000011")
    gate.set_result(GP_PIN)
    assert await first is not None
    await world.service.aclose()


@pytest.mark.asyncio
async def test_logout_during_a_login_abandons_it(world: World) -> None:
    gate: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    class SlowPrompt:
        async def ask_pin(self, *_args: object) -> str | None:
            return await gate

    login = asyncio.ensure_future(world.service.login_with_card(world.gp.info, SlowPrompt()))  # type: ignore[arg-type]
    await FakeTime.settle()
    await world.service.logout()
    gate.set_result(GP_PIN)
    assert await login is None
    assert world.service.state is S.LOGGED_OUT
    assert world.service.login is None
    assert world.sessions_logged_out() == 1  # the card session opened meanwhile let go


# -- token renewal ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_card_token_is_renewed_a_minute_before_expiry_without_the_pin() -> None:
    world = World(ttl_s=600)
    await world.card_login()
    first = world.service.login
    assert first is not None
    await world.time.advance(539)
    assert world.service.login is first
    await world.time.advance(1)  # 60 s before the end
    renewed = world.service.login
    assert renewed is not None and renewed is not first
    assert renewed.expires_at == first.expires_at + timedelta(seconds=540)
    assert world.gateway.calls == ["challenge", "login:899700000011"] * 2
    assert world.reader.login_attempts() == 1  # no PIN
    assert [c.operation for c in world.reader.calls].count("sign") == 2
    await world.time.advance(540)  # and again
    assert world.gateway.calls.count("challenge") == 3
    assert world.service.state is S.ACTIVE
    await world.service.aclose()


@pytest.mark.asyncio
async def test_renewal_with_the_card_gone_locks() -> None:
    world = World(ttl_s=600)
    await world.card_login()
    world.reader.remove(world.gp)  # the monitor has not noticed yet
    await world.time.advance(540)
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.CARD_REMOVED
    assert world.service.login is None
    await world.service.aclose()


@pytest.mark.asyncio
async def test_renewal_failures_are_retried_then_the_session_locks_at_expiry() -> None:
    world = World(ttl_s=600)
    await world.card_login()
    world.gateway.fail_challenge = [NetworkError("injoignable")] * 10
    await world.time.advance(540)
    assert world.service.state is S.ACTIVE
    await world.time.advance(30)
    assert world.gateway.calls.count("challenge") == 4  # the login, then 540, 555, 570 s
    await world.time.advance(30)
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.EXPIRED
    await world.service.aclose()


@pytest.mark.asyncio
async def test_renewal_recovers_after_a_failure() -> None:
    world = World(ttl_s=600)
    await world.card_login()
    world.gateway.fail_challenge = [NetworkError("injoignable")]
    first = world.service.login
    await world.time.advance(556)
    assert world.service.login is not first
    assert world.service.state is S.ACTIVE
    await world.service.aclose()


@pytest.mark.asyncio
async def test_an_ecps_session_locks_at_expiry_without_ringing_the_phone() -> None:
    world = World(ttl_s=600)
    world.gateway.script = [world.gateway.ecps_login()]
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    await task
    calls = list(world.gateway.calls)
    await world.time.advance(597)
    assert world.service.state is S.ACTIVE
    await world.time.advance(2)
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.EXPIRED
    assert world.gateway.calls == calls  # no renewal, no new request
    await world.service.aclose()


async def ecps_login(world: World, *, refreshable: bool = True) -> ProfessionalLogin:
    """Log in with e-CPS, approved at the first poll (2 s); the token ends at 600 s."""
    world.gateway.script = [world.gateway.ecps_login(refreshable=refreshable)]
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    login = await task
    assert login is not None
    return login


@pytest.mark.asyncio
async def test_an_ecps_session_is_refreshed_a_minute_before_expiry_without_the_phone() -> None:
    world = World(ttl_s=600)
    first = await ecps_login(world)
    assert first.refresh_token is not None
    await world.time.advance(537)
    assert world.service.login is first
    await world.time.advance(1)  # 60 s before the end
    renewed = world.service.login
    assert renewed is not None and renewed is not first
    assert renewed.expires_at == first.expires_at + timedelta(seconds=540)
    assert renewed.refresh_token not in (None, first.refresh_token)  # rotated
    assert world.gateway.used_refresh == {first.refresh_token}
    assert world.gateway.calls == ["ciba:899700000011", "poll", "refresh"]  # no new request
    await world.time.advance(540)  # and again, with the new refresh token
    assert world.gateway.calls.count("refresh") == 2
    assert world.gateway.used_refresh == {first.refresh_token, renewed.refresh_token}
    assert world.service.state is S.ACTIVE
    assert world.service.machine.generation == 1
    assert world.events.seen == ["authenticating:None", "active:None"]  # views undisturbed
    await world.service.aclose()


@pytest.mark.asyncio
async def test_ecps_refresh_failures_are_retried_then_the_session_locks_at_expiry() -> None:
    world = World(ttl_s=600)
    await ecps_login(world)
    world.gateway.fail_refresh = [NetworkError("injoignable")] * 10
    await world.time.advance(538)  # t = 540
    assert world.service.state is S.ACTIVE
    await world.time.advance(30)
    assert world.gateway.calls.count("refresh") == 3  # at 540, 555 and 570 s
    await world.time.advance(30)
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.EXPIRED
    assert world.service.lock_message == ECPS_EXPIRED_MESSAGE
    assert world.service.login is None
    assert world.gateway.calls.count("ciba:899700000011") == 1  # the phone never rang again
    await world.service.aclose()


@pytest.mark.asyncio
async def test_ecps_refresh_recovers_after_a_failure() -> None:
    world = World(ttl_s=600)
    first = await ecps_login(world)
    world.gateway.fail_refresh = [NetworkError("injoignable")]
    await world.time.advance(554)
    assert world.service.login is not first
    assert world.gateway.calls.count("refresh") == 2
    assert world.service.state is S.ACTIVE
    await world.service.aclose()


@pytest.mark.asyncio
async def test_a_refused_refresh_token_locks_at_once_and_asks_for_the_phone() -> None:
    world = World(ttl_s=600)
    await ecps_login(world)
    world.gateway.fail_refresh = [EcpsRefreshRefusedError("refusé", "invalid_grant")]
    world.events.seen.clear()
    await world.time.advance(538)  # t = 540: the token still had a minute
    service = world.service
    assert service.state is S.LOCKED
    assert service.machine.lock_reason is LockReason.EXPIRED
    assert service.lock_message == ECPS_REFRESH_REFUSED_MESSAGE
    assert "téléphone" in ECPS_REFRESH_REFUSED_MESSAGE
    assert service.login is None and not service.refreshing
    assert world.events.seen == ["closed:expired", "locked:expired"]
    assert world.gateway.calls.count("refresh") == 1  # not retried
    assert service.holder is not None  # a new approval on the phone resumes it
    await ecps_login(world)
    assert (service.state, service.machine.generation) == (S.ACTIVE, 1)
    assert service.lock_message is None
    await service.aclose()


@pytest.mark.asyncio
async def test_ecps_renewals_stop_at_the_servers_session_cap() -> None:
    world = World(ttl_s=600)
    world.gateway.session_end = T0 + timedelta(seconds=900)
    await ecps_login(world)
    await world.time.advance(538)  # t = 540: renewed until 900 s only
    login = world.service.login
    assert login is not None and login.expires_at == T0 + timedelta(seconds=900)
    await world.time.advance(300)  # t = 840: renewed, but the end stays at 900 s
    assert world.gateway.calls.count("refresh") == 2
    await world.time.advance(59)
    assert world.service.state is S.ACTIVE
    assert world.gateway.calls.count("refresh") == 2  # no renewal loop near the cap
    await world.time.advance(1)
    assert world.service.state is S.LOCKED
    assert world.service.machine.lock_reason is LockReason.EXPIRED
    assert world.service.lock_message == ECPS_EXPIRED_MESSAGE
    await world.service.aclose()


# -- e-CPS ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ecps_polls_at_the_interval_and_slows_down_when_asked(world: World) -> None:
    gateway = world.gateway
    gateway.script = [
        EcpsPollStatus.PENDING,
        EcpsPollStatus.SLOW_DOWN,
        EcpsPollStatus.PENDING,
        gateway.ecps_login(),
    ]
    pending: list[EcpsPending] = []
    task = asyncio.ensure_future(world.service.login_with_ecps(" 899700000011 ", pending.append))
    await FakeTime.settle()
    assert pending == [EcpsPending("899700000011", "K7QX", T0 + timedelta(seconds=120))]
    assert world.service.state is S.AUTHENTICATING
    await world.time.advance(30)
    login = await task
    assert login is not None
    offsets = [(t - T0).total_seconds() for t in gateway.polls]
    assert offsets == [2, 4, 11, 18]  # every 2 s, then 7 s after slow_down
    service = world.service
    assert service.state is S.ACTIVE
    assert service.method is AuthMethod.ECPS
    assert service.holder is not None
    assert (service.holder.id_nat, service.holder.method) == ("899700000011", AuthMethod.ECPS)
    assert service.identity is None and service.card_token is None
    assert service.recent_id_nats() == ["899700000011"]
    assert world.events.seen == ["authenticating:None", "active:None"]
    await service.aclose()


@pytest.mark.asyncio
async def test_ecps_refused_on_the_phone(world: World) -> None:
    world.gateway.script = [EcpsRefusedError("refusée", "access_denied")]
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    with pytest.raises(EcpsRefusedError):
        await task
    assert world.service.state is S.LOGGED_OUT
    assert world.service.recent_id_nats() == []


@pytest.mark.asyncio
async def test_ecps_expires_after_two_minutes(world: World) -> None:
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(119)
    assert not task.done()
    await world.time.advance(2)
    with pytest.raises(EcpsExpiredError):
        await task
    assert world.service.state is S.LOGGED_OUT
    assert len(world.gateway.polls) == 60  # at 2, 4, ... 120 s: none after


@pytest.mark.asyncio
async def test_ecps_stops_at_expiry_even_when_the_server_cannot_be_reached(world: World) -> None:
    world.gateway.script = [NetworkError("injoignable")] * 100
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(121)
    with pytest.raises(EcpsExpiredError):
        await task


@pytest.mark.asyncio
async def test_ecps_cancelled(world: World) -> None:
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert world.service.state is S.LOGGED_OUT
    polls = len(world.gateway.polls)
    await world.time.advance(10)
    assert len(world.gateway.polls) == polls


@pytest.mark.asyncio
async def test_an_invalid_identifier_sends_nothing(world: World) -> None:
    with pytest.raises(InvalidIdentifierError):
        await world.service.login_with_ecps("8997 0000")
    assert world.gateway.calls == []
    assert world.service.state is S.LOGGED_OUT


@pytest.mark.asyncio
async def test_ecps_unlock_resumes_the_same_professional_or_ends_the_session(
    world: World,
) -> None:
    gateway = world.gateway
    service = world.service
    gateway.script = [gateway.ecps_login()]
    task = asyncio.ensure_future(service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    await task
    service.lock(LockReason.IDLE)
    gateway.script = [gateway.ecps_login()]
    task = asyncio.ensure_future(service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    await task
    assert (service.state, service.machine.generation) == (S.ACTIVE, 1)

    service.lock(LockReason.USER)
    world.events.seen.clear()
    gateway.script = [gateway.ecps_login("899700000029")]
    task = asyncio.ensure_future(service.login_with_ecps("899700000029"))
    await world.time.advance(2)
    await task
    assert (service.state, service.machine.generation) == (S.ACTIVE, 2)
    assert service.holder is not None and service.holder.id_nat == "899700000029"
    assert "closed:None" in world.events.seen
    assert service.recent_id_nats() == ["899700000029", "899700000011"]
    await service.aclose()


@pytest.mark.asyncio
async def test_card_unlock_of_an_ecps_session_by_the_same_professional(world: World) -> None:
    world.gateway.script = [world.gateway.ecps_login()]
    task = asyncio.ensure_future(world.service.login_with_ecps("899700000011"))
    await world.time.advance(2)
    await task
    world.service.lock(LockReason.USER)
    await world.card_login()
    assert world.service.machine.generation == 1
    assert world.service.method is AuthMethod.CARD
    assert world.service.card_token == world.gp.info
    await world.service.aclose()


def test_recent_identifiers_are_few_valid_and_most_recent_first() -> None:
    world = World()
    service = world.service
    world.preferences.data[RECENT_KEY] = json.dumps(["bad id", "899700000011", 3])
    assert service.recent_id_nats() == ["899700000011"]
    for number in range(7):
        service._remember(f"89970000010{number}")
    service._remember("899700000102")
    assert service.recent_id_nats() == [
        "899700000102",
        "899700000106",
        "899700000105",
        "899700000104",
        "899700000103",
    ]
    world.preferences.data[RECENT_KEY] = "{not json"
    assert service.recent_id_nats() == []


# -- idle lock --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_idle_lock_after_the_timeout_and_input_postpones_it() -> None:
    time = FakeTime()
    idled: list[float] = []
    idle = IdleLock(600, lambda: idled.append(time.monotonic()), clock=time.monotonic,
                    tick_s=1.0, sleep=time.sleep)  # fmt: skip
    idle.start()
    await time.advance(700)
    assert idled == []  # not armed: nobody logged in
    idle.arm()
    await time.advance(599)
    idle.touch()  # a key pressed
    await time.advance(599)
    assert idled == []
    assert idle.remaining() == pytest.approx(1)
    await time.advance(1)
    assert idled == [700 + 599 + 599 + 1]
    await time.advance(1200)
    assert len(idled) == 1  # once per idle period (disarmed until the next login)
    await idle.stop()


def test_idle_lock_disabled_with_zero_minutes() -> None:
    idle = IdleLock(0, lambda: pytest.fail("locked"), clock=lambda: 1e9)
    idle.arm()
    assert not idle.enabled
    assert not idle.check()
    assert idle.remaining() == float("inf")
    with pytest.raises(ValueError):
        IdleLock(10, lambda: None, tick_s=0)
