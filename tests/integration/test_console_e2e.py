"""The console end to end: a SoftHSM2 card through real PKCS#11, the sandbox over loopback.

``ConsoleApp`` is wired as ``staff-console`` wires it (the real :class:`Pkcs11CardReader` on
the SoftHSM2 module, the real :class:`HttpDmpGateway`, the real pages) and driven through the
widgets a user touches: the card list, the PIN dialog, the traceability notice, the INS
field, the access mode dialog, the "2 dernières années" chip, Enter on a document.

What the table shows is compared with what :func:`console.domain.rules.visible_documents`
computes from the sandbox's database, opened read-only: the same rules, evaluated apart from
the server that enforced them.
"""

# pytest-qt's QtBot methods are not annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from console.app import ConsoleApp
from console.config import Settings
from console.dmp.client import HttpDmpGateway
from console.domain.dossier import DocumentQuery
from console.domain.habilitation import habilitation_matrix
from console.domain.models import AccessMode, DocStatus, DocumentMeta
from console.domain.rules import visible_documents
from console.domain.session import SessionState
from console.domain.terminology import VACCINATION_HISTORY
from console.services.offline import is_offline_grant
from console.smartcard.modules import find_softhsm_module
from console.smartcard.reader import Pkcs11CardReader
from console.views import tasks
from console.views.consent import AccessModeDialog
from console.views.dossier_view import DossierView
from console.views.login import LoginPage
from console.views.patient_search import PatientSearchWidget
from console.views.preview import PreviewState
from sandbox.store import DB_NAME, Store
from tests import qtloop
from tests.integration.conftest import Sandbox
from tests.qtloop import AsyncLoop, LiveLoop

pytestmark = [pytest.mark.integration, pytest.mark.gui]

aloop = qtloop.aloop  # the fixture: a qasync loop over pytest-qt's QApplication

T = TypeVar("T")


NURSE_FORBIDDEN = ("51969-4", "68599-0", "ATTEST-RESID")
"""Types the habilitation matrix keeps from a nurse (profession 60)."""

PATIENT_SEARCH_SQL = (
    "SELECT count(*) FROM audit_events "
    "WHERE subtype_code = 'search' AND description LIKE 'Patient?identifier%'"
)


# -- the sandbox's database, read-only ---------------------------------------------------------


class ReadOnlyStore(Store):
    """The sandbox's :class:`Store` on a read-only connection (the server keeps writing it):
    its own row -> domain mapping (actor, policy, documents), never a write."""

    def __init__(self, path: Path) -> None:  # no super(): it would open it read-write
        self.path = path
        self._conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            check_same_thread=False,
            isolation_level=None,
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()


@dataclass(frozen=True)
class Seeded:
    """One patient's documents as stored, and what the rules let one professional see."""

    documents: tuple[DocumentMeta, ...]
    visible: tuple[DocumentMeta, ...]

    def visible_ids(self, queries: Sequence[DocumentQuery] = (DocumentQuery(),)) -> set[str]:
        """The ids of the visible documents one of ``queries`` lists (all by default)."""
        return {d.id for d in self.visible if any(listed_by(q, d) for q in queries)}


def listed_by(query: DocumentQuery, doc: DocumentMeta) -> bool:
    """Whether the server's search ``query`` matches ``doc`` (a ``period-start`` date is UTC
    midnight for the sandbox). Only what a first opening asks is supported."""
    assert query.act_to is None and query.deposited_since is None and not query.include_archived
    if query.type_codes and doc.type_code not in query.type_codes:
        return False
    if query.class_codes and doc.class_code not in query.class_codes:
        return False
    if query.act_from is None:
        return True
    created = doc.created if doc.created.tzinfo else doc.created.replace(tzinfo=UTC)
    return created >= datetime.combine(query.act_from, time(), UTC)


