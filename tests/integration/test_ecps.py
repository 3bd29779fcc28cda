"""e-CPS (CIBA) against the real sandbox over loopback: approve, refuse, expiry, slow_down,
and the session's renewal with its refresh token.

The phone is played by :class:`SandboxEcpsPhone` (``/sandbox/ecps/...``), as the demo's
phone window does; the last test drives the window itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import pytest_asyncio
from pytestqt.qtbot import QtBot

from console import app as console_app
from console.app import ConsoleApp, LazyAdapter
from console.config import Settings
from console.dmp.client import HttpDmpGateway, SandboxEcpsPhone
from console.domain.errors import AuthenticationError
from console.domain.ins import INS
from console.domain.session import (
    AuthMethod,
    EcpsExpiredError,
    EcpsPending,
    EcpsPhoneRequest,
    EcpsPollStatus,
    EcpsRefreshRefusedError,
    EcpsRefusedError,
    EcpsUnknownIdentifierError,
    SessionState,
)
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.smartcard.fake import FakeCardReader
from sandbox.config import Settings as SandboxSettings
from sandbox.testing import SandboxProcess
from tests import qtloop
from tests.integration.conftest import Sandbox
from tests.qtloop import AsyncLoop

pytestmark = pytest.mark.integration

aloop = qtloop.aloop  # the fixture (GUI test at the end)

CIBA_EXPIRES_S = 3


class Preferences:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value


@pytest_asyncio.fixture
async def gateway(sandbox: Sandbox) -> AsyncIterator[HttpDmpGateway]:
    async with HttpDmpGateway(sandbox.url) as client:
        yield client


@pytest.fixture(scope="module")
def short_ciba(sandbox: Sandbox, sandbox_dir: Path) -> Iterator[str]:
    """A second server on the same data, whose e-CPS requests expire after 3 s."""
    with SandboxProcess(sandbox_dir, extra_args=("--ciba-expires", str(CIBA_EXPIRES_S))) as p:
        yield p.url


async def phone_request(
    phone: SandboxEcpsPhone, pending: list[EcpsPending], timeout: float = 10.0
) -> EcpsPhoneRequest:
    """The request the console pushed, as the phone lists it (matched by its code)."""
    async with asyncio.timeout(timeout):
        while not pending:
            await asyncio.sleep(0.05)
        while True:
            for request in await phone.pending(pending[0].id_nat):
                if request.binding_message == pending[0].binding_message:
                    return request
            await asyncio.sleep(0.1)


def service_on(gateway: HttpDmpGateway, **options: Any) -> SessionService:
    return SessionService(FakeCardReader([]), gateway, preferences=Preferences(), **options)


@pytest.mark.asyncio
async def test_approved_on_the_phone(sandbox: Sandbox, gateway: HttpDmpGateway) -> None:
    gp = sandbox.persona("gp")
    phone = SandboxEcpsPhone(gateway)
    assert await phone.available()
    service = service_on(gateway)
    pending: list[EcpsPending] = []
    login_task = asyncio.ensure_future(service.login_with_ecps(gp["id_nat"], pending.append))
    request = await phone_request(phone, pending)
    assert request.id_nat == gp["id_nat"]
    assert 0 < request.expires_in_s <= 120
    assert pending[0].expires_at > datetime.now(UTC)
    assert service.state is SessionState.AUTHENTICATING
    await phone.answer(request, approve=True)

    login = await asyncio.wait_for(login_task, 15)
    assert login is not None
    assert login.id_nat == gp["id_nat"]
    assert login.profession == "10"
    assert service.state is SessionState.ACTIVE
    assert service.method is AuthMethod.ECPS
    assert service.recent_id_nats() == [gp["id_nat"]]
    left = await phone.pending(gp["id_nat"])
    assert all(r.binding_message != request.binding_message for r in left)
    # The token works: the DMP knows who she is.
    with sandbox.client(login.token) as client:
        who = client.get("/auth/whoami").json()
    assert (who["id_nat"], who["token_kind"]) == (gp["id_nat"], "professional")
    await service.aclose()


@pytest.mark.asyncio
async def test_the_session_is_refreshed_without_the_phone_and_the_old_refresh_token_refused(
    sandbox: Sandbox, gateway: HttpDmpGateway
) -> None:
    gp = sandbox.persona("gp")
    phone = SandboxEcpsPhone(gateway)
    # Renew 2 s after each token is issued: the margin is its lifetime less 2 s.
    lifetime = timedelta(seconds=SandboxSettings().professional_token_ttl_s)
    service = service_on(gateway, refresh_margin=lifetime - timedelta(seconds=2))
    pending: list[EcpsPending] = []
    login_task = asyncio.ensure_future(service.login_with_ecps(gp["id_nat"], pending.append))
    await phone.answer(await phone_request(phone, pending), approve=True)
    first = await asyncio.wait_for(login_task, 15)
    assert first is not None and first.refresh_token
    ringing = [r.auth_req_id for r in await phone.pending(gp["id_nat"])]
    async with asyncio.timeout(15):
        while service.login is first:
            await asyncio.sleep(0.05)
    renewed = service.login
    assert renewed is not None
    assert service.state is SessionState.ACTIVE
    assert renewed.id_nat == gp["id_nat"]
    assert renewed.token != first.token
    assert renewed.refresh_token not in (None, first.refresh_token)
    assert renewed.expires_at > first.expires_at
    # The phone did not ring again.
    assert [r.auth_req_id for r in await phone.pending(gp["id_nat"])] == ringing
    await service.aclose()

    # The new token works for an API call.
    ins = INS(sandbox.patients["ins_system"], sandbox.patients["chronic"])
    record = await gateway.find_patient(renewed, ins)
    assert record is not None and record.ins.value == ins.value
    # The used refresh token is refused, and its replay ends the whole session.
    with pytest.raises(EcpsRefreshRefusedError, match="téléphone"):
        await gateway.refresh_ecps(first)
    with pytest.raises(AuthenticationError) as revoked:
        await gateway.find_patient(renewed, ins)
    assert revoked.value.reason == "revoked_token"


@pytest.mark.asyncio
async def test_refused_on_the_phone(sandbox: Sandbox, gateway: HttpDmpGateway) -> None:
    nurse = sandbox.persona("nurse")
    phone = SandboxEcpsPhone(gateway)
    service = service_on(gateway)
    pending: list[EcpsPending] = []
    login_task = asyncio.ensure_future(service.login_with_ecps(nurse["id_nat"], pending.append))
    await phone.answer(await phone_request(phone, pending), approve=False)
    with pytest.raises(EcpsRefusedError):
        await asyncio.wait_for(login_task, 15)
    assert service.state is SessionState.LOGGED_OUT
    assert service.login is None
    assert service.recent_id_nats() == []


@pytest.mark.asyncio
async def test_expiry_without_an_answer(sandbox: Sandbox, short_ciba: str) -> None:
    async with HttpDmpGateway(short_ciba) as gateway:
        service = service_on(gateway)
        pending: list[EcpsPending] = []
        started = asyncio.get_running_loop().time()
        with pytest.raises(EcpsExpiredError):
            await asyncio.wait_for(
                service.login_with_ecps(sandbox.persona("gp")["id_nat"], pending.append), 15
            )
        elapsed = asyncio.get_running_loop().time() - started
        assert CIBA_EXPIRES_S <= elapsed < CIBA_EXPIRES_S + 5
        assert service.state is SessionState.LOGGED_OUT
        left = await SandboxEcpsPhone(gateway).pending(pending[0].id_nat)
        assert all(r.binding_message != pending[0].binding_message for r in left)


@pytest.mark.asyncio
async def test_the_client_maps_pending_and_slow_down(
    sandbox: Sandbox, gateway: HttpDmpGateway
) -> None:
    request = await gateway.start_ecps(sandbox.persona("gp")["id_nat"], "TEST")
    assert request.interval_s == 2
    assert await gateway.poll_ecps(request) is EcpsPollStatus.PENDING
    assert await gateway.poll_ecps(request) is EcpsPollStatus.SLOW_DOWN  # too soon
    with pytest.raises(EcpsUnknownIdentifierError):
        await gateway.start_ecps("899799999999", "TEST")
    phone = SandboxEcpsPhone(gateway)
    (left,) = [r for r in await phone.pending(request.id_nat) if r.binding_message == "TEST"]
    await phone.answer(left, approve=False)
    with pytest.raises(EcpsRefusedError):
        await gateway.poll_ecps(request)


def test_the_console_builds_the_sandbox_phone_from_its_gateway(sandbox: Sandbox) -> None:
    gateway = LazyAdapter(lambda: cast("DmpGateway", HttpDmpGateway(sandbox.url)))
    phone = console_app._sandbox_phone(gateway)
    assert isinstance(phone, SandboxEcpsPhone)
    assert gateway.loaded
    with pytest.raises(TypeError):
        console_app._sandbox_phone(LazyAdapter(lambda: cast("DmpGateway", object())))


@pytest.mark.gui
@pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints", "This plugin does not support raise"
)
def test_the_console_shows_the_phone_and_logs_in_once_approved(
    sandbox: Sandbox, qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path
) -> None:
    """The console on the sandbox: the phone window comes by itself, its "Accepter" logs in."""
    gp = sandbox.persona("gp")
    gateway = HttpDmpGateway(sandbox.url)
    settings = Settings(server_url=sandbox.url, config_dir=tmp_path, data_dir=tmp_path)
    console = ConsoleApp(
        settings,
        reader=FakeCardReader([]),
        gateway=gateway,
        phone=SandboxEcpsPhone(gateway),  # demo_phone=None: shown because it is the sandbox
    )
    qtbot.addWidget(console.window)

    async def start() -> None:
        console.start()
        await console.wait_started()

    aloop.run(start())
    window = console.window
    try:
        page = window.login_page
        page.set_ecps_id_nat(gp["id_nat"])
        page.ecps_button.click()
        aloop.wait_until(
            lambda: console.phone_window is not None and console.phone_window.request is not None
        )
        phone = console.phone_window
        assert phone is not None and phone.isVisible()
        dialog = page.ecps_dialog
        assert dialog is not None
        assert phone.binding_label.text() == dialog.binding_message
        phone.approve_button.click()
        aloop.wait_until(lambda: window.notice_dialog is not None, timeout=15)
        notice = window.notice_dialog
        assert notice is not None
        notice.understood_button.click()
        aloop.wait_until(lambda: window.current_page() is window.search_page)
        assert console.session.method is AuthMethod.ECPS
        assert window.user_label.text().endswith("— e-CPS")
        assert page.ecps_dialog is None
    finally:
        window.close()
        aloop.run(console.aclose(), timeout=20)
    assert console.phone_window is None
