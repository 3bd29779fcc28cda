"""The console end to end, across a server outage and across a restart.

The real :class:`ConsoleApp` (``started_console`` of test_console_e2e: SoftHSM2 card through
PKCS#11, :class:`HttpDmpGateway` over loopback, the real pages and encrypted cache), driven
through its widgets:

- **offline** (issue 7): the GP opens a patient online; the sandbox stops; she finds and
  reopens the patient from the cache (read-only, the status bar says offline and when it
  last synced); she deposits a PDF with Ctrl+D: the dialog says it is queued in the
  encrypted cache; the sandbox restarts on the same port; the console's probe notices and
  flushes the outbox: the sandbox's database then holds exactly one document with that
  deposit's masterIdentifier and title, and nothing waits in the outbox. The sandbox here is
  this test's own process on the session's directory (stopping it disturbs no other test).
- **later openings survive a restart** (issue 4): the GP opens a patient (a first opening:
  two years), quits; a document is deposited for that patient meanwhile; a new console on
  the same data directory (same encrypted cache) logs in with the same card and opens the
  patient: a later opening (only what was deposited since the last visit is searched), the
  new document marked new, the documents known from the first visit shown too.
"""

# pytest-qt's QtBot methods are not annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from console import app as console_app
from console.cache.outbox import OutboxState
from console.dmp.client import HttpDmpGateway
from console.domain.deposit import DepositDraft, ItemStatus
from console.domain.dossier import NEW_SINCE_MARGIN, DocumentQuery, ProfessionalLogin
from console.domain.localtime import format_datetime
from console.domain.models import AccessMode
from console.domain.table import Column
from console.domain.terminology import VACCINATION_HISTORY
from console.services.cache import CacheVisitStore
from console.services.deposit import DepositService, QueueEntry
from console.services.offline import is_offline_grant
from console.services.visits import VisitKey
from console.views.deposit_dialog import DepositDialog
from console.views.document_model import COLUMNS
from sandbox.store import DB_NAME, Store
from sandbox.testing import SandboxProcess
from tests import qtloop
from tests.deposit_fakes import make_pdf
from tests.integration.conftest import Sandbox
from tests.integration.test_console_e2e import (
    E2E,
    ReadOnlyStore,
    activate,
    choose_card,
    log_in,
    open_dossier,
    open_record,
    quit_console,
    started_console,
    type_pin,
    wait,
)
from tests.qtloop import LiveLoop

pytestmark = [pytest.mark.integration, pytest.mark.gui]

aloop = qtloop.aloop  # the fixture: a qasync loop over pytest-qt's QApplication

PROBE_MS = 200
"""The console's offline probe interval here (30 s in the application)."""

CONSULTATION = "11488-4"
"""Compte rendu de consultation: a type every doctor may deposit and read."""


@pytest.fixture
def own_sandbox(sandbox: Sandbox) -> Iterator[SandboxProcess]:
    """A sandbox process of this test's own on the session's directory (same database, same
    cards), which the test stops and restarts on the same port."""
    process = SandboxProcess(sandbox.directory)
    process.start()
    try:
        yield process
    finally:
        process.stop()


# -- what the sandbox stored, read apart from it ------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """A document row of the sandbox's database."""

    id: str
    master_id: str
    title: str
    patient_ins: str


def stored_documents(directory: Path, *, master_id: str, title: str) -> list[Stored]:
    """The documents of the sandbox's database with ``master_id`` or ``title`` (read-only)."""
    store = ReadOnlyStore(directory / DB_NAME)
    try:
        rows = store.query(
            "SELECT id, master_id, title, patient_ins FROM documents "
            "WHERE master_id = ? OR title = ?",
            (master_id, title),
        )
    finally:
        store.close()
    return [Stored(r["id"], r["master_id"], r["title"], r["patient_ins"]) for r in rows]


def deposit_times(directory: Path, ids: Iterable[str]) -> dict[str, datetime]:
    """When the sandbox stored each of the documents ``ids`` (aware; read-only)."""
    wanted = set(ids)
    store = ReadOnlyStore(directory / DB_NAME)
    try:
        rows = store.query("SELECT * FROM documents")
        documents = [Store.document(row) for row in rows if row["id"] in wanted]
    finally:
        store.close()
    return {
        d.id: d.deposited if d.deposited.tzinfo else d.deposited.replace(tzinfo=UTC)
        for d in documents
    }


