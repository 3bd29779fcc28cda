"""The main window wired by ``console.app.ConsoleApp`` with the FakeCardReader.

The patient search and dossier widgets are small stand-ins here (their own tests cover them):
what matters is that the window empties them at once when the session locks.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QStringListModel, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from console import app as console_app
from console.app import ConsoleApp, choose_pkcs11_module, settings_from_args
from console.config import Settings, default_pkcs11_module
from console.domain.card import CardIdentity
from console.domain.dossier import AccessGrant, DocumentPage, PatientRecord
from console.domain.errors import CardMiddlewareError, ConsoleError
from console.domain.ins import INS, nir_key
from console.domain.models import AccessMode, DocumentMeta
from console.domain.session import LockReason, SessionState
from console.services.dossier import DossierService, OpenDossier
from console.smartcard.fake import FakeCardReader, FakeToken
from console.smartcard.modules import find_softhsm_module
from console.views import tasks
from console.views.login import LoginPage
from tests.gui.conftest import AsyncLoop
from tests.gui.test_login import FakeGateway

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

GP_PIN = "1234"
NURSE_PIN = "4567"
NURSE = CardIdentity(
    id_nat="899700000045",
    family_name="PETIT",
    given_name="Julie",
    profession_label="Infirmier",
    card_kind="CPS",
)
T0 = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)


class FakeSearchWidget(QWidget):
    """Stands for ``PatientSearchWidget``: an INS field and the patient found."""

    dossierOpened = Signal(object)

    def __init__(self, dossier_service: DossierService) -> None:
        super().__init__()
        self.dossier_service = dossier_service
        self.ins_edit = QLineEdit()
        self.found_label = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.ins_edit)
        layout.addWidget(self.found_label)

    def clear(self) -> None:
        self.ins_edit.clear()
        self.found_label.clear()

    def focus_search(self) -> None:
        self.ins_edit.setFocus()

    def open(self, open_dossier: OpenDossier) -> None:
        self.ins_edit.setText(open_dossier.patient.ins.value)
        self.found_label.setText(open_dossier.patient.display_name)
        self.dossierOpened.emit(open_dossier)


class FakeDossierView(QWidget):
    """Stands for ``DossierView``: a patient header and a list of document titles."""

    closeRequested = Signal()

    def __init__(self, dossier_service: DossierService) -> None:
        super().__init__()
        self.dossier_service = dossier_service
        self.header = QLabel()
        self.model = QStringListModel(self)
        self.list = QListView()
        self.list.setModel(self.model)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.list)

    def show_dossier(self, open_dossier: OpenDossier) -> None:
        self.header.setText(open_dossier.patient.display_name)
        self.model.setStringList([d.title for d in open_dossier.documents.values()])

    def clear(self) -> None:
        self.header.clear()
        self.model.setStringList([])


def make_open_dossier() -> OpenDossier:
    body = "1800175123456"
    nir = f"{body}{nir_key(body):02d}"
    patient = PatientRecord(INS.parse(nir), "DUPONT", "Jean", date(1980, 1, 17), "male")
    grant = AccessGrant(
        patient, AccessMode.NORMAL, "grant-token", datetime.now(UTC) + timedelta(hours=1)
    )
    dossier = OpenDossier(grant)
    for number in (1, 2):
        dossier.documents[f"doc-{number}"] = DocumentMeta(
            id=f"doc-{number}",
            master_id=f"master-{number}",
            patient_ins=nir,
            type_code="11490-0",
            class_code="11",
            title=f"Compte rendu de consultation {number}",
            author_id_nat="899700000011",
            created=datetime(2024, 5, number, tzinfo=UTC),
            deposited=datetime(2024, 5, number, tzinfo=UTC),
        )
    return dossier


@dataclass
class Harness:
    console: ConsoleApp
    reader: FakeCardReader
    gateway: FakeGateway
    gp: FakeToken
    now: list[datetime]

    @property
    def window(self):  # type: ignore[no-untyped-def]
        return self.console.window

    @property
    def search(self) -> FakeSearchWidget:
        page = self.console.window.search_page
        assert isinstance(page, FakeSearchWidget)
        return page

    @property
    def dossier(self) -> FakeDossierView:
        page = self.console.window.dossier_page
        assert isinstance(page, FakeDossierView)
        return page


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def make_harness(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path) -> Iterator[HarnessFactory]:
    made: list[Harness] = []

    def make(
        poll_interval_s: float = 0.1, idle_lock_minutes: int = 10, **console_kwargs: Any
    ) -> Harness:
        gp = FakeToken(pin=GP_PIN)
        reader = FakeCardReader([gp])
        gateway = FakeGateway()
        now = [T0]
        settings = Settings(
            card_poll_interval_s=poll_interval_s,
            idle_lock_minutes=idle_lock_minutes,
            config_dir=tmp_path,
            data_dir=tmp_path,
        )
        # No offline cache here (tests/integration/test_offline.py covers it with real
        # cards): its worker thread would need asyncio's running loop, which the test loop
        # only provides while it runs.
        console_kwargs.setdefault("cache", None)
        console = ConsoleApp(
            settings,
            reader=reader,
            gateway=gateway,  # type: ignore[arg-type]
            search_factory=FakeSearchWidget,
            dossier_factory=FakeDossierView,
            clock=lambda: now[0],
            **console_kwargs,
        )
        qtbot.addWidget(console.window)

        async def start() -> None:  # the card monitor needs the running loop
            console.start()
            await console.wait_started()
            assert console.started

        aloop.run(start())
        harness = Harness(console, reader, gateway, gp, now)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        aloop.run(harness.console.aclose())


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    return make_harness()


def log_in(
    h: Harness,
    aloop: AsyncLoop,
    qtbot: QtBot,
    pin: str = GP_PIN,
    card: FakeToken | None = None,
) -> None:
    """Choose the card on the page shown, type the PIN, validate."""
    page = h.window.current_page()
    assert isinstance(page, LoginPage)
    wanted = card or h.gp
    aloop.wait_until(lambda: page.model.row_of(wanted.key) >= 0 and not page.refreshing)
    assert page.select_card(wanted.key)
    page.login_button.click()
    aloop.wait_until(lambda: page.pin_dialog is not None and page.pin_dialog.isVisible())
    dialog = page.pin_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.pin_edit, pin)
    dialog.ok_button.click()
    aloop.wait_until(lambda: not page.busy)


def acknowledge_notice(h: Harness, aloop: AsyncLoop) -> None:
    aloop.wait_until(lambda: h.window.notice_dialog is not None)
    dialog = h.window.notice_dialog
    assert dialog is not None
    assert dialog.isVisible()
    dialog.understood_button.click()
    aloop.wait_until(lambda: h.window.current_page() is h.window.search_page)


def log_in_to_search(h: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    log_in(h, aloop, qtbot)
    acknowledge_notice(h, aloop)


def patient_data_shown(h: Harness) -> list[str]:
    """Every trace of the patient in the stand-in views."""
    shown = [h.search.ins_edit.text(), h.search.found_label.text(), h.dossier.header.text()]
    shown.extend(h.dossier.model.stringList())
    return [text for text in shown if text]


# -- login, notice, status --------------------------------------------------------------------


def test_window_starts_on_the_login_page(harness: Harness, aloop: AsyncLoop) -> None:
    window = harness.window
    assert window.windowTitle() == "Console DMP"
    assert window.current_page() is window.login_page
    aloop.wait_until(lambda: window.login_page.model.rowCount() == 1)
    aloop.wait_until(lambda: window.card_label.text() == "Carte présente")
    assert window.user_label.text() == "Non connecté"
    assert window.server_label.text() == "Serveur : 127.0.0.1:8470"
    assert not window.search_action.isEnabled()
    assert not window.lock_action.isEnabled()


def test_the_reader_status_comes_back_when_polling_works_again(
    harness: Harness, aloop: AsyncLoop
) -> None:
    """A poll that timed out once (the GUI thread was frozen) left 'Lecteur de cartes
    indisponible' on screen for good although the reader was fine (issue 17)."""
    window = harness.window
    aloop.wait_until(lambda: window.card_label.text() == "Carte présente")
    harness.reader.fail_next(CardMiddlewareError("lent"), operation="tokens", times=1)
    aloop.wait_until(lambda: window.card_label.text() == "Lecteur de cartes indisponible")
    aloop.wait_until(lambda: window.card_label.text() == "Carte présente")
    assert window.card_label.toolTip() == ""


