"""The access history view: its table model (checked by qtmodeltester), the episodes grouped,
the filters, plain text from the server, and the loading through HistoryService."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from pytestqt.qtbot import QtBot

from console.domain.dossier import AccessGrant
from console.domain.emergency import AccessHistory, AuditRecord, build_history
from console.domain.errors import NetworkError
from console.domain.models import AccessMode
from console.services.dossier import OpenDossier
from console.services.emergency import MemoryJournal
from console.services.history import HistoryService
from console.views.access_history import (
    EPISODE_ROLE,
    KIND_ROLE,
    AccessHistoryModel,
    AccessHistoryView,
    HistoryColumn,
    HistoryFilter,
)
from tests.gui.conftest import AsyncLoop
from tests.unit.test_emergency import EMERGENCY, NIR, PATIENT, T0, FakeTime, audit, local

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

EPISODE = "e" * 32


def sample() -> tuple[list[AuditRecord], list[Any]]:
    ref = (f"DocumentReference/{EPISODE}",)
    server = [
        audit(1, "search", T0 - timedelta(days=1), purpose="normal"),
        audit(2, "emergency-override-started", T0, refs=ref, description="URGENCE_VITALE : x"),
        audit(3, "retrieve", T0 + timedelta(minutes=2), refs=("DocumentReference/d1",)),
        audit(
            4,
            "emergency-override-stopped",
            T0 + timedelta(minutes=9),
            refs=ref,
            description="Fin du bris de glace (motif de fin : user), durée 9 min.",
        ),
        audit(5, "access", T0 + timedelta(hours=1), outcome="4", description="<b>refus</b>"),
    ]
    journal = [local(1, T0 + timedelta(minutes=2), "document_opened", episode=EPISODE)]
    return server, journal


def history() -> AccessHistory:
    server, journal = sample()
    return build_history(NIR, server, journal, actor_id_nat=EMERGENCY)


def texts(model: AccessHistoryModel, column: HistoryColumn) -> list[str]:
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_the_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = AccessHistoryModel()
    model.show(history())
    qtmodeltester.check(model)
    model.set_filter(HistoryFilter.EPISODES)
    qtmodeltester.check(model)
    model.clear()
    qtmodeltester.check(model)


def test_episodes_come_first_with_their_entries_then_the_rest() -> None:
    model = AccessHistoryModel()
    model.show(history())
    kinds = [model.index(r, 0).data(KIND_ROLE) for r in range(model.rowCount())]
    assert kinds == ["episode", "entry", "entry", "entry", "entry", "entry", "entry"]
    actions = texts(model, HistoryColumn.ACTION)
    assert actions[0].startswith("BRIS DE GLACE jusqu'à ") and actions[0].endswith("(9 min 00 s)")
    assert actions[1:5] == [
        "Début du bris de glace",
        "Lecture du document",
        "Document ouvert",
        "Fin du bris de glace",
    ]
    assert actions[5:] == ["Ouverture du dossier", "Recherche"]  # newest first
    assert texts(model, HistoryColumn.RESULT)[0] == "Fin : arrêté par le professionnel"
    assert texts(model, HistoryColumn.DOCUMENTS)[0] == "1 document(s) consulté(s)"
    assert texts(model, HistoryColumn.SOURCE)[2:4] == ["DMP (serveur)", "Journal de ce poste"]
    assert texts(model, HistoryColumn.TIME)[1].startswith("    ")  # indented in its episode
    assert model.index(1, 0).data(EPISODE_ROLE) == EPISODE
    assert model.index(6, 0).data(EPISODE_ROLE) is None
    header = model.index(0, HistoryColumn.ACTION)
    font = header.data(Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont) and font.bold()
    assert isinstance(header.data(Qt.ItemDataRole.BackgroundRole), QBrush)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Date et heure"


def test_refusals_say_so_in_words_and_server_text_stays_plain() -> None:
    model = AccessHistoryModel()
    model.show(history())
    row = texts(model, HistoryColumn.RESULT).index("Refusé")
    assert model.index(row, HistoryColumn.DETAIL).data() == "<b>refus</b>"
    tip = model.index(row, HistoryColumn.DETAIL).data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;refus&lt;/b&gt;" in tip and "<b>refus" not in tip
    colour = model.index(row, HistoryColumn.DETAIL).data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(colour, QBrush)


def test_server_details_and_documents_read_in_words() -> None:
    model = AccessHistoryModel()
    assert model.detail_text("DocumentReference : 3 visible(s), 3 renvoyé(s)") == (
        "Liste des documents : 3 visible(s), 3 renvoyé(s)"
    )
    assert model.detail_text("Patient?identifier : 1 résultat(s)") == (
        "Identification du patient : 1 résultat(s)"
    )
    assert model.detail_text("Binary") == "Contenu d'un document"
    assert model.detail_text("Immunization : 2 vaccination(s)") == "Vaccinations : 2 vaccination(s)"
    for kept in ("refus : opposition", "document masqué", "", "Unknown : x"):
        assert model.detail_text(kept) == kept  # anything else as the server said it
    model.titles = {"abc": "CR de cardiologie"}
    assert model.document_text("DocumentReference/abc") == "CR de cardiologie"
    assert model.document_text("abc") == "CR de cardiologie"
    assert model.document_text("zzz") == "zzz"  # not listed here: its identifier


@pytest.mark.parametrize(
    ("flt", "rows"),
    [
        (HistoryFilter.ALL, 7),
        (HistoryFilter.EPISODES, 5),
        (HistoryFilter.SERVER, 5),
        (HistoryFilter.LOCAL, 1),
    ],
)
def test_filters(flt: HistoryFilter, rows: int) -> None:
    model = AccessHistoryModel()
    model.show(history())
    model.set_filter(flt)
    assert model.rowCount() == rows
    if flt is HistoryFilter.LOCAL:
        assert texts(model, HistoryColumn.SOURCE) == ["Journal de ce poste"]


class FakeAudit:
    def __init__(self) -> None:
        self.records, _ = sample()
        self.error: Exception | None = None
        self.calls = 0

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = 1000, page_size: int = 200
    ) -> list[AuditRecord]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return list(self.records)


@pytest.fixture
def view(qtbot: QtBot, aloop: AsyncLoop) -> tuple[AccessHistoryView, FakeAudit]:
    source = FakeAudit()
    journal = MemoryJournal(FakeTime())
    aloop.run(
        journal.append(
            EMERGENCY,
            "document_opened",
            patient_ins=NIR,
            document_ids=["d1"],
            mode="bris_de_glace",
            detail={"episode": EPISODE},
            at=T0 + timedelta(minutes=2),
        )
    )
    widget = AccessHistoryView(HistoryService(source, journal), lambda: EMERGENCY)
    qtbot.addWidget(widget)
    widget.show()
    return widget, source


DOSSIER = OpenDossier(AccessGrant(PATIENT, AccessMode.NORMAL, "t", T0 + timedelta(hours=2), "e"))


def test_the_view_loads_the_history_of_the_dossier(
    view: tuple[AccessHistoryView, FakeAudit], aloop: AsyncLoop
) -> None:
    widget, _ = view
    widget.show_dossier(DOSSIER)
    assert not widget.refresh_button.isEnabled()
    aloop.wait_until(lambda: not widget.loading and widget.model.rowCount() > 0)
    assert widget.refresh_button.isEnabled()
    assert widget.model.rowCount() == 7
    assert widget.status_label.text() == "6 action(s), dont 1 accès d'urgence."
    assert not widget.error_label.isVisible()
    widget.set_filter(HistoryFilter.EPISODES)
    assert widget.model.rowCount() == 5
    assert widget.rows()[0][HistoryColumn.MODE] == "Bris de glace"
    widget.clear()
    assert widget.model.rowCount() == 0 and widget.status_label.text() == ""


def test_the_view_says_when_the_server_part_is_missing(
    view: tuple[AccessHistoryView, FakeAudit], aloop: AsyncLoop
) -> None:
    widget, source = view
    source.error = NetworkError("Serveur DMP injoignable.")
    widget.show_dossier(DOSSIER)
    aloop.wait_until(lambda: not widget.loading and widget.model.rowCount() > 0)
    assert widget.error_label.isVisible()
    assert "Serveur DMP injoignable." in widget.error_label.text()
    assert "seul le journal de ce poste" in widget.error_label.text()
    assert {r[HistoryColumn.SOURCE] for r in widget.rows()} == {"Journal de ce poste"}
    source.error = None
    widget.reload()
    aloop.wait_until(lambda: not widget.loading and widget.model.rowCount() == 7)
    assert not widget.error_label.isVisible()
    assert source.calls == 2
