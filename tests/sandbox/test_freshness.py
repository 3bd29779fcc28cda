"""./dev demo re-creates a sandbox that aged: another schema, cards expiring, data too old."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.freshness import CARD_MARGIN, stale_reason
from sandbox.seed import SeedOptions, init_sandbox
from sandbox.store import DB_NAME

pytestmark = pytest.mark.integration

MADE = date(2026, 3, 10)


@pytest.fixture(scope="module")
def carded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fresh") / "sandbox"
    init_sandbox(directory, SeedOptions(patients=6, chronic_docs=50, reference_date=MADE))
    return directory


def test_a_fresh_sandbox_is_kept(carded: Path) -> None:
    assert stale_reason(carded, today=MADE + timedelta(days=30)) is None


def test_an_absent_sandbox_has_nothing_to_recreate(tmp_path: Path) -> None:
    assert stale_reason(tmp_path / "none") is None


def test_data_older_than_the_first_window_is_recreated(carded: Path) -> None:
    reason = stale_reason(carded, today=MADE + timedelta(days=2 * 365 + 1))
    assert reason is not None and "two years" in reason and MADE.isoformat() in reason
    assert stale_reason(carded, today=MADE + timedelta(days=2 * 365)) is None


def test_cards_expired_or_about_to_are_recreated(carded: Path) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((carded / "pki" / "gp.pem").read_bytes())
    expiry = cert.not_valid_after_utc
    just_before = expiry - CARD_MARGIN - timedelta(minutes=1)
    assert stale_reason(carded, now=just_before, today=MADE) is None
    reason = stale_reason(carded, now=expiry - CARD_MARGIN + timedelta(minutes=1), today=MADE)
    assert reason is not None and "expires" in reason


def test_another_schema_is_recreated(tmp_path: Path) -> None:
    directory = tmp_path / "old"
    init_sandbox(directory, SeedOptions(patients=6, chronic_docs=50, cards=False))
    conn = sqlite3.connect(directory / DB_NAME)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    reason = stale_reason(directory, now=datetime.now(UTC))
    assert reason is not None and "another version" in reason
