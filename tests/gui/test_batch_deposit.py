"""The secretary's batch screen, through its widgets: files and manifest, the doctor, the
table (model checked by ``qtmodeltester``), validation, deposit with progress, pause and
resume, a restored queue, and the receipt PDF.

The service is the real :class:`BatchDepositService` over the scripted fake DMP."""

from __future__ import annotations

import asyncio
import gc
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QMessageBox, QStyleOptionViewItem, QWidget
from pytestqt.qtbot import QtBot

from console.domain.deposit import DepositDraft, ItemStatus
from console.services.deposit import (
    BatchDepositService,
    BatchPlan,
    NewDeposit,
    PlannedFile,
    PumpStop,
)
from console.services.presets import MemoryPreferenceStore
from console.views.batch_deposit import BatchColumn, BatchDepositView, TypeDelegate
from tests.deposit_fakes import FAST, NIR, SECRETARY, FakeDmp, login_of, make_pdf
from tests.qtloop import AsyncLoop

DOCTOR = "899700000094"
QT_DIALOG_NOISE = ("does not support raise", "does not support grabbing the keyboard")


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """See tests/gui/test_deposit_dialog.py: Qt objects must die on the GUI thread."""
    gc.collect()
    yield
    gc.collect()


@pytest.fixture
def dmp() -> FakeDmp:
    return FakeDmp(SECRETARY, latency=0.01)


@pytest.fixture
def service(dmp: FakeDmp) -> BatchDepositService:
    return BatchDepositService(dmp, policy=FAST, preferences=MemoryPreferenceStore())


@pytest.fixture
def view(qtbot: QtBot, aloop: AsyncLoop, service: BatchDepositService) -> BatchDepositView:
    widget = BatchDepositView(service, login_of(SECRETARY))
    qtbot.addWidget(widget)
    widget.resize(1200, 700)
    widget.show()
    aloop.run(widget.initialize())
    return widget


def batch_folder(root: Path) -> Path:
    """Good files (name rule and manifest), and every kind of bad one."""
    folder = root / "lot"
    folder.mkdir()
    for i in range(4):
        name = f"{NIR}_11488-4_20250110_Compte_rendu_{i}.pdf"
        (folder / name).write_bytes(make_pdf(f"document {i}"))
    first = folder / f"{NIR}_11488-4_20250110_Compte_rendu_0.pdf"
    (folder / "copie.pdf").write_bytes(first.read_bytes())  # the same file twice
    (folder / "faux.pdf").write_bytes(b"GIF89a, not a PDF")
    (folder / "vide.pdf").write_bytes(b"")
    (folder / "futur.pdf").write_bytes(make_pdf("futur"))
    (folder / "ins.pdf").write_bytes(make_pdf("ins"))
    (folder / "type.pdf").write_bytes(make_pdf("type"))
    future = (date.today() + timedelta(days=10)).strftime("%d/%m/%Y")
    (folder / "manifeste.csv").write_text(
        "fichier;ins;type;titre;date;masque_ps\n"
        f"copie.pdf;{NIR};11488-4;Copie;01/01/2025;non\n"
        f"faux.pdf;{NIR};11488-4;Faux;01/01/2025;non\n"
        f"vide.pdf;{NIR};11488-4;Vide;01/01/2025;non\n"
        f"futur.pdf;{NIR};11488-4;Futur;{future};oui\n"
        f"ins.pdf;{NIR[:-2]}00;11488-4;INS faux;01/01/2025;non\n"
        f"type.pdf;{NIR};XX-999;Type inconnu;01/01/2025;non\n",
        encoding="utf-8",
    )
    return folder


def act_until(
    aloop: AsyncLoop, action: Callable[[], object], until: Callable[[], bool], timeout: float = 10
) -> None:
    """Do ``action`` (a click that closes a dialog...) inside the running loop and keep it
    running until ``until()``: qasync runs callbacks left pending when its loop stops on the
    next Qt events, outside any running asyncio loop, so a test never stops the loop between
    a click and the work it starts."""

    async def run() -> None:
        action()
        while not until():
            await asyncio.sleep(0.01)

    aloop.run(run(), timeout)


