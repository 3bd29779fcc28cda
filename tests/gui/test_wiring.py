"""``console.app`` wires the emergency mode, the access history and the offline status into
the window: the banner above every page, the end of a bris de glace closing the patient, card
removal and quitting ending it on the server, Ctrl+H, and ``staff-console journal``; and the
deposits: Ctrl+D for a professional with a record open, the secretary's batch page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from shiboken6 import isValid

from console import app as console_app
from console import journal_cli
from console.app import ConsoleApp
from console.config import Settings
from console.domain.dossier import AccessGrant, PatientRecord, ProfessionalLogin
from console.domain.emergency import AuditRecord, ProfessionalIdentity
from console.domain.models import AccessMode, Actor
from console.domain.rules import AccessRequest
from console.domain.session import SessionState
from console.services.dossier import OpenDossier
from console.smartcard.fake import FakeCardReader, FakeToken
from console.views.batch_deposit import BatchDepositView
from console.views.deposit_dialog import DepositDialog
from tests.deposit_fakes import GP, SECRETARY
from tests.gui.conftest import AsyncLoop
from tests.gui.test_login import FakeGateway
from tests.gui.test_main_window import (
    GP_PIN,
    T0,
    FakeDossierView,
    FakeSearchWidget,
    Harness,
    log_in,
    log_in_to_search,
    make_open_dossier,
)

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


class EmergencyGateway(FakeGateway):
    """The fake gateway, granting what is asked, with the traceability endpoints; its logins
    have the profession of `actor` (the directory's answer to ``whoami``)."""

    def __init__(self, actor: Actor = GP) -> None:
        super().__init__()
        self.actor = actor

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin:
        login = await super().login_with_card(certificate_der, nonce, signature, algorithm)
        return dataclasses.replace(login, profession=self.actor.profession)

    async def whoami_actor(self, login: ProfessionalLogin) -> Actor:
        self.calls.append("whoami_actor")
        return self.actor

    async def open_access(
        self, login: ProfessionalLogin, patient: PatientRecord, request: AccessRequest
    ) -> AccessGrant:
        self.calls.append(f"open_access:{request.mode.value}")
        return AccessGrant(
            patient,
            request.mode,
            f"grant-{len(self.calls)}",
            datetime.now(UTC) + timedelta(hours=1),
            episode_id=f"episode-{len(self.calls)}",
        )

    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity:
        return ProfessionalIdentity("899700000011", "Claire MARTIN", "10", "Médecin")

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = 1000, page_size: int = 200
    ) -> list[AuditRecord]:
        self.calls.append("audit_events")
        return []


def _wired(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path, actor: Actor = GP) -> Iterator[Harness]:
    gp = FakeToken(pin=GP_PIN)
    reader = FakeCardReader([gp])
    gateway = EmergencyGateway(actor)
    settings = Settings(card_poll_interval_s=0.1, config_dir=tmp_path, data_dir=tmp_path)
    console = ConsoleApp(
        settings,
        reader=reader,
        gateway=gateway,  # type: ignore[arg-type]
        search_factory=FakeSearchWidget,
        dossier_factory=FakeDossierView,
        clock=lambda: T0,
        cache=None,
    )
    qtbot.addWidget(console.window)

    async def start() -> None:
        console.start()
        await console.wait_started()

    aloop.run(start())
    yield Harness(console, reader, gateway, gp, [T0])
    aloop.run(console.aclose())


@pytest.fixture
def wired(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path) -> Iterator[Harness]:
    yield from _wired(qtbot, aloop, tmp_path)


@pytest.fixture
def secretary(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path) -> Iterator[Harness]:
    yield from _wired(qtbot, aloop, tmp_path, SECRETARY)


def open_in_bris_de_glace(h: Harness, aloop: AsyncLoop) -> OpenDossier:
    patient = make_open_dossier().patient
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, "URGENCE_VITALE", "Patient inconscient, pronostic engagé"
    )
    dossier = aloop.run(h.console.dossier_service.open(patient, request))
    h.search.open(dossier)
    return dossier


