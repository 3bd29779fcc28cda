"""Storage of the console's journal (the hash chain itself is ``console.domain.journal``).

Each :meth:`JournalStore.append` runs in one ``BEGIN IMMEDIATE`` transaction that reads the
anchor (``journal_head``: last seq and hash), inserts the chained entry and moves the anchor:
a crash leaves either the whole entry and its anchor, or neither. Rows are never updated nor
deleted (triggers refuse it); they are read back in insertion order (``pos``) so that a
reordering shows. Appending inside a larger :meth:`transaction` of the store (for example
with the outbox item a deposit queues) makes both atomic.

What the journal holds: the professional's idNat, action codes, INS, document ids, the mode
and a small detail (reason codes, justification): no names, no titles, no content.

The anchor lives in the same file as the entries, so a whole older copy of the cache put
back (a "rollback") would carry an older, consistent anchor. :class:`JournalSeal` keeps the
head (count and last hash) a second time, outside the database, in a small file MACed with a
key derived from the cache's key: after each commit that moved the head, the seal is
rewritten (atomically). The seal may lag behind the database (a crash between the two
writes), never be ahead: a seal ahead of the database, or naming an entry the chain does not
have, is a rolled-back cache (``docs/journal.md`` says what this can and cannot detect).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
    check_seal,
    format_timestamp,
    verify,
)

__all__ = ["SEAL_KEY_LABEL", "JournalSeal", "JournalStore", "SealState"]

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


SEAL_KEY_LABEL = b"staff-console journal seal v1"
"""What the cache's MAC key signs to give the seal's key (never the key itself)."""
_SEAL_FORMAT = "staff-console-journal-seal"
META_SEALED = "journal_sealed"
"""Meta key set in the database once a seal was written: a seal missing later was removed."""


@dataclass(frozen=True, slots=True)
class SealState:
    """What the seal file says: None (no file), or its head and whether its MAC holds."""

    head: JournalHead | None
    valid: bool = True


class JournalSeal:
    """The journal's head, sealed outside the database (see the module doc).

    Args:
        path: The seal file (``CachePaths.seal``).
        key: The seal's key (``keys.mac(SEAL_KEY_LABEL)``), kept while the cache is open.
        owner: Bound into the MAC (the cache's stem): a seal cannot be moved to another cache.
    """

    def __init__(self, path: Path, key: str, owner: str) -> None:
        self.path = path
        self._key = key.encode("ascii")
        self._owner = owner

    def _mac(self, head: JournalHead) -> str:
        data = f"{_SEAL_FORMAT}|{self._owner}|{head.seq}|{head.hash}".encode()
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def read(self) -> SealState:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SealState(None)
        except OSError:
            return SealState(None, valid=False)
        try:
            data = json.loads(raw)
            head = JournalHead(int(data["seq"]), str(data["hash"]))
            mac = str(data["mac"])
        except (ValueError, KeyError, TypeError):
            return SealState(None, valid=False)
        if data.get("format") != _SEAL_FORMAT or not hmac.compare_digest(mac, self._mac(head)):
            return SealState(head, valid=False)
        return SealState(head)

    def write(self, head: JournalHead) -> None:
        """Replace the seal atomically (write, fsync, rename, fsync the folder)."""
        body = json.dumps(
            {"format": _SEAL_FORMAT, "seq": head.seq, "hash": head.hash, "mac": self._mac(head)},
            sort_keys=True,
        )
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        try:
            folder = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(folder)
        except OSError:
            pass
        finally:
            os.close(folder)


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

    def records_at(self, seq: int) -> list[ChainedEntry]:
        """The stored entries numbered `seq` (one, unless the journal was tampered with)."""
        rows = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE seq = ? ORDER BY pos", (seq,)
        ).fetchall()
        found = []
        for row in rows:
            try:
                found.append(_record(row))
            except (ValueError, TypeError):
                continue
        return found

    def entries(self, *, patient_ins: str | None = None) -> list[JournalEntry]:
        return [r.entry for r in self.records(patient_ins=patient_ins)]

    def count(self) -> int:
        return int(self._db.conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def verify(self, seal: SealState | None = None, *, sealed_before: bool = False) -> VerifyResult:
        """Check the whole chain against the anchor (see ``console.domain.journal.verify``),
        then against the `seal` kept outside the cache when given (``check_seal``).

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
        result = verify(records, anchor=self.head())
        if seal is None:
            return result
        return check_seal(
            result, records, seal.head, seal_valid=seal.valid, sealed_before=sealed_before
        )