def accept_box(
    aloop: AsyncLoop, parent: QWidget, until: Callable[[], bool], timeout: float = 10
) -> QMessageBox:
    aloop.wait_until(lambda: any(b.isVisible() for b in parent.findChildren(QMessageBox)))
    box = [b for b in parent.findChildren(QMessageBox) if b.isVisible()][-1]
    text = box.text()
    act_until(aloop, box.button(QMessageBox.StandardButton.Ok).click, until, timeout)
    box.setText(text)
    return box


def choose_doctor(view: BatchDepositView, id_nat: str = DOCTOR, name: str = "Dr LEFEBVRE") -> None:
    view.doctor_name_edit.setText(name)
    view.doctor_combo.setEditText(id_nat)
    view.choose_doctor()


def statuses(view: BatchDepositView) -> dict[str, ItemStatus]:
    return {item.file_name: item.status for item in view.service.items}


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_the_empty_screen_shows_no_count(view: BatchDepositView) -> None:
    """The empty batch screen said "0 / 1" (issue 17)."""
    assert view.progress.text() == ""


def test_a_batch_from_a_folder_with_its_manifest(
    view: BatchDepositView,
    aloop: AsyncLoop,
    qtbot: QtBot,
    qtmodeltester: object,
    dmp: FakeDmp,
    tmp_path: Path,
) -> None:
    assert "Nadia MERCIER" in view.depositor_label.text()
    assert "Centre hospitalier de Saint-Martin" in view.depositor_label.text()
    assert view.persistence_label.isVisible()  # in-memory queue: said plainly
    assert not view.deposit_button.isEnabled() and not view.validate_button.isEnabled()

    aloop.run(view.add_paths([batch_folder(tmp_path)]))
    model = view.model
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert model.rowCount() == 10 and "6 ligne" in view.manifest_label.text()
    row = model.row_of(next(i.key for i in view.service.items if i.file_name == "futur.pdf"))
    flag = model.index(row, BatchColumn.MASKED)
    assert model.data(flag, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    first = model.index(0, BatchColumn.TYPE)
    assert model.data(first) == "CR ou fiche de consultation ou de visite (11488-4)"
    assert model.data(model.index(0, BatchColumn.DATE)) == "10/01/2025"

    act_until(aloop, view.validate_button.click, lambda: not view.busy)
    found = statuses(view)
    assert [n for n, s in found.items() if s is ItemStatus.READY] == [
        f"{NIR}_11488-4_20250110_Compte_rendu_{i}.pdf" for i in range(4)
    ]
    assert {n for n, s in found.items() if s is ItemStatus.INVALID} == {
        "copie.pdf",
        "faux.pdf",
        "vide.pdf",
        "futur.pdf",
        "ins.pdf",
        "type.pdf",
    }
    messages = {
        item.file_name: model.data(model.index(model.row_of(item.key), BatchColumn.MESSAGE))
        for item in view.service.items
    }
    assert "figure deux fois" in messages["copie.pdf"]
    assert "n'est pas un PDF" in messages["faux.pdf"]
    assert "vide" in messages["vide.pdf"]
    assert "futur" in messages["futur.pdf"]
    assert "INS invalide" in messages["ins.pdf"]
    assert "inconnu" in messages["type.pdf"]
    assert "4 document(s) prêt(s), 6 refusé(s)" in view.status_label.text()
    assert not view.deposit_button.isEnabled()  # no doctor yet

    choose_doctor(view, "1997000456/SEC0042")
    assert "CPE" in view.doctor_status.text() and not view.deposit_button.isEnabled()
    choose_doctor(view)
    assert view.deposit_button.isEnabled()
    view.deposit_button.click()
    box = accept_box(aloop, view, lambda: view.last_stop is not None)
    assert "4 document(s)" in box.text() and "Dr LEFEBVRE (899700000094)" in box.text()
    assert view.last_stop is PumpStop.DONE
    assert len(dmp.stored) == 4
    assert view.progress.value() == 4 and view.progress.maximum() == 4
    assert "Déposés : 4" in view.summary_label.text()
    assert "4 déposé(s), 0 refusé(s)" in view.status_label.text()
    sent_row = model.row_of(view.service.items[0].key)
    assert model.data(model.index(sent_row, BatchColumn.STATUS)) == "Déposé"
    tooltip = model.data(model.index(sent_row, BatchColumn.STATUS), Qt.ItemDataRole.ToolTipRole)
    assert view.service.items[0].master_id in tooltip
    assert not model.flags(model.index(sent_row, BatchColumn.TITLE)) & Qt.ItemFlag.ItemIsEditable
    qtmodeltester.check(model)  # type: ignore[attr-defined]

    # the receipt, written where the save dialog says
    target = tmp_path / "out" / "accuse-depot-lot.pdf"
    target.parent.mkdir()
    assert view.receipt_button.isEnabled()
    view.receipt_button.click()
    aloop.wait_until(lambda: any(d.isVisible() for d in view.findChildren(QFileDialog)))
    chooser = [d for d in view.findChildren(QFileDialog) if d.isVisible()][-1]
    chooser.selectFile(str(target))
    act_until(
        aloop,
        chooser.accept,
        lambda: target.exists() and "Accusé enregistré" in view.status_label.text(),
    )
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    flat = "".join(text.split())  # long names wrap in their column
    for item in view.service.items:
        assert item.file_name in flat
        if item.status is ItemStatus.SENT:
            assert item.master_id in flat and item.server_id in flat
    assert "Pour le compte de : Dr LEFEBVRE (899700000094)" in text
    assert "Saisi par : Nadia MERCIER (1997000456/SEC0042)" in text
    assert "Refusé (vérification)" in text and "figure deux fois" in text


def test_edits_go_through_the_model_and_need_a_new_validation(
    view: BatchDepositView, aloop: AsyncLoop, tmp_path: Path, qtmodeltester: object
) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(make_pdf("scan"))
    aloop.run(view.add_paths([folder]))
    model = view.model
    assert model.data(model.index(0, BatchColumn.TITLE)) == "scan"
    aloop.run(view.validate())
    assert statuses(view) == {"scan.pdf": ItemStatus.INVALID}
    assert model.setData(model.index(0, BatchColumn.INS), NIR)
    assert model.setData(model.index(0, BatchColumn.TYPE), "11502-2")
    assert model.setData(model.index(0, BatchColumn.DATE), QDate(2025, 3, 4))
    assert model.setData(model.index(0, BatchColumn.TITLE), "Biologie de mars")
    assert model.setData(
        model.index(0, BatchColumn.INVISIBLE_PATIENT),
        Qt.CheckState.Checked.value,
        Qt.ItemDataRole.CheckStateRole,
    )
    assert not model.setData(model.index(0, BatchColumn.STATUS), "x")
    item = view.service.items[0]
    assert (item.draft.ins, item.draft.type_code, item.draft.title) == (
        NIR,
        "11502-2",
        "Biologie de mars",
    )
    assert item.draft.act_date == date(2025, 3, 4)
    assert item.status is ItemStatus.DRAFT and not view.service.validated
    choose_doctor(view)
    assert not view.deposit_button.isEnabled()  # edited since the last validation
    aloop.run(view.validate())
    assert statuses(view) == {"scan.pdf": ItemStatus.READY} and view.deposit_button.isEnabled()
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_the_type_delegate_edits_a_code(
    view: BatchDepositView, aloop: AsyncLoop, tmp_path: Path
) -> None:
    path = tmp_path / f"{NIR}_11488-4_20250110_CR.pdf"
    path.write_bytes(make_pdf("cr"))
    aloop.run(view.add_paths([path]))
    delegate = TypeDelegate()
    index = view.model.index(0, BatchColumn.TYPE)
    editor = delegate.createEditor(view.table.viewport(), QStyleOptionViewItem(), index)
    assert isinstance(editor, QComboBox) and editor.count() == 102
    delegate.setEditorData(editor, index)
    assert editor.currentData() == "11488-4"
    editor.setCurrentIndex(editor.findData("11506-3"))
    delegate.setModelData(editor, view.model, index)
    assert view.service.items[0].draft.type_code == "11506-3"
    editor.deleteLater()


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_pause_then_resume(
    view: BatchDepositView, aloop: AsyncLoop, qtbot: QtBot, dmp: FakeDmp, tmp_path: Path
) -> None:
    dmp.latency = 0.05
    folder = tmp_path / "lot"
    folder.mkdir()
    for i in range(12):
        (folder / f"{NIR}_11488-4_20250110_CR_{i}.pdf").write_bytes(make_pdf(f"n{i}"))
    aloop.run(view.add_paths([folder]))
    aloop.run(view.validate())
    choose_doctor(view)
    checks: list[bool] = []

    async def pause_after_two() -> None:
        # Clicked from inside the running loop, while the batch runs.
        while len(dmp.stored) < 2:
            await asyncio.sleep(0.005)
        checks.append(view.pause_button.isEnabled() and not view.validate_button.isEnabled())
        view.pause_button.click()

    tasks: list[asyncio.Task[None]] = []
    view.deposit_button.click()
    aloop.wait_until(lambda: any(b.isVisible() for b in view.findChildren(QMessageBox)))
    box = [b for b in view.findChildren(QMessageBox) if b.isVisible()][-1]

    def confirm() -> None:
        tasks.append(asyncio.ensure_future(pause_after_two()))
        box.button(QMessageBox.StandardButton.Ok).click()

    act_until(aloop, confirm, lambda: view.last_stop is not None)
    (pauser,) = tasks
    assert pauser.done() and checks == [True]
    assert view.last_stop is PumpStop.PAUSED and 2 <= len(dmp.stored) < 12
    assert "En pause" in view.status_label.text()
    assert view.continue_button.isEnabled() and not view.pause_button.isEnabled()
    view.last_stop = None
    act_until(aloop, view.continue_button.click, lambda: view.last_stop is not None, 20)
    assert getattr(view, "last_stop") is PumpStop.DONE and len(dmp.stored) == 12  # noqa: B009
    assert len(dmp.requests) == 12  # nothing sent twice
    assert view.progress.value() == 12


def test_a_queue_left_by_an_earlier_run_is_offered_for_resume(
    qtbot: QtBot, aloop: AsyncLoop, dmp: FakeDmp, service: BatchDepositService
) -> None:
    masters = [f"urn:uuid:00000000-0000-4000-8000-{i:012d}" for i in range(3)]
    body = {"resourceType": "Bundle", "entry": []}

    def payload(master: str) -> bytes:
        ref = {"resourceType": "DocumentReference", "masterIdentifier": {"value": master}}
        return json.dumps({**body, "entry": [{"resource": ref}]}).encode()

    info = {"file": "a.pdf", "ins": NIR, "type": "11488-4", "title": "A", "date": "2025-01-10"}
    aloop.run(
        service.queue().enqueue(
            [NewDeposit(m, payload(m), NIR, "earlier", {**info, "file": f"{i}.pdf"})
             for i, m in enumerate(masters)]
        )
    )  # fmt: skip
    view = BatchDepositView(service, login_of(SECRETARY))
    qtbot.addWidget(view)
    view.show()
    aloop.run(view.initialize())
    assert view.resume_banner.isVisible() and "3 dépôt(s)" in view.resume_label.text()
    assert view.model.rowCount() == 3
    assert view.model.data(view.model.index(0, BatchColumn.FILE)) == "0.pdf"
    assert view.model.data(view.model.index(0, BatchColumn.STATUS)) == "En file d'attente"
    act_until(aloop, view.resume_button.click, lambda: view.last_stop is not None)
    assert view.last_stop is PumpStop.DONE and sorted(dmp.stored) == masters
    assert not view.resume_banner.isVisible()
    assert all(s is ItemStatus.SENT for s in statuses(view).values())


def test_the_ins_and_every_status_show_whole(view: BatchDepositView) -> None:
    """The secretary checks the INS and the status of each row: never cut."""
    header = view.table.horizontalHeader()
    metrics = view.table.fontMetrics()
    assert header.sectionSize(BatchColumn.INS) >= metrics.horizontalAdvance(NIR) + 8
    for status in ItemStatus:
        text = view.model.status_text(status)
        assert header.sectionSize(BatchColumn.STATUS) >= metrics.horizontalAdvance(text) + 8
    for column in (BatchColumn.MASKED, BatchColumn.INVISIBLE_PATIENT, BatchColumn.INVISIBLE_RL):
        label = view.model.headerData(column, Qt.Orientation.Horizontal)
        assert header.sectionSize(column) >= header.fontMetrics().horizontalAdvance(label)
        assert view.model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)


