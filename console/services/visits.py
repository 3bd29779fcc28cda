"""The professional's last visit of each patient: the DMP's "new since the last visit" rule.

The first opening of a patient lists the current documents of the last two years; a later
opening fetches only what was deposited since the last visit, marks it new, and shows it
beside what was already known of the record. Both openings also search the vaccination
history without a date limit (:func:`~console.domain.dossier.opening_queries`).

Which patients a professional opened, when, and their documents' metadata are patient data:
they never go to a plain file. They live behind :class:`VisitStore`:

- ``CacheVisitStore`` (``console/services/cache.py``) over the encrypted cache (SQLCipher,
  key bound to the card): later openings survive a restart. The console uses it whenever
  the professional has a cache.
- :class:`InMemoryVisitStore`: what was opened in this process (no cache: e-CPS without a
  keychain; and the cache's fallback while it is closed). A later opening in the same
  session merges with what was fetched earlier; a fresh process behaves as a first opening
  (two years, nothing marked new).

Visits are keyed by professional (her idNat), patient (INS) and access mode: what a bris de
glace opening showed (masked documents included) is never merged into a normal opening.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from console.domain.dossier import (
    NEW_SINCE_MARGIN,
    DocumentQuery,
    Visit,
    later_opening_query,
    opening_queries,
)
from console.domain.models import AccessMode, DocumentMeta
from console.services.dossier import first_opening_query

__all__ = [
    "InMemoryVisitStore",
    "OpeningPlan",
    "VisitKey",
    "VisitService",
    "VisitStore",
    "first_opening_query",
]


@dataclass(frozen=True, slots=True)
class VisitKey:
    """Whose visit of which record: professional idNat, patient INS value, access mode."""

    professional: str
    patient: str
    mode: AccessMode


class VisitStore(Protocol):
    """Where the last visits and the documents already known live (patient data).

    Async: the encrypted cache runs its SQLCipher connection on its own worker thread.
    """

    async def last_visit(self, key: VisitKey) -> Visit | None:
        """The last complete opening of ``key``'s record, if remembered."""
        ...

    async def known_documents(self, key: VisitKey) -> list[DocumentMeta]:
        """The documents listed at the last visit (metadata only)."""
        ...

    async def record_visit(
        self, key: VisitKey, visit: Visit, documents: Sequence[DocumentMeta]
    ) -> None:
        """Remember ``visit`` and the documents known now (replacing the earlier ones)."""
        ...

    async def forget(self, professional: str | None = None) -> None:
        """Drop the visits of ``professional`` (everyone's when None): logout, card removed."""
        ...


class InMemoryVisitStore:
    """:class:`VisitStore` in this process's memory only (nothing written anywhere)."""

    def __init__(self) -> None:
        self._visits: dict[VisitKey, tuple[Visit, tuple[DocumentMeta, ...]]] = {}

    async def last_visit(self, key: VisitKey) -> Visit | None:
        entry = self._visits.get(key)
        return None if entry is None else entry[0]

    async def known_documents(self, key: VisitKey) -> list[DocumentMeta]:
        entry = self._visits.get(key)
        return [] if entry is None else list(entry[1])

    async def record_visit(
        self, key: VisitKey, visit: Visit, documents: Sequence[DocumentMeta]
    ) -> None:
        self._visits[key] = (visit, tuple(documents))

    async def forget(self, professional: str | None = None) -> None:
        if professional is None:
            self._visits.clear()
            return
        for key in [k for k in self._visits if k.professional == professional]:
            del self._visits[key]

    def __len__(self) -> int:
        return len(self._visits)


@dataclass(frozen=True, slots=True)
class OpeningPlan:
    """How to open a record now: the searches, what is already known, what counts as new."""

    key: VisitKey | None
    """None when no professional is known (nothing is remembered then)."""
    query: DocumentQuery
    """The main search (the view's date chip follows its ``act_from``)."""
    queries: tuple[DocumentQuery, ...]
    """The main search then, if bounded, the vaccination history without a date limit."""
    started_at: datetime
    last_visit: Visit | None = None
    known: tuple[DocumentMeta, ...] = ()
    """Documents listed at the last visit, shown at once beside the new ones."""
    date_limited: bool = True
    """Whether what is listed covers only the last two years (the removable chip)."""
    known_ids: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def first_opening(self) -> bool:
        return self.last_visit is None

    def is_new(self, doc: DocumentMeta) -> bool:
        """Deposited since the last visit and not known then (never on a first opening)."""
        if self.last_visit is None or doc.id in self.known_ids:
            return False
        deposited = doc.deposited if doc.deposited.tzinfo else doc.deposited.replace(tzinfo=UTC)
        return deposited >= self.last_visit.at - NEW_SINCE_MARGIN

    def whole_history(self, now: datetime) -> OpeningPlan:
        """The same opening with the date limit removed: every document, no date bound."""
        query = DocumentQuery(
            type_codes=self.query.type_codes,
            class_codes=self.query.class_codes,
            include_archived=self.query.include_archived,
            page_size=self.query.page_size,
        )
        return OpeningPlan(
            self.key,
            query,
            opening_queries(query),
            now,
            self.last_visit,
            self.known,
            False,
            self.known_ids,
        )


class VisitService:
    """Plans openings from the last visit, and records a visit once its list is complete.

    Args:
        store: Where visits live (in memory until the encrypted cache provides one).
        clock: Aware "now" (tests move it).
    """

    def __init__(self, store: VisitStore, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    async def plan(
        self, professional: str, patient: str, mode: AccessMode, today: date
    ) -> OpeningPlan:
        """The opening of ``patient``'s record by ``professional`` in ``mode``.

        First opening (or no professional known): the last two years, plus the vaccination
        history. Later opening: what was deposited since the last visit (plus the vaccination
        history), beside the documents known then.
        """
        now = self.now()
        if not professional:
            query = first_opening_query(today)
            return OpeningPlan(None, query, opening_queries(query), now)
        key = VisitKey(professional, patient, mode)
        last = await self.store.last_visit(key)
        if last is None:
            query = first_opening_query(today)
            return OpeningPlan(key, query, opening_queries(query), now)
        known = tuple(await self.store.known_documents(key))
        query = later_opening_query(last)
        return OpeningPlan(
            key,
            query,
            opening_queries(query),
            now,
            last,
            known,
            not last.complete_history,
            frozenset(d.id for d in known),
        )

    async def record(self, plan: OpeningPlan, documents: Sequence[DocumentMeta]) -> None:
        """Remember the opening of ``plan`` as the last visit, with every document listed.

        Call it only when the whole list arrived: a failed or cancelled opening keeps the
        previous visit, so nothing deposited in between is ever missed.
        """
        if plan.key is None:
            return
        visit = Visit(plan.started_at, complete_history=not plan.date_limited)
        await self.store.record_visit(plan.key, visit, documents)

    async def forget(self, professional: str | None = None) -> None:
        """Drop remembered visits (logout, card removed, another professional)."""
        await self.store.forget(professional)