def seeded(sandbox: Sandbox, persona_id: str, ins: str, mode: AccessMode) -> Seeded:
    store = ReadOnlyStore(sandbox.directory / DB_NAME)
    try:
        actor = store.actor(sandbox.persona(persona_id)["id_nat"])
        policy = store.policy(ins)
        rows = store.query("SELECT * FROM documents WHERE patient_ins = ?", (ins,))
    finally:
        store.close()
    assert actor is not None and policy is not None
    documents = tuple(Store.document(row) for row in rows)
    return Seeded(documents, tuple(visible_documents(actor, policy, documents, mode)))


def patient_searches_audited(sandbox: Sandbox) -> int:
    store = ReadOnlyStore(sandbox.directory / DB_NAME)
    try:
        row = store.query_one(PATIENT_SEARCH_SQL)
    finally:
        store.close()
    assert row is not None
    return int(row[0])


def access_log_count(sandbox: Sandbox, request: str) -> int:
    """How many requests the sandbox's access log shows, e.g. ``"GET /Patient"``."""
    return sum(1 for line in sandbox.process.log_text().splitlines() if f" {request} " in line)


def wait_logged(aloop: AsyncLoop, sandbox: Sandbox, request: str, count: int) -> None:
    """Wait until the access log shows ``count`` ``request`` lines, then check no more come."""
    wait(
        aloop,
        lambda: access_log_count(sandbox, request) >= count,
        lambda: f"{access_log_count(sandbox, request)} {request} in the sandbox's log",
    )
    aloop.spin(0.2)
    assert access_log_count(sandbox, request) == count


# -- the console -----------------------------------------------------------------------------


@dataclass
class E2E:
    """A started console and what the test watches of it."""

    app: ConsoleApp
    card_calls: list[str]
    """The reader's PKCS#11 operations ("tokens", "identity", "login", "sign", "logout"...)."""
    errors: list[BaseException] = field(default_factory=list)

    @property
    def login_page(self) -> LoginPage:
        return self.app.window.login_page

    @property
    def search(self) -> PatientSearchWidget:
        page = self.app.window.search_page
        assert isinstance(page, PatientSearchWidget)
        return page

    @property
    def dossier(self) -> DossierView:
        page = self.app.window.dossier_page
        assert isinstance(page, DossierView)
        return page

    def session_state(self) -> SessionState:
        return self.app.session.state

    def preview_state(self) -> PreviewState:
        return self.dossier.preview.state

    def shown(self) -> QWidget | None:
        return self.app.window.current_page()

    def model_ids(self) -> set[str]:
        return {row.doc.id for row in self.dossier.model.rows()}


def wait(aloop: AsyncLoop, predicate: Callable[[], Any], what: Callable[[], str]) -> None:
    """``aloop.wait_until``, failing with what the console shows instead of a bare timeout."""
    try:
        aloop.wait_until(predicate, timeout=15.0)
    except TimeoutError:
        pytest.fail(f"timed out; the console shows: {what()}")


