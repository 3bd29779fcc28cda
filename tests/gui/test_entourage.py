"""The "Entourage et volontés" view and the dossier header, offscreen, with fake services:
what is shown, "Non renseigné", the parts closed to a profession, plain text, failures; and
the header's médecin traitant, access mode and notices (never an opposition)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from console.domain.dossier import AccessGrant, PatientRecord, ProfessionalLogin
from console.domain.errors import ForbiddenError, NetworkError
from console.domain.ins import INS
from console.domain.localtime import display_zone
from console.domain.models import AccessMode
from console.domain.profile import (
    AdvanceDirectives,
    ContactRole,
    GeneralPractitioner,
    PatientSummary,
    Phone,
    RelatedContact,
)
from console.services.dossier import DossierService, OpenDossier
from console.services.dossier_header import DossierHeaderService
from console.services.entourage import EntourageService
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.views.dossier_header import DossierHeader
from console.views.entourage import EntourageView
from tests.gui.conftest import AsyncLoop

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

NIR = "255081416802538"
PATIENT = PatientRecord(INS.parse(NIR), "Durand", "Marie Claire", date(1955, 8, 14), "female")
TODAY = date(2026, 1, 15)
GP = "899700000011"
NURSE = "899700000045"

TRUSTED = RelatedContact(
    "t",
    "MOREAU",
    "Paul",
    frozenset({ContactRole.TRUSTED_PERSON, ContactRole.EMERGENCY_CONTACT}),
    "SPS",
    phones=(Phone("06 39 98 11 22", "mobile"), Phone("01 99 00 55 66", "work")),
    rank=1,
)
DAUGHTER = RelatedContact(
    "d",
    "<b>DURAND</b>",
    "Léa",
    frozenset({ContactRole.EMERGENCY_CONTACT}),
    "DAUC",
    phones=(Phone("01 99 00 12 34", "home"),),
    rank=2,
)
WRITTEN = AdvanceDirectives(
    True, date(2021, 3, 4), "Confiées au médecin traitant", datetime(2024, 2, 1, 10, tzinfo=UTC)
)


class FakeGateway:
    """The RelatedPerson, Consent and Patient reads, in memory."""

    def __init__(self) -> None:
        self.relatives: list[RelatedContact] = [DAUGHTER, TRUSTED]
        self.directives: AdvanceDirectives | None = WRITTEN
        self.failure: Exception | None = None
        self.refuse_directives = False
        self.gp: GeneralPractitioner | None = GeneralPractitioner(GP, "Claire MARTIN")
        self.gate: asyncio.Event | None = None
        self.calls: list[str] = []

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]:
        self.calls.append("related")
        if self.failure is not None:
            raise self.failure
        return list(self.relatives)

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None:
        self.calls.append("directives")
        if self.refuse_directives:
            raise ForbiddenError("Refus.", 403, "entourage_profession")
        return self.directives

    async def patient_summary(self, grant: AccessGrant) -> PatientSummary:
        self.calls.append("summary")
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return PatientSummary(grant.patient, self.gp)


class FakeSession:
    def __init__(self, profession: str, id_nat: str) -> None:
        self.login = ProfessionalLogin(
            id_nat, "Test", profession, "t", datetime.now(UTC) + timedelta(hours=1)
        )


def dossier_service(gateway: FakeGateway, profession: str, id_nat: str) -> DossierService:
    return DossierService(
        cast(DmpGateway, gateway), cast(SessionService, FakeSession(profession, id_nat))
    )


def dossier(mode: AccessMode = AccessMode.NORMAL) -> OpenDossier:
    # 15:00 in the zone the console shows times in (French local time, not the computer's)
    ends = datetime.combine(TODAY, datetime.min.time(), tzinfo=display_zone()) + timedelta(hours=15)
    return OpenDossier(AccessGrant(PATIENT, mode, "t", ends, "ep"))


# -- "Entourage et volontés" -----------------------------------------------------------------------
def entourage_view(
    qtbot: QtBot, aloop: AsyncLoop, gateway: FakeGateway, profession: str = "60"
) -> EntourageView:
    view = EntourageView(EntourageService(gateway, dossier_service(gateway, profession, NURSE)))
    qtbot.addWidget(view)
    view.show()
    view.show_dossier(dossier())
    aloop.wait_until(lambda: not view.busy)
    return view


def test_everything_recorded_is_shown(qtbot: QtBot, aloop: AsyncLoop) -> None:
    view = entourage_view(qtbot, aloop, FakeGateway())
    assert view.section_lines("trusted_person") == [
        "MOREAU Paul — Conjoint(e) — 06 39 98 11 22 (portable), 01 99 00 55 66 (travail)",
        "Également personne à prévenir.",
    ]
    assert view.section_lines("contacts") == [
        "1. MOREAU Paul — Conjoint(e) — 06 39 98 11 22 (portable), 01 99 00 55 66 (travail)",
        "2. <B>DURAND</B> Léa — Fille — 01 99 00 12 34 (domicile)",
    ]
    assert view.section_lines("directives") == [
        "Le patient a rédigé des directives anticipées le 04/03/2021.",
        "Lieu de conservation : Confiées au médecin traitant",
        "Renseigné par le patient le 01/02/2024.",
    ]


def test_names_are_plain_text(qtbot: QtBot, aloop: AsyncLoop) -> None:
    view = entourage_view(qtbot, aloop, FakeGateway())
    labels = view.boxes["contacts"].findChildren(QLabel)
    assert labels and all(label.textFormat() == Qt.TextFormat.PlainText for label in labels)
    assert any("<B>DURAND</B>" in label.text() for label in labels)


def test_nothing_recorded_says_non_renseigne(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.relatives, gateway.directives = [], None
    view = entourage_view(qtbot, aloop, gateway)
    for name in ("trusted_person", "contacts", "directives"):
        assert view.section_lines(name) == ["Non renseigné"]


def test_contacts_without_a_person_of_trust(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.relatives = [DAUGHTER]
    gateway.directives = AdvanceDirectives(False)
    view = entourage_view(qtbot, aloop, gateway)
    assert view.section_lines("trusted_person") == ["Non renseigné"]
    assert len(view.section_lines("contacts")) == 1
    assert view.section_lines("directives") == [
        "Le patient a indiqué ne pas avoir rédigé de directives anticipées."
    ]


def test_a_pharmacist_sees_no_directives(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    view = entourage_view(qtbot, aloop, gateway, profession="21")
    assert view.section_lines("directives") == ["Non accessible à votre profession"]
    assert view.section_lines("trusted_person")[0].startswith("MOREAU Paul")
    assert gateway.calls == ["related"]  # the closed part is not even asked for


def test_a_server_refusal_shows_the_part_closed(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.refuse_directives = True
    view = entourage_view(qtbot, aloop, gateway, profession="60")
    assert view.section_lines("directives") == ["Non accessible à votre profession"]


def test_a_failure_is_said_and_nothing_shown(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.failure = NetworkError("Serveur DMP injoignable.")
    view = entourage_view(qtbot, aloop, gateway)
    assert view.error_label.text() == "Serveur DMP injoignable."
    assert view.section_lines("contacts") == []
    gateway.failure = None
    qtbot.mouseClick(view.refresh_button, Qt.MouseButton.LeftButton)
    aloop.wait_until(lambda: not view.busy)
    assert view.error_label.text() == ""
    assert len(view.section_lines("contacts")) == 2


def test_clear_forgets_the_patient(qtbot: QtBot, aloop: AsyncLoop) -> None:
    view = entourage_view(qtbot, aloop, FakeGateway())
    view.clear()
    assert view.entourage is None
    assert all(view.section_lines(n) == [] for n in ("trusted_person", "contacts", "directives"))
    assert not view.refresh_button.isEnabled()


# -- the header ------------------------------------------------------------------------------------
def header(
    qtbot: QtBot,
    gateway: FakeGateway,
    *,
    profession: str = "10",
    id_nat: str = GP,
) -> DossierHeader:
    widget = DossierHeader(
        DossierHeaderService(gateway, dossier_service(gateway, profession, id_nat)), today=TODAY
    )
    qtbot.addWidget(widget)
    widget.show()
    return widget


def all_text(widget: DossierHeader) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel))


def test_header_of_the_medecin_traitant(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.gate = asyncio.Event()
    widget = header(qtbot, gateway)
    widget.show_dossier(dossier())
    # the identity shows at once, the médecin traitant when read
    assert widget.name_label.text() == "DURAND Marie Claire"
    assert widget.birth_label.text() == "Né(e) le 14/08/1955 (70 ans)"
    assert widget.sex_label.text() == "Femme"
    assert widget.ins_label.text() == f"INS : {NIR}"
    assert widget.gp_label.text() == "Médecin traitant : recherche…"
    assert widget.mode_badge.text() == "Accès normal"
    assert widget.mode_note.text() == "Session d'accès jusqu'à 15:00"
    gateway.gate.set()
    with qtbot.waitSignal(widget.loaded):
        aloop.wait_until(lambda: not widget.busy)
    assert widget.gp_label.text() == "Médecin traitant : Claire MARTIN (vous)"
    assert widget.notices_label.text().splitlines() == [
        "Vous êtes le médecin traitant déclaré de ce patient.",
        "Les documents masqués aux professionnels vous sont visibles, en tant que médecin "
        "traitant.",
    ]


def test_header_of_another_professional(qtbot: QtBot, aloop: AsyncLoop) -> None:
    widget = header(qtbot, FakeGateway(), profession="60", id_nat=NURSE)
    widget.show_dossier(dossier())
    aloop.wait_until(lambda: not widget.busy)
    assert widget.gp_label.text() == "Médecin traitant : Claire MARTIN"
    assert widget.notices_label.text() == ""


def test_header_in_bris_de_glace_tells_no_opposition(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.gp = None
    widget = header(qtbot, gateway, id_nat="899700000029")
    widget.show_dossier(dossier(AccessMode.BRIS_DE_GLACE))
    aloop.wait_until(lambda: not widget.busy)
    assert widget.mode_badge.text() == "BRIS DE GLACE"
    assert widget.mode_note.text() == "Accès limité jusqu'à 15:00"
    assert widget.gp_label.text() == "Médecin traitant : non renseigné"
    assert "Le patient est informé de cet accès en bris de glace" in widget.notices_label.text()
    text = all_text(widget).lower()
    assert "oppos" not in text and "bloqu" not in text


def test_header_in_centre_15(qtbot: QtBot, aloop: AsyncLoop) -> None:
    widget = header(qtbot, FakeGateway(), id_nat="899700000037")
    widget.show_dossier(dossier(AccessMode.CENTRE_15))
    aloop.wait_until(lambda: not widget.busy)
    assert widget.mode_badge.text() == "Centre 15 (régulation)"
    assert "restent invisibles" in widget.notices_label.text()


def test_header_when_the_read_fails(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.failure = NetworkError("Serveur DMP injoignable.")
    widget = header(qtbot, gateway)
    widget.show_dossier(dossier())
    aloop.wait_until(lambda: not widget.busy)
    assert widget.name_label.text() == "DURAND Marie Claire"  # the identity stays
    assert widget.gp_label.text() == "Médecin traitant : information indisponible"
    assert widget.error_label.text() == "Serveur DMP injoignable."


def test_header_labels_are_plain_text_and_clear(qtbot: QtBot, aloop: AsyncLoop) -> None:
    gateway = FakeGateway()
    gateway.gp = GeneralPractitioner(GP, "<b>Claire</b>")
    widget = header(qtbot, gateway, id_nat=NURSE)
    widget.show_dossier(dossier())
    aloop.wait_until(lambda: not widget.busy)
    assert widget.gp_label.textFormat() == Qt.TextFormat.PlainText
    assert widget.gp_label.text() == "Médecin traitant : <b>Claire</b>"
    widget.clear()
    assert widget.info is None and widget.name_label.text() == ""
