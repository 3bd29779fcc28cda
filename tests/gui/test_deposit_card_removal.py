"""Card removed while a deposit is on the wire (issue 8, item 4), with the real pieces: the
console wired by ``ConsoleApp`` over the FakeCardReader, the real encrypted cache (SQLCipher
file opened with the card by the app's login listener, closed by its lock listener), the app's
own ``DepositService`` and outbox, and the app's flush after the login. Only the DMP is a fake
(``tests/deposit_fakes.FakeDmp``, idempotent on the masterIdentifier as the sandbox is) that
holds each request in flight until the test lets the network answer.

The deposit stays queued in the encrypted outbox (left ``sending``, back to pending when the
same card opens the cache again), nothing is sent while locked, and the app's flush after the
PIN sends it again: the DMP keeps one document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from pytestqt.qtbot import QtBot

from console.app import ConsoleApp
from console.cache.outbox import OutboxState
from console.config import Settings
from console.domain.deposit import DepositDraft, DepositReceipt, ItemStatus
from console.domain.dossier import AccessGrant, ProfessionalLogin
from console.domain.models import Actor, DocumentMeta
from console.domain.session import SessionState
from console.services.cache import CacheService
from console.services.deposit import DepositOutcome
from console.smartcard.fake import FakeCardReader, FakeToken
from tests.deposit_fakes import NIR, FakeDmp, make_pdf, master_of
from tests.gui.conftest import AsyncLoop
from tests.gui.test_login import FakeGateway
from tests.gui.test_main_window import (
    GP_PIN,
    T0,
    FakeDossierView,
    FakeSearchWidget,
    Harness,
    acknowledge_notice,
    log_in,
)
from tests.qtloop import LiveLoop

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


class HeldDmp(FakeDmp):
    """FakeDmp whose requests wait for ``gate`` (the network) before they are handled."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.arrived: list[tuple[str, str, bytes]] = []  # (master, token, bundle)

    async def deposit(self, auth: ProfessionalLogin | AccessGrant, bundle: bytes) -> DepositReceipt:
        self.arrived.append((master_of(bundle), auth.token, bundle))
        await self.gate.wait()
        return await super().deposit(auth, bundle)


class DepositingGateway(FakeGateway):
    """The login fake of the GUI tests, depositing to a :class:`HeldDmp`."""

    def __init__(self) -> None:
        super().__init__()
        self.dmp = HeldDmp()

    async def deposit(self, auth: ProfessionalLogin | AccessGrant, bundle: bytes) -> DepositReceipt:
        return await self.dmp.deposit(auth, bundle)

    async def patch_document(self, auth: Any, doc_id: str, ops: Any) -> DocumentMeta:
        return await self.dmp.patch_document(auth, doc_id, ops)

    async def whoami_actor(self, login: ProfessionalLogin) -> Actor:
        return await self.dmp.whoami_actor(login)


def no_keyring() -> tuple[None, str]:
    return None, "no backend (test)"


def draft() -> DepositDraft:
    return DepositDraft(NIR, "11488-4", "Consultation", date.today() - timedelta(days=1))


@pytest.fixture
def aloop(aloop: AsyncLoop) -> Iterator[LiveLoop]:
    """Real cache and deposit I/O between steps: the loop stays registered as running, as in
    the app (see tests.qtloop.LiveLoop)."""
    loop = LiveLoop(aloop.loop)
    try:
        yield loop
    finally:
        loop.release()


def wired_with_cache(
    qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path, gateway: FakeGateway
) -> Iterator[Harness]:
    """The console over `gateway` with the real encrypted cache (``make_harness`` has none)."""
    gp = FakeToken(pin=GP_PIN)
    reader = FakeCardReader([gp])
    settings = Settings(card_poll_interval_s=0.1, config_dir=tmp_path, data_dir=tmp_path)
    console = ConsoleApp(
        settings,
        reader=reader,
        gateway=gateway,
        search_factory=FakeSearchWidget,
        dossier_factory=FakeDossierView,
        clock=lambda: T0,
        cache=CacheService(tmp_path / "cache", keyring=no_keyring),
    )
    qtbot.addWidget(console.window)

    async def start() -> None:
        console.start()
        await console.wait_started()

    aloop.run(start())
    try:
        yield Harness(console, reader, gateway, gp, [T0])
    finally:
        aloop.run(console.aclose())


@pytest.fixture
def wired(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path) -> Iterator[Harness]:
    yield from wired_with_cache(qtbot, aloop, tmp_path, DepositingGateway())


