"""The login page and the PIN dialog, with the FakeCardReader and a fake DMP gateway."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from console.domain.card import CardIdentity, PinState
from console.domain.dossier import AccessGrant, ProfessionalLogin
from console.domain.errors import CardMiddlewareError, NetworkError
from console.domain.session import (
    EcpsExpiredError,
    EcpsPhoneRequest,
    EcpsPollStatus,
    EcpsRefusedError,
    EcpsRequest,
    SessionState,
)
from console.services.presets import MemoryPreferenceStore
from console.services.session import RECENT_KEY, SessionService
from console.smartcard.certificate import parse_card_certificate
from console.smartcard.fake import FakeCardReader, FakeToken
from console.views.login import CardTableModel, LoginPage, PinDialog
from tests.gui.conftest import AsyncLoop

# Qt's offscreen platform warns when a shown top-level's size hint changes; harmless.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

GOOD_PIN = "1234"
GOOD_ID_NAT = "899700000011"
OTHER = CardIdentity(
    id_nat="899700000045",
    family_name="PETIT",
    given_name="Julie",
    profession_label="Infirmier",
    card_kind="CPS",
)


class FakeGateway:
    """The DMP's card login (a challenge, then the signed challenge checked with the cert)
    and its e-CPS login (CIBA: a request, then polls until the phone answers).

    Attributes:
        calls: "challenge", "login", "ciba:<id_nat>", "poll", "refresh", "end_access:<reason>"
            in order.
        fail_challenge: Raised by the next challenge, if set.
        gate: When set, the challenge waits for it (a slow server).
        ecps_requests: The e-CPS requests, with their state ("pending", "approved",
            "denied", "consumed", "expired"); :class:`FakePhone` answers them.
        ecps_expires_s, ecps_interval_s: Lifetime and poll interval of a request.
    """

    server_label = "dmp.test:8470"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail_challenge: Exception | None = None
        self.gate: asyncio.Event | None = None
        self._nonces = 0
        self.ecps_requests: dict[str, tuple[EcpsRequest, str]] = {}
        self.ecps_expires_s = 120.0
        self.ecps_interval_s = 0.05

    async def start_ecps(self, id_nat: str, binding_message: str) -> EcpsRequest:
        self.calls.append(f"ciba:{id_nat}")
        request = EcpsRequest(
            auth_req_id=f"req-{len(self.ecps_requests) + 1}",
            id_nat=id_nat,
            binding_message=binding_message,
            expires_at=datetime.now(UTC) + timedelta(seconds=self.ecps_expires_s),
            interval_s=self.ecps_interval_s,
        )
        self.ecps_requests[request.auth_req_id] = (request, "pending")
        return request

    def ecps_state(self, request: EcpsRequest) -> str:
        state = self.ecps_requests[request.auth_req_id][1]
        if state == "pending" and datetime.now(UTC) >= request.expires_at:
            return "expired"
        return state

    async def poll_ecps(self, request: EcpsRequest) -> ProfessionalLogin | EcpsPollStatus:
        self.calls.append("poll")
        match self.ecps_state(request):
            case "pending":
                return EcpsPollStatus.PENDING
            case "denied":
                raise EcpsRefusedError("Refusée sur le téléphone.", "access_denied")
            case "approved":
                self.ecps_requests[request.auth_req_id] = (request, "consumed")
                return ProfessionalLogin(
                    id_nat=request.id_nat,
                    display_name="Claire MARTIN",
                    profession="10",
                    token="ecps-" + request.id_nat,
                    expires_at=datetime.now(UTC) + timedelta(hours=8),
                    refresh_token="refresh-" + request.auth_req_id,
                )
        raise EcpsExpiredError("La demande de connexion e-CPS a expiré.", "expired_token")

    async def refresh_ecps(self, login: ProfessionalLogin) -> ProfessionalLogin:
        self.calls.append("refresh")
        return dataclasses.replace(
            login,
            token=login.token + "+",
            expires_at=datetime.now(UTC) + timedelta(hours=8),
            refresh_token=f"{login.refresh_token}+",
        )

    async def challenge(self) -> str:
        self.calls.append("challenge")
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_challenge is not None:
            error, self.fail_challenge = self.fail_challenge, None
            raise error
        self._nonces += 1
        return f"nonce-{self._nonces}"

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin:
        self.calls.append("login")
        assert algorithm == "RS256"
        public_key = x509.load_der_x509_certificate(certificate_der).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, nonce.encode(), padding.PKCS1v15(), hashes.SHA256())
        identity = parse_card_certificate(certificate_der)
        return ProfessionalLogin(
            id_nat=identity.id_nat,
            display_name=identity.display_name,
            profession="10",
            token="bearer-" + identity.id_nat,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    async def end_access(self, grant: AccessGrant, reason: str) -> None:
        self.calls.append(f"end_access:{reason}")

    async def aclose(self) -> None:
        self.calls.append("aclose")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"FakeGateway has no {name} (not needed by these tests)")


class FakePhone:
    """The demo phone over :class:`FakeGateway`'s e-CPS requests."""

    def __init__(self, gateway: FakeGateway, *, sandbox: bool = True) -> None:
        self.gateway = gateway
        self.sandbox = sandbox
        self.answers: list[tuple[str, bool]] = []

    async def available(self) -> bool:
        return self.sandbox

    async def pending(self, id_nat: str) -> list[EcpsPhoneRequest]:
        now = datetime.now(UTC)
        return [
            EcpsPhoneRequest(
                request.auth_req_id,
                request.id_nat,
                request.binding_message,
                int((request.expires_at - now).total_seconds()),
            )
            for request, _state in self.gateway.ecps_requests.values()
            if request.id_nat == id_nat and self.gateway.ecps_state(request) == "pending"
        ]

    async def answer(self, request: EcpsPhoneRequest, approve: bool) -> None:
        self.answers.append((request.binding_message, approve))
        stored, _state = self.gateway.ecps_requests[request.auth_req_id]
        self.gateway.ecps_requests[request.auth_req_id] = (
            stored,
            "approved" if approve else "denied",
        )

    def answer_all(self, approve: bool) -> None:
        for key, (request, state) in list(self.gateway.ecps_requests.items()):
            if state == "pending":
                self.gateway.ecps_requests[key] = (request, "approved" if approve else "denied")


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


