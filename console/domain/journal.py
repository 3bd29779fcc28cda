"""The console's local journal as a hash chain (pure: no storage, no clock).

Each entry is serialised canonically (JSON, sorted keys, no spaces, UTF-8, timestamps in UTC
with microseconds) and chained: ``hash = SHA-256(prev_hash + canonical)`` where ``prev_hash``
is the hex hash of the previous entry (:data:`GENESIS` before the first one). An entry's own
``seq`` is part of what is hashed, so moving an entry breaks the chain too.

:func:`verify` walks the entries in storage order and names the *first* entry (by ``seq``)
that was altered, removed, reordered or inserted. What a chain alone cannot see: entries
removed *at the end* (the shorter chain is still a valid chain). The storage therefore keeps
an *anchor* (:class:`JournalHead`: the last ``seq`` and its hash) updated in the same
transaction as each append, and :func:`verify` compares the chain with it.

Limits, said plainly: whoever holds the key of the store (the card and its PIN) can rewrite
the entries, recompute every hash and move the anchor; the chain then detects nothing. It
detects accidental corruption and any edit made without recomputing the chain and the anchor.
The authoritative trace is the server's AuditEvents; to make the local head tamper-evident,
publish it outside (for example print it on the bris de glace attestation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

__all__ = [
    "CANONICAL_VERSION",
    "GENESIS",
    "ChainedEntry",
    "DetailValue",
    "JournalEntry",
    "JournalHead",
    "JournalProblem",
    "VerifyResult",
    "canonical",
    "chain",
    "check_seal",
    "entry_hash",
    "format_timestamp",
    "verify",
]

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""

CANONICAL_VERSION = 1
"""Version of the canonical form (part of what is hashed)."""

DetailValue = str | int | bool | None
"""Values an entry's ``detail`` may hold (no floats: their text form is not canonical)."""


