"""The deposit outbox: a persistent queue with exactly-once semantics on the client side.

Life of an item::

    enqueue ─> pending ──claim──> sending ──ack──> sent
                  ^                  │
                  └──fail(retry_at)──┤──fail(None)──> failed ──retry──> pending
                  └───recover() at open (sent, not acked: re-sent)

- The ``masterIdentifier`` (``urn:uuid:...``) is generated once, at :meth:`Outbox.enqueue`,
  committed with the payload, and sent with every attempt. An item that was sent but not
  acknowledged (crash, kill -9, network loss after the server committed) is re-sent with the
  *same* ``masterIdentifier`` and the same payload, which the server treats idempotently
  (it answers the first deposit again): the server ends up with exactly one copy.
- :meth:`Outbox.claim` commits the move to ``sending`` (and counts the attempt) *before* the
  caller sends: claiming is the point after which an item may have reached the server.
- Every change is one transaction on a ``synchronous=FULL`` connection: once a method
  returns, the change survives a crash or a power loss.
- :meth:`Outbox.ack` drops the payload (the document's content has no reason to stay in the
  cache once deposited); the row stays (identifiers, state) for receipts until purged.

Thread confinement: an :class:`Outbox` lives on the store's thread, like its store.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from console.cache.schema import Transactional

__all__ = ["Outbox", "OutboxItem", "OutboxState", "new_master_id"]

_ERROR_MAX_CHARS = 2000


class OutboxState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def new_master_id() -> str:
    """A new ``masterIdentifier`` value (RFC 3986 URI system): ``urn:uuid:<uuid4>``."""
    return f"urn:uuid:{uuid.uuid4()}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("outbox times must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued deposit (or another queued write to the DMP).

    Attributes:
        id: Local id (insertion order).
        master_id: The document's ``masterIdentifier``, generated once.
        kind: What the payload is ("deposit" by default; the sender decides).
        patient_ins: The patient concerned, if any.
        batch_id: The batch it belongs to (secretary batches), if any.
        payload: What is sent (None once acknowledged).
        info: Small JSON-able facts the sender keeps with it (file name, type...).
        state: See :class:`OutboxState`.
        attempts: How many times it was claimed to be sent.
        last_error: The last failure's message (no patient data: the sender's choice).
        server_id: The server's id of what was created, once acknowledged.
    """

    id: int
    master_id: str
    kind: str
    patient_ins: str | None
    batch_id: str | None
    payload: bytes | None
    info: Mapping[str, Any]
    state: OutboxState
    attempts: int
    last_error: str | None
    server_id: str | None
    created: datetime
    updated: datetime
    next_attempt: datetime = field(compare=False)


_COLUMNS = (
    "id, master_id, kind, patient_ins, batch_id, payload, info, state, attempts, last_error,"
    " server_id, created, updated, next_attempt"
)


def _item(row: tuple[Any, ...]) -> OutboxItem:
    return OutboxItem(
        id=int(row[0]),
        master_id=str(row[1]),
        kind=str(row[2]),
        patient_ins=row[3],
        batch_id=row[4],
        payload=None if row[5] is None else bytes(row[5]),
        info=json.loads(row[6]),
        state=OutboxState(row[7]),
        attempts=int(row[8]),
        last_error=row[9],
        server_id=row[10],
        created=_from_us(row[11]),
        updated=_from_us(row[12]),
        next_attempt=_from_us(row[13]),
    )


class OutboxStateError(ValueError):
    """A transition the item's state does not allow (a programming error of the sender)."""


