"""Translation set-up: French is the source language, English is available.

Every visible string of the views goes through Qt's translation: ``self.tr("...")`` inside a
QObject subclass (the context is the class name), ``QCoreApplication.translate("Context",
"...")`` elsewhere. ``pyside6-lupdate`` extracts them into
``resources/translations/console_<lang>.ts`` and ``pyside6-lrelease`` compiles the ``.qm``
loaded here (``scripts/update_translations.sh`` runs both).

Dates follow the French format whatever the interface language (the DMP is French): the
default ``QLocale`` is French (France).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from console.resources import RESOURCES_DIR

__all__ = [
    "LANGUAGES",
    "SOURCE_LANGUAGE",
    "TRANSLATIONS_DIR",
    "InstalledTranslations",
    "install_translations",
    "translation_file",
    "uninstall_translations",
]

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "fr"
"""The language the strings are written in (no translation file needed)."""

LANGUAGES: tuple[str, ...] = ("fr", "en")
"""The interface languages offered (``--lang``)."""

TRANSLATIONS_DIR = RESOURCES_DIR / "translations"


def translation_file(language: str) -> Path:
    """The compiled translation of the console's strings into `language`.

    Args:
        language: One of :data:`LANGUAGES` other than the source language.
    """
    return TRANSLATIONS_DIR / f"console_{language}.qm"


@dataclass(slots=True)
class InstalledTranslations:
    """The translators installed on the application (kept alive while installed).

    Attributes:
        language: The interface language.
        translators: Qt's own strings first, then the console's.
    """

    language: str
    translators: list[QTranslator] = field(default_factory=list)


QT_FRENCH_GAPS: dict[tuple[str, str], str] = {
    ("QFileDialog", "&Look in:"): "&Voir dans\u00a0:",
    ("QFileDialog", "Files of &type:"): "&Fichiers de type\u00a0:",
    ("QAbstractFileIconProvider", "Folder"): "Dossier",
    ("QAbstractFileIconProvider", "File Folder"): "Dossier",
    ("QAbstractFileIconProvider", "Drive"): "Lecteur",
}
"""Qt's own strings that qtbase_fr.qm (as shipped with PySide6) leaves in English: its
entries were written before Qt added the accelerators ("Look in:" there, "&Look in:" in the
code), so the file dialogs said "Look in:" and "Files of type:" in a French console."""


class QtGapsTranslator(QTranslator):
    """Translates :data:`QT_FRENCH_GAPS`; installed before qtbase so qtbase wins elsewhere."""

    def translate(
        self,
        context: str,
        source_text: str,
        disambiguation: str | None = None,
        n: int = -1,
    ) -> str:
        return QT_FRENCH_GAPS.get((context, source_text), "")

    def isEmpty(self) -> bool:
        return False


def install_translations(app: QCoreApplication, language: str) -> InstalledTranslations:
    """Install the translators of `language` on `app` and set the French date locale.

    Must run before the first widget is built (strings are translated when widgets are made).

    Args:
        app: The application.
        language: One of :data:`LANGUAGES`.

    Returns:
        What was installed (to keep, and for :func:`uninstall_translations`).

    Raises:
        ValueError: `language` is not offered.
        FileNotFoundError: the console's translation file of `language` is missing.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (expected one of {', '.join(LANGUAGES)})")
    QLocale.setDefault(QLocale(QLocale.Language.French, QLocale.Country.France))
    installed = InstalledTranslations(language)
    if language == "fr":
        # Searched after qtbase (translators are searched last installed first).
        gaps = QtGapsTranslator(app)
        app.installTranslator(gaps)
        installed.translators.append(gaps)
    qt_dir = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    qt_strings = QTranslator(app)
    if qt_strings.load(f"qtbase_{language}", qt_dir):
        app.installTranslator(qt_strings)
        installed.translators.append(qt_strings)
    else:
        # Qt's own strings (context menus of text fields) stay in English: not worth failing.
        log.info("no Qt translation qtbase_%s in %s", language, qt_dir)
    if language != SOURCE_LANGUAGE:
        path = translation_file(language)
        ours = QTranslator(app)
        if not ours.load(str(path)):
            raise FileNotFoundError(f"translation file missing or unreadable: {path}")
        app.installTranslator(ours)
        installed.translators.append(ours)
    return installed


def uninstall_translations(app: QCoreApplication, installed: InstalledTranslations) -> None:
    """Remove the translators installed by :func:`install_translations` (tests)."""
    for translator in installed.translators:
        app.removeTranslator(translator)
    installed.translators.clear()