def test_first_login_shows_the_notice_then_the_search(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: harness.window.notice_dialog is not None)
    dialog = harness.window.notice_dialog
    assert dialog is not None
    assert "tracé" in dialog.text_label.text()
    assert dialog.text_label.textFormat() is Qt.TextFormat.PlainText
    assert harness.window.current_page() is harness.window.login_page
    assert not harness.window.search_action.isEnabled()  # nothing before "J'ai compris"

    acknowledge_notice(harness, aloop)
    window = harness.window
    assert window.user_label.text() == "Claire MARTIN — Médecin"
    assert window.card_label.text() == "Carte présente"
    assert window.search_action.isEnabled()
    assert window.lock_action.isEnabled()


def test_notice_again_only_after_180_days(harness: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    window = harness.window
    log_in_to_search(harness, aloop, qtbot)

    window.logout()
    aloop.wait_until(lambda: window.current_page() is window.login_page)
    harness.now[0] = T0 + timedelta(days=179)
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.current_page() is window.search_page)
    aloop.spin(0.1)
    assert window.notice_dialog is None

    window.logout()
    aloop.wait_until(lambda: window.current_page() is window.login_page)
    harness.now[0] = T0 + timedelta(days=181)
    log_in(harness, aloop, qtbot)
    acknowledge_notice(harness, aloop)


