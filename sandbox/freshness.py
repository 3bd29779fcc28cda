"""Whether a sandbox directory is still fit to demonstrate with (``./dev demo`` asks).

A sandbox is made once and kept, but it ages: its card certificates expire (three years), its
reference date recedes until a first opening, which lists the last two years, shows nothing;
and a sandbox made by another schema cannot be served. ``stale_reason`` says which, so that
the demo re-creates it (the data is synthetic) and says why.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography import x509

from sandbox.seed import PERSONAS_FILE
from sandbox.store import DB_NAME, SCHEMA_VERSION

__all__ = ["CARD_MARGIN", "FIRST_WINDOW_DAYS", "stale_reason"]

CARD_MARGIN = timedelta(days=7)
"""Cards expiring within this margin count as expired: a demo must not die during the week."""
FIRST_WINDOW_DAYS = 2 * 365
"""The first opening's window (the DMP usage rule: the last two years)."""


def _meta(database: Path) -> tuple[int | None, dict[str, str]]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        try:
            rows = conn.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.Error:
            rows = []
        return version, {str(k): str(v) for k, v in rows}
    finally:
        conn.close()


def stale_reason(
    directory: Path, *, now: datetime | None = None, today: date | None = None
) -> str | None:
    """Why the sandbox in `directory` should be re-created, in a sentence; None if it is fine
    (or absent: there is nothing to re-create)."""
    now = now or datetime.now(UTC)
    today = today or now.date()
    database = directory / DB_NAME
    if not database.is_file():
        return None
    try:
        version, meta = _meta(database)
    except sqlite3.Error as exc:
        return f"its database cannot be read ({exc})"
    if version != SCHEMA_VERSION:
        return (
            f"it was made by another version of the sandbox (schema {version},"
            f" now {SCHEMA_VERSION})"
        )
    try:
        reference = date.fromisoformat(meta["reference_date"])
    except (KeyError, ValueError):
        return "its database does not say which day its data was made for"
    if (today - reference).days > FIRST_WINDOW_DAYS:
        return (
            f"its data was made for {reference.isoformat()}, more than two years ago: a first "
            "opening (the last two years) would show nothing"
        )
    try:
        personas = json.loads((directory / PERSONAS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"its {PERSONAS_FILE} cannot be read"
    for persona in personas:
        relative = persona.get("certificate")
        if not relative:
            continue  # made with --no-cards
        try:
            cert = x509.load_pem_x509_certificate((directory / relative).read_bytes())
        except (OSError, ValueError):
            return f"the card certificate of {persona.get('id')} cannot be read"
        if cert.not_valid_after_utc <= now + CARD_MARGIN:
            return (
                f"the card of {persona.get('id')} expires on "
                f"{cert.not_valid_after_utc.date().isoformat()}"
            )
    return None


if __name__ == "__main__":
    import sys

    reason = stale_reason(Path(sys.argv[1]))
    if reason:
        print(reason)
    raise SystemExit(1 if reason else 0)