def test_one_banner_above_every_page(wired: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    window = wired.window
    banners = window.findChildren(type(window.banner))
    assert banners == [window.banner]
    assert not window.banner.isVisible()
    log_in_to_search(wired, aloop, qtbot)
    open_in_bris_de_glace(wired, aloop)
    assert wired.console.emergency.active is not None
    assert window.banner.active and window.banner.isVisible()
    assert window.current_page() is window.dossier_page
    window.search_patient()  # another page: the banner stays
    assert window.banner.isVisible()


def test_stopping_the_bris_de_glace_closes_the_patient(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = wired.window
    log_in_to_search(wired, aloop, qtbot)
    open_in_bris_de_glace(wired, aloop)
    assert window.open_dossier is not None
    wired.console.emergency.stop()
    assert window.open_dossier is None
    assert window.current_page() is window.search_page
    assert "nouveau motif" in window.statusBar().currentMessage()
    aloop.wait_until(lambda: "end_access:user" in wired.gateway.calls)
    assert wired.gateway.calls.count("end_access:user") == 1
    assert not [c for c in wired.gateway.calls if c == "end_access:patient_closed"]


def test_card_removal_ends_the_bris_de_glace(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    log_in_to_search(wired, aloop, qtbot)
    open_in_bris_de_glace(wired, aloop)
    wired.reader.remove(wired.gp)
    aloop.wait_until(lambda: wired.console.session.state is SessionState.LOCKED, timeout=2.0)
    assert wired.console.emergency.active is None
    assert not wired.window.banner.active
    aloop.wait_until(lambda: "end_access:card_removed" in wired.gateway.calls)


def test_quitting_ends_the_bris_de_glace_before_the_gateway_closes(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    log_in_to_search(wired, aloop, qtbot)
    open_in_bris_de_glace(wired, aloop)
    aloop.run(wired.console.aclose())
    calls = wired.gateway.calls
    assert "end_access:quit" in calls
    assert calls.index("end_access:quit") < calls.index("aclose")
    assert wired.console.emergency.active is None


def test_ctrl_h_shows_the_access_history_of_the_open_patient(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = wired.window
    log_in_to_search(wired, aloop, qtbot)
    assert not window.history_action.isEnabled()
    wired.search.open(make_open_dossier())
    assert window.history_action.isEnabled()
    assert window.history_action.shortcut().toString() == "Ctrl+H"
    window.history_action.trigger()
    dialog = window.history_dialog
    assert dialog is not None and dialog.isVisible()
    aloop.wait_until(lambda: "audit_events" in wired.gateway.calls)
    window.lock()
    aloop.wait_until(lambda: window.history_dialog is None)


def test_offline_status_says_when_it_last_synced(wired: Harness) -> None:
    window = wired.window
    window.show_connectivity(False, datetime(2025, 1, 10, 8, 30, tzinfo=UTC))
    text = window.offline_label.text()
    assert text.startswith("Hors ligne — dernière synchronisation : 10/01/2025")
    window.show_connectivity(True, None)
    assert window.offline_label.isHidden()


def test_the_window_opens_at_a_comfortable_size(wired: Harness) -> None:
    screen = QApplication.primaryScreen()
    assert screen is not None
    available = screen.availableGeometry()
    size = wired.window.size()
    assert size.width() >= min(1280, available.width())
    assert size.height() >= min(800, available.height())


def test_staff_console_journal_goes_to_the_journal_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake_main(argv: Any) -> int:
        seen.append(list(argv))
        return 3

    monkeypatch.setattr(journal_cli, "main", fake_main)
    assert console_app.main(["journal", "verify", "--help"]) == 3
    assert seen == [["verify", "--help"]]


# -- deposits ---------------------------------------------------------------------------------


def test_ctrl_d_opens_the_deposit_dialog_for_the_open_patient(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = wired.window
    log_in_to_search(wired, aloop, qtbot)
    assert window.deposit_action.shortcut().toString() == "Ctrl+D"
    assert not window.deposit_action.isEnabled()  # no record open
    window.deposit_action.trigger()
    assert window.deposit_dialog is None
    dossier = make_open_dossier()
    wired.search.open(dossier)
    assert window.deposit_action.isEnabled()
    window.activateWindow()
    aloop.wait_until(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    dialog = window.deposit_dialog
    assert isinstance(dialog, DepositDialog)
    assert dialog.isVisible()
    assert dialog.ins_edit.text() == dossier.patient.ins.value
    assert dialog.ins_edit.isReadOnly()
    dialog.deposited.emit(object())  # a deposit went through: the window says so
    assert window.statusBar().currentMessage() == "Document déposé"
    window.lock()  # the dialog closes with the patient
    aloop.wait_until(lambda: window.deposit_dialog is None)


def test_closing_the_patient_disables_the_deposit(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = wired.window
    log_in_to_search(wired, aloop, qtbot)
    wired.search.open(make_open_dossier())
    assert window.deposit_action.isEnabled()
    window.close_patient()
    assert not window.deposit_action.isEnabled()


def test_a_secretary_gets_the_batch_page_instead_of_the_search(
    secretary: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = secretary.window
    log_in(secretary, aloop, qtbot)
    aloop.wait_until(lambda: window.notice_dialog is not None)
    dialog = window.notice_dialog
    assert dialog is not None
    dialog.understood_button.click()
    aloop.wait_until(lambda: window.batch_page is not None)
    page = window.batch_page
    assert isinstance(page, BatchDepositView)
    assert window.current_page() is page
    assert window.current_page() is not window.search_page
    aloop.wait_until(lambda: "MERCIER" in page.depositor_label.text())
    assert "whoami_actor" in secretary.gateway.calls
    for action in (
        window.search_action,
        window.close_patient_action,
        window.history_action,
        window.deposit_action,
    ):
        assert not action.isEnabled()
    window.search_patient()  # Ctrl+O does nothing for her
    assert window.current_page() is page


def test_lock_drops_the_batch_page(secretary: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    window = secretary.window
    log_in(secretary, aloop, qtbot)
    aloop.wait_until(lambda: window.notice_dialog is not None)
    dialog = window.notice_dialog
    assert dialog is not None
    dialog.understood_button.click()
    aloop.wait_until(lambda: window.batch_page is not None)
    page = window.batch_page
    assert page is not None
    aloop.wait_until(lambda: not page.busy)
    window.lock()
    assert window.batch_page is None
    assert window.current_page() is window.lock_page
    assert window.stack.indexOf(page) == -1
    aloop.wait_until(lambda: not isValid(page))
