"""The bris de glace banner (countdown, always visible, every end path) and the access-mode
dialog's bris de glace part (reasons, counter, warning), with a fake clock, offscreen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from console.domain.models import AccessMode
from console.domain.rules import JUSTIFICATION_MIN_CHARS, AccessRequest
from console.views.consent import AccessModeDialog, RefusalBox
from console.views.emergency_banner import EmergencyBanner
from tests.gui.conftest import AsyncLoop
from tests.unit.test_emergency import BRIS, END_PATHS, PATIENT, Rig, end_by, make_rig

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


@pytest.fixture
def rig(aloop: AsyncLoop) -> Rig:
    return make_rig()


@pytest.fixture
def banner(qtbot: QtBot, rig: Rig) -> Iterator[EmergencyBanner]:
    host = QWidget()  # kept alive (and shown) for the whole test
    qtbot.addWidget(host)
    widget = EmergencyBanner(host, clock=rig.time, tick_ms=20)
    widget.attach(rig.service)
    host.show()
    yield widget


def start(rig: Rig, aloop: AsyncLoop) -> None:
    aloop.run(rig.dossiers.open(PATIENT, BRIS))


def test_hidden_until_a_bris_de_glace_starts(banner: EmergencyBanner) -> None:
    assert not banner.isVisible()
    assert banner.title_label.text() == ""


def test_the_countdown_updates_and_the_banner_stays_visible(
    banner: EmergencyBanner, rig: Rig, aloop: AsyncLoop
) -> None:
    start(rig, aloop)
    assert banner.isVisible() and banner.active
    assert banner.title_label.text() == "Bris de glace — reste 60:00"
    assert banner.stop_button.text() == "Arrêter le bris de glace"
    assert banner.stop_button.isVisible() and banner.stop_button.isEnabled()
    assert banner.patient_label.text() == "Patient : DURAND Marie Claire"
    assert banner.accessibleName() == "Bris de glace en cours"
    assert "60 minute(s)" in banner.accessibleDescription()
    assert banner.icon_label.pixmap() is not None and not banner.icon_label.pixmap().isNull()

    rig.time.now += timedelta(minutes=17, seconds=43)  # the timer redraws on its own
    aloop.wait_until(lambda: banner.title_label.text() == "Bris de glace — reste 42:17")
    assert "43 minute(s)" in banner.accessibleDescription()

    banner.hide()  # nothing may hide it while the mode lasts
    banner.setVisible(False)
    assert banner.isVisible()

    rig.time.now += timedelta(minutes=38)
    aloop.wait_until(lambda: "reste 04:17" in banner.title_label.text())
    assert "se termine bientôt" in banner.detail_label.text()


def test_the_button_stops_the_bris_de_glace_and_offers_the_attestation(
    banner: EmergencyBanner, rig: Rig, aloop: AsyncLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    start(rig, aloop)
    rig.time.now += timedelta(minutes=3, seconds=5)
    qtbot.mouseClick(banner.stop_button, Qt.MouseButton.LeftButton)
    assert not banner.active  # at once
    assert not banner.stop_button.isVisible()
    aloop.wait_until(lambda: banner.save_button.isVisible())
    assert rig.gateway.ended == [("ep1", "user")]
    assert banner.title_label.text().startswith("Bris de glace terminé à ")
    assert banner.detail_label.text() == "arrêté par vous — durée 3 min 05 s — attestation prête."

    target = tmp_path / "attestation.pdf"
    aloop.run(banner.save_attestation(target))
    assert target.read_bytes() == b"%PDF-1.7 attestation"
    assert str(target) in banner.detail_label.text()

    banner.choose_attestation_path()  # the file dialog opens window-modal, not exec()
    dialog = banner.file_dialog
    assert dialog is not None and dialog.isVisible()
    banner.clear()
    assert not dialog.isVisible() and not banner.isVisible() and banner.ended is None


@pytest.mark.parametrize("path", END_PATHS)
def test_the_banner_ends_on_each_path(
    banner: EmergencyBanner, rig: Rig, aloop: AsyncLoop, path: str
) -> None:
    start(rig, aloop)
    dossier = rig.service.active_dossier
    assert dossier is not None
    aloop.run(end_by(rig, path, dossier))
    assert not banner.active
    assert rig.gateway.ended == [("ep1", path)]
    if path in ("card_removed", "quit", "session_locked", "logout"):
        # The session goes: the banner goes with the patient's name.
        assert not banner.isVisible() and banner.patient_label.text() == ""
        return
    expected = {
        "user": "arrêté par vous",
        "expired": "durée maximale écoulée",
        "patient_closed": "dossier fermé",
    }[path]
    assert banner.detail_label.text().startswith(expected)
    assert banner.save_button.isVisible()
    banner.hide()  # once ended, it may go
    assert not banner.isVisible()


def test_a_lock_after_the_end_drops_the_notice_and_the_attestation(
    banner: EmergencyBanner, rig: Rig, aloop: AsyncLoop
) -> None:
    start(rig, aloop)
    rig.service.stop()
    aloop.run(rig.service.wait_idle(1.0))
    assert banner.save_button.isVisible() and rig.service.last_ended is not None
    rig.service.session_locked("card_removed")
    assert rig.service.last_ended is None
    assert not banner.isVisible() and banner.patient_label.text() == ""


def test_a_new_episode_replaces_the_ended_notice(
    banner: EmergencyBanner, rig: Rig, aloop: AsyncLoop
) -> None:
    start(rig, aloop)
    rig.service.stop()
    aloop.run(rig.service.wait_idle(1.0))
    assert banner.dismiss_button.isVisible()
    aloop.run(rig.dossiers.open(PATIENT, AccessRequest(AccessMode.CENTRE_15)))
    assert banner.active
    assert banner.title_label.text() == "Centre 15 (régulation) — reste 60:00"
    assert banner.stop_button.text() == "Terminer l'accès centre 15"
    assert not banner.dismiss_button.isVisible()


# -- the access-mode dialog's bris de glace ------------------------------------------------------


def test_the_dialog_lists_the_reasons_counts_and_warns(qtbot: QtBot) -> None:
    dialog = AccessModeDialog(PATIENT, time_box_minutes=45)
    qtbot.addWidget(dialog)
    dialog.show()
    radio = dialog.bris_radio
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(6, radio.height() // 2))
    assert not dialog.ok_button.isEnabled()
    assert "45 minutes" in dialog.bris_warning.text()
    assert "Le patient sera informé" in dialog.bris_warning.text()
    codes = [dialog.reason_combo.itemData(i) for i in range(dialog.reason_combo.count())]
    assert codes == [
        None,
        "URGENCE_VITALE",
        "PATIENT_INCONSCIENT",
        "DETRESSE_VITALE_MINEUR",
        "AUTRE_URGENCE",
    ]
    dialog.reason_combo.setCurrentIndex(2)
    assert dialog.reason_description.text() == "Patient inconscient ou confus, pronostic engagé"
    tip = dialog.reason_combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert "PATIENT_INCONSCIENT" in tip

    assert dialog.justification_counter.text() == (
        f"0 caractère(s) hors espaces sur {JUSTIFICATION_MIN_CHARS} au minimum"
    )
    qtbot.keyClicks(dialog.justification_edit, "a b c d e f g h i")  # 9 without spaces
    assert dialog.justification_counter.text().startswith("9 caractère(s)")
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.justification_edit, "j")
    assert dialog.justification_counter.text().startswith("10 caractères hors espaces")
    assert dialog.ok_button.isEnabled()

    dialog.justification_edit.setPlainText("x" * 5000)  # pasted: kept within the maximum
    assert len(dialog.justification_edit.toPlainText()) == 2000


@pytest.mark.parametrize(
    ("reason", "title", "advice"),
    [
        (
            "opposed_bris_de_glace",
            "Le patient s'est opposé à l'accès à son DMP en bris de glace",
            "Aucun accès n'a été ouvert et rien n'a été consulté.",
        ),
        (
            "opposed_centre_15",
            "Le patient s'est opposé à l'accès à son DMP par le centre de régulation",
            "Poursuivez la régulation sans le DMP.",
        ),
        ("blocked", "Le patient a bloqué votre accès à son DMP", "bris de glace compris"),
    ],
)
def test_a_refusal_is_shown_plainly(qtbot: QtBot, reason: str, title: str, advice: str) -> None:
    box = RefusalBox()
    qtbot.addWidget(box)
    box.show_refusal(reason, "<b>Message du serveur</b>")
    assert box.title_label.text() == title
    assert advice in box.advice_label.text()
    assert box.message_label.text() == "<b>Message du serveur</b>"
    assert box.message_label.textFormat() == Qt.TextFormat.PlainText
    assert box.accessibleName() == title
    box.clear()
    assert box.reason is None and not box.isVisible()