class Outbox:
    """The outbox table of one store (see the module doc)."""

    def __init__(self, db: Transactional) -> None:
        self._db = db

    # -- queue ---------------------------------------------------------------------------------

    def enqueue(
        self,
        payload: bytes,
        *,
        kind: str = "deposit",
        patient_ins: str | None = None,
        batch_id: str | None = None,
        info: Mapping[str, Any] | None = None,
        master_id: str | None = None,
    ) -> OutboxItem:
        """Queue `payload` (committed on return) with its ``masterIdentifier``.

        Args:
            master_id: Give one only if it was already generated and kept elsewhere (the
                same value must never be queued twice: UNIQUE constraint).
        """
        now = self._db.now_us()
        master = master_id or new_master_id()
        payload = bytes(payload)
        info_json = json.dumps(dict(info or {}), sort_keys=True, ensure_ascii=False)
        with self._db.transaction():
            cursor = self._db.conn.execute(
                "INSERT INTO outbox (master_id, kind, patient_ins, batch_id, payload, info,"
                " state, attempts, created, updated, next_attempt)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                (master, kind, patient_ins, batch_id, payload, info_json, now, now, now),
            )
            item_id = int(cursor.lastrowid)
        # The row as written (not read back: that would decrypt the whole payload again).
        return _item(
            (item_id, master, kind, patient_ins, batch_id, payload, info_json,
             OutboxState.PENDING.value, 0, None, None, now, now, now)
        )  # fmt: skip

    def claim(self, limit: int = 1, *, now: datetime | None = None) -> list[OutboxItem]:
        """Take up to `limit` pending items that are due, oldest first, and mark them sending.

        The move is committed before this returns: send them, then :meth:`ack` or
        :meth:`fail` each one.
        """
        if limit < 1:
            return []
        now_us = self._db.now_us() if now is None else _to_us(now)
        with self._db.transaction():
            rows = self._db.conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt <= ?"
                " ORDER BY next_attempt, id LIMIT ?",
                (now_us, limit),
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            self._db.conn.executemany(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated = ?"
                " WHERE id = ? AND state = 'pending'",
                [(now_us, i) for i in ids],
            )
        return [item for item in (self.get(i) for i in ids) if item is not None]

    def ack(self, item_id: int, server_id: str | None = None) -> bool:
        """The server confirmed the deposit: sent, payload dropped. False if already sent.

        Raises:
            OutboxStateError: unknown item, or one that is not being sent.
        """
        with self._db.transaction():
            state = self._state(item_id)
            if state is OutboxState.SENT:
                return False
            if state not in (OutboxState.SENDING, OutboxState.PENDING):
                raise OutboxStateError(f"outbox item {item_id} is {state}, not sending")
            self._db.conn.execute(
                "UPDATE outbox SET state = 'sent', payload = NULL, server_id = ?,"
                " last_error = NULL, updated = ? WHERE id = ?",
                (server_id, self._db.now_us(), item_id),
            )
        return True

    def fail(self, item_id: int, error: str, *, retry_at: datetime | None = None) -> None:
        """The attempt failed: pending again from `retry_at`, or failed for good (None).

        A failure after which the server may nonetheless have stored the deposit (timeout,
        connection lost after sending) must be retried, never marked failed: the retry,
        with the same ``masterIdentifier``, is what makes it exactly once.
        """
        with self._db.transaction():
            state = self._state(item_id)
            if state is not OutboxState.SENDING:
                raise OutboxStateError(f"outbox item {item_id} is {state}, not sending")
            now = self._db.now_us()
            if retry_at is None:
                self._db.conn.execute(
                    "UPDATE outbox SET state = 'failed', last_error = ?, updated = ? WHERE id = ?",
                    (error[:_ERROR_MAX_CHARS], now, item_id),
                )
            else:
                self._db.conn.execute(
                    "UPDATE outbox SET state = 'pending', last_error = ?, updated = ?,"
                    " next_attempt = ? WHERE id = ?",
                    (error[:_ERROR_MAX_CHARS], now, _to_us(retry_at), item_id),
                )

    def release(self, item_id: int) -> None:
        """Give a claimed item back unsent (pause, cancel of the sending task)."""
        with self._db.transaction():
            self._db.conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = MAX(attempts - 1, 0),"
                " updated = ? WHERE id = ? AND state = 'sending'",
                (self._db.now_us(), item_id),
            )

    def retry(self, item_id: int) -> None:
        """A failed item (after the user fixed what was wrong) goes back to pending, now."""
        with self._db.transaction():
            now = self._db.now_us()
            self._db.conn.execute(
                "UPDATE outbox SET state = 'pending', next_attempt = ?, updated = ?"
                " WHERE id = ? AND state = 'failed'",
                (now, now, item_id),
            )

    def cancel(self, item_id: int) -> bool:
        """Drop a pending or failed item (never one that may have reached the server)."""
        with self._db.transaction():
            cursor = self._db.conn.execute(
                "DELETE FROM outbox WHERE id = ?"
                " AND (state = 'failed' OR (state = 'pending' AND attempts = 0))",
                (item_id,),
            )
            return int(cursor.rowcount) > 0

    def recover(self) -> int:
        """At open: items left ``sending`` by a crash go back to pending (same master id)."""
        with self._db.transaction():
            now = self._db.now_us()
            cursor = self._db.conn.execute(
                "UPDATE outbox SET state = 'pending', next_attempt = ?, updated = ?"
                " WHERE state = 'sending'",
                (now, now),
            )
            return int(cursor.rowcount)

    def purge_sent(self, before: datetime | None = None) -> int:
        """Delete the sent items (updated before `before`, or all)."""
        with self._db.transaction():
            if before is None:
                cursor = self._db.conn.execute("DELETE FROM outbox WHERE state = 'sent'")
            else:
                cursor = self._db.conn.execute(
                    "DELETE FROM outbox WHERE state = 'sent' AND updated < ?", (_to_us(before),)
                )
            return int(cursor.rowcount)

    # -- reading -------------------------------------------------------------------------------

    def get(self, item_id: int) -> OutboxItem | None:
        row = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row is None else _item(row)

    def by_master_id(self, master_id: str) -> OutboxItem | None:
        row = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE master_id = ?", (master_id,)
        ).fetchone()
        return None if row is None else _item(row)

    def items(
        self, state: OutboxState | None = None, *, batch_id: str | None = None
    ) -> list[OutboxItem]:
        """Items in insertion order, optionally of one state and/or one batch."""
        clauses, params = [], []
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        if batch_id is not None:
            clauses.append("batch_id = ?")
            params.append(batch_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox{where} ORDER BY id", params
        ).fetchall()
        return [_item(r) for r in rows]

    def counts(self) -> dict[OutboxState, int]:
        """How many items in each state (every state present, 0 included)."""
        found = dict(
            self._db.conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        )
        return {state: int(found.get(state.value, 0)) for state in OutboxState}

    def unsent(self) -> int:
        """Items not yet acknowledged (pending, sending or failed): what a purge must keep."""
        row = self._db.conn.execute("SELECT COUNT(*) FROM outbox WHERE state != 'sent'").fetchone()
        return int(row[0])

    def _state(self, item_id: int) -> OutboxState:
        row = self._db.conn.execute("SELECT state FROM outbox WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise OutboxStateError(f"no outbox item {item_id}")
        return OutboxState(row[0])
