"""Translations: French source strings, English with ``--lang en``, French dates."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QDate, QLocale
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel
from pytestqt.qtbot import QtBot

from console.app import build_parser, settings_from_args
from console.domain.card import PinState
from console.services.notice import NOTICE_TEXT
from console.services.session import SessionService
from console.smartcard.fake import FakeCardReader
from console.views.i18n import (
    TRANSLATIONS_DIR,
    InstalledTranslations,
    install_translations,
    uninstall_translations,
)
from console.views.login import LoginPage, pin_warning_text
from console.views.notice import NoticeDialog
from tests.gui.conftest import AsyncLoop
from tests.gui.test_login import FakeGateway

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
OURS = (
    "AccessHistoryModel",
    "AccessHistoryView",
    "AccessModeDialog",
    "BatchDepositView",
    "BatchTableModel",
    "CardTableModel",
    "DepositDialog",
    "DepositReceipt",
    "DocumentActionTexts",
    "DocumentTypePicker",
    "DossierHeader",
    "EcpsWaitDialog",
    "EmergencyBanner",
    "EntourageView",
    "FileDropArea",
    "ImmunizationTableModel",
    "LoginPage",
    "MainWindow",
    "NoticeDialog",
    "PhoneWindow",
    "PinDialog",
    "RefusalBox",
    "VaccinationForm",
    "VaccinationsTab",
)
"""Translation contexts that must be fully translated: the login page, the PIN dialog, the
notice, the window, the emergency mode and access history (issue 6), the vaccinations, the
entourage and the dossier header (issue 9), the deposits: the dialog, the document actions and
the secretary's batch screen."""


@pytest.fixture
def english(qapp: QApplication) -> Iterator[InstalledTranslations]:
    args = build_parser().parse_args(["--lang", "en"])
    installed = install_translations(qapp, settings_from_args(args, {}).language)
    try:
        yield installed
    finally:
        uninstall_translations(qapp, installed)


def login_page(qtbot: QtBot) -> LoginPage:
    page = LoginPage(SessionService(FakeCardReader([]), FakeGateway()))  # type: ignore[arg-type]
    qtbot.addWidget(page)
    return page


def test_french_is_the_source_language(qtbot: QtBot, aloop: AsyncLoop) -> None:
    page = login_page(qtbot)
    assert page.refresh_button.text() == "Actualiser"
    assert page.title_label.text() == "Connexion par carte CPS"


def test_lang_en_shows_english(
    english: InstalledTranslations, qtbot: QtBot, aloop: AsyncLoop
) -> None:
    assert english.language == "en"
    page = login_page(qtbot)
    assert page.refresh_button.text() == "Refresh"
    assert page.title_label.text() == "Sign in with a CPS card"
    assert page.login_button.text() == "Sign in"
    assert pin_warning_text(PinState.COUNT_LOW).startswith("Warning: a wrong PIN")
    dialog = NoticeDialog()
    qtbot.addWidget(dialog)
    assert dialog.understood_button.text() == "I understand"


def test_notice_dialog_says_the_services_notice(qtbot: QtBot) -> None:
    dialog = NoticeDialog()
    qtbot.addWidget(dialog)
    assert dialog.text_label.text() == NOTICE_TEXT


def test_dates_are_french(qapp: QApplication) -> None:
    installed = install_translations(qapp, "fr")
    try:
        locale = QLocale()
        assert locale.language() is QLocale.Language.French
        assert locale.toString(QDate(2024, 3, 5), "d MMMM yyyy") == "5 mars 2024"
        assert locale.toString(QDate(2024, 3, 5), QLocale.FormatType.ShortFormat) == "05/03/2024"
    finally:
        uninstall_translations(qapp, installed)


def test_qt_file_dialogs_are_in_french(qapp: QApplication, qtbot: QtBot) -> None:
    """Qt's own file dialog said "Look in:" and "Files of type:" (issue 17): qtbase_fr.qm
    misses the strings Qt now writes with an accelerator."""
    installed = install_translations(qapp, "fr")
    try:
        dialog = QFileDialog()
        qtbot.addWidget(dialog)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        labels = [label.text() for label in dialog.findChildren(QLabel)]
        assert "&Voir dans\u00a0:" in labels
        assert "&Fichiers de type\u00a0:" in labels
        assert "&Nom de fichier\u00a0:" in labels  # what qtbase_fr.qm itself translates
        assert not [text for text in labels if "Look in" in text or "Files of" in text]
        assert QCoreApplication.translate("QAbstractFileIconProvider", "Folder") == "Dossier"
    finally:
        uninstall_translations(qapp, installed)
    assert QCoreApplication.translate("QFileDialog", "&Look in:") == "&Look in:"


def test_unknown_language_is_refused(qapp: QApplication) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        install_translations(qapp, "de")


def _messages(ts: Path) -> dict[tuple[str, str], ET.Element]:
    found: dict[tuple[str, str], ET.Element] = {}
    for context in ET.parse(ts).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            found[(name, message.findtext("source") or "")] = translation
    return found


def _untranslated(messages: dict[tuple[str, str], ET.Element]) -> list[tuple[str, str]]:
    return [
        key
        for key, translation in messages.items()
        if key[0] in OURS
        and (
            translation.get("type") == "unfinished"
            or not (
                (translation.text or "").strip()
                or (
                    all((f.text or "").strip() for f in translation.iter("numerusform"))
                    and translation.find("numerusform") is not None
                )
            )
        )
    ]


def test_every_string_of_the_login_and_window_is_translated() -> None:
    messages = _messages(TRANSLATIONS_DIR / "console_en.ts")
    assert ("LoginPage", "Actualiser") in messages
    assert _untranslated(messages) == []


@pytest.mark.slow
def test_translation_files_are_up_to_date(tmp_path: Path) -> None:
    """The .ts holds every string of the code (lupdate adds none) and the .qm matches it."""
    lupdate, lrelease = BIN / "pyside6-lupdate", BIN / "pyside6-lrelease"
    if not lupdate.exists():
        lupdate = Path(shutil.which("pyside6-lupdate") or "pyside6-lupdate")
        lrelease = Path(shutil.which("pyside6-lrelease") or "pyside6-lrelease")
    committed_ts = TRANSLATIONS_DIR / "console_en.ts"
    fresh_ts = tmp_path / "console_en.ts"
    shutil.copy(committed_ts, fresh_ts)
    sources = sorted(str(p) for p in (REPO / "console").rglob("*.py"))
    subprocess.run(
        [
            str(lupdate),
            *("-source-language", "fr_FR", "-target-language", "en", "-no-obsolete"),
            *("-locations", "none", *sources, "-ts", str(fresh_ts)),
        ],
        check=True,
        capture_output=True,
    )
    assert _untranslated(_messages(fresh_ts)) == [], "run scripts/update_translations.sh"

    compiled = tmp_path / "console_en.qm"
    subprocess.run(
        [str(lrelease), str(committed_ts), "-qm", str(compiled)], check=True, capture_output=True
    )
    assert compiled.read_bytes() == (TRANSLATIONS_DIR / "console_en.qm").read_bytes(), (
        "console_en.qm is older than console_en.ts: run scripts/update_translations.sh"
    )
