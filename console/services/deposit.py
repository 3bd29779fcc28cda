"""Deposits: a professional's single deposit, a document's life, and the secretary's batch.

Three services over one sending pipeline:

- :class:`DepositService`: one document by the logged professional (validate, build the
  ITI-65 bundle, queue it, send it, receipt), and a document's life (replace, delete, mask,
  unmask, show to / hide from the patient), with the DMP's rules checked client-side first
  (a refusal says why and sends nothing) and the server's refusals mapped to messages.
- :class:`BatchDepositService`: a secretary's batch on behalf of a doctor of her structure:
  files or folders, metadata prefilled from a CSV manifest or the file-name rule, validation
  of the whole batch before anything is sent, then the pipeline with pause / resume /
  cancel, per-file status and progress.
- :class:`DepositPump`: the pipeline. It sends what the outbox holds, ``concurrency``
  requests at a time, retries 429 (after ``Retry-After``), 5xx and network errors with
  exponential backoff and jitter, and records every outcome in the outbox.

Exactly once: every document gets its ``masterIdentifier`` when it is queued, and the queued
payload is the exact bytes sent. The outbox (``console.cache``, encrypted, synchronous=FULL)
commits "sending" before a request and "sent" after the answer; a crash, a kill -9 or a
network loss in between leaves the item to be sent again, with the same masterIdentifier and
bytes, which the DMP answers idempotently. A batch is queued whole before its first request,
so after a crash the resume (:meth:`BatchDepositService.restore`) has every file. Without an
open cache (e-CPS without a keychain), the queue is in memory: it survives network errors,
not the console's end, and the views say so (:attr:`DepositService.persistent`).

Nothing here logs patient data: the log says counts, states and reason codes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

from console.cache.outbox import OutboxItem, OutboxState, new_master_id
from console.cache.store import CacheStore, utc_now
from console.dmp.bundle import bundle_bytes, update_patch
from console.domain.deposit import (
    DEFAULT_MAX_BODY_BYTES,
    BatchReceipt,
    CheckedContent,
    DepositDocument,
    DepositDraft,
    DepositMetadata,
    DepositReceipt,
    DepositValidationError,
    Field,
    InvalidIdentifierError,
    Issue,
    ItemStatus,
    Manifest,
    Prefill,
    Problem,
    ReceiptLine,
    act_start,
    check_content,
    check_size,
    max_file_bytes,
    nir_of,
    parse_date,
    parse_manifest,
    prefill,
    validate_batch,
    validate_draft,
    validate_ps_id_nat,
    visibility_from_codes,
)
from console.domain.dossier import AccessGrant, ProfessionalLogin
from console.domain.errors import (
    AccessRefusedError,
    AuthenticationError,
    CacheClosedError,
    CacheError,
    ConsoleError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RetryableServerError,
    ServerError,
)
from console.domain.localtime import to_local
from console.domain.models import Actor, DocumentMeta, PatientPolicy
from console.domain.rules import (
    Decision,
    Refusal,
    UpdateAction,
    check_deposit,
    check_update,
    refusal_message,
)
from console.services.cache import CacheService
from console.services.dossier import write_atomically
from console.services.notice import PreferenceStore

__all__ = [
    "BatchDepositService",
    "BatchItem",
    "BatchProgress",
    "CacheDepositQueue",
    "DepositEvent",
    "DepositGateway",
    "DepositOutcome",
    "DepositPump",
    "DepositQueue",
    "DepositRefusedError",
    "DepositService",
    "Doctor",
    "LoadedFile",
    "MemoryDepositQueue",
    "NewDeposit",
    "Outcome",
    "PumpResult",
    "PumpStop",
    "QueueEntry",
    "RetryPolicy",
    "Settlement",
    "UpdateRefusedError",
    "write_receipt",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Clock = Callable[[], datetime]
DEPOSIT_KIND = "deposit"
BATCH_WIDE_REASONS = frozenset(
    {"not_same_structure", "author_not_ps", "deposit_for_another", "unknown_author"}
)
"""Refusals about the author, not the file: every document of the batch would get them."""
INTERRUPTED = "Envoi interrompu avant la réponse du serveur : il sera renvoyé."
SINGLE_ATTEMPTS = 3
"""Attempts of a single deposit while its dialog waits; then it stays queued."""
ABORTED_MESSAGE = (
    "Envoi interrompu par l'annulation, sans réponse certaine du DMP : le document reste en "
    "file et sera renvoyé à la reprise (le DMP n'en gardera qu'un exemplaire)."
)
ENQUEUE_GROUP = 50
"""Documents queued per outbox transaction when a batch starts."""
PROGRESS_INTERVAL_S = 0.1
"""Progress (counts over the whole batch) is reported at most this often while sending;
each file's own change is reported at once."""


# -- errors -------------------------------------------------------------------------------------


class DepositRefusedError(AccessRefusedError):
    """The deposit is refused (client-side rules, or the server's answer): nothing stored."""


class UpdateRefusedError(AccessRefusedError):
    """A document's life action is refused (client-side rules, or the server's answer)."""


def server_refusal_message(exc: ServerError) -> str:
    """The message of a server refusal: ours for the rules' reason codes, else the server's."""
    if exc.reason is not None and exc.reason in Refusal.__members__.values():
        return refusal_message(Refusal(exc.reason))
    return str(exc)


# -- ports --------------------------------------------------------------------------------------


class DepositGateway(Protocol):
    """The part of the DMP API deposits use (``console.dmp.HttpDmpGateway``)."""

    async def deposit(
        self, auth: ProfessionalLogin | AccessGrant, bundle: bytes
    ) -> DepositReceipt: ...

    async def patch_document(
        self,
        auth: ProfessionalLogin | AccessGrant,
        doc_id: str,
        ops: Sequence[Mapping[str, Any]],
    ) -> DocumentMeta: ...

    async def whoami_actor(self, login: ProfessionalLogin) -> Actor: ...


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """An outbox item, without its payload."""

    item_id: int
    master_id: str
    batch_id: str | None
    state: OutboxState
    attempts: int
    last_error: str | None
    server_id: str | None
    info: Mapping[str, Any]
    next_attempt: datetime
    patient_ins: str | None = None


@dataclass(frozen=True, slots=True)
class NewDeposit:
    """What to queue: the exact bytes to send, under their masterIdentifier."""

    master_id: str
    payload: bytes = field(repr=False)
    patient_ins: str | None
    batch_id: str | None
    info: Mapping[str, Any]


