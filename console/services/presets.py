"""Per-professional preferences of the document table: saved filter presets, column layout.

Stored through :class:`~console.services.notice.PreferenceStore` (the plain preferences file)
as JSON values, under keys made of a hash of the professional's idNat (her idNat is not
written in clear). What is stored holds no patient data: a preset is codes (types, classes,
visibility), authors' idNat (professionals), dates, flags and the professional's own search
words; the layout is the header's geometry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from console.domain.filters import (
    FilterPreset,
    presets_from_json,
    presets_to_json,
)
from console.domain.table import DocumentFilter
from console.services.notice import PreferenceStore

__all__ = ["MAX_PRESETS", "MemoryPreferenceStore", "PresetService"]

log = logging.getLogger(__name__)

MAX_PRESETS = 30
"""Presets kept per professional (the oldest are dropped beyond)."""


class MemoryPreferenceStore:
    """:class:`PreferenceStore` in memory (tests, and a console run without a config dir)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value


def professional_key(prefix: str, id_nat: str) -> str:
    """``prefix`` + a short hash of ``id_nat`` (the notice's key scheme)."""
    return prefix + hashlib.sha256(id_nat.encode("utf-8")).hexdigest()[:16]


class PresetService:
    """Saved filters and the table's layout, per professional."""

    PRESETS_PREFIX = "table_presets."
    LAYOUT_PREFIX = "table_layout."

    def __init__(self, store: PreferenceStore) -> None:
        self.store = store

    def _read(self, key: str) -> Any:
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            log.warning("unreadable table preference %s: ignored", key.split(".")[0])
            return None

    # -- presets ---------------------------------------------------------------------------------
    def presets(self, id_nat: str) -> list[FilterPreset]:
        """The presets of ``id_nat``, in the order she saved them."""
        if not id_nat:
            return []
        return presets_from_json(self._read(professional_key(self.PRESETS_PREFIX, id_nat)))

    def _write_presets(self, id_nat: str, presets: Sequence[FilterPreset]) -> None:
        kept = list(presets)[-MAX_PRESETS:]
        self.store.set(
            professional_key(self.PRESETS_PREFIX, id_nat),
            json.dumps(presets_to_json(kept), ensure_ascii=False, sort_keys=True),
        )

    def save_preset(self, id_nat: str, name: str, flt: DocumentFilter) -> list[FilterPreset]:
        """Save ``flt`` as ``name`` (replacing a preset of that name); the presets now."""
        name = " ".join(name.split())
        if not id_nat or not name:
            return self.presets(id_nat)
        presets = [p for p in self.presets(id_nat) if p.name != name]
        presets.append(FilterPreset(name, flt))
        self._write_presets(id_nat, presets)
        return self.presets(id_nat)

    def delete_preset(self, id_nat: str, name: str) -> list[FilterPreset]:
        """Drop the preset ``name``; the presets now."""
        presets = self.presets(id_nat)
        kept = [p for p in presets if p.name != name]
        if id_nat and len(kept) != len(presets):
            self._write_presets(id_nat, kept)
        return kept

    # -- column layout ---------------------------------------------------------------------------
    def table_layout(self, id_nat: str, columns: Sequence[str]) -> bytes | None:
        """The header state saved for ``columns`` (None if none, or saved for other columns)."""
        if not id_nat:
            return None
        raw = self._read(professional_key(self.LAYOUT_PREFIX, id_nat))
        if not isinstance(raw, dict) or raw.get("columns") != list(columns):
            return None
        state = raw.get("state")
        if not isinstance(state, str):
            return None
        try:
            return base64.b64decode(state, validate=True)
        except (binascii.Error, ValueError):
            return None

    def save_table_layout(self, id_nat: str, columns: Sequence[str], state: bytes) -> None:
        """Remember the header ``state`` (QHeaderView.saveState) for ``columns``."""
        if not id_nat:
            return
        value = {"columns": list(columns), "state": base64.b64encode(state).decode("ascii")}
        self.store.set(professional_key(self.LAYOUT_PREFIX, id_nat), json.dumps(value))