# -- driving the console ---------------------------------------------------------------------


def poll(
    live: LiveLoop, check: Callable[[], object], what: Callable[[], str], timeout: float
) -> None:
    """``wait`` with its own timeout."""
    try:
        live.wait_until(check, timeout=timeout)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout} s: {what()}")


def online(e2e: E2E) -> bool:
    """Whether the console's offline gateway says the server answers."""
    return e2e.app.offline.online


def outbox(e2e: E2E, live: LiveLoop) -> list[QueueEntry]:
    """The deposits of the console's outbox (in the encrypted cache)."""
    return live.run(e2e.app.deposits.queue().entries())


def log_in_again(e2e: E2E, qtbot: QtBot, live: LiveLoop, persona: dict[str, object]) -> None:
    """Card and PIN; the traceability notice was acknowledged in an earlier run (same
    preferences), so the patient search comes up at once."""
    choose_card(e2e, qtbot, live, persona)
    type_pin(e2e, qtbot, live, str(persona["pin"]))
    wait(live, lambda: e2e.shown() is e2e.search, e2e.login_page.message)
    assert e2e.app.window.notice_dialog is None or not e2e.app.window.notice_dialog.isVisible()
    login = e2e.app.session.login
    assert login is not None and login.id_nat == persona["id_nat"]


