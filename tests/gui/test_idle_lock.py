"""Idle lock through the window: no input for ``Settings.idle_lock_minutes`` -> locked, also
with a modal dialog open; input anywhere (a dialog included) postpones it.

The idle lock's clock is injected (``ConsoleApp(idle_clock=...)``): ten minutes pass at once.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QLineEdit, QMessageBox, QVBoxLayout
from pytestqt.qtbot import QtBot

from console.domain.session import LockReason, SessionState
from tests.gui.conftest import AsyncLoop
from tests.gui.test_main_window import (
    Harness,
    HarnessFactory,
    log_in,
    log_in_to_search,
    make_harness,
    make_open_dossier,
    patient_data_shown,
)

__all__ = ["make_harness"]  # the fixture, used here

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TICK_S = 0.02


class Clock:
    """Monotonic seconds that the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def idle_harness(make: HarnessFactory, minutes: int = 10) -> tuple[Harness, Clock]:
    clock = Clock()
    harness = make(idle_lock_minutes=minutes, idle_clock=clock, idle_tick_s=TICK_S)
    return harness, clock


def test_idle_lock_with_a_modal_dialog_open(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, clock = idle_harness(make_harness)
    window = harness.window
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    harness.search.open(make_open_dossier())
    dialog = QMessageBox(
        QMessageBox.Icon.Question,
        "Masquer le document",
        "Masquer « Compte rendu de consultation 1 » de DUPONT Jean ?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        window,
    )
    dialog.open()  # window-modal, as every dialog of the console
    assert dialog.isVisible()

    clock.now += 9 * 60 + 59
    aloop.spin(5 * TICK_S)
    assert session.state is SessionState.ACTIVE
    clock.now += 1
    aloop.wait_until(lambda: session.state is SessionState.LOCKED, timeout=2.0)
    assert session.machine.lock_reason is LockReason.IDLE
    assert not dialog.isVisible()
    assert dialog.result() != QMessageBox.StandardButton.Yes.value
    assert window.current_page() is window.lock_page
    assert not patient_data_shown(harness)
    assert "inactivité" in window.lock_page.explanation_label.text()
    assert session.login is None

    # The card is still in: its PIN resumes the session, on the patient search.
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.current_page() is window.search_page)


def test_input_in_a_dialog_postpones_the_lock(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, clock = idle_harness(make_harness)
    session = harness.console.session
    log_in_to_search(harness, aloop, qtbot)
    dialog = QDialog(harness.window)
    field = QLineEdit(dialog)
    QVBoxLayout(dialog).addWidget(field)
    dialog.open()
    for _ in range(3):  # 3 x 9 min, typing in the dialog each time
        clock.now += 9 * 60
        qtbot.keyClick(field, Qt.Key.Key_A)
        aloop.spin(3 * TICK_S)
    clock.now += 8 * 60
    qtbot.mouseMove(field, QPoint(2, 2))
    aloop.spin(3 * TICK_S)
    assert session.state is SessionState.ACTIVE
    assert dialog.isVisible()
    clock.now += 10 * 60
    aloop.wait_until(lambda: session.state is SessionState.LOCKED, timeout=2.0)
    assert not dialog.isVisible()


def test_idle_lock_minutes_come_from_the_settings_and_nothing_locks_logged_out(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, clock = idle_harness(make_harness, minutes=1)
    session = harness.console.session
    clock.now += 3600  # nobody logged in: nothing to lock
    aloop.spin(3 * TICK_S)
    assert session.state is SessionState.LOGGED_OUT
    log_in_to_search(harness, aloop, qtbot)
    clock.now += 59
    aloop.spin(3 * TICK_S)
    assert session.state is SessionState.ACTIVE
    clock.now += 1
    aloop.wait_until(lambda: session.state is SessionState.LOCKED, timeout=2.0)
    clock.now += 3600  # locked: stays locked, once
    aloop.spin(3 * TICK_S)
    assert session.machine.lock_reason is LockReason.IDLE


def test_idle_lock_during_the_notice_asks_it_again(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, clock = idle_harness(make_harness)
    window = harness.window
    log_in(harness, aloop, qtbot)
    aloop.wait_until(lambda: window.notice_dialog is not None)
    clock.now += 600
    aloop.wait_until(lambda: harness.console.session.state is SessionState.LOCKED, timeout=2.0)
    assert window.notice_dialog is None
    assert window.current_page() is window.lock_page


def test_zero_minutes_disables_the_idle_lock(
    make_harness: HarnessFactory, aloop: AsyncLoop, qtbot: QtBot
) -> None:
    harness, clock = idle_harness(make_harness, minutes=0)
    log_in_to_search(harness, aloop, qtbot)
    clock.now += 24 * 3600
    aloop.spin(5 * TICK_S)
    assert harness.console.session.state is SessionState.ACTIVE