@contextmanager
def started_console(
    live: LiveLoop,
    url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[E2E]:
    """A :class:`ConsoleApp` wired as ``staff-console`` wires it, on the server at ``url``, its
    settings, cache and preferences in ``tmp_path``; started, its cards listed. Closed on exit
    (if the test did not quit it)."""
    module = find_softhsm_module()
    if module is None:
        pytest.skip("SoftHSM2 is not installed")
    calls: list[str] = []
    settings = Settings(
        server_url=url,
        pkcs11_module=module,
        card_poll_interval_s=0.5,
        config_dir=tmp_path,
        data_dir=tmp_path,
    )
    app = ConsoleApp(
        settings,
        reader=Pkcs11CardReader(module, on_call=calls.append),  # called on the worker thread
        gateway=HttpDmpGateway(url),
        notice_store_path=tmp_path / "preferences.json",
    )
    e2e = E2E(app, calls)
    monkeypatch.setattr(tasks, "error_handler", e2e.errors.append)
    # Not qtbot.addWidget(): pytest-qt would delete the window before this fixture's teardown
    # closes the console, and the console's objects with it.

    async def start() -> None:  # the card monitor needs the running loop
        app.start()
        await app.wait_started()

    live.run(start())
    assert app.started
    # The cards listed: no card read in flight when the test starts.
    page = app.window.login_page
    live.wait_until(lambda: page.model.rowCount() > 0 and not page.refreshing)
    try:
        yield e2e
    finally:
        app.window.close()  # quit_console() did it, unless the test failed before
        live.run(app.aclose(), timeout=20.0)
        app.window.deleteLater()
        live.spin(0.01)


@pytest.fixture
def console(
    live: LiveLoop,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[E2E]:
    with started_console(live, sandbox.url, tmp_path, monkeypatch) as e2e:
        yield e2e


def quit_console(e2e: E2E, aloop: AsyncLoop) -> None:
    """Quit as a user does (the window closed: views emptied, then the session ended, the
    gateway and the reader closed); check nothing went wrong on the way.

    Called at the end of each test, so that these checks are part of it (the fixture's
    teardown only closes what a failed test left open).
    """
    app = e2e.app
    assert app.monitor is not None and app.monitor.running, "the card monitor died"
    app.window.close()
    aloop.run(app.aclose(), timeout=20.0)
    assert e2e.card_calls[-1] == "close", "the reader was not closed"
    assert not e2e.errors, f"errors reached the error handler: {e2e.errors!r}"


def choose_card(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, persona: dict[str, Any]) -> None:
    """Click the persona's card in the login page's list."""
    page = e2e.login_page
    assert e2e.shown() is page

    def row() -> int:
        for number in range(page.model.rowCount()):
            choice = page.model.choice(number)
            if choice is not None and choice.token.label == persona["token_label"]:
                return number
        return -1

    wait(aloop, lambda: row() >= 0 and not page.refreshing, page.cards_status_label.text)
    index = page.model.index(row(), 0)
    page.table.scrollTo(index)
    rect = page.table.visualRect(index)
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    selected = page.table.selectionModel().selectedRows()
    assert [i.row() for i in selected] == [row()]


def type_pin(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, pin: str) -> None:
    """Click "Se connecter", type the PIN in the PIN dialog, click "Valider"."""
    page = e2e.login_page
    qtbot.mouseClick(page.login_button, Qt.MouseButton.LeftButton)
    wait(
        aloop,
        lambda: page.pin_dialog is not None and page.pin_dialog.isVisible(),
        page.message,
    )
    dialog = page.pin_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.pin_edit, pin)
    assert dialog.ok_button.isEnabled()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait(aloop, lambda: not page.busy, page.message)


def acknowledge_notice(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop) -> None:
    """Click "J'ai compris" in the traceability notice; the patient search comes up."""
    window = e2e.app.window
    wait(
        aloop,
        lambda: window.notice_dialog is not None and window.notice_dialog.isVisible(),
        e2e.login_page.message,
    )
    dialog = window.notice_dialog
    assert dialog is not None
    qtbot.mouseClick(dialog.understood_button, Qt.MouseButton.LeftButton)
    wait(aloop, lambda: e2e.shown() is e2e.search, lambda: type(e2e.shown()).__name__)


def log_in(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, persona: dict[str, Any]) -> None:
    choose_card(e2e, qtbot, aloop, persona)
    type_pin(e2e, qtbot, aloop, persona["pin"])
    acknowledge_notice(e2e, qtbot, aloop)
    session = e2e.app.session
    assert session.state is SessionState.ACTIVE
    assert session.identity is not None
    assert session.identity.id_nat == persona["id_nat"]


def find_patient(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, ins: str) -> None:
    """Type the INS, press Enter: the patient found is shown."""
    search = e2e.search
    qtbot.keyClicks(search.ins_edit, ins)
    assert search.ins_message.text() == "NIR valide."
    qtbot.keyClick(search.ins_edit, Qt.Key.Key_Return)
    wait(aloop, lambda: search.patient is not None and not search.busy, search.status_message.text)
    assert search.patient is not None
    assert search.patient.ins.value == ins
    assert search.ins_label.text() == ins


class Loads:
    """Records a dossier view's ``loadingChanged``: a fetch is over once it went True, False."""

    def __init__(self, view: DossierView) -> None:
        self.seen: list[bool] = []
        view.loadingChanged.connect(self.seen.append)

    def done(self) -> bool:
        return True in self.seen and self.seen[-1] is False


def wait_loaded(e2e: E2E, aloop: AsyncLoop, loads: Loads) -> None:
    """Wait for the fetch that ``loads`` watches to end, without error."""
    view = e2e.dossier
    wait(aloop, loads.done, lambda: f"loading={view.loading}, {view.count_label.text()!r}")
    assert view.error_label.text() == ""
    loads.seen.clear()


def open_record(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, ins: str) -> None:
    """Find ``ins``, click "Ouvrir le dossier", keep the normal mode, open; wait for the list
    (a first or a later opening: :func:`open_dossier` checks a first one)."""
    find_patient(e2e, qtbot, aloop, ins)
    search, view = e2e.search, e2e.dossier
    loads = Loads(view)
    qtbot.mouseClick(search.open_button, Qt.MouseButton.LeftButton)
    wait(
        aloop,
        lambda: (
            isinstance(search.active_dialog, AccessModeDialog) and search.active_dialog.isVisible()
        ),
        search.status_message.text,
    )
    dialog = search.active_dialog
    assert isinstance(dialog, AccessModeDialog)
    assert dialog.normal_radio.isChecked()  # preselected
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    wait(aloop, lambda: e2e.shown() is view, search.status_message.text)
    wait_loaded(e2e, aloop, loads)
    assert view.dossier is not None
    assert view.dossier.patient.ins.value == ins
    assert view.ins_label.text() == f"INS {ins}"
    offline = is_offline_grant(view.dossier.grant)
    assert view.mode_badge.text() == ("Hors ligne (lecture seule)" if offline else "Accès normal")


def open_dossier(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop, ins: str) -> tuple[DocumentQuery, ...]:
    """Open ``ins`` (:func:`open_record`), a first opening.

    Returns the first opening's searches, checked against the DMP's rule: the last two years
    (the "2 dernières années" chip), plus the vaccination history without a date limit.
    """
    before = date.today()
    open_record(e2e, qtbot, aloop, ins)
    view = e2e.dossier
    assert view.date_chip.isVisible()
    assert view.plan is not None and view.plan.first_opening
    main, *others = view.plan.queries
    assert main == DocumentQuery(act_from=main.act_from, page_size=main.page_size), (
        "a first opening filters on the date only"
    )
    assert main.act_from in {two_years_before(before), two_years_before(date.today())}
    assert others == [DocumentQuery(type_codes=(VACCINATION_HISTORY,), page_size=main.page_size)]
    return view.plan.queries


def two_years_before(day: date) -> date:
    """The DMP's first-opening limit (29 February gives the 28th)."""
    try:
        return day.replace(year=day.year - 2)
    except ValueError:
        return day.replace(year=day.year - 2, day=28)


def remove_date_chip(e2e: E2E, qtbot: QtBot, aloop: AsyncLoop) -> None:
    """Click the chip's ✕: the whole history is fetched."""
    view = e2e.dossier
    loads = Loads(view)
    qtbot.mouseClick(view.date_chip_button, Qt.MouseButton.LeftButton)
    wait_loaded(e2e, aloop, loads)
    assert not view.date_chip.isVisible()
    assert view.plan is not None
    assert all(q.act_from is None for q in view.plan.queries)


def activate(e2e: E2E, aloop: AsyncLoop) -> None:
    """Make the console's window the active one (keyboard shortcuts need it)."""
    window = e2e.app.window
    window.activateWindow()
    wait(aloop, lambda: QApplication.activeWindow() is window, lambda: "window not active")


# -- the tests ---------------------------------------------------------------------------------


def test_gp_logs_in_with_her_card_and_sees_exactly_what_the_rules_allow(
    console: E2E,
    sandbox: Sandbox,
    qtbot: QtBot,
    live: LiveLoop,
) -> None:
    gp = sandbox.persona("gp")
    masked = sandbox.patients["with_masked"]
    ins = masked["ins"]
    assert ins in sandbox.patients["treated_by_gp"]
    expected = seeded(sandbox, "gp", ins, AccessMode.NORMAL)

    # The login page lists the personas' cards, read through PKCS#11 without a PIN.
    page = console.login_page
    wait(
        live,
        lambda: page.model.rowCount() == len(sandbox.personas) and not page.refreshing,
        page.cards_status_label.text,
    )
    listed = {
        (choice.token.label, choice.identity.id_nat if choice.identity else None)
        for choice in (page.model.choice(row) for row in range(page.model.rowCount()))
        if choice is not None
    }
    assert listed == {(p["token_label"], p["id_nat"]) for p in sandbox.personas.values()}

    log_in(console, qtbot, live, gp)
    assert console.card_calls.count("login") == 1

    # First opening: the last two years (as the chip says) and the vaccination history.
    first_opening = open_dossier(console, qtbot, live, ins)
    recent = expected.visible_ids(first_opening)
    assert console.model_ids() == recent

    # The chip removed: the whole history the rules allow, masked documents included (she is
    # the médecin traitant), nothing the rules refuse.
    remove_date_chip(console, qtbot, live)
    view = console.dossier
    everything = expected.visible_ids()
    assert console.model_ids() == everything
    assert len(everything) > len(recent), "the seed has no document older than 2 years"
    stored = {d.id: d for d in expected.documents}
    shown_masked = {i for i in everything if stored[i].masked}
    assert shown_masked and shown_masked <= set(masked["document_ids"])
    hidden = set(stored) - everything
    assert hidden, "nothing for the rules to filter: the comparison proves little"
    assert console.dossier.count_label.text() == f"{len(everything)} documents"

    # Enter on a PDF: QtPdf loads it in the preview.
    pdf = next(r for r in view.model.rows() if r.doc.content_type == "application/pdf")
    row = view.model.row_of(pdf.doc.id)
    assert row is not None
    index = view.model.index(row, 0)
    view.table.scrollTo(index)
    rect = view.table.visualRect(index)
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.current_document() == pdf.doc
    assert console.preview_state() == PreviewState.EMPTY  # a click selects, it does not read
    activate(console, live)
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    wait(
        live,
        lambda: view.preview.state in (PreviewState.PDF, PreviewState.MESSAGE),
        lambda: view.preview.state.value,
    )
    assert console.preview_state() == PreviewState.PDF, view.preview.message
    assert view.preview.document_id == pdf.doc.id
    document = view.preview.pdf_document
    assert document is not None and document.pageCount() > 0
    assert view.preview.page_count() == document.pageCount()

    # Quitting logs the card out: the rest of the session can use it again.
    quit_console(console, live)
    assert "logout" in console.card_calls
    assert sandbox.card_login("gp")


def test_nurse_never_sees_the_types_the_matrix_keeps_from_her(
    console: E2E,
    sandbox: Sandbox,
    qtbot: QtBot,
    live: LiveLoop,
) -> None:
    nurse = sandbox.persona("nurse")
    matrix = habilitation_matrix()
    assert not any(matrix.allows(nurse["profession"], t) for t in NURSE_FORBIDDEN)

    # Her care team's patient with the fewest documents that has all three types listable.
    candidates = []
    for ins in sandbox.patients["care_team"]["nurse"]:
        data = seeded(sandbox, "nurse", ins, AccessMode.NORMAL)
        listable = {
            d.type_code for d in data.documents if d.status is DocStatus.CURRENT and not d.archived
        }
        if set(NURSE_FORBIDDEN) <= listable:
            candidates.append((len(data.documents), ins, data))
    assert candidates, "the seed gives none of the nurse's patients all of " + str(NURSE_FORBIDDEN)
    _, ins, expected = min(candidates)

    log_in(console, qtbot, live, nurse)
    open_dossier(console, qtbot, live, ins)
    remove_date_chip(console, qtbot, live)  # so that age hides none of them

    shown = console.dossier.model.rows()
    assert shown
    assert not {r.doc.type_code for r in shown} & set(NURSE_FORBIDDEN)
    assert {r.doc.id for r in shown} == expected.visible_ids()
    quit_console(console, live)


def test_wrong_pin_is_tried_once_then_the_right_one_logs_in(
    console: E2E,
    sandbox: Sandbox,
    qtbot: QtBot,
    live: LiveLoop,
) -> None:
    gp = sandbox.persona("gp")
    wrong = "0000" if gp["pin"] != "0000" else "9999"
    page = console.login_page
    card_auths = access_log_count(sandbox, "POST /auth/card")
    challenges = access_log_count(sandbox, "POST /auth/challenge")

    choose_card(console, qtbot, live, gp)
    type_pin(console, qtbot, live, wrong)
    assert page.message().startswith("Code PIN incorrect")
    assert console.shown() is page
    assert console.session_state() is SessionState.LOGGED_OUT
    # One attempt on the card, none on the server, and no PIN asked again by itself.
    live.spin(1.2)  # a few card polls
    assert console.card_calls.count("login") == 1
    assert page.pin_dialog is None
    assert access_log_count(sandbox, "POST /auth/card") == card_auths
    assert access_log_count(sandbox, "POST /auth/challenge") == challenges

    choose_card(console, qtbot, live, gp)
    type_pin(console, qtbot, live, gp["pin"])
    acknowledge_notice(console, qtbot, live)
    assert console.card_calls.count("login") == 2
    assert console.session_state() is SessionState.ACTIVE
    # (The access log line is written just after the answer is sent.)
    wait_logged(live, sandbox, "POST /auth/card", card_auths + 1)
    quit_console(console, live)


def test_invalid_ins_shows_a_message_and_sends_nothing(
    console: E2E,
    sandbox: Sandbox,
    qtbot: QtBot,
    live: LiveLoop,
) -> None:
    log_in(console, qtbot, live, sandbox.persona("gp"))
    search = console.search
    good = sandbox.patients["treated_by_gp"][0]
    bad = f"{good[:13]}{int(good[13:]) % 97 + 1:02d}"  # another key: a typing error
    audited = patient_searches_audited(sandbox)
    logged = access_log_count(sandbox, "GET /Patient")

    qtbot.keyClicks(search.ins_edit, bad)
    assert search.ins_message.text() == (
        "La clé de contrôle est fausse : vérifiez la saisie du NIR."
    )
    assert not search.search_button.isEnabled()
    qtbot.keyClick(search.ins_edit, Qt.Key.Key_Return)
    qtbot.mouseClick(search.search_button, Qt.MouseButton.LeftButton)
    live.spin(0.5)
    assert not search.busy and search.patient is None
    assert search.ins_message.text().startswith("La clé de contrôle est fausse")
    assert search.status_message.text() == ""  # no "Recherche du patient…" either
    assert patient_searches_audited(sandbox) == audited
    assert access_log_count(sandbox, "GET /Patient") == logged

    # The right key: one search reaches the server (so the counts above can see one).
    search.ins_edit.selectAll()
    qtbot.keyClicks(search.ins_edit, good)
    qtbot.keyClick(search.ins_edit, Qt.Key.Key_Return)
    wait(live, lambda: search.patient is not None, search.status_message.text)
    assert patient_searches_audited(sandbox) == audited + 1
    wait_logged(live, sandbox, "GET /Patient", logged + 1)
    quit_console(console, live)