def make_page(
    qtbot: QtBot, aloop: AsyncLoop, reader: FakeCardReader, gateway: FakeGateway
) -> tuple[LoginPage, SessionService]:
    session = SessionService(reader, gateway)  # type: ignore[arg-type]
    page = LoginPage(session)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    aloop.wait_until(lambda: not page.refreshing)
    return page, session


def open_pin_dialog(page: LoginPage, aloop: AsyncLoop) -> PinDialog:
    page.login_button.click()
    aloop.wait_until(lambda: page.pin_dialog is not None and page.pin_dialog.isVisible())
    dialog = page.pin_dialog
    assert dialog is not None
    return dialog


def type_pin(qtbot: QtBot, dialog: PinDialog, pin: str) -> None:
    qtbot.keyClicks(dialog.pin_edit, pin)


def cell(model: CardTableModel, row: int, column: int, role: int = 0) -> Any:
    return model.data(model.index(row, column), role or Qt.ItemDataRole.DisplayRole)


def test_card_list_shows_holder_profession_label_and_pin_state(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway, qtmodeltester: Any
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN), FakeToken(OTHER, slot_id=2, tries_left=1)])
    page, _ = make_page(qtbot, aloop, reader, gateway)

    model = page.model
    qtmodeltester.check(model)
    assert model.rowCount() == 2
    rows = [[cell(model, r, c) for c in range(4)] for r in range(2)]
    assert rows[0] == ["Claire MARTIN", "Médecin", "CPS MARTIN Claire", "Normal"]
    assert rows[1] == ["Julie PETIT", "Infirmier", "CPS PETIT Julie", "Dernier essai"]
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Titulaire"
    assert page.cards_status_label.text() == "2 cartes détectées."
    assert page.login_button.isEnabled()  # the first card is selected
    page.table.clearSelection()
    assert not page.login_button.isEnabled()
    page.table.selectRow(1)
    assert page.login_button.isEnabled()
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.data(QModelIndex()) is None


def test_no_card_says_so(qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway) -> None:
    page, _ = make_page(qtbot, aloop, FakeCardReader([]), gateway)
    assert page.model.rowCount() == 0
    assert "Aucune carte détectée" in page.cards_status_label.text()
    assert not page.login_button.isEnabled()