def test_files_never_queued_by_an_earlier_run_are_named_and_added_again(
    qtbot: QtBot, aloop: AsyncLoop, service: BatchDepositService, tmp_path: Path
) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"{NIR}_11488-4_20250110_CR_{i}.pdf"
        path.write_bytes(make_pdf(f"n{i}"))
        paths.append(path)
    draft = DepositDraft(NIR, "11488-4", "Titre du manifeste", date(2025, 1, 10))
    planned = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    plan = BatchPlan(
        planned,
        DOCTOR,
        tuple(PlannedFile(i + 1, p.name, str(p), "", draft) for i, p in enumerate(paths)),
    )
    aloop.run(service.queue().plan("earlier", plan))  # the kill came before any group
    view = BatchDepositView(service, login_of(SECRETARY))
    qtbot.addWidget(view)
    view.show()
    aloop.run(view.initialize())
    assert view.unqueued_banner.isVisible()
    text = view.unqueued_label.text()
    assert "3 fichier(s) n'ont jamais été mis en file" in text
    assert all(p.name in text for p in paths)
    assert planned.astimezone().strftime("%d/%m/%Y à %H:%M") in text
    act_until(aloop, view.readd_button.click, lambda: view.model.rowCount() == 3)
    assert not view.unqueued_banner.isVisible()
    assert [i.draft.title for i in service.items] == ["Titre du manifeste"] * 3
    assert service.doctor is not None and service.doctor.id_nat == DOCTOR
    aloop.run(view.validate())
    assert set(statuses(view).values()) == {ItemStatus.READY}


def test_a_duplicate_of_a_finished_batch_is_deposited_only_when_asked(
    view: BatchDepositView, aloop: AsyncLoop, qtbot: QtBot, dmp: FakeDmp, tmp_path: Path
) -> None:
    service = view.service
    folder = tmp_path / "lot"
    folder.mkdir()
    path = folder / f"{NIR}_11488-4_20250110_CR.pdf"
    path.write_bytes(make_pdf("déjà"))
    aloop.run(view.add_paths([folder]))
    aloop.run(view.validate())
    choose_doctor(view)
    aloop.run(service.start(login_of(SECRETARY)))
    assert len(dmp.stored) == 1
    service.items.clear()  # a new batch on the same screen, same outbox
    aloop.run(view.add_paths([folder]))
    aloop.run(view.validate())
    (item,) = service.items
    assert item.status is ItemStatus.INVALID and "Déjà déposé" in item.issues[0].message
    assert view.anyway_button.isEnabled() and not view.deposit_button.isEnabled()
    view.table.selectRow(0)
    act_until(aloop, view.anyway_button.click, lambda: item.status is ItemStatus.READY)
    assert view.deposit_button.isEnabled()
