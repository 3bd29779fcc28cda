"""The mandatory traceability notice ("j'ai compris"): first login, then every 180 days."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Protocol


class PreferenceStore(Protocol):
    """Small per-user key/value settings (no patient data)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


NOTICE_TEXT = (
    "Chaque accès au DMP est tracé et consultable par le patient. Vous ne pouvez consulter le "
    "DMP d'un patient qu'avec son autorisation, dans le cadre de sa prise en charge et dans la "
    "limite de ce que votre profession permet (matrice d'habilitation). Tout accès en mode "
    "bris de glace doit être justifié et le patient en est informé."
)


class NoticeService:
    def __init__(self, store: PreferenceStore, period: timedelta = timedelta(days=180)) -> None:
        self.store = store
        self.period = period

    @staticmethod
    def _key(id_nat: str) -> str:
        return "notice_ack." + hashlib.sha256(id_nat.encode("utf-8")).hexdigest()[:16]

    def needs_notice(self, id_nat: str, now: datetime) -> bool:
        raw = self.store.get(self._key(id_nat))
        if raw is None:
            return True
        try:
            acknowledged = datetime.fromisoformat(raw)
        except ValueError:
            return True
        return now - acknowledged >= self.period or acknowledged > now

    def acknowledge(self, id_nat: str, now: datetime) -> None:
        self.store.set(self._key(id_nat), now.isoformat())