def test_declining_the_notice_logs_out(harness: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: harness.window.notice_dialog is not None)
    dialog = harness.window.notice_dialog
    assert dialog is not None
    dialog.decline_button.click()
    session = harness.console.session
    aloop.wait_until(lambda: session.state is SessionState.LOGGED_OUT)
    assert harness.window.current_page() is harness.window.login_page
    assert "traçabilité" in harness.window.login_page.message()
    # Not acknowledged: asked again at the next login.
    log_in(harness, aloop, qtbot)
    acknowledge_notice(harness, aloop)


# -- lock on card removal ---------------------------------------------------------------------


def test_card_removal_empties_every_view_within_2_s(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness = make_harness(poll_interval_s=1.0)  # the console's default polling
    window = harness.window
    log_in_to_search(harness, aloop, qtbot)
    dossier = make_open_dossier()
    harness.search.open(dossier)
    assert window.current_page() is window.dossier_page
    assert "DUPONT Jean" in patient_data_shown(harness)
    assert harness.dossier.model.rowCount() == 2
    assert window.close_patient_action.isEnabled()

    harness.reader.remove(harness.gp)
    aloop.wait_until(
        lambda: window.current_page() is window.lock_page and not patient_data_shown(harness),
        timeout=2.0,
    )
    assert harness.console.session.state is SessionState.LOCKED
    assert harness.dossier.model.rowCount() == 0
    assert window.open_dossier is None
    assert dossier.documents == {}
    assert window.card_label.text() == "Verrouillé"
    assert "Claire MARTIN" in window.lock_page.explanation_label.text()
    assert "retirée" in window.lock_page.explanation_label.text()
    assert harness.console.session.login is None
    aloop.wait_until(lambda: "end_access:session_locked" in harness.gateway.calls)


def test_same_card_back_and_pin_resumes(harness: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    window = harness.window
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    harness.reader.remove(harness.gp)
    aloop.wait_until(lambda: window.current_page() is window.lock_page)

    harness.reader.insert(harness.gp)
    aloop.wait_until(lambda: window.lock_page.model.rowCount() == 1)
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.current_page() is window.search_page)
    assert session.state is SessionState.ACTIVE
    assert session.identity is not None
    assert session.identity.id_nat == harness.gp.identity.id_nat
    assert window.notice_dialog is None
    assert harness.gateway.calls.count("login") == 2
    assert window.card_label.text() == "Carte présente"


def test_another_card_closes_the_previous_session(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = harness.window
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    harness.search.open(make_open_dossier())
    harness.reader.remove(harness.gp)
    aloop.wait_until(lambda: window.current_page() is window.lock_page)

    nurse = FakeToken(NURSE, pin=NURSE_PIN, slot_id=2)
    harness.reader.insert(nurse)
    aloop.wait_until(lambda: window.lock_page.model.row_of(nurse.key) >= 0)
    log_in(harness, aloop, qtbot, pin=NURSE_PIN, card=nurse)
    acknowledge_notice(harness, aloop)  # a new professional: her own notice
    assert session.identity is not None
    assert session.identity.id_nat == NURSE.id_nat
    assert window.user_label.text() == "Julie PETIT — Infirmier"
    assert not patient_data_shown(harness)
    assert window.open_dossier is None


def test_removal_during_the_notice_asks_it_again_after_resume(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = harness.window
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.notice_dialog is not None)
    harness.reader.remove(harness.gp)
    aloop.wait_until(lambda: window.current_page() is window.lock_page)
    assert window.notice_dialog is None
    assert harness.console.session.state is SessionState.LOCKED

    harness.reader.insert(harness.gp)
    aloop.wait_until(lambda: window.lock_page.model.rowCount() == 1)
    log_in(harness, aloop, qtbot)
    acknowledge_notice(harness, aloop)


def test_unlock_page_can_end_the_session(harness: Harness, aloop: AsyncLoop, qtbot: QtBot) -> None:
    window = harness.window
    log_in_to_search(harness, aloop, qtbot)
    window.lock_action.trigger()
    assert window.current_page() is window.lock_page
    assert harness.console.session.machine.lock_reason is LockReason.USER
    assert window.lock_page.logout_button.isVisible()
    window.lock_page.logout_button.click()
    aloop.wait_until(lambda: window.current_page() is window.login_page)
    assert harness.console.session.state is SessionState.LOGGED_OUT
    assert window.user_label.text() == "Non connecté"


def test_the_access_mode_of_the_open_patient_follows_the_window(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    machine = harness.console.session.machine
    log_in_to_search(harness, aloop, qtbot)
    harness.search.open(make_open_dossier())
    assert machine.patient_mode is AccessMode.NORMAL
    harness.window.close_patient()
    assert machine.patient_mode is None
    harness.search.open(make_open_dossier())
    harness.window.lock()
    assert machine.patient_mode is None
    assert machine.state is SessionState.LOCKED


def test_removal_during_the_pin_on_the_unlock_page_stays_locked(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = harness.window
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    window.lock()
    page = window.lock_page
    aloop.wait_until(lambda: page.model.row_of(harness.gp.key) >= 0 and not page.refreshing)
    page.select_card(harness.gp.key)
    page.login_button.click()
    aloop.wait_until(lambda: page.pin_dialog is not None and page.pin_dialog.isVisible())
    harness.reader.remove(harness.gp)  # the monitor sees it within its poll
    aloop.wait_until(lambda: not page.busy, timeout=3.0)
    assert page.pin_dialog is None
    assert "retirée" in page.message()
    assert session.state is SessionState.LOCKED
    assert window.current_page() is page
    assert session.login is None
    assert harness.reader.login_attempts() == 1  # the first login only: nothing tried


def test_removal_during_the_signature_on_the_unlock_page_stays_locked(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = harness.window
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    window.lock()
    harness.reader.remove_during_next_sign(harness.gp)
    log_in(harness, aloop, qtbot)
    assert "retirée" in window.lock_page.message()
    assert session.state is SessionState.LOCKED
    assert session.login is None
    assert window.current_page() is window.lock_page
    assert not patient_data_shown(harness)


def test_lock_closes_every_dialog_of_the_application(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    log_in_to_search(harness, aloop, qtbot)
    child = QMessageBox(
        QMessageBox.Icon.Question, "Masquer", "DUPONT Jean ?", parent=harness.window
    )
    child.open()  # window-modal
    loose = QDialog()  # a dialog without parent (another top-level window)
    qtbot.addWidget(loose)
    loose.setModal(True)
    loose.show()
    assert child.isVisible() and loose.isVisible()
    harness.window.lock()
    assert not child.isVisible()
    assert not loose.isVisible()
    assert loose.result() == QDialog.DialogCode.Rejected.value


# -- patient pages and shortcuts --------------------------------------------------------------


def test_keyboard_shortcuts(harness: Harness) -> None:
    window = harness.window

    def keys(action_name: str) -> list[str]:
        action = getattr(window, action_name)
        return [s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()]

    assert keys("lock_action") == ["Ctrl+L"]
    assert keys("quit_action") == ["Ctrl+Q"]
    assert keys("search_action") == ["Ctrl+O"]  # Ctrl+F is the dossier view's filter
    assert keys("refresh_cards_action") == ["F5"]
    assert keys("close_patient_action") == ["Ctrl+W"]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&Session", "&Patient", "&Cartes"]
    every = [key for action in window.actions() for key in action.shortcuts()]
    assert QKeySequence("Ctrl+F") not in every


def test_ctrl_l_locks_and_ctrl_w_closes_the_patient(
    harness: Harness, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    window = harness.window
    log_in_to_search(harness, aloop, qtbot)
    window.activateWindow()
    aloop.wait_until(lambda: QApplication.activeWindow() is window)

    harness.search.open(make_open_dossier())
    assert window.current_page() is window.dossier_page
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.search_page
    assert window.open_dossier is None
    assert harness.dossier.header.text() == ""
    aloop.wait_until(lambda: "end_access:patient_closed" in harness.gateway.calls)

    harness.search.open(make_open_dossier())
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.dossier_page  # Ctrl+F: the dossier view's
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() is window.search_page  # Ctrl+O: another patient
    assert window.open_dossier is None

    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert harness.console.session.state is SessionState.LOCKED
    assert harness.console.session.machine.lock_reason is LockReason.USER
    assert window.current_page() is window.lock_page
    # Same card, still in the reader: the PIN resumes.
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.current_page() is window.search_page)


def test_errors_show_in_a_non_modal_box(harness: Harness, aloop: AsyncLoop) -> None:
    window = harness.window
    window.report_error(ConsoleError("Le serveur DMP est en maintenance."))
    aloop.wait_until(lambda: bool(window.findChildren(QMessageBox)))
    box = window.findChildren(QMessageBox)[0]
    assert box.isVisible()
    assert not box.isModal()
    assert box.text() == "Le serveur DMP est en maintenance."
    assert box.textFormat() is Qt.TextFormat.PlainText
    box.close()


def test_background_errors_are_logged_without_their_message_and_shown(
    harness: Harness,
    aloop: AsyncLoop,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(tasks, "error_handler", tasks.error_handler)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    console_app.install_error_handlers(harness.window)

    patient = "".join(["DUP", "ONT Jean"])  # not in the source lines a stack shows

    async def fails() -> None:
        raise ConsoleError(f"Patient {patient} introuvable")

    with caplog.at_level(logging.ERROR, logger="console"):
        tasks.spawn(fails())
        aloop.wait_until(lambda: bool(harness.window.findChildren(QMessageBox)))
    box = harness.window.findChildren(QMessageBox)[0]
    assert box.text() == "Patient DUPONT Jean introuvable"
    assert "ConsoleError" in caplog.text
    assert "DUPONT" not in caplog.text
    box.close()


# -- command line -----------------------------------------------------------------------------


def test_help_works_without_starting_qt() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "staff-console" in done.stdout
    assert "--sandbox-dir" in done.stdout


def test_sandbox_dir_points_at_its_softhsm_cards(tmp_path: Path) -> None:
    (tmp_path / "softhsm2.conf").write_text("directories.tokendir = tokens\n")
    args = console_app.build_parser().parse_args(
        ["--sandbox-dir", str(tmp_path), "--lang", "en", "--server", "http://127.0.0.1:9999/"]
    )
    environ: dict[str, str] = {}
    settings = settings_from_args(args, environ)
    assert environ["SOFTHSM2_CONF"] == str((tmp_path / "softhsm2.conf").resolve())
    assert settings.server_url == "http://127.0.0.1:9999"
    assert settings.language == "en"
    cryptolib = default_pkcs11_module()
    softhsm = find_softhsm_module()
    expected = softhsm if softhsm is not None and not cryptolib.exists() else cryptolib
    assert settings.pkcs11_module == expected


def test_module_choice() -> None:
    configured = Path("/opt/cards/libcustom.so")
    assert choose_pkcs11_module(configured, environ={"SOFTHSM2_CONF": "x"}) == configured
    assert choose_pkcs11_module(None, environ={}, platform="linux") == default_pkcs11_module(
        "linux"
    )


@pytest.mark.parametrize(
    "argv",
    [["--server", "127.0.0.1:8470"], ["--server", "ftp://dmp"], ["--sandbox-dir", "/nonexistent"]],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    args = console_app.build_parser().parse_args(argv)
    with pytest.raises(ValueError):
        settings_from_args(args, {})


def test_login_window_shows_before_the_heavy_modules_load(tmp_path: Path) -> None:
    """Until the first paint: no reportlab, QtPdf, python-pkcs11, httpx or cryptography."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        console_app.STARTUP_PROBE_ENV: "1",
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "console", "--pkcs11-module", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) > 0  # the paint time was printed
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "console.views.main_window" in imported
    heavy = {"reportlab", "PySide6.QtPdf", "pkcs11", "httpx", "cryptography"}
    assert not heavy & imported


def test_app_quit_closes_the_window_first(
    harness: Harness, aloop: AsyncLoop, qapp: QApplication
) -> None:
    """``app.quit()`` (session end...) goes through the window's close, which ends the run."""
    closed: list[bool] = []
    harness.window.closed.connect(lambda: closed.append(True))
    quit_filter = console_app._quit_closes_window(harness.window)
    qapp.installEventFilter(quit_filter)
    try:
        assert QApplication.sendEvent(qapp, QEvent(QEvent.Type.Quit))  # swallowed
        aloop.wait_until(lambda: bool(closed))
    finally:
        qapp.removeEventFilter(quit_filter)
    assert not harness.window.isVisible()


class DossierGateway(FakeGateway):
    """The fake gateway, plus the document search the real dossier view runs."""

    def __init__(self, documents: list[DocumentMeta]) -> None:
        super().__init__()
        self.documents = documents

    async def search_documents(
        self, grant: AccessGrant, query: object
    ) -> AsyncIterator[DocumentPage]:
        self.calls.append("search_documents")
        yield DocumentPage(tuple(self.documents), len(self.documents))


def test_lock_empties_the_real_search_and_dossier_widgets(
    qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path
) -> None:
    from console.views.dossier_view import DossierView
    from console.views.patient_search import PatientSearchWidget

    gp = FakeToken(pin=GP_PIN)
    reader = FakeCardReader([gp])
    dossier = make_open_dossier()
    gateway = DossierGateway(list(dossier.documents.values()))
    dossier.documents.clear()
    settings = Settings(card_poll_interval_s=1.0, config_dir=tmp_path, data_dir=tmp_path)
    console = ConsoleApp(
        settings,
        reader=reader,
        gateway=gateway,  # type: ignore[arg-type]
        cache=None,
    )
    window = console.window
    qtbot.addWidget(window)

    async def start() -> None:
        console.start()
        await console.wait_started()

    aloop.run(start())
    try:
        harness = Harness(console, reader, gateway, gp, [T0])
        log_in_to_search(harness, aloop, qtbot)
        search = window.search_page
        view = window.dossier_page
        assert isinstance(search, PatientSearchWidget)
        assert isinstance(view, DossierView)
        search.ins_edit.setText(dossier.patient.ins.value)
        search.dossierOpened.emit(dossier)
        aloop.wait_until(lambda: view.model.rowCount() == 2)
        assert window.current_page() is view
        assert "DUPONT" in view.name_label.text()

        reader.remove(gp)
        aloop.wait_until(lambda: window.current_page() is window.lock_page, timeout=2.0)
        assert view.model.rowCount() == 0
        assert view.name_label.text() == ""
        assert search.ins_edit.text() == ""
        assert search.patient is None
        assert dossier.documents == {}
    finally:
        aloop.run(console.aclose())
