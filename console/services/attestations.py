"""The bris de glace attestations kept in the professional's encrypted cache.

Every bris de glace ends with an attestation (``EmergencyService``), whatever ended it; it is
kept in the professional's cache until she saves it where she wants it (a file she chooses:
her structure's records, a printer...). :class:`AttestationArchive` lists them and saves one.
The list holds patient names: it exists only while her cache is open (her card).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Protocol

from console.domain.emergency import AttestationRecord
from console.domain.errors import ConsoleError
from console.services.dossier import write_atomically

__all__ = ["AttestationArchive", "AttestationSource"]

log = logging.getLogger(__name__)


class AttestationSource(Protocol):
    """What the archive needs of the cache (``CacheService``)."""

    @property
    def is_open(self) -> bool: ...

    async def attestations(self, *, unsaved_only: bool = False) -> list[AttestationRecord]: ...

    async def attestation_pdf(self, episode_id: str) -> bytes | None: ...

    async def mark_attestation_saved(self, episode_id: str) -> bool: ...


class AttestationArchive:
    """Lists and saves the attestations of the open cache."""

    def __init__(self, cache: AttestationSource) -> None:
        self.cache = cache

    async def records(self, *, unsaved_only: bool = False) -> list[AttestationRecord]:
        """The attestations kept, most recent first (none when the cache is closed)."""
        if not self.cache.is_open:
            return []
        return await self.cache.attestations(unsaved_only=unsaved_only)

    async def unsaved_count(self) -> int:
        try:
            return len(await self.records(unsaved_only=True))
        except ConsoleError as exc:  # closed meanwhile: nothing to say now
            log.info("attestations not counted: %s", type(exc).__name__)
            return 0

    async def save(self, episode_id: str, path: Path) -> None:
        """Write one attestation to `path` (atomically, off the loop's thread), then mark it
        saved.

        Raises:
            ConsoleError: the cache is closed or no longer holds it.
            OSError: the file could not be written.
        """
        pdf = await self.cache.attestation_pdf(episode_id)
        if pdf is None:
            raise ConsoleError("Cette attestation n'est plus dans le cache.")
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(write_atomically, path, pdf)
        )
        await self.cache.mark_attestation_saved(episode_id)
