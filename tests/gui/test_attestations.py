"""A bris de glace ended by the card leaving the reader still gets its attestation (issue 6).

The console wired by ``ConsoleApp`` over the FakeCardReader with the real encrypted cache and
the real reportlab renderer; only the DMP is a fake (``EmergencyGateway``). The card is pulled
during a bris de glace: the session locks at once, the attestation is rendered after the lock
and sealed into the closed cache's spool with the journal's last entries; the same card back,
the cache takes them in, the window says an attestation waits, Ctrl+Shift+A lists it, and
"Enregistrer…" writes the PDF.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from console.domain.emergency import EndReason, JournalAction
from console.domain.session import SessionState
from console.services.emergency import CacheJournal
from console.views.attestations import AttestationsDialog
from tests.gui import test_deposit_card_removal
from tests.gui.conftest import AsyncLoop
from tests.gui.test_main_window import (
    Harness,
    log_in,
    log_in_to_search,
)
from tests.gui.test_wiring import EmergencyGateway, open_in_bris_de_glace

pytestmark = [
    pytest.mark.gui,
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]


aloop = test_deposit_card_removal.aloop  # real cache, spool and PDF work between steps


@pytest.fixture
def wired(qtbot: QtBot, aloop: AsyncLoop, tmp_path: Path) -> Iterator[Harness]:
    yield from test_deposit_card_removal.wired_with_cache(
        qtbot, aloop, tmp_path, EmergencyGateway()
    )


def cell(dialog: AttestationsDialog, row: int, column: int) -> str:
    item = dialog.table.item(row, column)
    assert item is not None
    return item.text()


def test_a_bris_de_glace_ended_by_the_card_is_attested_and_found_at_the_next_login(
    wired: Harness, aloop: AsyncLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    console, window = wired.console, wired.window
    cache = console.cache
    assert cache is not None
    log_in_to_search(wired, aloop, qtbot)
    aloop.wait_until(lambda: cache.is_open)
    gp_id = wired.gp.identity.id_nat
    assert aloop.run(cache.attestations()) == []
    open_in_bris_de_glace(wired, aloop)

    wired.reader.remove(wired.gp)
    aloop.wait_until(lambda: console.session.state is SessionState.LOCKED, timeout=2.0)
    assert not cache.is_open
    aloop.wait_until(lambda: "end_access:card_removed" in wired.gateway.calls)
    aloop.run(console.emergency.wait_idle(10.0))
    assert console.emergency.last_ended is None  # the views keep nothing of the patient
    sealed = cache.spool(gp_id).pending()
    assert len(sealed) >= 2  # the end's journal entries and the attestation, encrypted
    journal = console.journal
    assert isinstance(journal, CacheJournal)
    assert journal.pending == []  # nothing left only in memory
    assert not window.attestations_action.isEnabled()  # locked

    wired.reader.insert(wired.gp)
    aloop.wait_until(lambda: window.lock_page.model.rowCount() == 1)
    log_in(wired, aloop, qtbot)
    aloop.wait_until(lambda: console.session.state is SessionState.ACTIVE and cache.is_open)
    aloop.wait_until(
        lambda: "attestation(s) de bris de glace" in window.statusBar().currentMessage()
    )
    assert window.statusBar().currentMessage().startswith("1 attestation(s)")
    assert cache.spool(gp_id).pending() == []
    records = aloop.run(cache.journal_records())
    ended = [r.entry for r in records if r.entry.action == JournalAction.BDG_ENDED]
    assert [e.detail["end_reason"] for e in ended] == ["card_removed"]
    issued = [r.entry for r in records if r.entry.action == JournalAction.ATTESTATION_ISSUED]
    assert len(issued) == 1 and issued[0].detail["kept"] is True
    assert aloop.run(cache.verify_journal()).ok

    assert window.attestations_action.isEnabled()
    window.attestations_action.trigger()
    dialog = window.attestations_dialog
    assert isinstance(dialog, AttestationsDialog)
    aloop.wait_until(lambda: len(dialog.records) == 1)
    (record,) = dialog.records
    assert record.end_reason is EndReason.CARD_REMOVED and record.saved_at is None
    assert cell(dialog, 0, 4) == "carte retirée"
    assert cell(dialog, 0, 5) == "non"
    assert dialog.save_button.isEnabled()

    dialog.save_button.click()
    file_dialog = dialog.file_dialog
    assert isinstance(file_dialog, QFileDialog)
    target = tmp_path / "attestation.pdf"
    file_dialog.fileSelected.emit(str(target))
    file_dialog.reject()
    aloop.wait_until(lambda: target.exists() and dialog.records[0].saved_at is not None)
    assert target.read_bytes().startswith(b"%PDF")
    assert aloop.run(cache.attestation_pdf(record.episode_id)) == target.read_bytes()
    assert "Attestation enregistrée" in dialog.status_label.text()
    assert aloop.run(cache.attestations(unsaved_only=True)) == []

    # A lock closes the list: nothing of the patient stays on screen.
    window.lock()
    aloop.wait_until(lambda: window.attestations_dialog is None)