def test_missing_middleware_is_explained(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken()])
    reader.fail_next(
        CardMiddlewareError("module PKCS#11 introuvable : /usr/lib64/libcps3_pkcs11_lux.so"),
        operation="tokens",
    )
    page, _ = make_page(qtbot, aloop, reader, gateway)
    text = page.cards_status_label.text()
    assert "Cryptolib CPS" in text
    assert "libcps3_pkcs11_lux.so" in text
    page.refresh_button.click()  # "Actualiser" reads again: the card shows
    aloop.wait_until(lambda: page.model.rowCount() == 1)


def test_good_pin_logs_in_and_the_pin_field_is_emptied(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, session = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    assert dialog.pin_edit.echoMode() is dialog.pin_edit.EchoMode.Password
    assert not dialog.warning_label.isVisible()
    left_in_field: list[str] = []

    def what_is_left(_result: int) -> None:
        field = dialog.pin_edit
        left_in_field.append(field.text())
        field.setEchoMode(field.EchoMode.Normal)
        field.undo()  # nor in the undo history
        left_in_field.append(field.text())

    dialog.finished.connect(what_is_left)
    type_pin(qtbot, dialog, GOOD_PIN)

    with qtbot.waitSignal(page.loggedIn, timeout=0) as blocker:
        dialog.ok_button.click()
        aloop.wait_until(lambda: session.state is SessionState.ACTIVE and not page.busy)
    login = blocker.args[0] if blocker.args else None
    assert isinstance(login, ProfessionalLogin)
    assert login.id_nat == card.identity.id_nat
    assert left_in_field == ["", ""]
    assert gateway.calls == ["challenge", "login"]
    assert reader.login_attempts() == 1
    assert page.message() == ""
    assert not page.progress.isVisible()


def test_wrong_pin_says_tries_left_and_is_not_retried(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, session = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, "0000")
    dialog.ok_button.click()
    aloop.wait_until(lambda: not page.busy)
    aloop.spin(0.3)  # time for any (wrong) automatic retry to show up

    assert "Code PIN incorrect" in page.message()
    assert "au moins deux essais" in page.message()
    assert page.pin_dialog is None
    assert reader.login_attempts() == 1
    assert [c.pin_matched for c in reader.calls if c.operation == "login"] == [False]
    assert gateway.calls == []
    assert session.state is SessionState.LOGGED_OUT
    # The list shows the new PIN state once re-read.
    aloop.wait_until(lambda: cell(page.model, 0, CardTableModel.PIN) == "Code erroné déjà saisi")
    assert page.login_button.isEnabled()


def test_wrong_pin_on_the_final_try_locks_and_says_so(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN, tries_left=1)])
    page, _ = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, "9999")
    dialog.confirm_check.setChecked(True)
    dialog.ok_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert "PUK" in page.message()
    assert reader.login_attempts() == 1
    aloop.wait_until(lambda: cell(page.model, 0, CardTableModel.PIN) == "Carte bloquée")


def test_locked_card_is_explained_and_never_tried(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN, tries_left=0)])
    page, session = make_page(qtbot, aloop, reader, gateway)
    assert cell(page.model, 0, CardTableModel.PIN) == "Carte bloquée"
    assert "PUK" in cell(page.model, 0, CardTableModel.PIN, Qt.ItemDataRole.ToolTipRole)

    page.login_button.click()
    aloop.wait_until(lambda: not page.busy)
    aloop.spin(0.1)
    assert "PUK" in page.message()
    assert "CPS Gestion" in page.message()
    assert page.pin_dialog is None
    assert not [c for c in reader.calls if c.operation == "login"]
    assert gateway.calls == []
    assert session.state is SessionState.LOGGED_OUT


def test_card_locked_after_listing_is_refused_by_the_service_without_attempt(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, _ = make_page(qtbot, aloop, reader, gateway)
    card.lock()  # locked elsewhere; the list still says "Normal"
    page.login_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert "PUK" in page.message()
    assert page.pin_dialog is None
    assert not [c for c in reader.calls if c.operation == "login"]


def test_cancel_pin_goes_back_to_the_login_page(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN)])
    page, session = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, "12")
    dialog.cancel_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert page.message() == "Connexion annulée."
    assert session.state is SessionState.LOGGED_OUT
    assert reader.login_attempts() == 0
    assert page.login_button.isEnabled()
    assert page.refresh_button.isEnabled()


