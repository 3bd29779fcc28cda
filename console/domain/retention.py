"""What the offline cache may hold and for how long (pure policy), and the cache's errors.

Retention: a patient's cached data (identity, document metadata, opened bodies) is kept
:attr:`RetentionPolicy.max_idle` (72 hours by default) after the professional last accessed
that patient; the store purges at open and every :attr:`RetentionPolicy.purge_interval`
(hourly), on demand ("purge now"), and at logout if the professional chose so.

Admission (:func:`cache_admission`): the cache only ever holds what the read rules allow this
professional *in normal mode*. What an exceptional access (bris de glace, centre 15) fetched
is tagged with its episode and purged when the episode ends (and, should the console crash
during one, at the next open: an episode never outlives the process). A masked document is
admitted in normal mode only for its author, or when the caller states that the server gave
this professional the médecin traitant's rights on the patient (``sees_masked``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from console.domain.errors import (
    CacheClosedError,
    CacheCorruptError,
    CacheError,
    CacheOwnershipError,
    CacheUnavailableError,
)
from console.domain.models import SECRETARY_ROLE, AccessMode, DocumentMeta
from console.domain.rules import console_may_show

__all__ = [
    "DEFAULT_MAX_IDLE",
    "DEFAULT_PURGE_INTERVAL",
    "Admission",
    "CacheClosedError",
    "CacheContext",
    "CacheCorruptError",
    "CacheError",
    "CacheOwnershipError",
    "CacheRefusal",
    "CacheUnavailableError",
    "PurgeReport",
    "RetentionPolicy",
    "cache_admission",
    "patient_admission",
]

DEFAULT_MAX_IDLE = timedelta(hours=72)
DEFAULT_PURGE_INTERVAL = timedelta(hours=1)


# --- retention --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long the cache keeps a patient's data, and when it purges."""

    max_idle: timedelta = DEFAULT_MAX_IDLE
    """Kept this long after the last access to the patient (72 hours by default)."""
    purge_interval: timedelta = DEFAULT_PURGE_INTERVAL
    """The periodic purge runs this often (hourly by default)."""
    purge_all_at_logout: bool = False
    """The professional chose to purge every patient's data when she logs out."""

    def __post_init__(self) -> None:
        if self.max_idle <= timedelta(0):
            raise ValueError("the retention period must be positive")
        if self.purge_interval <= timedelta(0):
            raise ValueError("the purge interval must be positive")

    def cutoff(self, now: datetime) -> datetime:
        """Patients last accessed strictly before this moment are purged."""
        return now - self.max_idle

    def is_expired(self, last_access: datetime, now: datetime) -> bool:
        return last_access < self.cutoff(now)

    def purge_due(self, last_purge: datetime | None, now: datetime) -> bool:
        """Whether the periodic purge should run now (never ran, or ran an interval ago)."""
        return last_purge is None or now - last_purge >= self.purge_interval or now < last_purge


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge removed (counts only: no patient data)."""

    patients: int = 0
    documents: int = 0
    bodies: int = 0
    outbox_items: int = 0

    def __add__(self, other: PurgeReport) -> PurgeReport:
        return PurgeReport(
            self.patients + other.patients,
            self.documents + other.documents,
            self.bodies + other.bodies,
            self.outbox_items + other.outbox_items,
        )

    @property
    def total(self) -> int:
        return self.patients + self.documents + self.bodies + self.outbox_items


# --- admission ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheContext:
    """Who fetched what, and how: the facts admission decides on.

    Attributes:
        id_nat: The professional's idNat.
        profession: Her profession code (the habilitation matrix key).
        mode: The access mode of the grant the data came through.
        episode_id: The grant's episode (required in an exceptional mode).
        sees_masked: The server gave her the médecin traitant's rights on this patient (so,
            in normal mode, it lists masked documents to her); False when unknown.
    """

    id_nat: str
    profession: str
    mode: AccessMode = AccessMode.NORMAL
    episode_id: str | None = None
    sees_masked: bool = False

    @property
    def exceptional(self) -> bool:
        return self.mode is not AccessMode.NORMAL

    @property
    def episode(self) -> str | None:
        """The episode the data must be tagged with (None in normal mode)."""
        return self.episode_id if self.exceptional else None


class CacheRefusal(StrEnum):
    SECRETARY = "secretary"
    """A secretary's cache holds the outbox and the journal, never documents."""
    READ_RULES = "read_rules"
    """The console's read rules hide it (matrix, status)."""
    MASKED = "masked"
    """Masked, and nothing says this professional sees masked documents in normal mode."""
    NO_EPISODE = "no_episode"
    """Fetched in an exceptional mode without the episode it must be purged with."""


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    reason: CacheRefusal | None = None

    def __bool__(self) -> bool:
        return self.allowed


def cache_admission(doc: DocumentMeta, ctx: CacheContext) -> Admission:
    """May `doc`, fetched in `ctx`, enter the cache? (See the module doc.)"""
    if ctx.profession == SECRETARY_ROLE:
        return Admission(False, CacheRefusal.SECRETARY)
    if ctx.exceptional and not ctx.episode_id:
        return Admission(False, CacheRefusal.NO_EPISODE)
    if not console_may_show(ctx.profession, doc, include_archived=True):
        return Admission(False, CacheRefusal.READ_RULES)
    if (
        doc.masked
        and not ctx.exceptional
        and not ctx.sees_masked
        and doc.author_id_nat != ctx.id_nat
    ):
        return Admission(False, CacheRefusal.MASKED)
    return Admission(True)


def patient_admission(ctx: CacheContext) -> Admission:
    """May a patient's identity enter the cache in `ctx`?"""
    if ctx.profession == SECRETARY_ROLE:
        return Admission(False, CacheRefusal.SECRETARY)
    if ctx.exceptional and not ctx.episode_id:
        return Admission(False, CacheRefusal.NO_EPISODE)
    return Admission(True)
