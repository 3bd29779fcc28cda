"""Storage of the console's journal (the hash chain itself is ``console.domain.journal``).

Each :meth:`JournalStore.append` runs in one ``BEGIN IMMEDIATE`` transaction that reads the
anchor (``journal_head``: last seq and hash), inserts the chained entry and moves the anchor:
a crash leaves either the whole entry and its anchor, or neither. Rows are never updated nor
deleted (triggers refuse it); they are read back in insertion order (``pos``) so that a
reordering shows. Appending inside a larger :meth:`transaction` of the store (for example
with the outbox item a deposit queues) makes both atomic.

What the journal holds: the professional's idNat, action codes, INS, document ids, the mode
and a small detail (reason codes, justification): no names, no titles, no content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from console.cache.schema import Transactional
from console.domain.journal import (
    ChainedEntry,
    DetailValue,
    JournalEntry,
    JournalHead,
    JournalProblem,
    VerifyResult,
    chain,
    format_timestamp,
    verify,
)

__all__ = ["JournalStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = "seq, ts, actor, action, patient_ins, document_ids, mode, detail, prev_hash, hash"


def _parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _record(row: tuple[Any, ...]) -> ChainedEntry:
    entry = JournalEntry(
        seq=int(row[0]),
        timestamp=_parse_ts(row[1]),
        actor=str(row[2]),
        action=str(row[3]),
        patient_ins=row[4],
        document_ids=tuple(json.loads(row[5])),
        mode=str(row[6]),
        detail=json.loads(row[7]),
    )
    return ChainedEntry(entry, str(row[8]), str(row[9]))


class JournalStore:
    """The journal table of one store (thread-confined like the store)."""

    def __init__(self, db: Transactional) -> None:
        self._db = db

    def head(self) -> JournalHead:
        """The anchor: last seq and its hash (seq 0 and GENESIS when empty)."""
        row = self._db.conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
        return JournalHead() if row is None else JournalHead(int(row[0]), str(row[1]))

    def append(
        self,
        actor: str,
        action: str,
        *,
        patient_ins: str | None = None,
        document_ids: Iterable[str] = (),
        mode: str = "",
        detail: Mapping[str, DetailValue] | None = None,
        timestamp: datetime | None = None,
    ) -> ChainedEntry:
        """Append one entry (committed on return, or with the enclosing transaction)."""
        with self._db.transaction():
            head = self.head()
            moment = timestamp or _EPOCH + timedelta(microseconds=self._db.now_us())
            entry = JournalEntry(
                seq=head.seq + 1,
                timestamp=moment,
                actor=actor,
                action=action,
                patient_ins=patient_ins,
                document_ids=tuple(document_ids),
                mode=mode,
                detail=dict(detail or {}),
            )
            record = chain(head, entry)
            self._db.conn.execute(
                f"INSERT INTO journal ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.seq,
                    format_timestamp(entry.timestamp),
                    entry.actor,
                    entry.action,
                    entry.patient_ins,
                    json.dumps(list(entry.document_ids), ensure_ascii=False),
                    entry.mode,
                    json.dumps(dict(entry.detail), sort_keys=True, ensure_ascii=False),
                    record.prev_hash,
                    record.hash,
                ),
            )
            self._db.conn.execute(
                "INSERT INTO journal_head (id, seq, hash) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                (record.seq, record.hash),
            )
        return record

    def records(self, *, patient_ins: str | None = None) -> list[ChainedEntry]:
        """The stored entries in insertion order (of one patient, for the history view)."""
        if patient_ins is None:
            rows = self._db.conn.execute(f"SELECT {_COLUMNS} FROM journal ORDER BY pos")
        else:
            rows = self._db.conn.execute(
                f"SELECT {_COLUMNS} FROM journal WHERE patient_ins = ? ORDER BY pos",
                (patient_ins,),
            )
        return [_record(r) for r in rows.fetchall()]

    def entries(self, *, patient_ins: str | None = None) -> list[JournalEntry]:
        return [r.entry for r in self.records(patient_ins=patient_ins)]

    def count(self) -> int:
        return int(self._db.conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def verify(self) -> VerifyResult:
        """Check the whole chain against the anchor (see ``console.domain.journal.verify``).

        A row that cannot even be read back (edited into an invalid timestamp or JSON) is
        reported as altered, like any other edit.
        """
        records: list[ChainedEntry] = []
        rows = self._db.conn.execute(f"SELECT {_COLUMNS} FROM journal ORDER BY pos").fetchall()
        for row in rows:
            try:
                records.append(_record(row))
            except (ValueError, TypeError):
                prefix = verify(records)
                if not prefix.ok:
                    return prefix
                seq = row[0] if isinstance(row[0], int) else prefix.head.seq + 1
                return VerifyResult(False, prefix.checked, prefix.head, JournalProblem.ALTERED, seq)
        return verify(records, anchor=self.head())