def test_final_try_needs_the_explicit_confirmation(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN, tries_left=1)])
    page, session = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    assert dialog.warning_label.isVisible()
    assert "DERNIER ESSAI" in dialog.warning_label.text()
    assert "#b00020" in dialog.warning_label.styleSheet()
    assert dialog.confirm_check.isVisible()
    type_pin(qtbot, dialog, GOOD_PIN)
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClick(dialog.pin_edit, Qt.Key.Key_Return)  # Enter does not bypass it
    dialog.accept()  # nor does a programmatic accept
    aloop.spin(0.1)
    assert dialog.isVisible()
    assert reader.login_attempts() == 0

    dialog.confirm_check.setChecked(True)
    assert dialog.ok_button.isEnabled()
    dialog.ok_button.click()
    aloop.wait_until(lambda: session.state is SessionState.ACTIVE and not page.busy)
    assert reader.login_attempts() == 1


def test_count_low_warns_before_the_pin(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN, tries_left=2)])
    page, _ = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    assert dialog.warning_label.isVisible()
    assert dialog.warning_label.text().startswith("Attention : un code erroné a déjà été saisi")
    assert not dialog.confirm_check.isVisible()
    dialog.reject()
    aloop.wait_until(lambda: not page.busy)


def test_pin_field_takes_digits_only(qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN)])
    page, _ = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, "12a3b4567890")
    assert dialog.pin_edit.text() == "12345678"
    dialog.reject()
    aloop.wait_until(lambda: not page.busy)


def test_card_removed_during_the_pin_closes_the_dialog(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, session = make_page(qtbot, aloop, reader, gateway)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, GOOD_PIN)
    closed: list[int] = []
    dialog.finished.connect(closed.append)
    reader.remove(card)
    page.token_removed(card.info)
    aloop.wait_until(lambda: not page.busy)
    assert closed == [0]
    assert page.pin_dialog is None
    assert "retirée" in page.message()
    assert reader.login_attempts() == 0
    assert session.state is SessionState.LOGGED_OUT


def test_unreachable_server_is_explained(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN)])
    page, session = make_page(qtbot, aloop, reader, gateway)
    gateway.fail_challenge = NetworkError("Connexion refusée par 127.0.0.1:8470")
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, GOOD_PIN)
    dialog.ok_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert "injoignable" in page.message()
    assert "Connexion refusée" in page.message()
    assert session.state is SessionState.LOGGED_OUT
    assert [c.operation for c in reader.calls].count("logout") == 1  # the card let go


def test_progress_while_logging_in_and_cancel(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    reader = FakeCardReader([FakeToken(pin=GOOD_PIN)])
    page, session = make_page(qtbot, aloop, reader, gateway)
    gateway.gate = asyncio.Event()  # the server takes its time
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, GOOD_PIN)
    dialog.ok_button.click()
    aloop.wait_until(lambda: gateway.calls == ["challenge"])
    assert page.progress.isVisible()
    assert "connexion au serveur" in page.progress_label.text()
    assert not page.login_button.isEnabled()
    assert not page.refresh_button.isEnabled()
    assert page.cancel_button.isVisible()

    page.cancel_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert page.message() == "Connexion annulée."
    assert not page.progress.isVisible()
    assert session.state is SessionState.LOGGED_OUT
    assert page.login_button.isEnabled()


