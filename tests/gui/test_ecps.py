"""e-CPS login through the window: the waiting dialog, the demo phone, lock and resume.

The DMP is :class:`FakeGateway` (its CIBA requests) and the phone :class:`FakePhone`; the
same flows run against the real sandbox in ``tests/integration/test_ecps.py``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.domain.session import AuthMethod, EcpsPending, LockReason, SessionState
from console.services.session import RECENT_KEY
from console.views.ecps import EcpsWaitDialog, PhoneWindow, format_remaining
from console.views.login import LoginPage
from tests.gui.conftest import AsyncLoop
from tests.gui.test_login import FakeGateway, FakePhone
from tests.gui.test_main_window import (
    GP_PIN,
    Harness,
    HarnessFactory,
    acknowledge_notice,
    log_in,
    make_harness,
    make_open_dossier,
    patient_data_shown,
)

__all__ = ["make_harness"]  # the fixture, used here

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints", "This plugin does not support raise"
)

GP_ID = "899700000011"


def phone_harness(make: HarnessFactory, *, sandbox: bool = True) -> tuple[Harness, FakePhone]:
    phone = FakePhone(FakeGateway(), sandbox=sandbox)
    harness = make(phone=phone)
    phone.gateway = harness.gateway  # the phone answers the harness's DMP
    return harness, phone


def start_ecps(harness: Harness, aloop: AsyncLoop, qtbot: QtBot, id_nat: str = GP_ID) -> None:
    """Type the identifier on the page shown, click "Se connecter avec e-CPS"."""
    page = harness.window.current_page()
    assert isinstance(page, LoginPage)
    page.ecps_id_edit.setEditText("")
    qtbot.keyClicks(page.ecps_id_edit, id_nat)
    page.ecps_button.click()
    aloop.wait_until(lambda: page.ecps_dialog is not None and page.ecps_dialog.binding_message)


def waiting(harness: Harness) -> EcpsWaitDialog:
    page = harness.window.current_page()
    assert isinstance(page, LoginPage)
    dialog = page.ecps_dialog
    assert dialog is not None
    return dialog


def phone_window(harness: Harness, aloop: AsyncLoop) -> PhoneWindow:
    aloop.wait_until(
        lambda: (
            harness.console.phone_window is not None
            and harness.console.phone_window.request is not None
        )
    )
    window = harness.console.phone_window
    assert window is not None
    return window


def test_approve_on_the_phone_logs_in_like_a_card(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, phone = phone_harness(make_harness)
    window = harness.window
    start_ecps(harness, aloop, qtbot)
    dialog = waiting(harness)
    assert dialog.isVisible()
    code = dialog.binding_message
    assert re.fullmatch(r"[A-Z0-9]{4}", code)
    assert GP_ID in dialog.status_label.text()
    assert re.search(r"expire dans [12]:\d\d", dialog.countdown_label.text())
    assert harness.console.session.state is SessionState.AUTHENTICATING

    phone_view = phone_window(harness, aloop)
    assert phone_view.isVisible()
    assert phone_view.binding_label.text() == code  # the same code on both screens
    assert GP_ID in phone_view.holder_label.text()
    phone_view.approve_button.click()

    acknowledge_notice(harness, aloop)  # the same session as a card login: notice, search
    session = harness.console.session
    assert session.state is SessionState.ACTIVE
    assert session.method is AuthMethod.ECPS
    assert harness.window.login_page.ecps_dialog is None  # closed
    assert phone.answers == [(code, True)]
    assert window.user_label.text() == "Claire MARTIN — e-CPS"
    assert window.card_label.text() == "Connexion e-CPS (sans carte)"
    assert window.search_action.isEnabled()
    aloop.wait_until(lambda: phone_view.request is None)
    assert "Aucune demande" in phone_view.request_label.text()
    # The identifier is remembered (no patient data in the preferences).
    prefs = (harness.console.settings.config_dir / "preferences.json").read_text()
    assert GP_ID in prefs and RECENT_KEY in prefs


def test_refused_on_the_phone_says_so(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, _phone = phone_harness(make_harness)
    start_ecps(harness, aloop, qtbot)
    phone_view = phone_window(harness, aloop)
    phone_view.deny_button.click()
    page = harness.window.login_page
    aloop.wait_until(lambda: not page.busy)
    assert "refusée" in page.message()
    assert page.ecps_dialog is None
    assert harness.console.session.state is SessionState.LOGGED_OUT
    assert harness.window.current_page() is page
    assert page.ecps_button.isEnabled()  # she may try again, nothing is retried by itself
    assert harness.gateway.calls.count(f"ciba:{GP_ID}") == 1


def test_expiry_says_so(make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot) -> None:
    harness, _phone = phone_harness(make_harness)
    harness.gateway.ecps_expires_s = 0.4
    start_ecps(harness, aloop, qtbot)
    page = harness.window.login_page
    aloop.wait_until(lambda: not page.busy)
    assert "expiré" in page.message()
    assert harness.console.session.state is SessionState.LOGGED_OUT


def test_cancel_stops_polling(make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot) -> None:
    harness, _phone = phone_harness(make_harness)
    start_ecps(harness, aloop, qtbot)
    page = harness.window.login_page
    qtbot.mouseClick(waiting(harness).cancel_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not page.busy)
    assert page.message() == "Connexion e-CPS annulée."
    assert harness.console.session.state is SessionState.LOGGED_OUT
    polls = harness.gateway.calls.count("poll")
    aloop.spin(0.2)
    assert harness.gateway.calls.count("poll") == polls


def test_no_phone_window_when_the_server_is_not_the_sandbox(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, phone = phone_harness(make_harness, sandbox=False)
    start_ecps(harness, aloop, qtbot)
    aloop.spin(0.2)
    assert harness.console.phone_window is None
    phone.answer_all(True)  # her real phone
    acknowledge_notice(harness, aloop)


def test_an_ecps_session_ignores_cards_and_its_lock_asks_the_phone(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, phone = phone_harness(make_harness)
    window = harness.window
    session = harness.console.session
    start_ecps(harness, aloop, qtbot)
    phone.answer_all(True)
    acknowledge_notice(harness, aloop)
    harness.search.open(make_open_dossier())

    harness.reader.remove(harness.gp)  # somebody's card leaves a reader: not hers
    aloop.spin(0.4)
    assert session.state is SessionState.ACTIVE
    assert window.current_page() is window.dossier_page

    window.lock()
    assert not patient_data_shown(harness)
    text = window.lock_page.explanation_label.text()
    assert "e-CPS" in text and "téléphone" in text and "carte" in text
    assert window.lock_page.ecps_id_nat() == GP_ID  # ready to ask her phone again
    assert window.card_label.text() == "Verrouillé"

    window.lock_page.ecps_button.click()
    aloop.wait_until(lambda: window.lock_page.ecps_dialog is not None)
    phone_view = phone_window(harness, aloop)
    phone_view.approve_button.click()
    aloop.wait_until(lambda: window.current_page() is window.search_page)
    assert session.state is SessionState.ACTIVE
    assert session.machine.generation == 1  # resumed: no notice again
    assert window.notice_dialog is None


def test_another_professional_on_a_locked_ecps_session_ends_it(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, phone = phone_harness(make_harness)
    session = harness.console.session
    start_ecps(harness, aloop, qtbot, "899700000029")
    phone.answer_all(True)
    acknowledge_notice(harness, aloop)
    session.lock(LockReason.USER)
    harness.reader.insert(harness.gp)
    log_in(harness, aloop, qtbot, GP_PIN)  # the GP's card on the unlock page
    acknowledge_notice(harness, aloop)
    assert session.method is AuthMethod.CARD
    assert session.holder is not None and session.holder.id_nat == GP_ID
    assert session.machine.generation == 2


def test_ecps_session_expiry_locks_with_a_clear_message(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, phone = phone_harness(make_harness)
    session = harness.console.session
    start_ecps(harness, aloop, qtbot)
    phone.answer_all(True)
    acknowledge_notice(harness, aloop)
    session.lock(LockReason.EXPIRED)  # what the renewal task does at the token's end
    text = harness.window.lock_page.explanation_label.text()
    assert "durée maximale" in text
    assert "nouvelle validation sur le téléphone" in text


def test_wait_dialog_counts_down(qtbot: QtBot, aloop: AsyncLoop) -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    dialog = EcpsWaitDialog(GP_ID, clock=lambda: now[0])
    qtbot.addWidget(dialog)
    assert dialog.remaining_s() == 0
    dialog.show()
    dialog.show_pending(EcpsPending(GP_ID, "K7QX", now[0] + timedelta(seconds=120)))
    QApplication.processEvents()
    assert dialog.binding_label.text() == "K7QX"
    # The dialog grew with what appeared: nothing clipped (the code least of all).
    for label in (dialog.status_label, dialog.compare_label, dialog.warning_label):
        assert label.height() >= label.heightForWidth(label.width()), label.text()
    assert dialog.binding_label.height() >= dialog.binding_label.sizeHint().height()
    assert dialog.binding_label.textFormat() is Qt.TextFormat.PlainText
    assert dialog.countdown_label.text() == "La demande expire dans 2:00."
    now[0] += timedelta(seconds=61)
    dialog._tick()
    assert dialog.countdown_label.text() == "La demande expire dans 0:59."
    assert dialog.countdown.value() == 59
    assert [format_remaining(s) for s in (0, -3, 0.2, 59, 60, 119.5)] == [
        "0:00",
        "0:00",
        "0:01",
        "0:59",
        "1:00",
        "2:00",
    ]