def outbox(h: Harness, aloop: AsyncLoop) -> list[tuple[str, OutboxState, bytes | None, int]]:
    cache = h.console.cache
    assert cache is not None
    items = aloop.run(cache.outbox_items())
    return [(i.master_id, i.state, i.payload, i.attempts) for i in items]


@pytest.mark.parametrize("late", ["answered", "dropped"])
def test_card_removed_during_a_deposit_keeps_it_queued_then_the_dmp_stores_it_once(
    wired: Harness,
    aloop: AsyncLoop,
    qtbot: QtBot,
    caplog: pytest.LogCaptureFixture,
    late: Literal["answered", "dropped"],
) -> None:
    caplog.set_level(logging.INFO, logger="console")
    console, window, session = wired.console, wired.window, wired.console.session
    cache = console.cache
    assert cache is not None
    gateway = wired.gateway
    assert isinstance(gateway, DepositingGateway)
    dmp = gateway.dmp
    if late == "dropped":
        dmp.default = ["net"]  # the held request ends without an answer, nothing stored

    def flushes() -> list[str]:
        return [r.getMessage() for r in caplog.records if "outbox flushed" in r.getMessage()]

    log_in(wired, aloop, qtbot)
    # Opened by the app's login listener, with the card. Waited for before any click: Qt
    # events processed outside ``aloop.run`` would step the opening without a running loop.
    aloop.wait_until(lambda: cache.is_open)
    aloop.wait_until(lambda: len(flushes()) == 1)  # the app's flush after login: nothing waits
    acknowledge_notice(wired, aloop)
    first_login = session.login
    assert first_login is not None and console.deposits.queue().persistent

    pdf = aloop.run(console.deposits.load_bytes("cr.pdf", make_pdf("compte rendu")))
    task: asyncio.Task[DepositOutcome] = aloop.loop.create_task(
        console.deposits.deposit(first_login, pdf, draft())
    )
    aloop.wait_until(lambda: len(dmp.arrived) == 1)  # on the wire, held by the DMP
    master, _token, bundle = dmp.arrived[0]
    assert outbox(wired, aloop) == [(master, OutboxState.SENDING, bundle, 1)]

    wired.reader.remove(wired.gp)
    aloop.wait_until(lambda: window.current_page() is window.lock_page, timeout=2.0)
    assert (session.state, session.login) == (SessionState.LOCKED, None)
    assert (
        not cache.is_open and not console.deposits.queue().persistent
    )  # closed by the lock listener

    dmp.gate.set()  # the network answers (or gives up) now: after the lock
    aloop.wait_until(task.done)
    outcome = task.result()
    assert outcome.master_id == master
    assert outcome.status is ItemStatus.RETRY_WAIT and outcome.receipt is None
    assert outcome.persistent  # kept in the encrypted outbox, not in memory
    assert aloop.run(console.deposits.queue().entries()) == []  # nothing in the memory queue
    aloop.spin(0.3)
    assert [m for m, _t, _b in dmp.arrived] == [master]  # nothing sent while locked
    assert list(dmp.stored) == ([master] if late == "answered" else [])

    dmp.gate = asyncio.Event()  # hold the next request too
    wired.reader.insert(wired.gp)
    aloop.wait_until(lambda: window.lock_page.model.rowCount() == 1)
    log_in(wired, aloop, qtbot)
    aloop.wait_until(lambda: session.state is SessionState.ACTIVE and cache.is_open)
    login = session.login
    assert login is not None and login.id_nat == first_login.id_nat

    # The app's flush after the PIN sends it again: the same item, the same bytes (the
    # outbox put it back to pending at the reopening, then claimed it again).
    aloop.wait_until(lambda: len(dmp.arrived) == 2)
    assert outbox(wired, aloop) == [(master, OutboxState.SENDING, bundle, 2)]
    assert aloop.run(console.deposits.pending_count()) == 1
    assert dmp.arrived[1] == (master, login.token, bundle)

    dmp.gate.set()
    aloop.wait_until(lambda: len(flushes()) == 2)
    assert flushes()[-1] == "outbox flushed: done, 1 sent"
    assert len(dmp.stored) == 1 and list(dmp.stored) == [master]  # one document on the DMP
    assert len({m for m, _t, _b in dmp.arrived}) == 1
    assert len(dmp.arrived) == 2  # once before the removal, once after the PIN
    (item,) = aloop.run(cache.outbox_items())
    assert item.master_id == master and item.state is OutboxState.SENT
    assert item.server_id == dmp.stored[master]
    assert aloop.run(console.deposits.pending_count()) == 0