def format_timestamp(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (aware datetimes only)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("journal timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One thing the professional did, as the journal records it.

    Attributes:
        seq: Position in the journal, from 1, without gaps.
        timestamp: When (timezone-aware).
        actor: The professional's idNat.
        action: A stable code ("patient_opened", "document_opened", "bdg_started"...).
        patient_ins: The patient's INS (the NIR), when the action concerns one.
        document_ids: The documents concerned, in the order the action saw them.
        mode: The access mode ("normal", "bris_de_glace", "centre_15") or "".
        detail: Anything else worth tracing (reason code, justification, episode id...).
    """

    seq: int
    timestamp: datetime
    actor: str
    action: str
    patient_ins: str | None = None
    document_ids: tuple[str, ...] = ()
    mode: str = ""
    detail: Mapping[str, DetailValue] = field(default_factory=dict)


def canonical(entry: JournalEntry) -> bytes:
    """The canonical bytes of `entry` (what is hashed)."""
    if entry.seq < 1:
        raise ValueError("journal seq starts at 1")
    for key, value in entry.detail.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int)):
            raise ValueError(f"journal detail {key!r}: only str, int, bool or None values")
    body = {
        "v": CANONICAL_VERSION,
        "seq": entry.seq,
        "ts": format_timestamp(entry.timestamp),
        "actor": entry.actor,
        "action": entry.action,
        "patient": entry.patient_ins,
        "documents": list(entry.document_ids),
        "mode": entry.mode,
        "detail": dict(entry.detail),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def entry_hash(prev_hash: str, entry: JournalEntry) -> str:
    """SHA-256 (hex) of ``prev_hash`` (ASCII hex) followed by the canonical bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    """An entry as stored: with the previous entry's hash and its own."""

    entry: JournalEntry
    prev_hash: str
    hash: str

    @property
    def seq(self) -> int:
        return self.entry.seq


@dataclass(frozen=True, slots=True)
class JournalHead:
    """The end of a chain: the last ``seq`` (0 when empty) and its hash (the anchor)."""

    seq: int = 0
    hash: str = GENESIS


def chain(head: JournalHead, entry: JournalEntry) -> ChainedEntry:
    """`entry` chained after `head` (its ``seq`` must be ``head.seq + 1``)."""
    if entry.seq != head.seq + 1:
        raise ValueError(f"journal entry {entry.seq} cannot follow entry {head.seq}")
    return ChainedEntry(entry, head.hash, entry_hash(head.hash, entry))


class JournalProblem(StrEnum):
    ALTERED = "altered"
    """The entry's content or hash does not match (or it was rewritten and re-hashed)."""
    REMOVED = "removed"
    """The entry is missing from the chain."""
    REORDERED = "reordered"
    """The entry exists but not in its place."""
    INSERTED = "inserted"
    """An entry was added that the chain (or the anchor) does not account for."""
    TRUNCATED = "truncated"
    """The last entries, from this one on, were removed (seen thanks to the anchor)."""
    ROLLED_BACK = "rolled_back"
    """The cache file is older than the journal's sealed head kept beside it: a copy of an
    earlier state was put back, and the entries from this one on are gone."""
    SEAL_INVALID = "seal_invalid"
    """The sealed head kept beside the cache does not carry the cache key's MAC."""
    UNSEALED = "unsealed"
    """The cache was sealed before, and its sealed head has been removed."""


_MESSAGES = {
    JournalProblem.ALTERED: "L'entrée n° {seq} du journal a été modifiée.",
    JournalProblem.REMOVED: "L'entrée n° {seq} du journal a été supprimée.",
    JournalProblem.REORDERED: "L'entrée n° {seq} du journal a été déplacée.",
    JournalProblem.INSERTED: "Une entrée n° {seq} a été ajoutée au journal.",
    JournalProblem.TRUNCATED: "Les entrées du journal à partir du n° {seq} ont été supprimées.",
    JournalProblem.ROLLED_BACK: (
        "Le cache a été remplacé par une copie plus ancienne : les entrées du journal à partir "
        "du n° {seq} ont disparu (le sceau du journal, gardé à côté du cache, en compte plus)."
    ),
    JournalProblem.SEAL_INVALID: (
        "Le sceau du journal, gardé à côté du cache, a été modifié ou ne vient pas de ce cache."
    ),
    JournalProblem.UNSEALED: (
        "Le sceau du journal, gardé à côté du cache, a été supprimé : un retour à une copie "
        "plus ancienne du cache ne peut plus être exclu."
    ),
}


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify`.

    Attributes:
        ok: The chain is whole.
        checked: How many entries were checked.
        head: The end of the chain as found (the last valid entry when not ``ok``).
        problem: What is wrong, or None.
        seq: The ``seq`` of the first entry concerned, or None.
    """

    ok: bool
    checked: int
    head: JournalHead
    problem: JournalProblem | None = None
    seq: int | None = None

    @property
    def message(self) -> str:
        if self.problem is None:
            return f"Journal intègre : {self.checked} entrée(s) vérifiée(s)."
        return _MESSAGES[self.problem].format(seq=self.seq)

    def __bool__(self) -> bool:
        return self.ok


def verify(
    records: Sequence[ChainedEntry],
    *,
    start: JournalHead | None = None,
    anchor: JournalHead | None = None,
) -> VerifyResult:
    """Check the chain `records` (in storage order) and name the first entry that is wrong.

    Args:
        records: The stored entries, in the order they were stored.
        start: Where the chain starts (default: empty journal, so the first entry is 1).
        anchor: The head the storage recorded with the last append; without it, entries
            removed at the end cannot be seen.

    Returns:
        ``ok`` with the head, or the first problem with the ``seq`` it concerns.
    """
    head = start or JournalHead()
    seqs_after: dict[int, int] = {}
    for record in records:
        seqs_after[record.seq] = seqs_after.get(record.seq, 0) + 1
    checked = 0

    def bad(problem: JournalProblem, seq: int) -> VerifyResult:
        return VerifyResult(False, checked, head, problem, seq)

    for record in records:
        expected = head.seq + 1
        seqs_after[record.seq] -= 1
        if record.seq < expected:
            # This seq was already seen (or precedes the start): an extra entry.
            return bad(JournalProblem.INSERTED, record.seq)
        if record.seq > expected:
            if seqs_after.get(expected, 0) > 0:
                return bad(JournalProblem.REORDERED, expected)
            return bad(JournalProblem.REMOVED, expected)
        if entry_hash(record.prev_hash, record.entry) != record.hash:
            return bad(JournalProblem.ALTERED, record.seq)
        if record.prev_hash != head.hash:
            # The entry is self-consistent but does not follow the previous one: that one was
            # rewritten with its hash recomputed (or, for the first one, the start is wrong).
            return bad(JournalProblem.ALTERED, record.seq - 1 if checked else record.seq)
        head = JournalHead(record.seq, record.hash)
        checked += 1
    if anchor is not None and anchor != head:
        if anchor.seq > head.seq:
            return bad(JournalProblem.TRUNCATED, head.seq + 1)
        if anchor.seq < head.seq:
            return bad(JournalProblem.INSERTED, anchor.seq + 1)
        return bad(JournalProblem.ALTERED, head.seq)
    return VerifyResult(True, checked, head)


def check_seal(
    result: VerifyResult,
    records: Sequence[ChainedEntry],
    sealed: JournalHead | None,
    *,
    seal_valid: bool = True,
    sealed_before: bool = False,
) -> VerifyResult:
    """The chain's verdict (`result`, from :func:`verify`) checked against the head sealed
    outside the cache.

    The seal may lag behind the cache (a crash between the commit and the seal's write), never
    be ahead of it: the entry it names must be in the chain, with the same hash.

    Args:
        sealed: The sealed head (None: no seal file).
        seal_valid: False when the seal file exists but its MAC is wrong.
        sealed_before: The cache says it was sealed (a missing seal is then a removal).
    """
    if not result.ok:
        return result
    if not seal_valid:
        return VerifyResult(False, result.checked, result.head, JournalProblem.SEAL_INVALID, 0)
    if sealed is None:
        if sealed_before:
            return VerifyResult(False, result.checked, result.head, JournalProblem.UNSEALED, 0)
        return result
    if sealed.seq > result.head.seq:
        return VerifyResult(
            False, result.checked, result.head, JournalProblem.ROLLED_BACK, result.head.seq + 1
        )
    if sealed.seq == 0:
        return result
    by_seq = {r.seq: r.hash for r in records}
    if by_seq.get(sealed.seq) != sealed.hash:
        # same length or longer, but not the sealed chain: an older copy that went on
        return VerifyResult(
            False, result.checked, result.head, JournalProblem.ROLLED_BACK, sealed.seq
        )
    return result
