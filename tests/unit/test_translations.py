"""The English translation is complete, consistent with its sources and compiled.

Every entry of ``console_en.ts`` (all contexts, not only the screens of
``tests/gui/test_i18n.py``) must be translated: no ``type="unfinished"``, no empty text, the
same placeholders (``{name}``, ``%1``, ``%n``) and keyboard accelerators as the French source.
``console_en.qm``, the file the console loads, must hold the translations of the ``.ts``: a
``.ts`` edited without running ``scripts/update_translations.sh`` fails here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QTranslator

from console.views.i18n import TRANSLATIONS_DIR, translation_file

TS = TRANSLATIONS_DIR / "console_en.ts"
QM = translation_file("en")

_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%(?:\d+|n|v|m)")
"""str.format fields and Qt's %1, %n (plural count), %v / %m (progress bar) markers."""

_ACCELERATOR = re.compile(r"&(?!&)(?=\S)")
"""A menu accelerator ("&Quitter"); "&&" is a literal ampersand."""

_ENDINGS = ("…", ":", "?")
"""Endings a translation keeps: a dialog opens ("…"), a label or field follows (":"), a
question is asked ("?")."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the .ts file."""

    context: str
    source: str
    unfinished: bool
    plural: bool
    text: str
    """The translation (non-plural entries)."""
    forms: tuple[str, ...]
    """The plural forms (plural entries)."""

    @property
    def key(self) -> str:
        return f"{self.context}: {self.source!r}"

    @property
    def translations(self) -> tuple[str, ...]:
        return self.forms if self.plural else (self.text,)


def _entries() -> list[Entry]:
    entries: list[Entry] = []
    for context in ET.parse(TS).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None, f"{name}: {message.findtext('source')!r}"
            entries.append(
                Entry(
                    context=name,
                    source=message.findtext("source") or "",
                    unfinished=translation.get("type") == "unfinished",
                    plural=message.get("numerus") == "yes",
                    text=translation.text or "",
                    forms=tuple(form.text or "" for form in translation.iter("numerusform")),
                )
            )
    return entries


ENTRIES = _entries()


def _placeholders(text: str) -> Counter[str]:
    return Counter(_PLACEHOLDER.findall(text))


def _accelerators(text: str) -> int:
    return len(_ACCELERATOR.findall(text))


@pytest.fixture(scope="module")
def translator() -> QTranslator:
    translator = QTranslator()
    assert translator.load(str(QM)), f"cannot load {QM}"
    return translator


def test_the_ts_file_has_entries() -> None:
    assert len(ENTRIES) > 100
    assert any(entry.plural for entry in ENTRIES)


def test_no_entry_is_unfinished() -> None:
    unfinished = [entry.key for entry in ENTRIES if entry.unfinished]
    assert unfinished == [], (
        f"{len(unfinished)} unfinished translation(s) in {TS.name}: translate them, then run "
        "scripts/update_translations.sh"
    )


def test_no_translation_is_empty() -> None:
    empty = [
        entry.key
        for entry in ENTRIES
        if not entry.translations or not all(text.strip() for text in entry.translations)
    ]
    assert empty == []


def test_plural_entries_have_both_english_forms() -> None:
    wrong = [entry.key for entry in ENTRIES if entry.plural and len(entry.forms) != 2]
    assert wrong == []


def test_translations_keep_the_placeholders_of_the_source() -> None:
    wrong = [
        (entry.key, text)
        for entry in ENTRIES
        for text in entry.translations
        if _placeholders(text) != _placeholders(entry.source)
    ]
    assert wrong == []


def test_translations_keep_the_keyboard_accelerators() -> None:
    wrong = [
        (entry.key, text)
        for entry in ENTRIES
        for text in entry.translations
        if _accelerators(text) != _accelerators(entry.source)
    ]
    assert wrong == []


def test_translations_keep_the_ending_of_the_source() -> None:
    wrong = [
        (entry.key, text)
        for entry in ENTRIES
        for text in entry.translations
        for ending in _ENDINGS
        if entry.source.rstrip().endswith(ending) != text.rstrip().endswith(ending)
    ]
    assert wrong == []


def test_the_qm_file_is_not_older_than_the_ts_file(translator: QTranslator) -> None:
    """Every translation of the .ts comes back from the compiled .qm the console loads."""
    stale: list[tuple[str, str, str]] = []
    for entry in ENTRIES:
        if entry.plural:
            # English: form 0 for one, form 1 otherwise.
            got = tuple(translator.translate(entry.context, entry.source, None, n) for n in (1, 2))
            want = entry.forms
        else:
            got = (translator.translate(entry.context, entry.source),)
            want = (entry.text,)
        if got != want:
            stale.append((entry.key, repr(want), repr(got)))
    assert stale == [], f"{QM.name} does not match {TS.name}: run scripts/update_translations.sh"