def reopen(e2e: E2E, qtbot: QtBot, live: LiveLoop, ins: str) -> None:
    """Back to the patient search (Ctrl+O closes the patient), the INS typed again, opened."""
    activate(e2e, live)
    qtbot.keyClick(e2e.app.window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    wait(live, lambda: e2e.shown() is e2e.search, lambda: type(e2e.shown()).__name__)
    e2e.search.ins_edit.clear()
    open_record(e2e, qtbot, live, ins)


def fill_deposit(
    dialog: DepositDialog, live: LiveLoop, qtbot: QtBot, pdf: Path, title: str
) -> None:
    """The file, the type and the title, as the dialog's widgets take them."""
    live.run(dialog.load_file(pdf))
    dialog.type_picker.set_type(CONSULTATION)
    dialog.title_edit.clear()
    qtbot.keyClicks(dialog.title_edit, title)
    assert dialog.issues == (), [i.message for i in dialog.issues]
    assert dialog.deposit_button.isEnabled()


def status_column() -> int:
    return next(i for i, d in enumerate(COLUMNS) if d.column == Column.STATUS)


# -- the tests ---------------------------------------------------------------------------------


def test_a_deposit_made_offline_is_queued_then_sent_once_when_the_server_is_back(
    sandbox: Sandbox,
    own_sandbox: SandboxProcess,
    qtbot: QtBot,
    live: LiveLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gp = sandbox.persona("gp")
    ins = sandbox.patients["treated_by_gp"][0]
    # Offline, the application asks the server again every 30 s: a fraction of a second here.
    monkeypatch.setattr(console_app, "OFFLINE_PROBE_MS", PROBE_MS)
    with started_console(live, own_sandbox.url, tmp_path / "console", monkeypatch) as console:
        app, window = console.app, console.app.window
        log_in(console, qtbot, live, gp)
        wait(live, lambda: app.cache is not None and app.cache.is_open, lambda: "cache closed")

        # Online: a first opening, cached as it is listed.
        open_dossier(console, qtbot, live, ins)
        online_plan = console.dossier.plan
        assert online_plan is not None
        online_ids = console.model_ids()
        assert online_ids, "the patient has no document to read offline"
        assert online(console) and not window.offline_label.isVisible()
        synced = app.offline.last_sync
        assert synced is not None

        # The server goes away: the patient is found and opened again from the cache.
        own_sandbox.stop()
        reopen(console, qtbot, live, ins)
        view = console.dossier
        assert not online(console)
        assert view.dossier is not None and is_offline_grant(view.dossier.grant), (
            "reopened with a server grant while the server is down"
        )
        assert console.model_ids() == online_ids
        # Said where the professional reads it: read-only, from this computer, nothing
        # "new" claimed (nothing could be looked for).
        header = view.header_widget
        assert header is not None
        live.wait_until(lambda: header.mode_badge.text() == "Hors ligne (lecture seule)")
        assert header.mode_note.text() == "Documents lus dans le cache chiffré de ce poste"
        assert view.new_label.text() == "Hors ligne : la liste gardée sur ce poste"
        assert window.offline_label.isVisible()
        assert window.offline_label.text() == (
            "Hors ligne — dernière synchronisation : " + format_datetime(synced)
        )
        # Nothing came from the server: this opening is no visit of the record. The last
        # visit stays the online one, or the next online opening would ask only for what was
        # deposited since now and miss what reached the DMP during the outage.
        assert view.plan is not None and view.plan.last_visit is not None
        assert view.plan.last_visit.at == online_plan.started_at
        key = VisitKey(gp["id_nat"], ins, AccessMode.NORMAL)
        assert app.cache is not None
        last = live.run(CacheVisitStore(app.cache).last_visit(key))
        assert last is not None and last.at == online_plan.started_at, (
            f"the offline opening was recorded as the last visit ({last})"
        )

        # Ctrl+D: a small PDF, the form filled, "Déposer": queued, not lost.
        activate(console, live)
        qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
        dialog = window.deposit_dialog
        assert isinstance(dialog, DepositDialog), "Ctrl+D opened no deposit dialog"
        assert dialog.isVisible() and dialog.ins_edit.text() == ins
        assert not dialog.persistence_label.isVisible()  # the encrypted cache holds the outbox
        title = f"CR consultation hors ligne {uuid.uuid4().hex[:8]}"
        pdf = tmp_path / "consultation.pdf"
        pdf.write_bytes(make_pdf(title))
        fill_deposit(dialog, live, qtbot, pdf, title)
        qtbot.mouseClick(dialog.deposit_button, Qt.MouseButton.LeftButton)
        poll(
            live,
            lambda: not dialog.busy,  # answered, or given up: queued (or failed)
            lambda: f"the deposit dialog says {dialog.status_label.text()!r}",
            timeout=30.0,
        )
        outcome = dialog.outcome
        assert outcome is not None, f"the deposit was lost: {dialog.status_label.text()!r}"
        assert outcome.status in (ItemStatus.QUEUED, ItemStatus.RETRY_WAIT)
        assert outcome.persistent
        assert "sera renvoyé automatiquement" in dialog.status_label.text()
        assert outcome.master_id in dialog.receipt_label.text()
        master_id = outcome.master_id
        waiting = [e for e in outbox(console, live) if e.master_id == master_id]
        assert [e.state for e in waiting] in ([OutboxState.PENDING], [OutboxState.SENDING])
        assert stored_documents(sandbox.directory, master_id=master_id, title=title) == []
        qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
        wait(live, lambda: window.deposit_dialog is None, lambda: "the dialog stays open")

        # The server is back on the same port: the probe notices, the outbox is flushed.
        own_sandbox.start()
        poll(
            live,
            lambda: online(console),
            lambda: f"still offline: {window.offline_label.text()!r}",
            timeout=15.0,
        )
        assert not window.offline_label.isVisible()

        def sent() -> bool:
            return bool(stored_documents(sandbox.directory, master_id=master_id, title=title))

        poll(
            live,
            sent,
            lambda: f"not deposited; the outbox: {outbox(console, live)!r}",
            timeout=30.0,
        )
        entries: list[QueueEntry] = []

        async def settled() -> None:
            while True:
                entries[:] = await app.deposits.queue().entries()
                if all(e.state is OutboxState.SENT for e in entries):
                    return
                await asyncio.sleep(0.05)

        try:
            live.run(settled(), timeout=15.0)
        except TimeoutError:
            pytest.fail(f"the outbox still holds deposits to send: {entries!r}")
        assert live.run(app.deposits.pending_count()) == 0
        ours = [e for e in entries if e.master_id == master_id]
        assert len(ours) == 1, f"the outbox: {entries!r}"

        # Exactly one document: that deposit's masterIdentifier and title, that patient.
        found = stored_documents(sandbox.directory, master_id=master_id, title=title)
        assert len(found) == 1, f"not exactly one document in the sandbox: {found!r}"
        document = found[0]
        assert (document.master_id, document.title, document.patient_ins) == (
            master_id,
            title,
            ins,
        )
        assert ours[0].server_id == document.id
        quit_console(console, live)


@pytest.mark.parametrize("patient", ["treated_by_gp", "with_masked"])
def test_a_later_opening_after_a_restart_fetches_only_what_is_new(
    patient: str,
    sandbox: Sandbox,
    qtbot: QtBot,
    live: LiveLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``with_masked``: she is the médecin traitant, so the list shows other authors' masked
    documents, which the cache keeps (and the visit with them)."""
    gp = sandbox.persona("gp")
    masked = patient == "with_masked"
    ins = sandbox.patients["with_masked"]["ins"] if masked else sandbox.patients[patient][0]
    place = tmp_path / "console"  # the same settings, preferences and encrypted cache twice

    # First run: a first opening (the last two years), then quit.
    with started_console(live, sandbox.url, place, monkeypatch) as first:
        log_in(first, qtbot, live, gp)
        cache = first.app.cache
        wait(live, lambda: cache is not None and cache.is_open, lambda: "cache closed")
        open_dossier(first, qtbot, live, ins)
        known = first.model_ids()
        assert known, "nothing listed at the first opening"
        others_masked = {
            r.doc.id
            for r in first.dossier.model.rows()
            if r.doc.masked and r.doc.author_id_nat != gp["id_nat"]
        }
        assert bool(others_masked) is masked, others_masked
        plan = first.dossier.plan
        assert plan is not None
        visited = plan.started_at
        quit_console(first, live)

    # Meanwhile, the hospital doctor deposits a consultation report for the patient.
    title = f"CR consultation hospitalière {uuid.uuid4().hex[:8]}"
    token = sandbox.card_login("hospital_doctor")
    master_id, document_id = live.run(
        deposit_for(sandbox, "hospital_doctor", token, ins, title), timeout=30.0
    )
    assert stored_documents(sandbox.directory, master_id=master_id, title=title)

    # Second run, on the same data: the same card, the same patient.
    with started_console(live, sandbox.url, place, monkeypatch) as second:
        log_in_again(second, qtbot, live, gp)
        app = second.app
        wait(live, lambda: app.cache is not None and app.cache.is_open, lambda: "cache closed")
        open_record(second, qtbot, live, ins)
        view = second.dossier
        plan = view.plan
        assert plan is not None
        assert not plan.first_opening, (
            "a first opening again: the last visit did not survive the restart"
        )
        assert plan.last_visit is not None and plan.last_visit.at == visited
        main, *others = plan.queries
        assert main == DocumentQuery(deposited_since=visited - NEW_SINCE_MARGIN), (
            "a later opening asks only what was deposited since the last visit"
        )
        assert main.act_from is None
        assert others == [DocumentQuery(type_codes=(VACCINATION_HISTORY,))]
        assert {d.id for d in plan.known} == known

        # The new document is listed and marked new; what was known is shown too, not new.
        shown = second.model_ids()
        assert known <= shown, f"known documents missing: {known - shown}"
        fresh = shown - known
        assert document_id in fresh
        # (Other tests may have deposited for the patient too: whatever else is listed was
        # deposited since the last visit, as the sandbox's database says.)
        since = visited - NEW_SINCE_MARGIN
        deposited = deposit_times(sandbox.directory, fresh)
        assert all(deposited[i] >= since for i in fresh), deposited
        rows = {r.doc.id: r for r in view.model.rows()}
        assert {i for i, r in rows.items() if r.is_new} == fresh
        number = view.model.row_of(document_id)
        assert number is not None
        assert view.model.data(view.model.index(number, status_column())) == "Nouveau"
        count = "1 nouveau document" if len(fresh) == 1 else f"{len(fresh)} nouveaux documents"
        assert view.new_label.text().startswith(f"{count} depuis le "), view.new_label.text()
        quit_console(second, live)


async def deposit_for(
    sandbox: Sandbox, persona_id: str, token: str, ins: str, title: str
) -> tuple[str, str]:
    """A PDF deposited in ``ins``'s record by ``persona_id`` (logged in with her card:
    ``token``), over HTTP, as another workstation would: its masterIdentifier and
    DocumentReference id."""
    persona = sandbox.persona(persona_id)
    login = ProfessionalLogin(
        persona["id_nat"],
        f"{persona['given_name']} {persona['family_name']}",
        persona["profession"],
        token,
        datetime.now(UTC) + timedelta(hours=1),
    )
    gateway = HttpDmpGateway(sandbox.url)
    try:
        service = DepositService(gateway)
        file = await service.load_bytes("cr.pdf", make_pdf(title))
        draft = DepositDraft(ins, CONSULTATION, title, date.today())
        outcome = await service.deposit(login, file, draft)
    finally:
        await gateway.aclose()
    assert outcome.status is ItemStatus.SENT and outcome.receipt is not None, outcome
    return outcome.master_id, outcome.receipt.document_id