class Outcome(StrEnum):
    """What became of one request."""

    ACK = "ack"
    RETRY = "retry"
    REFUSED = "refused"
    RELEASE = "release"
    """Claimed but never sent (the run stopped first): pending again, unattempted."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """The outcome of one claimed item, to be recorded in the queue.

    Attributes:
        entry: The item as claimed.
        outcome: Sent (ACK), to send again from ``retry_at`` (RETRY), refused (REFUSED).
        server_id: The DocumentReference id (ACK).
        message: Why (RETRY, REFUSED).
        retry_at: When to send again (RETRY).
        replayed: The server already had it (ACK after an earlier unacknowledged send).
    """

    entry: QueueEntry
    outcome: Outcome
    server_id: str = ""
    message: str = ""
    retry_at: datetime | None = None
    replayed: bool = False


class DepositQueue(Protocol):
    """The outbox, as the pipeline uses it (persistent: :class:`CacheDepositQueue`)."""

    @property
    def persistent(self) -> bool: ...

    async def enqueue(self, deposits: Sequence[NewDeposit]) -> list[QueueEntry]:
        """Queue every deposit in one transaction (all or none)."""
        ...

    async def settle(
        self, done: Sequence[Settlement], claim: int
    ) -> tuple[list[tuple[QueueEntry, bytes]], datetime | None]:
        """One step of the pipeline, in one transaction: record what ``done`` says, then
        mark up to ``claim`` due items sending (committed before they are sent).

        Returns:
            The claimed items with their payloads, and when the earliest item still
            pending is due (None: nothing pending).
        """
        ...

    async def cancel(self, item_id: int) -> bool:
        """Drop a never-sent or refused item; False when it may have reached the server."""
        ...

    async def entries(self, batch_id: str | None = None) -> list[QueueEntry]: ...

    async def plan(self, batch_id: str, plan: BatchPlan) -> None:
        """Keep what a batch is about to queue, committed before its first group."""
        ...

    async def plan_done(self, batch_id: str) -> None:
        """The batch is wholly queued (or what was not was dealt with): forget its plan."""
        ...

    async def plans(self) -> dict[str, BatchPlan]:
        """The plans of the batches whose queuing did not finish."""
        ...


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file a batch is about to queue: enough to say which it was and add it again."""

    row: int
    file_name: str
    path: str
    sha256: str
    draft: DepositDraft


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a batch was about to queue (kept in the encrypted cache, never logged)."""

    planned: datetime
    author: str
    files: tuple[PlannedFile, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "planned": self.planned.isoformat(),
                "author": self.author,
                "files": [
                    {
                        "row": f.row,
                        "file": f.file_name,
                        "path": f.path,
                        "sha256": f.sha256,
                        "ins": f.draft.ins,
                        "type": f.draft.type_code,
                        "title": f.draft.title,
                        "date": f.draft.act_date.isoformat() if f.draft.act_date else "",
                        "visibility": sorted(v.value for v in f.draft.visibility),
                    }
                    for f in self.files
                ],
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> BatchPlan:
        """Raises ValueError (or KeyError, TypeError) when the text is not a plan."""
        raw = json.loads(text)
        files = tuple(
            PlannedFile(
                int(f["row"]),
                str(f["file"]),
                str(f["path"]),
                str(f.get("sha256", "")),
                DepositDraft(
                    ins=str(f.get("ins", "")),
                    type_code=str(f.get("type", "")),
                    title=str(f.get("title", "")),
                    act_date=parse_date(str(f.get("date", ""))),
                    visibility=visibility_from_codes(
                        v for v in f.get("visibility", []) if isinstance(v, str)
                    ),
                ),
            )
            for f in raw["files"]
        )
        return cls(datetime.fromisoformat(str(raw["planned"])), str(raw.get("author", "")), files)


@dataclass(frozen=True, slots=True)
class UnqueuedFile:
    """A file of an earlier batch that was never queued (the console stopped while the batch
    was being queued): the batch screen names it and offers to add it again."""

    batch_id: str
    planned: datetime
    file: PlannedFile


def _entry(item: OutboxItem) -> QueueEntry:
    return QueueEntry(
        item.id,
        item.master_id,
        item.batch_id,
        item.state,
        item.attempts,
        item.last_error,
        item.server_id,
        item.info,
        item.next_attempt,
        item.patient_ins,
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SUMMARY_SQL = (
    "SELECT id, master_id, batch_id, state, attempts, last_error, server_id, info,"
    " next_attempt, patient_ins FROM outbox WHERE kind = ?"
)


def _summaries(store: CacheStore, batch_id: str | None) -> list[QueueEntry]:
    """The outbox items without their payloads (a batch's payloads weigh 100 MB)."""
    sql, params = _SUMMARY_SQL, [DEPOSIT_KIND]
    if batch_id is not None:
        sql += " AND batch_id = ?"
        params.append(batch_id)
    rows = store.conn.execute(sql + " ORDER BY id", params).fetchall()
    return [
        QueueEntry(
            int(r[0]),
            str(r[1]),
            r[2],
            OutboxState(r[3]),
            int(r[4]),
            r[5],
            r[6],
            json.loads(r[7]),
            _EPOCH + timedelta(microseconds=int(r[8])),
            r[9],
        )
        for r in rows
    ]


def _next_due(store: CacheStore) -> datetime | None:
    row = store.conn.execute(
        "SELECT MIN(next_attempt) FROM outbox WHERE state = 'pending' AND kind = ?",
        (DEPOSIT_KIND,),
    ).fetchone()
    return None if row is None or row[0] is None else _EPOCH + timedelta(microseconds=int(row[0]))


class CacheDepositQueue:
    """:class:`DepositQueue` over the encrypted cache's outbox, with its journal entries
    (``deposit_queued``, ``deposit_sent``, ``deposit_refused``) in the same transactions.

    Only items of kind ``deposit`` are claimed by the pipeline's SQL helpers; the outbox's
    own ``claim`` takes any due item, and the console queues nothing else today.
    """

    persistent = True

    def __init__(self, cache: CacheService) -> None:
        self.cache = cache

    def _actor(self) -> str:
        actor = self.cache.id_nat
        if actor is None:
            raise CacheClosedError(
                "Le cache hors ligne est fermé : reconnectez-vous avec votre carte."
            )
        return actor

    async def enqueue(self, deposits: Sequence[NewDeposit]) -> list[QueueEntry]:
        actor = self._actor()

        def run(store: CacheStore) -> list[QueueEntry]:
            out = []
            with store.transaction():
                for d in deposits:
                    item = store.outbox.enqueue(
                        d.payload,
                        kind=DEPOSIT_KIND,
                        patient_ins=d.patient_ins,
                        batch_id=d.batch_id,
                        info=d.info,
                        master_id=d.master_id,
                    )
                    store.journal.append(
                        actor,
                        "deposit_queued",
                        patient_ins=d.patient_ins,
                        detail={"master_id": d.master_id, "batch_id": d.batch_id or ""},
                    )
                    out.append(_entry(item))
            return out

        return await self.cache.call(run)

    async def settle(
        self, done: Sequence[Settlement], claim: int
    ) -> tuple[list[tuple[QueueEntry, bytes]], datetime | None]:
        actor = self._actor()

        def run(store: CacheStore) -> tuple[list[tuple[QueueEntry, bytes]], datetime | None]:
            with store.transaction():
                for s in done:
                    item_id, patient = s.entry.item_id, s.entry.patient_ins
                    detail = {"master_id": s.entry.master_id}
                    match s.outcome:
                        case Outcome.ACK:
                            if store.outbox.ack(item_id, s.server_id):
                                store.journal.append(
                                    actor,
                                    "deposit_sent",
                                    patient_ins=patient,
                                    document_ids=(s.server_id,),
                                    detail=detail,
                                )
                        case Outcome.RETRY:
                            store.outbox.fail(item_id, s.message, retry_at=s.retry_at)
                        case Outcome.RELEASE:
                            store.outbox.release(item_id)
                        case Outcome.REFUSED:
                            store.outbox.fail(item_id, s.message, retry_at=None)
                            store.journal.append(
                                actor, "deposit_refused", patient_ins=patient, detail=detail
                            )
                claimed = store.outbox.claim(claim) if claim > 0 else []
                due = _next_due(store)
            return [(_entry(i), i.payload or b"") for i in claimed], due

        return await self.cache.call(run)

    async def cancel(self, item_id: int) -> bool:
        return await self.cache.call(lambda s: s.outbox.cancel(item_id))

    async def entries(self, batch_id: str | None = None) -> list[QueueEntry]:
        return await self.cache.call(lambda s: _summaries(s, batch_id))

    async def plan(self, batch_id: str, plan: BatchPlan) -> None:
        text = plan.to_json()
        await self.cache.call(lambda s: s.set_batch_plan(batch_id, text))

    async def plan_done(self, batch_id: str) -> None:
        await self.cache.call(lambda s: s.drop_batch_plan(batch_id))

    async def plans(self) -> dict[str, BatchPlan]:
        raw = await self.cache.call(lambda s: s.batch_plans())
        out = {}
        for batch_id, text in raw.items():
            try:
                out[batch_id] = BatchPlan.from_json(text)
            except (ValueError, KeyError, TypeError):
                log.warning("an unreadable batch plan was ignored")
        return out


@dataclass(slots=True)
class _MemoryItem:
    entry: QueueEntry
    payload: bytes | None


class MemoryDepositQueue:
    """:class:`DepositQueue` in memory: same states as the outbox, lost when the console
    stops (used when no encrypted cache is open)."""

    persistent = False

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._items: dict[int, _MemoryItem] = {}
        self._plans: dict[str, BatchPlan] = {}
        self._next_id = 1

    def _set(self, item_id: int, **changes: Any) -> QueueEntry:
        item = self._items[item_id]
        item.entry = replace(item.entry, **changes)
        return item.entry

    async def enqueue(self, deposits: Sequence[NewDeposit]) -> list[QueueEntry]:
        masters = {i.entry.master_id for i in self._items.values()}
        if any(d.master_id in masters for d in deposits):
            raise ValueError("masterIdentifier already queued")
        out = []
        now = self._clock()
        for d in deposits:
            entry = QueueEntry(
                self._next_id,
                d.master_id,
                d.batch_id,
                OutboxState.PENDING,
                0,
                None,
                None,
                dict(d.info),
                now,
                d.patient_ins,
            )
            self._items[self._next_id] = _MemoryItem(entry, d.payload)
            self._next_id += 1
            out.append(entry)
        return out

    async def settle(
        self, done: Sequence[Settlement], claim: int
    ) -> tuple[list[tuple[QueueEntry, bytes]], datetime | None]:
        for s in done:
            item_id = s.entry.item_id
            if item_id not in self._items:
                continue
            match s.outcome:
                case Outcome.ACK:
                    self._set(item_id, state=OutboxState.SENT, server_id=s.server_id)
                    self._items[item_id].payload = None
                case Outcome.RETRY:
                    self._set(
                        item_id,
                        state=OutboxState.PENDING,
                        last_error=s.message,
                        next_attempt=s.retry_at or self._clock(),
                    )
                case Outcome.RELEASE:
                    attempts = max(0, self._items[item_id].entry.attempts - 1)
                    self._set(item_id, state=OutboxState.PENDING, attempts=attempts)
                case Outcome.REFUSED:
                    self._set(item_id, state=OutboxState.FAILED, last_error=s.message)
        now = self._clock()
        pending = [i for i in self._items.values() if i.entry.state is OutboxState.PENDING]
        due = sorted(
            (i for i in pending if i.entry.next_attempt <= now),
            key=lambda i: (i.entry.next_attempt, i.entry.item_id),
        )[: max(0, claim)]
        claimed = []
        for item in due:
            entry = self._set(
                item.entry.item_id, state=OutboxState.SENDING, attempts=item.entry.attempts + 1
            )
            claimed.append((entry, item.payload or b""))
        left = [i.entry.next_attempt for i in pending if i.entry.state is OutboxState.PENDING]
        return claimed, min(left, default=None)

    async def cancel(self, item_id: int) -> bool:
        item = self._items.get(item_id)
        if item is None:
            return False
        entry = item.entry
        if entry.state is OutboxState.FAILED or (
            entry.state is OutboxState.PENDING and entry.attempts == 0
        ):
            del self._items[item_id]
            return True
        return False

    async def entries(self, batch_id: str | None = None) -> list[QueueEntry]:
        return [
            i.entry
            for i in sorted(self._items.values(), key=lambda i: i.entry.item_id)
            if batch_id is None or i.entry.batch_id == batch_id
        ]

    async def plan(self, batch_id: str, plan: BatchPlan) -> None:
        self._plans[batch_id] = plan

    async def plan_done(self, batch_id: str) -> None:
        self._plans.pop(batch_id, None)

    async def plans(self) -> dict[str, BatchPlan]:
        return dict(self._plans)


# -- the pipeline ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for 429, 5xx and network errors.

    The n-th retry waits ``min(cap_s, base_s * 2**(n-1))``, reduced by up to ``jitter`` of it
    at random (so that many clients do not come back at once); a ``Retry-After`` is honoured
    (up to ``max_retry_after_s``) plus up to 10 % of jitter.
    """

    base_s: float = 0.5
    cap_s: float = 30.0
    jitter: float = 0.5
    max_retry_after_s: float = 600.0
    max_protocol_errors: int = 3

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            wait = min(max(0.0, retry_after), self.max_retry_after_s)
            return wait * (1.0 + 0.1 * rng.random())
        backoff: float = min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1))
        return backoff * (1.0 - self.jitter * rng.random())


class PumpStop(StrEnum):
    """Why the pump stopped."""

    DONE = "done"
    """Nothing left to send (or its ``stop_when`` said so)."""
    PAUSED = "paused"
    CANCELLED = "cancelled"
    AUTH = "auth"
    """The server refused the token (401): log in again, then resume."""
    BATCH_REFUSED = "batch_refused"
    """A refusal about the author (every document would get it)."""
    CACHE_CLOSED = "cache_closed"
    """The cache was locked (card removed, idle lock): resume after logging in again."""


@dataclass(frozen=True, slots=True)
class DepositEvent:
    """One step of one queued deposit (emitted once the queue recorded it)."""

    item_id: int
    master_id: str
    batch_id: str | None
    status: ItemStatus
    attempts: int = 0
    message: str = ""
    server_id: str = ""
    retry_at: datetime | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class PumpResult:
    stop: PumpStop
    sent: int = 0
    refused: int = 0
    retried: int = 0
    replayed: int = 0
    message: str = ""


EventListener = Callable[[DepositEvent], None]


class DepositPump:
    """Sends what the queue holds (see the module doc). One :meth:`run` at a time.

    Each step is one queue transaction: the outcomes of the requests that finished are
    recorded and new items are claimed (marked sending, committed) before they are sent.
    An outcome not yet recorded when the process dies is harmless: the item is still
    "sending", goes back to pending at the next open and is sent again (same bytes, same
    masterIdentifier: the DMP answers it as a replay).

    Args:
        gateway: The DMP.
        queue: The outbox.
        concurrency: Requests in flight at most.
        policy: Retries.
        clock: Aware now (retry times).
        rng: Jitter.
    """

    def __init__(
        self,
        gateway: DepositGateway,
        queue: DepositQueue,
        *,
        concurrency: int = 4,
        policy: RetryPolicy | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.gateway = gateway
        self.queue = queue
        self.concurrency = max(1, concurrency)
        self.policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop: PumpStop | None = None
        self._message = ""
        self._wake: asyncio.Event | None = None
        self._running = False
        self._counts: dict[Outcome, int] = {}
        self._replayed = 0

    @property
    def running(self) -> bool:
        return self._running

    def pause(self) -> None:
        """Stop claiming; requests in flight finish (their outcome is recorded)."""
        self._request_stop(PumpStop.PAUSED)

    def cancel(self) -> None:
        """Stop claiming and abort the requests in flight (they stay queued: sent again at
        the next resume, same masterIdentifier); the caller then drops what was never sent."""
        self._request_stop(PumpStop.CANCELLED)

    def _request_stop(self, reason: PumpStop, message: str = "") -> None:
        if self._stop is None or reason is PumpStop.CANCELLED:
            self._stop = reason
        if message:
            self._message = message
        if self._wake is not None:
            self._wake.set()

    async def run(
        self,
        auth: ProfessionalLogin | AccessGrant,
        on_event: EventListener | None = None,
        *,
        probe_first: bool = False,
        stop_when: Callable[[], bool] | None = None,
    ) -> PumpResult:
        """Send until nothing is left (or paused, cancelled, refused, ``stop_when()``).

        The queue's transactions run beside the requests: items are claimed a little ahead
        (up to ``concurrency`` ready beyond those in flight) so that a request finishing
        starts the next one at once; claimed items never sent are released at the end.

        Args:
            probe_first: One request at a time until one deposit succeeds (a batch: a wrong
                author is found on the first file, not on ``concurrency`` of them).
            stop_when: Checked between steps; True ends the run (requests in flight finish).
        """
        if self._running:
            raise RuntimeError("the pump is already running")
        self._running = True
        self._stop, self._message = None, ""
        self._counts = dict.fromkeys(Outcome, 0)
        self._replayed = 0
        wake = self._wake = asyncio.Event()
        emit: EventListener = on_event or (lambda _e: None)
        ready: deque[tuple[QueueEntry, bytes]] = deque()
        active: set[asyncio.Task[Settlement]] = set()
        sending: dict[asyncio.Task[Settlement], QueueEntry] = {}
        done: list[Settlement] = []
        settling: asyncio.Task[tuple[list[tuple[QueueEntry, bytes]], datetime | None]] | None
        settling = None
        in_settle: list[Settlement] = []
        wanted = 0
        due: datetime | None = None
        exhausted = False
        waiter: asyncio.Task[Any] | None = None
        try:
            while True:
                if self._stop is None and stop_when is not None and stop_when():
                    self._stop = PumpStop.DONE
                limit = 1 if probe_first and self._counts[Outcome.ACK] == 0 else self.concurrency
                while self._stop is None and ready and len(active) < limit:
                    entry, payload = ready.popleft()
                    emit(_event(entry, ItemStatus.SENDING))
                    task = asyncio.create_task(self._send(auth, entry, payload))
                    active.add(task)
                    sending[task] = entry
                if settling is None:
                    wanted = 0 if self._stop is not None else 2 * limit - len(active) - len(ready)
                    wanted = max(0, wanted)
                    now_due = due is not None and due <= self._clock()
                    if done or (wanted and (not exhausted or now_due)):
                        in_settle, done = done, []
                        settling = asyncio.create_task(self.queue.settle(in_settle, wanted))
                if self._stop is not None and settling is None:
                    break
                if settling is None and not active and not ready and due is None:
                    self._stop = PumpStop.DONE
                    break
                timeout: float | None = None
                if settling is None and len(active) < limit and due is not None:
                    timeout = min(1.0, max(0.0, (due - self._clock()).total_seconds()))
                if waiter is None or waiter.done():
                    wake.clear()
                    waiter = asyncio.create_task(wake.wait())  # one at a time, reused
                waited: set[asyncio.Task[Any]] = {*active, waiter}
                if settling is not None:
                    waited.add(settling)
                finished, _ = await asyncio.wait(
                    waited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if settling is not None and settling in finished:
                    step, settling = settling, None
                    try:
                        claimed, due = step.result()
                    except CacheError as exc:
                        self._request_stop(PumpStop.CACHE_CLOSED, str(exc))
                        in_settle = []
                        continue
                    self._recorded(in_settle, emit)
                    in_settle = []
                    ready.extend(claimed)
                    exhausted = len(claimed) < wanted
                for request in finished:
                    if request in active:
                        active.discard(request)
                        sending.pop(request, None)
                        done.append(request.result())
        finally:
            if waiter is not None and not waiter.done():
                waiter.cancel()
                await asyncio.gather(waiter, return_exceptions=True)
            # A pause lets the requests in flight finish and records their answers; a cancel
            # (or the task's own cancellation) aborts them: each may or may not have reached
            # the DMP, so it stays queued and is sent again at the next resume, same bytes and
            # masterIdentifier (the DMP keeps one copy). What was claimed and never sent is
            # given back.
            this = asyncio.current_task()
            cancelled = this is not None and this.cancelling() > 0
            if active and (self._stop is PumpStop.CANCELLED or cancelled):
                inflight = list(active)
                for request in inflight:
                    request.cancel()
                aborted = await asyncio.gather(*inflight, return_exceptions=True)
                for request, outcome in zip(inflight, aborted, strict=True):
                    if isinstance(outcome, Settlement):
                        done.append(outcome)
                    else:
                        done.append(
                            Settlement(
                                sending[request],
                                Outcome.RETRY,
                                message=ABORTED_MESSAGE,
                                retry_at=self._clock(),
                            )
                        )
                active.clear()
            if settling is not None:
                try:
                    claimed, _ = await settling
                    self._recorded(in_settle, emit)
                    ready.extend(claimed)
                except CacheError as exc:
                    self._request_stop(PumpStop.CACHE_CLOSED, str(exc))
            if active:
                results = await asyncio.gather(*active, return_exceptions=True)
                done.extend(r for r in results if isinstance(r, Settlement))
            done.extend(Settlement(entry, Outcome.RELEASE) for entry, _ in ready)
            if done:
                try:
                    await self.queue.settle(done, 0)
                    self._recorded(done, emit)
                except CacheError as exc:  # left "sending": sent again after the next open
                    self._request_stop(PumpStop.CACHE_CLOSED, str(exc))
            self._running = False
            self._wake = None
        stop = self._stop or PumpStop.DONE
        result = PumpResult(
            stop,
            self._counts[Outcome.ACK],
            self._counts[Outcome.REFUSED],
            self._counts[Outcome.RETRY],
            self._replayed,
            self._message,
        )
        log.info(
            "deposit pump stopped (%s): %d sent (%d replayed), %d refused, %d retries",
            stop.value,
            result.sent,
            result.replayed,
            result.refused,
            result.retried,
        )
        return result

    def _recorded(self, done: Sequence[Settlement], emit: EventListener) -> None:
        for s in done:
            self._counts[s.outcome] += 1
            match s.outcome:
                case Outcome.ACK:
                    self._replayed += s.replayed
                    emit(
                        _event(s.entry, ItemStatus.SENT, server_id=s.server_id, replayed=s.replayed)
                    )
                case Outcome.RETRY:
                    status = (
                        ItemStatus.QUEUED if self._stop is PumpStop.AUTH else ItemStatus.RETRY_WAIT
                    )
                    emit(_event(s.entry, status, message=s.message, retry_at=s.retry_at))
                case Outcome.REFUSED:
                    emit(_event(s.entry, ItemStatus.FAILED, message=s.message))
                case Outcome.RELEASE:
                    emit(_event(s.entry, ItemStatus.QUEUED))

    async def _send(
        self, auth: ProfessionalLogin | AccessGrant, entry: QueueEntry, payload: bytes
    ) -> Settlement:
        """One request; its outcome (never raises for an answer of the server)."""
        try:
            receipt = await self.gateway.deposit(auth, payload)
        except RetryableServerError as exc:
            return self._retry(entry, exc.retry_after, str(exc))
        except NetworkError as exc:
            return self._retry(entry, None, str(exc))
        except ProtocolError as exc:
            if entry.attempts >= self.policy.max_protocol_errors:
                return Settlement(entry, Outcome.REFUSED, message=str(exc))
            return self._retry(entry, None, str(exc))
        except AuthenticationError as exc:
            self._request_stop(PumpStop.AUTH, str(exc))
            return Settlement(entry, Outcome.RETRY, message=str(exc), retry_at=self._clock())
        except ServerError as exc:
            message = server_refusal_message(exc)
            if exc.reason in BATCH_WIDE_REASONS:
                self._request_stop(PumpStop.BATCH_REFUSED, message)
            return Settlement(entry, Outcome.REFUSED, message=message)
        return Settlement(
            entry, Outcome.ACK, server_id=receipt.document_id, replayed=receipt.replayed
        )

    def _retry(self, entry: QueueEntry, retry_after: float | None, message: str) -> Settlement:
        delay = self.policy.delay(entry.attempts, retry_after, self._rng)
        retry_at = self._clock() + timedelta(seconds=delay)
        return Settlement(entry, Outcome.RETRY, message=message, retry_at=retry_at)


def _event(entry: QueueEntry, status: ItemStatus, **extra: Any) -> DepositEvent:
    return DepositEvent(
        entry.item_id, entry.master_id, entry.batch_id, status, entry.attempts, **extra
    )


# -- files --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedFile:
    """A file read and checked (``data`` empty when it could not be read)."""

    name: str
    data: bytes = field(repr=False)
    content: CheckedContent
    path: Path | None = None


def _unreadable(name: str, message: str) -> CheckedContent:
    issue = Issue(Problem.UNREADABLE, Field.FILE, message)
    return CheckedContent(name, 0, None, "", "", (issue,))


def read_and_check(path: Path, max_bytes: int) -> LoadedFile:
    """Read ``path`` (unless it is over the limit) and check it. Blocking: run it off the
    GUI thread."""
    name = path.name
    try:
        size = path.stat().st_size
        too_big = check_size(size, max_bytes)
        if too_big is not None:
            return LoadedFile(name, b"", CheckedContent(name, size, None, "", "", (too_big,)), path)
        data = path.read_bytes()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return LoadedFile(name, b"", _unreadable(name, f"Fichier illisible : {why}."), path)
    return LoadedFile(name, data, check_content(name, data, max_bytes=max_bytes), path)


# -- single deposits and a document's life ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositOutcome:
    """How a single deposit ended.

    ``status``: SENT (``receipt`` set), or QUEUED / RETRY_WAIT (kept in the outbox and sent
    later: ``persistent`` says whether it survives the console's end).
    """

    master_id: str
    status: ItemStatus
    receipt: DepositReceipt | None
    message: str
    persistent: bool
    line: ReceiptLine


class DepositService:
    """A professional's deposits and her documents' life (see the module doc).

    Args:
        gateway: The DMP.
        cache: The offline cache service; its outbox is used while it is open.
        max_body_bytes: The server's request body limit (the file limit follows from it).
        clock: Aware now.
        executor: For blocking work (reading files, checks, bundles); the loop's default.
        policy: Retries.
    """

    def __init__(
        self,
        gateway: DepositGateway,
        *,
        cache: CacheService | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Clock = utc_now,
        executor: Executor | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.gateway = gateway
        self.cache = cache
        self.max_file_bytes = max_file_bytes(max_body_bytes)
        self._clock = clock
        self._executor = executor
        self.policy = policy or RetryPolicy(cap_s=10.0, max_retry_after_s=10.0)
        self._memory = MemoryDepositQueue(clock)
        self._actors: dict[tuple[str, str], Actor] = {}
        """The directory's last answer (one login's), also used offline (see actor())."""

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        """Whether deposits are queued in the encrypted cache (they survive a crash)."""
        return self.cache is not None and self.cache.is_open

    def queue(self) -> DepositQueue:
        if self.cache is not None and self.cache.is_open:
            return CacheDepositQueue(self.cache)
        return self._memory

    async def _off_thread(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def today(self) -> date:
        return to_local(self._clock()).date()

    async def actor(self, login: ProfessionalLogin) -> Actor:
        """The logged person as the directory knows her (structure included), once per login."""
        key = (login.id_nat, login.token)
        found = self._actors.get(key)
        if found is not None:
            return found
        try:
            found = await self.gateway.whoami_actor(login)
        except NetworkError:
            # Offline (the console asks at login, see console.app): the directory's last answer
            # for her in this process, so that a deposit made offline is queued, not refused.
            known = next(iter(self._actors.values()), None)
            if known is not None and known.id_nat == login.id_nat:
                return known
            raise
        self._actors = {key: found}
        return found

    async def load_file(self, path: Path) -> LoadedFile:
        """Read and check a file off the GUI thread."""
        return await self._off_thread(functools.partial(read_and_check, path, self.max_file_bytes))

    async def load_bytes(self, name: str, data: bytes) -> LoadedFile:
        checked = await self._off_thread(
            functools.partial(check_content, name, data, max_bytes=self.max_file_bytes)
        )
        return LoadedFile(name, data, checked)

    def validate(
        self, file: LoadedFile | None, draft: DepositDraft, *, replaces: str | None = None
    ) -> tuple[DepositMetadata | None, tuple[Issue, ...]]:
        """Every issue of the file and the metadata (nothing is sent)."""
        metadata, issues = validate_draft(draft, today=self.today(), replaces=replaces)
        all_issues = list(issues)
        if file is None:
            all_issues.insert(
                0, Issue(Problem.UNREADABLE, Field.FILE, "Choisissez le fichier à déposer.")
            )
        else:
            all_issues[:0] = file.content.issues
        return (metadata if not all_issues else None), tuple(all_issues)

    # -- single deposit --------------------------------------------------------------------------

    async def deposit(
        self,
        login: ProfessionalLogin,
        file: LoadedFile,
        draft: DepositDraft,
        *,
        replaces: DocumentMeta | None = None,
        on_event: EventListener | None = None,
    ) -> DepositOutcome:
        """Deposit one document in the logged professional's name.

        Validates, checks the rules (client-side), builds the bundle (off the GUI thread),
        queues it with its new masterIdentifier, and sends it (with the other deposits
        waiting in the queue). It returns once the DMP has answered, or, if it cannot
        answer after a few attempts, with the deposit left queued.

        Raises:
            DepositValidationError: bad file or metadata (nothing queued).
            DepositRefusedError: the rules refuse (client-side, or the server's answer).
        """
        actor = await self.actor(login)
        metadata, issues = self.validate(
            file, draft, replaces=replaces.id if replaces is not None else None
        )
        if metadata is None or file.content.kind is None:
            raise DepositValidationError(issues)
        decision = check_deposit(
            actor, PatientPolicy(metadata.patient.value), actor, metadata.type_code
        )
        if decision and replaces is not None:
            decision = self.check_update(login, replaces, UpdateAction.REPLACE)
        if not decision:
            raise DepositRefusedError(decision.message, _reason(decision))
        master_id = new_master_id()
        document = DepositDocument(
            master_id,
            metadata,
            actor,
            file.content.kind,
            file.data,
            act_start=act_start(metadata.act_date, to_local(self._clock())),
        )
        payload = await self._off_thread(functools.partial(bundle_bytes, [document]))
        queue = self.queue()
        info = _info(file.name, metadata, file.content, actor.id_nat)
        (entry,) = await queue.enqueue(
            [NewDeposit(master_id, payload, metadata.patient.value, None, info)]
        )
        state: dict[str, DepositEvent] = {}

        def listen(event: DepositEvent) -> None:
            if event.master_id == master_id:
                state["last"] = event
            if on_event is not None:
                on_event(event)

        def settled() -> bool:
            last = state.get("last")
            if last is None:
                return False
            return last.status.final or (
                last.status is not ItemStatus.SENDING and last.attempts >= SINGLE_ATTEMPTS
            )

        pump = DepositPump(
            self.gateway, queue, concurrency=2, policy=self.policy, clock=self._clock
        )
        result = await pump.run(login, listen, stop_when=settled)
        last = state.get("last")
        line = _line(file.name, metadata, master_id)
        if last is not None and last.status is ItemStatus.SENT:
            receipt = DepositReceipt("", (last.server_id,), last.replayed)
            return DepositOutcome(
                master_id,
                ItemStatus.SENT,
                receipt,
                "",
                queue.persistent,
                replace(line, status=ItemStatus.SENT, server_id=last.server_id),
            )
        if last is not None and last.status is ItemStatus.FAILED:
            await queue.cancel(entry.item_id)  # refused: nothing stored, nothing to keep
            raise DepositRefusedError(last.message, "server_refused")
        message = (last.message if last is not None else "") or result.message
        status = ItemStatus.RETRY_WAIT if last is not None else ItemStatus.QUEUED
        return DepositOutcome(
            master_id,
            status,
            None,
            message,
            queue.persistent,
            replace(line, status=status, message=message),
        )

    async def flush_outbox(
        self, login: ProfessionalLogin, on_event: EventListener | None = None
    ) -> PumpResult:
        """Send what is waiting in the queue (after login, when the network is back)."""
        pump = DepositPump(
            self.gateway, self.queue(), concurrency=2, policy=self.policy, clock=self._clock
        )
        return await pump.run(login, on_event)

    async def pending_count(self) -> int:
        """Deposits waiting to be sent (or refused and not yet dismissed)."""
        entries = await self.queue().entries()
        return sum(1 for e in entries if e.state is not OutboxState.SENT)

    # -- a document's life -----------------------------------------------------------------------

    def check_update(
        self, login: ProfessionalLogin, doc: DocumentMeta, action: UpdateAction
    ) -> Decision:
        """The rules, client-side: author only, on a current document."""
        actor = Actor(login.id_nat, login.profession)
        return check_update(actor, PatientPolicy(doc.patient_ins), doc, action)

    async def update(
        self, login: ProfessionalLogin, doc: DocumentMeta, action: UpdateAction
    ) -> DocumentMeta:
        """Mask, unmask, show to / hide from the patient, or delete (entered-in-error).

        Returns the document as the server now has it.

        Raises:
            UpdateRefusedError: refused by the rules (client-side first: then nothing is
                sent) or by the server (its reason mapped to a message).
        """
        decision = self.check_update(login, doc, action)
        if not decision:
            raise UpdateRefusedError(decision.message, _reason(decision))
        ops = update_patch(action, doc.visibility)
        try:
            updated = await self.gateway.patch_document(login, doc.id, ops)
        except ForbiddenError as exc:
            raise UpdateRefusedError(
                server_refusal_message(exc), exc.reason or "forbidden"
            ) from None
        except NotFoundError:
            raise UpdateRefusedError(
                "Ce document est introuvable sur le DMP (supprimé, ou inaccessible pour vous).",
                "not_found",
            ) from None
        except ServerError as exc:
            if exc.status == 409:
                raise UpdateRefusedError(
                    refusal_message(Refusal.NOT_CURRENT), "not_current"
                ) from None
            raise
        if self.cache is not None and self.cache.is_open:
            try:
                await self.cache.journal(
                    f"document_{action.value}",
                    patient_ins=doc.patient_ins,
                    document_ids=(doc.id,),
                )
            except CacheError:
                log.info("document update not journaled: the cache closed")
        return updated

    async def replace(
        self,
        login: ProfessionalLogin,
        doc: DocumentMeta,
        file: LoadedFile,
        draft: DepositDraft,
        on_event: EventListener | None = None,
    ) -> DepositOutcome:
        """Deposit a new version of ``doc`` (``relatesTo`` replaces): the old one becomes
        superseded. Author only."""
        return await self.deposit(login, file, draft, replaces=doc, on_event=on_event)


async def write_receipt(
    receipt: BatchReceipt, path: Path, *, executor: Executor | None = None
) -> None:
    """Render ``receipt`` (PDF) and write it at ``path``, the place the user chose: it is
    patient data, written nowhere else (only a temporary file beside it, renamed), readable
    by its owner only (0600, as the attestations: it was 0644). Off the GUI thread."""

    def work() -> None:
        from console.reports.receipt import render_receipt

        write_atomically(path, render_receipt(receipt, generated=datetime.now(UTC)))

    await asyncio.get_running_loop().run_in_executor(executor, work)


def _reason(decision: Decision) -> str:
    return decision.reason.value if decision.reason is not None else "refused"


def _info(
    file_name: str, metadata: DepositMetadata, content: CheckedContent, author: str, row: int = 0
) -> dict[str, Any]:
    """What the outbox keeps beside a payload, to show and receipt it after a restart
    (encrypted with the cache; never logged)."""
    return {
        "file": file_name,
        "row": row,
        "ins": metadata.patient.value,
        "type": metadata.type_code,
        "title": metadata.title,
        "date": metadata.act_date.isoformat(),
        "visibility": sorted(v.value for v in metadata.visibility),
        "sha256": content.sha256,
        "author": author,
    }


def _line(file_name: str, metadata: DepositMetadata, master_id: str) -> ReceiptLine:
    return ReceiptLine(
        file_name,
        metadata.patient.value,
        metadata.title,
        metadata.type_code,
        metadata.act_date,
        ItemStatus.QUEUED,
        master_id,
    )


# -- the secretary's batch ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Doctor:
    """A professional a secretary deposits for (typed, or picked from the recent ones)."""

    id_nat: str
    label: str = ""

    @property
    def display(self) -> str:
        return f"{self.label} ({self.id_nat})" if self.label else self.id_nat


RECENT_DOCTORS_KEY = "deposit.recent_doctors"
RECENT_DOCTORS_MAX = 12


@dataclass(slots=True)
class BatchItem:
    """One file of a batch: what the table shows and edits.

    Attributes:
        key: Stable id of the row.
        prefill_issues: What the manifest said that could not be read; cleared when the
            field is edited.
        content: The last check of the file (None: not read yet).
        issues: The last validation's issues (empty: valid).
    """

    key: int
    file_name: str
    path: Path | None
    draft: DepositDraft
    source: Prefill = Prefill.NONE
    prefill_issues: tuple[Issue, ...] = ()
    content: CheckedContent | None = None
    issues: tuple[Issue, ...] = ()
    status: ItemStatus = ItemStatus.DRAFT
    master_id: str = ""
    server_id: str = ""
    message: str = ""
    attempts: int = 0
    retry_at: datetime | None = None
    outbox_id: int | None = None
    batch_id: str = ""
    author: str = ""
    deposit_anyway: bool = False
    """The user said this file is a real new version: no duplicate issue (see
    :meth:`BatchDepositService.deposit_anyway`)."""

    @property
    def editable(self) -> bool:
        return self.status in (ItemStatus.DRAFT, ItemStatus.INVALID, ItemStatus.READY)

    def line(self) -> ReceiptLine:
        message = self.message or " ".join(i.message for i in self.issues)
        return ReceiptLine(
            self.file_name,
            nir_of(self.draft.ins) or self.draft.ins,
            self.draft.title,
            self.draft.type_code,
            self.draft.act_date,
            self.status,
            self.master_id,
            self.server_id,
            message,
        )


@dataclass(frozen=True, slots=True)
class BatchProgress:
    total: int
    sent: int
    refused: int
    invalid: int
    waiting: int
    running: bool
    stop: PumpStop | None = None
    message: str = ""

    @property
    def done(self) -> int:
        return self.sent + self.refused


ItemListener = Callable[[BatchItem], None]
ProgressListener = Callable[[BatchProgress], None]


class BatchDepositService:
    """A batch of deposits on behalf of one professional (see the module doc).

    One batch at a time. Typical use (the view drives it)::

        depositor = await batch.depositor(login)        # the secretary, her structure
        await batch.add_paths([folder])                 # files, and a manifest if any
        batch.set_doctor(Doctor("899700000094"))
        await batch.validate()                          # every file checked, nothing sent
        await batch.start(login)                        # queued whole, then sent
        batch.pause(); await batch.resume(login); batch.cancel()
        receipt = batch.receipt()

    Args:
        gateway: The DMP.
        cache: The offline cache service (the outbox while it is open).
        preferences: Where the recent doctors are remembered (idNat and label only).
        concurrency: Requests in flight at most.
        max_body_bytes: The server's request body limit.
        clock, executor, policy, rng: See :class:`DepositPump`.
    """

    def __init__(
        self,
        gateway: DepositGateway,
        *,
        cache: CacheService | None = None,
        preferences: PreferenceStore | None = None,
        concurrency: int = 4,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Clock = utc_now,
        executor: Executor | None = None,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.gateway = gateway
        self.cache = cache
        self.preferences = preferences
        self.concurrency = concurrency
        self.max_file_bytes = max_file_bytes(max_body_bytes)
        self._clock = clock
        self._executor = executor
        self.policy = policy or RetryPolicy()
        self._rng = rng
        self._memory = MemoryDepositQueue(clock)
        self.items: list[BatchItem] = []
        self.manifest: Manifest | None = None
        self.doctor: Doctor | None = None
        self.batch_id = uuid.uuid4().hex
        self.started: datetime | None = None
        self.finished: datetime | None = None
        self._depositor: Actor | None = None
        self._next_key = 1
        self._pump: DepositPump | None = None
        self._by_master: dict[str, BatchItem] = {}
        self._on_item: ItemListener = lambda _i: None
        self._on_progress: ProgressListener = lambda _p: None
        self._last_stop: PumpStop | None = None
        self._last_message = ""
        self._validated = False
        self.unqueued: list[UnqueuedFile] = []
        """Files of earlier batches never queued (see :meth:`restore`)."""
        self._epoch = 0
        """Bumped by :meth:`forget`: a pump of before it reports to nobody."""
        self._progress_at = 0.0

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        return self.cache is not None and self.cache.is_open

    def queue(self) -> DepositQueue:
        if self.cache is not None and self.cache.is_open:
            return CacheDepositQueue(self.cache)
        return self._memory

    def set_listeners(
        self, on_item: ItemListener | None = None, on_progress: ProgressListener | None = None
    ) -> None:
        """Called on the event loop's thread: an item changed; the counts changed."""
        self._on_item = on_item or (lambda _i: None)
        self._on_progress = on_progress or (lambda _p: None)

    async def _off_thread(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def today(self) -> date:
        return to_local(self._clock()).date()

    @property
    def running(self) -> bool:
        return self._pump is not None and self._pump.running

    @property
    def owner(self) -> str | None:
        """The idNat of the person whose batch this is (None before the first login)."""
        return None if self._depositor is None else self._depositor.id_nat

    def forget(self) -> None:
        """Another person logs in: this batch's rows (file names, patients' INS) leave
        memory. Sending pauses (requests in flight finish; their outcome is recorded in the
        outbox, never here); what is queued stays queued in its owner's encrypted outbox,
        listed again by :meth:`restore` when she logs in. Without an encrypted cache the
        queue was in memory only (the batch screen says so before sending): it goes too,
        since nothing may show her patients' files to the next person."""
        if self._pump is not None and self._pump.running:
            self._pump.pause()
        self._epoch += 1
        self._pump = None
        self.items = []
        self._by_master = {}
        self.manifest = None
        self.doctor = None
        self._depositor = None
        self._validated = False
        self.started = self.finished = None
        self.batch_id = uuid.uuid4().hex
        self._last_stop, self._last_message = None, ""
        self.unqueued = []
        self._memory = MemoryDepositQueue(self._clock)

    @property
    def validated(self) -> bool:
        """Whether the batch was validated since its last change."""
        return self._validated

    # -- who -------------------------------------------------------------------------------------

    async def depositor(self, login: ProfessionalLogin) -> Actor:
        """The logged person (a secretary: her structure is the doctors')."""
        if self._depositor is None or self._depositor.id_nat != login.id_nat:
            self._depositor = await self.gateway.whoami_actor(login)
        return self._depositor

    def recent_doctors(self) -> list[Doctor]:
        if self.preferences is None:
            return []
        try:
            raw = json.loads(self.preferences.get(RECENT_DOCTORS_KEY) or "[]")
        except ValueError:
            return []
        found = []
        for value in raw if isinstance(raw, list) else []:
            if isinstance(value, dict) and isinstance(value.get("id_nat"), str):
                label = value.get("label")
                found.append(Doctor(value["id_nat"], label if isinstance(label, str) else ""))
        return found[:RECENT_DOCTORS_MAX]

    def set_doctor(self, doctor: Doctor) -> Doctor:
        """Choose the author (validated: a professional's idNat) and remember her.

        Raises:
            InvalidIdentifierError: not a professional's idNat.
        """
        chosen = Doctor(validate_ps_id_nat(doctor.id_nat), doctor.label.strip()[:80])
        self.doctor = chosen
        if self.preferences is not None:
            recent = [chosen, *(d for d in self.recent_doctors() if d.id_nat != chosen.id_nat)]
            value = json.dumps(
                [{"id_nat": d.id_nat, "label": d.label} for d in recent[:RECENT_DOCTORS_MAX]]
            )
            try:
                self.preferences.set(RECENT_DOCTORS_KEY, value)
            except OSError:
                log.warning("could not remember the recent doctors")
        return chosen

    def author(self) -> Actor:
        """The author of the batch's documents: the chosen doctor, in the depositor's
        structure (a professional depositing her own batch is the author herself)."""
        depositor = self._depositor
        if depositor is None:
            raise ConsoleError("Identité du déposant inconnue : reconnectez-vous.")
        if not depositor.is_secretary:
            return depositor
        if self.doctor is None:
            raise ConsoleError("Choisissez le médecin pour le compte duquel vous déposez.")
        return Actor(
            self.doctor.id_nat,
            "",
            structure_id=depositor.structure_id,
            structure_name=depositor.structure_name,
        )

    # -- building the batch ----------------------------------------------------------------------

    def _new_item(self, name: str, path: Path | None) -> BatchItem:
        draft, issues, source = prefill(name, self.manifest)
        item = BatchItem(self._next_key, name, path, draft, source, issues, batch_id=self.batch_id)
        self._next_key += 1
        return item

    async def add_paths(self, paths: Iterable[Path]) -> list[BatchItem]:
        """Add files (folders are walked; a ``.csv`` found is taken as the manifest).

        Files already in the batch (same path) are skipped; everything else becomes a row,
        even a file that cannot be deposited (its row says why).
        """
        files, manifests = await self._off_thread(functools.partial(_expand, list(paths)))
        for manifest_path in manifests[:1]:
            await self.load_manifest(manifest_path)
        known = {i.path for i in self.items if i.path is not None}
        added = []
        for path in files:
            if path in known:
                continue
            item = self._new_item(path.name, path)
            self.items.append(item)
            added.append(item)
        if added:
            self._validated = False
        return added

    async def load_manifest(self, path: Path) -> Manifest:
        """Read a CSV manifest; rows not yet sent take its metadata."""
        try:
            data = await self._off_thread(path.read_bytes)
        except OSError as exc:
            raise ConsoleError(f"Manifeste illisible : {exc.strerror or exc}.") from None
        return self.apply_manifest(parse_manifest(data))

    def apply_manifest(self, manifest: Manifest) -> Manifest:
        self.manifest = manifest
        for item in self.items:
            if item.editable:
                item.draft, item.prefill_issues, item.source = prefill(item.file_name, manifest)
                item.status, item.issues = ItemStatus.DRAFT, ()
                self._on_item(item)
        self._validated = False
        return manifest

    def edit(self, key: int, draft: DepositDraft) -> BatchItem:
        """The user changed a row's metadata (only before it is queued)."""
        item = self._item(key)
        if not item.editable:
            raise ConsoleError(
                "Ce document est déjà en file d'envoi : il ne peut plus être modifié."
            )
        old = item.draft
        changed = {
            Field.INS: old.ins != draft.ins,
            Field.TYPE: old.type_code != draft.type_code,
            Field.TITLE: old.title != draft.title,
            Field.DATE: old.act_date != draft.act_date,
            Field.VISIBILITY: old.visibility != draft.visibility,
        }
        item.prefill_issues = tuple(i for i in item.prefill_issues if not changed.get(i.field))
        item.draft = draft
        item.status, item.issues = ItemStatus.DRAFT, ()
        self._validated = False
        self._on_item(item)
        return item

    def remove(self, keys: Iterable[int]) -> None:
        """Drop rows that are not queued."""
        drop = set(keys)
        self.items = [i for i in self.items if i.key not in drop or not i.editable]
        self._validated = False

    def _item(self, key: int) -> BatchItem:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    async def validate(self) -> BatchProgress:
        """Check every row not yet queued: file content (read off the GUI thread), metadata,
        duplicates. Nothing is sent. Rows become READY or INVALID."""
        todo = [i for i in self.items if i.editable]
        loaded = await self._off_thread(
            functools.partial(_check_files, [i.path for i in todo], self.max_file_bytes)
        )
        for item, content in zip(todo, loaded, strict=True):
            item.content = content if content is not None else item.content
        rows = [(i.draft, i.content) for i in self.items]
        results = validate_batch(rows, today=self.today())
        earlier = await self._earlier_deposits()
        for item, (_, issues) in zip(self.items, results, strict=True):
            if not item.editable:
                continue
            found = _already_deposited(item, earlier)
            all_issues = (*item.prefill_issues, *((found,) if found else ()), *issues)
            if item.deposit_anyway:
                all_issues = tuple(i for i in all_issues if i.problem is not Problem.DUPLICATE)
            item.issues = all_issues
            item.status = ItemStatus.INVALID if all_issues else ItemStatus.READY
            item.message = ""
            self._on_item(item)
        self._validated = True
        progress = self.progress()
        self._on_progress(progress)
        return progress

    async def _earlier_deposits(self) -> dict[tuple[str, str, str], QueueEntry]:
        """The deposits the outbox remembers that are not rows of this batch, by (SHA-256,
        patient, type): sent ones included, whatever their batch (a finished batch too),
        refused ones excluded (the DMP has no copy of them)."""
        mine = {i.master_id for i in self.items if i.master_id}
        found: dict[tuple[str, str, str], QueueEntry] = {}
        for entry in await self.queue().entries(None):
            if entry.master_id in mine or entry.state is OutboxState.FAILED:
                continue
            key = _deposit_key(
                str(entry.info.get("sha256", "")),
                str(entry.info.get("ins", entry.patient_ins or "")),
                str(entry.info.get("type", "")),
            )
            if key is not None:
                found.setdefault(key, entry)
        return found

    def deposit_anyway(self, keys: Iterable[int], anyway: bool = True) -> list[BatchItem]:
        """ "Déposer quand même": the chosen rows are real new versions of documents already
        deposited (or twice in the batch); their duplicate issue goes. The batch must be
        checked again (:meth:`validate`)."""
        wanted = set(keys)
        changed = []
        for item in self.items:
            if item.key in wanted and item.editable and item.deposit_anyway != anyway:
                item.deposit_anyway = anyway
                item.status, item.issues = ItemStatus.DRAFT, ()
                changed.append(item)
                self._on_item(item)
        if changed:
            self._validated = False
        return changed

    # -- sending ---------------------------------------------------------------------------------

    def progress(self) -> BatchProgress:
        counts = {s: 0 for s in ItemStatus}
        for item in self.items:
            counts[item.status] += 1
        waiting = (
            counts[ItemStatus.QUEUED]
            + counts[ItemStatus.SENDING]
            + counts[ItemStatus.RETRY_WAIT]
            + counts[ItemStatus.UNCERTAIN]
        )
        total = len(self.items) - counts[ItemStatus.INVALID] - counts[ItemStatus.CANCELLED]
        return BatchProgress(
            total=total,
            sent=counts[ItemStatus.SENT],
            refused=counts[ItemStatus.FAILED],
            invalid=counts[ItemStatus.INVALID],
            waiting=waiting,
            running=self.running,
            stop=self._last_stop,
            message=self._last_message,
        )

    async def start(self, login: ProfessionalLogin) -> PumpResult:
        """Queue every READY row (whole, before any request), then send the queue.

        Raises:
            ConsoleError: the batch was not validated since its last change, or no doctor.
            DepositRefusedError: the rules refuse the author (client-side).
        """
        if not self._validated:
            raise ConsoleError("Vérifiez le lot avant de l'envoyer.")
        depositor = await self.depositor(login)
        author = self.author()
        ready = [i for i in self.items if i.status is ItemStatus.READY]
        if ready:
            decision = check_deposit(depositor, PatientPolicy(""), author, ready[0].draft.type_code)
            if not decision:
                raise DepositRefusedError(decision.message, _reason(decision))
        self.started = self.started or self._clock()
        self.finished = None
        queue = self.queue()
        now = to_local(self._clock())
        entered_by = depositor if depositor.id_nat != author.id_nat else None
        groups = [ready[i : i + ENQUEUE_GROUP] for i in range(0, len(ready), ENQUEUE_GROUP)]
        today = self.today()
        if ready:
            # Committed before the first group: a kill between two groups leaves the plan,
            # and the next start names the files that were never queued (see restore()).
            await queue.plan(self.batch_id, self._plan(ready, author))

        def build(group: list[BatchItem]) -> asyncio.Future[list[NewDeposit | tuple[Issue, ...]]]:
            return asyncio.ensure_future(
                self._off_thread(
                    functools.partial(
                        _build_group, group, author, entered_by, now, self.max_file_bytes, today
                    )
                )
            )

        # Group k+1 is built (worker threads) while group k is written (cache worker).
        building = build(groups[0]) if groups else None
        for index, group in enumerate(groups):
            assert building is not None
            built = await building
            building = build(groups[index + 1]) if index + 1 < len(groups) else None
            deposits = []
            for item, result in zip(group, built, strict=True):
                if isinstance(result, tuple):
                    item.issues, item.status = result, ItemStatus.INVALID
                    self._on_item(item)
                else:
                    deposits.append((item, result))
            entries = await queue.enqueue([d for _, d in deposits])
            for (item, deposit), entry in zip(deposits, entries, strict=True):
                item.master_id, item.outbox_id = deposit.master_id, entry.item_id
                item.status, item.author = ItemStatus.QUEUED, author.id_nat
                self._by_master[deposit.master_id] = item
                self._on_item(item)
        if ready:
            await queue.plan_done(self.batch_id)
        log.info("batch queued: %d document(s)", len(self._by_master))
        return await self._pump_queue(login)

    def _plan(self, ready: Sequence[BatchItem], author: Actor) -> BatchPlan:
        return BatchPlan(
            self._clock(),
            author.id_nat,
            tuple(
                PlannedFile(
                    i.key,
                    i.file_name,
                    str(i.path) if i.path is not None else "",
                    i.content.sha256 if i.content is not None and i.content.sha256 else "",
                    i.draft,
                )
                for i in ready
            ),
        )

    async def resume(self, login: ProfessionalLogin) -> PumpResult:
        """Send again what is waiting (after a pause, a network loss, a new login)."""
        await self.depositor(login)
        return await self._pump_queue(login)

    async def _pump_queue(self, login: ProfessionalLogin) -> PumpResult:
        if self.running:
            raise ConsoleError("L'envoi est déjà en cours.")
        pump = DepositPump(
            self.gateway,
            self.queue(),
            concurrency=self.concurrency,
            policy=self.policy,
            clock=self._clock,
            rng=self._rng,
        )
        self._pump = pump
        self._last_stop, self._last_message = None, ""
        self._on_progress(self.progress())
        epoch = self._epoch

        def event(e: DepositEvent) -> None:
            if epoch == self._epoch:
                self._event(e)

        result = await pump.run(login, event, probe_first=True)
        if epoch != self._epoch:  # forgotten meanwhile (another person logged in)
            return result
        self._last_stop, self._last_message = result.stop, result.message
        if result.stop is PumpStop.BATCH_REFUSED:
            await self._drop_unsent(result.message)
        elif result.stop is PumpStop.CANCELLED:
            await self._drop_unsent("Annulé avant l'envoi.")
        if result.stop is PumpStop.DONE:
            self.finished = self._clock()
        self._on_progress(self.progress())
        return result

    def pause(self) -> None:
        if self._pump is not None:
            self._pump.pause()

    def cancel(self) -> None:
        """Stop: requests in flight are aborted; what was never sent is dropped from the queue;
        what may have reached the server stays queued (sent again at the next resume)."""
        if self._pump is not None and self._pump.running:
            self._pump.cancel()

    async def cancel_waiting(self) -> int:
        """Cancel, when nothing is running: drop what was never sent."""
        if self.running:
            self.cancel()
            return 0
        return await self._drop_unsent("Annulé avant l'envoi.")

    async def _drop_unsent(self, message: str) -> int:
        queue = self.queue()
        dropped = 0
        for entry in await queue.entries(None):
            item = self._by_master.get(entry.master_id)
            if entry.state is not OutboxState.PENDING or item is None:
                continue  # only this screen's documents (another batch is not cancelled here)
            if await queue.cancel(entry.item_id):
                dropped += 1
                item.status, item.message, item.outbox_id = ItemStatus.CANCELLED, message, None
                self._on_item(item)
            else:
                item.status = ItemStatus.UNCERTAIN
                item.message = (
                    "Déjà tenté sans réponse certaine : il reste en file et sera renvoyé à la "
                    "reprise (le DMP n'en gardera qu'un exemplaire)."
                )
                self._on_item(item)
        return dropped

    def _event(self, event: DepositEvent) -> None:
        item = self._by_master.get(event.master_id)
        if item is None:
            item = self._adopt(event)
        item.status = event.status
        item.attempts = event.attempts
        item.retry_at = event.retry_at
        if event.status is ItemStatus.SENT:
            item.server_id, item.message = event.server_id, ""
        elif event.status is not ItemStatus.SENDING:
            item.message = event.message
        self._on_item(item)
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_INTERVAL_S:  # counts cost O(n): not per event
            self._progress_at = now
            self._on_progress(self.progress())

    def _adopt(self, event: DepositEvent) -> BatchItem:
        """An item of an earlier batch, found waiting in the queue: it joins this one."""
        item = BatchItem(self._next_key, "", None, DepositDraft(), batch_id=event.batch_id or "")
        item.master_id, item.outbox_id = event.master_id, event.item_id
        self._next_key += 1
        self.items.append(item)
        self._by_master[event.master_id] = item
        return item

    # -- after a crash ---------------------------------------------------------------------------

    async def restore(self) -> list[BatchItem]:
        """Rows for the deposits left in the queue by an earlier run (crash, kill, network
        loss, quit): unsent ones (sent again by :meth:`resume`, same masterIdentifier), and
        the sent and refused ones of the same batches (for the receipt)."""
        entries = await self.queue().entries(None)
        unsent_batches = {e.batch_id for e in entries if e.state is not OutboxState.SENT}
        restored = []
        for entry in entries:
            if entry.master_id in self._by_master or entry.batch_id not in unsent_batches:
                continue
            item = _restored_item(self._next_key, entry)
            self._next_key += 1
            self.items.append(item)
            self._by_master[entry.master_id] = item
            restored.append(item)
            self._on_item(item)
        if restored:
            self.started = self.started or self._clock()
        await self._find_unqueued(entries)
        self._on_progress(self.progress())
        return restored

    async def _find_unqueued(self, entries: Sequence[QueueEntry]) -> None:
        """The files of the batches whose queuing was cut short (kill, crash, cache closed)
        that never reached the outbox: :attr:`unqueued`."""
        queue = self.queue()
        queued = {(e.batch_id, e.info.get("row")) for e in entries}
        known = {(u.batch_id, u.file.row) for u in self.unqueued}
        for batch_id, plan in (await queue.plans()).items():
            if batch_id == self.batch_id:
                continue  # this screen's own batch, being queued
            missing = [f for f in plan.files if (batch_id, f.row) not in queued]
            if not missing:
                await queue.plan_done(batch_id)  # killed after its last group: all there
                continue
            self.unqueued.extend(
                UnqueuedFile(batch_id, plan.planned, f)
                for f in missing
                if (batch_id, f.row) not in known
            )
            if self.doctor is None and plan.author:
                try:
                    self.doctor = Doctor(validate_ps_id_nat(plan.author))
                except InvalidIdentifierError:
                    pass

    async def add_unqueued(self) -> tuple[list[BatchItem], list[UnqueuedFile]]:
        """Add the never-queued files of :attr:`unqueued` to this batch again, with the
        metadata they had (to be checked and sent like any row).

        Returns:
            The rows added, and the files that are no longer on disk (named, not added).
        """
        files = list(self.unqueued)
        exists = await self._off_thread(
            lambda: [bool(u.file.path) and Path(u.file.path).is_file() for u in files]
        )
        known = {i.path for i in self.items if i.path is not None}
        added, gone = [], []
        for unqueued, present in zip(files, exists, strict=True):
            path = Path(unqueued.file.path) if present else None
            if path is None:
                gone.append(unqueued)
                continue
            if path in known:
                continue
            item = BatchItem(
                self._next_key, unqueued.file.file_name, path, unqueued.file.draft,
                batch_id=self.batch_id,
            )  # fmt: skip
            self._next_key += 1
            self.items.append(item)
            known.add(path)
            added.append(item)
            self._on_item(item)
        await self._forget_plans({u.batch_id for u in files})
        if added:
            self._validated = False
        self._on_progress(self.progress())
        return added, gone

    async def dismiss_unqueued(self) -> int:
        """The user does not want the never-queued files again: forget them."""
        files, self.unqueued = self.unqueued, []
        await self._forget_plans({u.batch_id for u in files})
        return len(files)

    async def _forget_plans(self, batch_ids: Iterable[str]) -> None:
        queue = self.queue()
        for batch_id in batch_ids:
            await queue.plan_done(batch_id)
        self.unqueued = [u for u in self.unqueued if u.batch_id not in set(batch_ids)]

    # -- receipt ---------------------------------------------------------------------------------

    def receipt(self) -> BatchReceipt:
        depositor = self._depositor
        who = f"{depositor.display_name} ({depositor.id_nat})" if depositor else ""
        author = ""
        if self.doctor is not None:
            author = self.doctor.display
        elif depositor is not None and not depositor.is_secretary:
            author = who
        structure = (depositor.structure_name or depositor.structure_id or "") if depositor else ""
        return BatchReceipt(
            title="Accusé de dépôt par lot",
            depositor=who,
            author=author,
            structure=structure,
            started=self.started or self._clock(),
            finished=self.finished,
            lines=tuple(i.line() for i in self.items),
            batch_id=self.batch_id,
        )


def _deposit_key(sha256: str, ins: str, type_code: str) -> tuple[str, str, str] | None:
    """Same content, same patient, same type: the same document (the INS as a bare NIR)."""
    nir = nir_of(ins) or ins
    if not sha256 or not nir or not type_code:
        return None
    return sha256, nir, type_code


def _already_deposited(
    item: BatchItem, earlier: Mapping[tuple[str, str, str], QueueEntry]
) -> Issue | None:
    content = item.content
    if content is None or not content.sha256:
        return None
    key = _deposit_key(content.sha256, item.draft.ins, item.draft.type_code)
    entry = None if key is None else earlier.get(key)
    if entry is None:
        return None
    name = str(entry.info.get("file", "")) or entry.master_id
    when = entry.next_attempt.astimezone().strftime("%d/%m/%Y")
    done = "déposé" if entry.state is OutboxState.SENT else "mis en file"
    return Issue(
        Problem.DUPLICATE,
        Field.FILE,
        f"Déjà {done} pour ce patient avec le même type (« {name} », le {when}) : ce fichier "
        "n'est pas déposé une seconde fois. S'il s'agit d'une nouvelle version, choisissez "
        "« Déposer quand même ».",
    )


def _restored_item(key: int, entry: QueueEntry) -> BatchItem:
    info = entry.info
    act = parse_date(str(info.get("date", "")))
    draft = DepositDraft(
        ins=str(info.get("ins", entry.patient_ins or "")),
        type_code=str(info.get("type", "")),
        title=str(info.get("title", "")),
        act_date=act,
        visibility=visibility_from_codes(
            v for v in info.get("visibility", []) if isinstance(v, str)
        ),
    )
    status = {
        OutboxState.PENDING: ItemStatus.QUEUED,
        OutboxState.SENDING: ItemStatus.QUEUED,
        OutboxState.SENT: ItemStatus.SENT,
        OutboxState.FAILED: ItemStatus.FAILED,
    }[entry.state]
    name = str(info.get("file", ""))
    digest = info.get("sha256")
    # The content's hash (no bytes): a file added again after a crash is found a duplicate
    # of the deposit already queued (or sent) under its masterIdentifier.
    content = (
        CheckedContent(name, 0, None, "", digest) if isinstance(digest, str) and digest else None
    )
    return BatchItem(
        key,
        name,
        None,
        draft,
        content=content,
        status=status,
        master_id=entry.master_id,
        server_id=entry.server_id or "",
        message=(entry.last_error or "") if status is not ItemStatus.SENT else "",
        attempts=entry.attempts,
        outbox_id=entry.item_id,
        batch_id=entry.batch_id or "",
        author=str(info.get("author", "")),
    )


_MANIFEST_SUFFIXES = frozenset({".csv"})


def _expand(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files, manifests) under ``paths``: folders walked (sorted, hidden entries skipped)."""
    files: list[Path] = []
    manifests: list[Path] = []

    def visit(path: Path) -> None:
        if path.name.startswith("."):
            return
        if path.is_dir():
            for child in sorted(path.iterdir()):
                visit(child)
        elif path.is_file():
            (manifests if path.suffix.lower() in _MANIFEST_SUFFIXES else files).append(path)

    for path in paths:
        visit(path)
    return files, manifests


def _check_files(paths: list[Path | None], max_bytes: int) -> list[CheckedContent | None]:
    """Check each file (bytes not kept: a batch is re-read when it is queued)."""
    return [None if p is None else read_and_check(p, max_bytes).content for p in paths]


def _build_group(
    items: list[BatchItem],
    author: Actor,
    entered_by: Actor | None,
    now: datetime,
    max_bytes: int,
    today: date,
) -> list[NewDeposit | tuple[Issue, ...]]:
    """Re-read each item's file and build its bundle (off the GUI thread).

    The content was checked at validation; a file whose bytes changed since (SHA-1 differs)
    is refused (the issues) rather than sent unchecked.
    """
    changed = (
        Issue(
            Problem.UNREADABLE,
            Field.FILE,
            "Le fichier a changé depuis la vérification : vérifiez le lot à nouveau.",
        ),
    )
    out: list[NewDeposit | tuple[Issue, ...]] = []
    for item in items:
        content = item.content
        metadata, issues = validate_draft(item.draft, today=today)
        if metadata is None:
            out.append(issues)
            continue
        if item.path is None or content is None or not content.ok or content.kind is None:
            out.append(changed)
            continue
        try:
            data = item.path.read_bytes() if item.path.stat().st_size <= max_bytes else b""
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            out.append((Issue(Problem.UNREADABLE, Field.FILE, f"Fichier illisible : {why}."),))
            continue
        sha1 = hashlib.sha1(data).hexdigest()
        if not data or sha1 != content.sha1 or len(data) != content.size:
            out.append(changed)
            continue
        master_id = new_master_id()
        document = DepositDocument(
            master_id,
            metadata,
            author,
            content.kind,
            data,
            entered_by=entered_by,
            act_start=act_start(metadata.act_date, now),
            sha1=sha1,
        )
        out.append(
            NewDeposit(
                master_id,
                bundle_bytes([document]),
                metadata.patient.value,
                item.batch_id or None,
                _info(item.file_name, metadata, content, author.id_nat, item.key),
            )
        )
    return out
