"""The single deposit dialog and the document context-menu actions, through their widgets.

Buttons are pressed with ``click()``: QTest's ``mouseClick`` processes Qt events, and qasync
would then run the tasks a click starts outside any running asyncio loop.

The service is the real :class:`DepositService` over the scripted fake DMP
(``tests/deposit_fakes.py``); the receipt PDF is written where the save dialog says and read
back with pypdf.
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from console.domain.deposit import ItemStatus
from console.domain.models import Actor, DocumentMeta, Visibility
from console.domain.rules import Refusal, UpdateAction, refusal_message
from console.services.deposit import DepositService
from console.views.deposit_dialog import DepositDialog, DocumentTypePicker
from console.views.document_actions import (
    DocumentChange,
    document_menu_actions,
    run_document_action,
)
from tests.deposit_fakes import FAST, GP, NIR, FakeDmp, login_of, make_pdf
from tests.qtloop import AsyncLoop

NURSE = Actor("899700000045", "60", "PETIT", "Julie")
QT_DIALOG_NOISE = ("does not support raise", "does not support grabbing the keyboard")


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread() -> Iterator[None]:
    """Widgets earlier tests dropped are destroyed here, on the GUI thread, rather than by a
    garbage collection that happens to run in a worker thread (the receipt is rendered in
    one): Qt objects must die in their own thread."""
    gc.collect()
    yield
    gc.collect()


@pytest.fixture
def dmp() -> FakeDmp:
    return FakeDmp(latency=0.01)


@pytest.fixture
def service(dmp: FakeDmp) -> DepositService:
    return DepositService(dmp, policy=FAST)


def open_dialog(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, **kw: Any
) -> DepositDialog:
    dialog = DepositDialog(service, login_of(GP), **kw)
    qtbot.addWidget(dialog)
    dialog.show()
    aloop.wait_until(lambda: dialog.actor is not None)
    return dialog


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


def child(aloop: AsyncLoop, parent: QWidget, kind: type[Any]) -> Any:
    aloop.wait_until(lambda: any(w.isVisible() for w in parent.findChildren(kind)))
    return [w for w in parent.findChildren(kind) if w.isVisible()][-1]


# -- the type picker ------------------------------------------------------------------------------


def test_the_type_picker_searches_labels_codes_and_classes(qtbot: QtBot) -> None:
    picker = DocumentTypePicker()
    qtbot.addWidget(picker)
    assert picker.model.rowCount() == 102
    chosen: list[str] = []
    picker.typeChanged.connect(chosen.append)
    qtbot.keyClicks(picker.search, "synthese")  # accents ignored
    model = picker.model
    shown = [
        f"{model.data(model.index(r))} {model.data(model.index(r), Qt.ItemDataRole.ToolTipRole)}"
        for r in range(model.rowCount())
    ]
    assert shown and all("ynth" in text for text in shown)  # in the label or the class
    assert any("Synthèse" in text.split(" — ")[0] for text in shown)
    picker.search.clear()
    qtbot.keyClicks(picker.search, "11488")
    assert picker.model.rowCount() == 1
    qtbot.keyClick(picker.search, Qt.Key.Key_Return)  # the only match is chosen
    assert chosen == ["11488-4"] and picker.type_code() == "11488-4"
    assert "11488-4" in picker.chosen_label.text()
    picker.search.clear()
    qtbot.keyClicks(picker.search, "consultation")
    assert picker.list.currentIndex().row() == picker.model.row_of("11488-4")  # kept
    picker.set_type("")
    assert picker.type_code() == "" and chosen[-1] == ""
    qtbot.keyClicks(picker.search, "compte rendu consultation")
    assert picker.model.rowCount() >= 2
    qtbot.keyClick(picker.search, Qt.Key.Key_Down)  # into the list, first row current
    assert picker.type_code() == picker.model.code_at(0)
    qtbot.keyClick(picker.list, Qt.Key.Key_Down)
    assert picker.type_code() == picker.model.code_at(1) == chosen[-1]
    picker.set_type("PRESC-KINE")
    assert picker.type_code() == "PRESC-KINE" and picker.search.text() == ""


# -- the dialog -----------------------------------------------------------------------------------


def fill(dialog: DepositDialog, aloop: AsyncLoop, path: Path) -> None:
    aloop.run(dialog.load_file(path))
    dialog.ins_edit.setText(NIR)
    dialog.type_picker.set_type("11488-4")


def test_a_deposit_through_the_dialog(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, aloop, service)
    assert dialog.author_label.text() == "Claire MARTIN (899700000011)"
    assert dialog.structure_label.text() == "3997000012301"
    assert dialog.date_edit.displayFormat() == "dd/MM/yyyy"
    assert dialog.date_edit.maximumDate() == QDate.currentDate()
    assert dialog.persistence_label.isVisible()  # no encrypted cache: said plainly
    assert not dialog.deposit_button.isEnabled()
    assert "Choisissez le fichier" in dialog.issues_label.text()

    path = tmp_path / "Consultation_du_jour.pdf"
    path.write_bytes(make_pdf("consultation"))
    fill(dialog, aloop, path)
    assert (
        "Consultation_du_jour.pdf" in dialog.file_label.text() and "PDF" in dialog.file_label.text()
    )
    assert dialog.title_edit.text() == "Consultation du jour"
    dialog.date_edit.setDate(QDate.currentDate().addDays(-3))
    dialog.masked_check.setChecked(True)
    dialog.invisible_patient_check.setChecked(True)
    assert dialog.issues == () and dialog.deposit_button.isEnabled()

    act_until(aloop, dialog.deposit_button.click, lambda: dialog.outcome is not None)
    outcome = dialog.outcome
    assert outcome is not None and outcome.status is ItemStatus.SENT
    assert dmp.stored == {outcome.master_id: outcome.receipt.document_id}  # type: ignore[union-attr]
    assert outcome.master_id in dialog.receipt_label.text()
    assert "Référence du dépôt" in dialog.receipt_label.text()
    assert "masterIdentifier" not in dialog.receipt_label.text()  # a FHIR name, not French
    assert "déposé" in dialog.status_label.text()
    assert dialog.save_button.isVisible() and not dialog.deposit_button.isVisible()


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_the_receipt_is_saved_where_the_user_chooses(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, aloop, service)
    source = tmp_path / "cr.pdf"
    source.write_bytes(make_pdf("cr"))
    fill(dialog, aloop, source)
    dialog.submit()
    aloop.wait_until(lambda: dialog.outcome is not None)
    target = tmp_path / "out" / "accuse-depot.pdf"  # the suggested name, in another folder
    target.parent.mkdir()
    dialog.save_button.click()
    chooser = child(aloop, dialog, QFileDialog)
    assert chooser.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    chooser.selectFile(str(target))
    act_until(
        aloop,
        chooser.accept,
        lambda: target.exists() and "Accusé enregistré" in dialog.status_label.text(),
    )
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert dialog.outcome is not None and dialog.outcome.master_id in text
    assert NIR in text and "Déposé" in text and "Accusé de dépôt" in text
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["cr.pdf", "out/accuse-depot.pdf"]  # nowhere else


def test_bad_input_is_shown_inline_and_nothing_is_sent(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, aloop, service)
    fake = tmp_path / "scan.pdf"
    fake.write_bytes(b"GIF89a not a pdf")
    fill(dialog, aloop, fake)
    dialog.ins_edit.setText(NIR[:-2] + "00")
    messages = dialog.issues_label.text()
    assert "n'est pas un PDF" in messages and "INS invalide" in messages
    assert not dialog.deposit_button.isEnabled()
    assert dialog.submit() is None
    assert dmp.requests == []


def test_a_server_refusal_leaves_the_form_editable(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp, tmp_path: Path
) -> None:
    dmp.default = [("403", "blocked")]
    dialog = open_dialog(qtbot, aloop, service)
    path = tmp_path / "cr.pdf"
    path.write_bytes(make_pdf("cr"))
    fill(dialog, aloop, path)
    task = dialog.submit()
    assert task is not None
    assert not dialog.title_edit.isEnabled()  # disabled while it sends
    aloop.run(task)
    assert dialog.outcome is None
    assert refusal_message(Refusal.BLOCKED) in dialog.status_label.text()
    assert dialog.title_edit.isEnabled() and dialog.deposit_button.isEnabled()


def test_replace_mode_prefills_from_the_old_version(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp, tmp_path: Path
) -> None:
    old = gp_document(visibility=frozenset({Visibility.INVISIBLE_PATIENT}))
    dialog = open_dialog(qtbot, aloop, service, replaces=old)
    assert dialog.ins_edit.isReadOnly() and dialog.ins_edit.text() == NIR
    assert dialog.type_picker.type_code() == old.type_code
    assert dialog.title_edit.text() == old.title
    assert dialog.invisible_patient_check.isChecked() and not dialog.masked_check.isChecked()
    path = tmp_path / "v2.pdf"
    path.write_bytes(make_pdf("v2"))
    aloop.run(dialog.load_file(path))
    aloop.run(dialog.submit())  # type: ignore[arg-type]
    assert dialog.outcome is not None and dialog.outcome.status is ItemStatus.SENT
    assert dialog.title_edit.text() == old.title  # the file's name did not replace it
    assert len(dmp.requests) == 1


# -- the context menu -----------------------------------------------------------------------------


def gp_document(**changes: Any) -> DocumentMeta:
    base = DocumentMeta(
        id="doc1", master_id="urn:uuid:x", patient_ins=NIR, type_code="11488-4",
        class_code="10", title="CR de consultation", author_id_nat=GP.id_nat,
        created=datetime.now(UTC) - timedelta(days=3), deposited=datetime.now(UTC),
    )  # fmt: skip
    return replace(base, **changes)


def test_menu_actions_follow_the_document_state(qtbot: QtBot, service: DepositService) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    names = [
        a.objectName() for a in document_menu_actions(parent, gp_document(), login_of(GP), service)
    ]
    assert names == [
        "document_replace",
        "document_mask",
        "document_hide_from_patient",
        "document_delete",
    ]
    masked = gp_document(visibility=frozenset({Visibility.MASQUE_PS, Visibility.INVISIBLE_PATIENT}))
    actions = document_menu_actions(parent, masked, login_of(NURSE), service)
    assert [a.objectName() for a in actions] == [
        "document_replace",
        "document_unmask",
        "document_show_to_patient",
        "document_delete",
    ]
    assert all(a.isEnabled() for a in actions)
    assert all(a.statusTip() == refusal_message(Refusal.NOT_AUTHOR) for a in actions)


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_a_nurse_is_told_why_she_cannot_mask_and_nothing_is_sent(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    actions = document_menu_actions(parent, gp_document(), login_of(NURSE), service)
    mask = next(a for a in actions if a.objectName() == "document_mask")
    mask.trigger()
    box = child(aloop, parent, QMessageBox)
    assert box.text() == refusal_message(Refusal.NOT_AUTHOR)
    assert box.textFormat() == Qt.TextFormat.PlainText
    act_until(aloop, box.accept, lambda: not parent.property("documentActionRunning"))
    assert dmp.patches == []


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_the_author_confirms_then_the_document_is_masked(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    doc = gp_document()
    changes: list[DocumentChange] = []
    dmp.patch_answer = replace(doc, visibility=frozenset({Visibility.MASQUE_PS}))

    task = aloop.loop.create_task(
        run_document_action(
            parent, doc, login_of(GP), service, UpdateAction.MASK, on_changed=changes.append
        )
    )
    box = child(aloop, parent, QMessageBox)
    assert "CR de consultation" in box.text() and "bris de glace" in box.text()
    cancel = box.button(QMessageBox.StandardButton.Cancel)
    act_until(aloop, cancel.click, task.done)  # first: cancelled
    assert dmp.patches == [] and changes == []

    [mask] = [
        a
        for a in document_menu_actions(
            parent, doc, login_of(GP), service, on_changed=changes.append
        )
        if a.objectName() == "document_mask"
    ]
    mask.trigger()
    box = child(aloop, parent, QMessageBox)
    assert box.button(QMessageBox.StandardButton.Ok).text() == "Masquer"
    act_until(aloop, box.button(QMessageBox.StandardButton.Ok).click, lambda: bool(changes))
    (change,) = changes
    assert change.action is UpdateAction.MASK and change.after is not None and change.after.masked
    ((doc_id, ops),) = dmp.patches
    assert doc_id == "doc1" and ops[0]["path"] == "/securityLabel"


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_the_server_refusal_of_an_update_is_shown(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, dmp: FakeDmp
) -> None:
    from console.domain.errors import ForbiddenError

    parent = QWidget()
    qtbot.addWidget(parent)
    dmp.patch_answer = ForbiddenError("refus du serveur", 403, "not_author")
    task = aloop.loop.create_task(
        run_document_action(parent, gp_document(), login_of(GP), service, UpdateAction.DELETE)
    )
    box = child(aloop, parent, QMessageBox)
    assert "définitive" in box.text()
    act_until(
        aloop,
        box.button(QMessageBox.StandardButton.Ok).click,
        lambda: any(
            b.isVisible() and b.text() == refusal_message(Refusal.NOT_AUTHOR)
            for b in parent.findChildren(QMessageBox)
        ),
    )
    refusal = [b for b in parent.findChildren(QMessageBox) if b.isVisible()][-1]
    act_until(aloop, refusal.accept, task.done)
    assert task.result() is None


@pytest.mark.qt_log_ignore(*QT_DIALOG_NOISE)
def test_replace_opens_the_deposit_dialog(
    qtbot: QtBot, aloop: AsyncLoop, service: DepositService, tmp_path: Path
) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    changes: list[DocumentChange] = []
    [replace_action] = [
        a
        for a in document_menu_actions(
            parent, gp_document(), login_of(GP), service, on_changed=changes.append
        )
        if a.objectName() == "document_replace"
    ]
    replace_action.trigger()
    dialog = child(aloop, parent, DepositDialog)
    assert dialog.replaces is not None and dialog.replaces.id == "doc1"
    path = tmp_path / "v2.pdf"
    path.write_bytes(make_pdf("v2"))
    aloop.run(dialog.load_file(path))
    dialog.date_edit.setDate(QDate(date.today().year, 1, 1))
    submitted = dialog.submit()
    assert submitted is not None
    aloop.run(submitted)
    act_until(aloop, dialog.close_button.click, lambda: bool(changes))
    assert changes[0].action is UpdateAction.REPLACE and changes[0].outcome is not None
    body = json.dumps(changes[0].outcome.line.master_id)
    assert body