def test_ecps_needs_a_national_identifier(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    page, _ = make_page(qtbot, aloop, FakeCardReader([]), gateway)
    assert page.ecps_button.isVisible()
    assert page.ecps_id_edit.isVisible()
    assert not page.ecps_button.isEnabled()
    qtbot.keyClicks(page.ecps_id_edit, "89 97#")  # the field takes identifier characters
    assert page.ecps_id_nat() == "8997"
    assert page.ecps_button.isEnabled()
    page.set_ecps_id_nat("12")
    assert not page.ecps_button.isEnabled()
    page.login_ecps()  # Enter in the field with a bad identifier: said, nothing sent
    assert "identifiant national" in page.message()
    assert gateway.calls == []


def test_card_removed_before_the_pin_is_explained(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, session = make_page(qtbot, aloop, reader, gateway)
    reader.remove(card)  # the list still shows it
    page.login_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert "retirée" in page.message()
    assert page.pin_dialog is None
    assert reader.login_attempts() == 0
    assert session.state is SessionState.LOGGED_OUT
    aloop.wait_until(lambda: page.model.rowCount() == 0)  # the list is read again


def test_card_removed_during_the_signature_is_explained(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    card = FakeToken(pin=GOOD_PIN)
    reader = FakeCardReader([card])
    page, session = make_page(qtbot, aloop, reader, gateway)
    reader.remove_during_next_sign(card)
    dialog = open_pin_dialog(page, aloop)
    type_pin(qtbot, dialog, GOOD_PIN)
    dialog.ok_button.click()
    aloop.wait_until(lambda: not page.busy)
    assert "retirée" in page.message()
    assert session.state is SessionState.LOGGED_OUT
    assert session.login is None
    assert gateway.calls == ["challenge"]  # the signature never reached the server
    assert reader.login_attempts() == 1  # the PIN was good, and not tried again
    aloop.wait_until(lambda: page.model.rowCount() == 0)


def test_pin_dialog_of_a_locked_card_asks_nothing(qtbot: QtBot, aloop: AsyncLoop) -> None:
    card = FakeToken(tries_left=0)
    dialog = PinDialog(card.info, card.identity, PinState.LOCKED)
    qtbot.addWidget(dialog)

    async def ask_and_close() -> str | None:
        pending = asyncio.ensure_future(dialog.ask())
        await asyncio.sleep(0.05)
        assert dialog.isVisible()
        assert not dialog.pin_edit.isVisible()
        assert not dialog.ok_button.isVisible()
        assert "PUK" in dialog.warning_label.text()
        dialog.accept()  # refused: nothing can be tried
        await asyncio.sleep(0.05)
        assert dialog.isVisible()
        dialog.cancel_button.click()
        return await pending

    assert aloop.run(ask_and_close()) is None


def test_holder_and_card_label_are_plain_text(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    rich = CardIdentity("899700000011", "<b>MARTIN</b>", "Claire", "Médecin", "CPS")
    reader = FakeCardReader([FakeToken(rich, pin=GOOD_PIN)])
    page, _ = make_page(qtbot, aloop, reader, gateway)
    assert cell(page.model, 0, CardTableModel.HOLDER) == "Claire <b>MARTIN</b>"
    dialog = open_pin_dialog(page, aloop)
    from PySide6.QtWidgets import QLabel

    labels = [w for w in dialog.findChildren(QLabel) if "MARTIN" in w.text()]
    assert labels
    assert all(w.textFormat() is Qt.TextFormat.PlainText for w in labels)
    dialog.reject()
    aloop.wait_until(lambda: not page.busy)


def test_a_remembered_ecps_identifier_fills_the_field_without_error(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway
) -> None:
    """Filling the e-CPS list fires editTextChanged while the page is being built: its slot
    ran before the logout button existed (an AttributeError at every launch)."""
    preferences = MemoryPreferenceStore()
    preferences.set(RECENT_KEY, json.dumps([GOOD_ID_NAT]))
    session = SessionService(FakeCardReader([]), gateway, preferences=preferences)  # type: ignore[arg-type]
    page = LoginPage(session)  # an exception in the slot fails the test (pytest-qt)
    qtbot.addWidget(page)
    assert page.ecps_id_nat() == GOOD_ID_NAT
    assert page.ecps_button.isEnabled()
    assert page.logout_button.isEnabled()


@pytest.mark.parametrize("how", ["signal", "mouse"])
def test_double_click_opens_the_pin_dialog_of_the_row_clicked(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway, how: str
) -> None:
    """Never the card selected before: a PIN typed onto a colleague's card."""
    mine = FakeToken(pin=GOOD_PIN)
    colleague = FakeToken(OTHER, slot_id=2)
    page, _ = make_page(qtbot, aloop, FakeCardReader([colleague, mine]), gateway)
    page.table.selectRow(0)  # the colleague's card is selected
    index = page.model.index(1, 0)
    if how == "signal":
        page.table.doubleClicked.emit(index)
    else:
        where = page.table.visualRect(index).center()
        qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=where)
        qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    aloop.wait_until(lambda: page.pin_dialog is not None and page.pin_dialog.isVisible())
    dialog = page.pin_dialog
    assert dialog is not None
    assert dialog.token.key == page.model.choice(1).token.key  # type: ignore[union-attr]
    assert page.model.choice(1).token.key != page.model.choice(0).token.key  # type: ignore[union-attr]
    dialog.reject()
    aloop.wait_until(lambda: not page.busy)
