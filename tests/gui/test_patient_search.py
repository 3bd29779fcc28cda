"""Patient search by INS, the access-mode choice and the consent question (offscreen)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from console.domain.dossier import AccessGrant, PatientRecord
from console.domain.errors import AccessRefusedError, NetworkError
from console.domain.ins import INS
from console.domain.models import AccessMode
from console.domain.rules import JUSTIFICATION_MIN_CHARS, AccessRequest
from console.services.dossier import DossierService, OpenDossier, PatientNotFoundError
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.views.consent import AccessModeDialog, ConsentDialog
from console.views.patient_search import NirCheck, PatientSearchWidget, check_nir
from tests.gui.conftest import AsyncLoop

# The offscreen platform warns when a top-level window is shown; nothing to do with us.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

VALID_NIR = "255081416802538"
PATIENT = PatientRecord(
    ins=INS.parse(VALID_NIR),
    family_name="Durand",
    given_names="Marie Claire",
    birth_date=date(1955, 8, 14),
    gender="female",
)


class FakeSearchService(DossierService):
    """Records every request; answers from ``patients`` and the queued ``open_outcomes``."""

    def __init__(self) -> None:
        super().__init__(cast(DmpGateway, None), cast(SessionService, None))
        self.calls: list[tuple[str, Any]] = []
        self.patients = {VALID_NIR: PATIENT}
        self.find_error: Exception | None = None
        self.delay = 0.0
        self.open_outcomes: list[Exception | None] = []
        """Per open() call: an exception to raise, or None to grant the access."""

    async def find_patient(self, ins_text: str) -> PatientRecord:
        self.calls.append(("find", ins_text))
        await asyncio.sleep(self.delay)
        if self.find_error is not None:
            raise self.find_error
        try:
            return self.patients[ins_text]
        except KeyError:
            raise PatientNotFoundError("Aucun DMP n'est ouvert pour cet INS.") from None

    async def open(self, patient: PatientRecord, request: AccessRequest) -> OpenDossier:
        self.calls.append(("open", request))
        await asyncio.sleep(self.delay)
        outcome = self.open_outcomes.pop(0) if self.open_outcomes else None
        if outcome is not None:
            raise outcome
        expires = datetime.now(UTC) + timedelta(hours=1)
        return OpenDossier(AccessGrant(patient, request.mode, "token", expires, "ep-1"))


@pytest.fixture
def service() -> FakeSearchService:
    return FakeSearchService()


@pytest.fixture
def widget(qtbot: QtBot, service: FakeSearchService, aloop: AsyncLoop) -> PatientSearchWidget:
    search = PatientSearchWidget(service)
    qtbot.addWidget(search)
    search.show()
    return search


def type_ins(qtbot: QtBot, widget: PatientSearchWidget, text: str) -> None:
    widget.ins_edit.clear()
    qtbot.keyClicks(widget.ins_edit, text)


def search(qtbot: QtBot, widget: PatientSearchWidget, aloop: AsyncLoop, nir: str) -> None:
    type_ins(qtbot, widget, nir)
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Return)
    aloop.wait_until(lambda: not widget.busy and widget.patient is not None)


def wait_dialog[D: QDialog](aloop: AsyncLoop, widget: PatientSearchWidget, kind: type[D]) -> D:
    aloop.wait_until(lambda: isinstance(widget.active_dialog, kind))
    dialog = widget.active_dialog
    assert isinstance(dialog, kind)
    aloop.wait_until(dialog.isVisible)
    return dialog


def requests(service: FakeSearchService, kind: str) -> list[Any]:
    return [arg for name, arg in service.calls if name == kind]


# -- the INS as it is typed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("", NirCheck.INCOMPLETE),
        ("2550814", NirCheck.INCOMPLETE),
        ("2 55 08 14 168 025 38", NirCheck.VALID),
        ("255081416802539", NirCheck.KEY),
        ("955081416802538", NirCheck.SHAPE),
        ("2550814168025AB", NirCheck.SHAPE),
        ("2550814168025381", NirCheck.TOO_LONG),
        ("2A5081416802538", NirCheck.SHAPE),
    ],
)
def test_check_nir(text: str, check: NirCheck) -> None:
    assert check_nir(text) is check


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("255081416802539", "clé de contrôle est fausse"),
        ("955081416802538", "forme attendue"),
        ("2550814168025381", "16 saisis"),
    ],
)
def test_invalid_ins_shows_a_message_and_sends_no_request(
    qtbot: QtBot,
    widget: PatientSearchWidget,
    service: FakeSearchService,
    aloop: AsyncLoop,
    text: str,
    fragment: str,
) -> None:
    type_ins(qtbot, widget, text)
    assert fragment in widget.ins_message.text()
    assert not widget.search_button.isEnabled()
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Return)
    widget.search()
    aloop.spin(0.05)
    assert service.calls == []
    assert widget.ins_edit.text() == text  # nothing lost


def test_incomplete_ins_counts_characters(qtbot: QtBot, widget: PatientSearchWidget) -> None:
    type_ins(qtbot, widget, "2 55 08")
    assert widget.ins_message.text().startswith("5 caractère(s) sur 15")
    assert not widget.search_button.isEnabled()


def test_valid_ins_finds_and_shows_the_patient(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    type_ins(qtbot, widget, "2 55 08 14 168 025 38")
    assert widget.ins_message.text() == "NIR valide."
    assert widget.search_button.isEnabled()
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Return)
    aloop.wait_until(lambda: widget.patient is not None)
    assert service.calls == [("find", VALID_NIR)]  # normalized before it leaves
    assert widget.patient_box.isVisible()
    assert widget.name_label.text() == "DURAND Marie Claire"
    assert widget.birth_label.text() == "14/08/1955"
    assert widget.sex_label.text() == "Féminin"
    assert widget.ins_label.text() == VALID_NIR
    assert widget.name_label.textFormat() == Qt.TextFormat.PlainText
    assert widget.open_button.isEnabled()


def test_editing_the_ins_hides_the_patient_found_for_another(
    qtbot: QtBot, widget: PatientSearchWidget, aloop: AsyncLoop
) -> None:
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Backspace)
    assert widget.patient is None
    assert not widget.patient_box.isVisible()


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        (None, "Aucun DMP ne correspond à cet INS."),
        (
            NetworkError("Serveur DMP injoignable."),
            "Recherche impossible : Serveur DMP injoignable.",
        ),
    ],
)
def test_search_errors_are_shown_and_the_ins_kept(
    qtbot: QtBot,
    widget: PatientSearchWidget,
    service: FakeSearchService,
    aloop: AsyncLoop,
    error: Exception | None,
    fragment: str,
) -> None:
    service.patients = {}
    service.find_error = error
    type_ins(qtbot, widget, VALID_NIR)
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Return)
    aloop.wait_until(lambda: widget.status_message.text() != "" and not widget.busy)
    assert widget.status_message.text() == fragment
    assert widget.ins_edit.text() == VALID_NIR
    assert widget.search_button.isEnabled()  # ready to retry


def test_controls_disabled_while_searching_and_escape_cancels(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    service.delay = 30
    type_ins(qtbot, widget, VALID_NIR)
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Return)
    aloop.wait_until(lambda: service.calls != [])
    assert widget.busy
    assert widget.progress.isVisible()
    assert not widget.search_button.isEnabled()
    assert widget.ins_edit.isReadOnly()
    qtbot.keyClick(widget.ins_edit, Qt.Key.Key_Escape)
    aloop.wait_until(lambda: not widget.busy)
    assert widget.status_message.text() == "Recherche annulée."
    assert not widget.progress.isVisible()
    assert widget.ins_edit.text() == VALID_NIR
    assert widget.search_button.isEnabled()


# -- opening: access mode and consent -------------------------------------------------------------


def opened(widget: PatientSearchWidget) -> list[OpenDossier]:
    received: list[OpenDossier] = []
    widget.dossierOpened.connect(received.append)
    return received


def test_normal_mode_in_the_care_team_opens_directly(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    received = opened(widget)
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    dialog = wait_dialog(aloop, widget, AccessModeDialog)
    assert dialog.normal_radio.isChecked() and dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: received != [])
    assert received[0].grant.mode == AccessMode.NORMAL
    assert requests(service, "open") == [AccessRequest(AccessMode.NORMAL)]


def test_no_consent_asks_the_patient_consent_then_retries_with_the_method(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    received = opened(widget)
    service.open_outcomes = [
        AccessRefusedError("Le professionnel n'est pas autorisé par le patient.", "no_consent")
    ]
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    mode_dialog = wait_dialog(aloop, widget, AccessModeDialog)
    qtbot.mouseClick(mode_dialog.ok_button, Qt.MouseButton.LeftButton)

    consent = wait_dialog(aloop, widget, ConsentDialog)
    texts = [label.text() for label in consent.findChildren(type(widget.name_label))]
    assert "Le patient consent-il à ce que vous accédiez à son DMP ?" in texts
    assert "Le professionnel n'est pas autorisé par le patient." in texts  # the server's words
    consent.method_combo.setCurrentIndex(consent.method_combo.findData("ecrit"))
    qtbot.mouseClick(consent.yes_button, Qt.MouseButton.LeftButton)

    aloop.wait_until(lambda: received != [])
    assert requests(service, "open") == [
        AccessRequest(AccessMode.NORMAL),
        AccessRequest(AccessMode.NORMAL, consent_method="ecrit"),
    ]
    assert widget.active_dialog is None


def test_enter_in_the_consent_dialog_is_the_safe_answer(qtbot: QtBot) -> None:
    """The default button was "Oui, le patient consent": a reflex Enter recorded a consent
    (issue 17)."""
    dialog = ConsentDialog(PATIENT)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.no_button.isDefault() and not dialog.yes_button.isDefault()
    with qtbot.waitSignal(dialog.rejected, timeout=2000):
        qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)
    assert dialog.result() == ConsentDialog.DialogCode.Rejected


def test_consent_refused_opens_nothing(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    received = opened(widget)
    service.open_outcomes = [AccessRefusedError("Non autorisé.", "no_consent")]
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(
        wait_dialog(aloop, widget, AccessModeDialog).ok_button, Qt.MouseButton.LeftButton
    )
    qtbot.mouseClick(wait_dialog(aloop, widget, ConsentDialog).no_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not widget.busy and widget.active_dialog is None)
    aloop.spin(0.05)
    assert received == []
    assert len(requests(service, "open")) == 1
    assert "pas donné son consentement" in widget.status_message.text()
    assert widget.open_button.isEnabled()


def test_bris_de_glace_ok_disabled_until_reason_and_justification(qtbot: QtBot) -> None:
    dialog = AccessModeDialog(PATIENT)
    qtbot.addWidget(dialog)
    dialog.show()
    # Normal access chosen: the bris de glace part is greyed out, its warning not red.
    assert not dialog.bris_box.isEnabled() and dialog.bris_warning.styleSheet() == ""
    assert dialog.justification_counter.styleSheet() == ""
    radio = dialog.bris_radio  # clicked on its indicator (the widget is wider than its text)
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(6, radio.height() // 2))
    assert dialog.bris_radio.isChecked()
    assert not dialog.ok_button.isEnabled()
    assert "Le patient sera informé" in dialog.bris_warning.text()
    assert dialog.bris_warning.isVisible() and "a11d1d" in dialog.bris_warning.styleSheet()

    dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findData("PATIENT_INCONSCIENT"))
    assert not dialog.ok_button.isEnabled()  # still no justification
    qtbot.keyClicks(dialog.justification_edit, "x" * (JUSTIFICATION_MIN_CHARS - 1))
    assert not dialog.ok_button.isEnabled()
    dialog.accept()  # Enter cannot bypass the disabled button
    assert dialog.result() != QDialog.DialogCode.Accepted and dialog.isVisible()

    dialog.justification_edit.setPlainText("Patient inconscient aux urgences")
    assert dialog.ok_button.isEnabled()
    assert dialog.request() == AccessRequest(
        AccessMode.BRIS_DE_GLACE,
        reason_code="PATIENT_INCONSCIENT",
        justification="Patient inconscient aux urgences",
    )
    dialog.reason_combo.setCurrentIndex(0)
    assert not dialog.ok_button.isEnabled()


def choose_and_open(
    qtbot: QtBot,
    widget: PatientSearchWidget,
    aloop: AsyncLoop,
    choose: Callable[[AccessModeDialog], None],
) -> None:
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    dialog = wait_dialog(aloop, widget, AccessModeDialog)
    choose(dialog)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)


def test_bris_de_glace_opening_sends_reason_and_justification(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    received = opened(widget)
    search(qtbot, widget, aloop, VALID_NIR)

    def bris(dialog: AccessModeDialog) -> None:
        dialog.bris_radio.setChecked(True)
        dialog.reason_combo.setCurrentIndex(dialog.reason_combo.findData("URGENCE_VITALE"))
        dialog.justification_edit.setPlainText("Arrêt cardiaque, famille injoignable")

    choose_and_open(qtbot, widget, aloop, bris)
    aloop.wait_until(lambda: received != [])
    assert received[0].grant.mode == AccessMode.BRIS_DE_GLACE
    assert requests(service, "open") == [
        AccessRequest(
            AccessMode.BRIS_DE_GLACE,
            reason_code="URGENCE_VITALE",
            justification="Arrêt cardiaque, famille injoignable",
        )
    ]


def test_centre_15_refusal_is_shown_with_the_server_message(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    received = opened(widget)
    service.open_outcomes = [
        AccessRefusedError(
            "Le mode centre 15 est réservé aux médecins régulateurs.", "not_regulator"
        )
    ]
    search(qtbot, widget, aloop, VALID_NIR)
    choose_and_open(qtbot, widget, aloop, lambda d: d.centre15_radio.setChecked(True))
    aloop.wait_until(lambda: not widget.busy and widget.status_message.text() != "")
    assert widget.status_message.text() == (
        "Accès refusé par le DMP : Le mode centre 15 est réservé aux médecins régulateurs."
    )
    assert requests(service, "open") == [AccessRequest(AccessMode.CENTRE_15)]
    assert received == []
    assert widget.ins_edit.text() == VALID_NIR and widget.open_button.isEnabled()


def test_cancelling_the_mode_dialog_sends_nothing(
    qtbot: QtBot, widget: PatientSearchWidget, service: FakeSearchService, aloop: AsyncLoop
) -> None:
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    wait_dialog(aloop, widget, AccessModeDialog).reject()
    aloop.wait_until(lambda: widget.active_dialog is None)
    assert requests(service, "open") == []


def test_clear_forgets_the_patient_and_closes_the_dialog(
    qtbot: QtBot, widget: PatientSearchWidget, aloop: AsyncLoop
) -> None:
    search(qtbot, widget, aloop, VALID_NIR)
    qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
    dialog = wait_dialog(aloop, widget, AccessModeDialog)
    widget.clear()
    aloop.wait_until(lambda: not dialog.isVisible())
    assert widget.patient is None
    assert widget.ins_edit.text() == ""
    assert widget.name_label.text() == "" and widget.ins_label.text() == ""
    assert not widget.patient_box.isVisible()
    widget.focus_search()
    assert widget.focusWidget() is widget.ins_edit
