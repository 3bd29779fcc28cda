"""``staff-console journal verify`` in a child process, with a real SoftHSM2 card and a real
SQCipher cache: a whole journal passes; an entry edited, deleted or moved directly in the
encrypted file (with the key, triggers dropped) is named; a wrong PIN or a missing card is an
error (exit 2)."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.cache.keys import CacheKeys, cache_paths, card_keys
from console.cache.store import CIPHER_SETTINGS
from console.services.cache import CacheService
from console.services.emergency import CacheJournal
from console.smartcard import Pkcs11CardReader, find_softhsm_module
from tests.integration.conftest import Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread() -> None:
    """Qt objects left in reference cycles by earlier GUI tests must be collected here, on the
    GUI thread: a collection triggered on a worker thread (the attestation's rendering, the
    cache's or the card's worker) would destroy them there (Qt warns, and may crash)."""
    gc.collect()


REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 14, 22, 0, tzinfo=UTC)
ENTRIES = 5


async def _login(reader: Pkcs11CardReader, persona: dict[str, Any]) -> Any:
    for token in await reader.tokens():
        if token.label == persona["token_label"]:
            return await reader.login(token, persona["pin"])
    raise AssertionError(f"no token {persona['token_label']!r}")


@pytest.fixture(scope="module")
def module_path() -> Path:
    module = find_softhsm_module()
    if module is None:
        pytest.skip("SoftHSM2 is not installed")
    return module


@pytest.fixture(scope="module")
def journal_data(
    sandbox: Sandbox, module_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, bytes]]:
    """A data directory whose cache (the emergency doctor's card) holds 5 journal entries, and
    the raw SQLCipher key of that cache (for the tamperer)."""
    import asyncio

    persona = sandbox.persona("emergency")
    data_dir = tmp_path_factory.mktemp("journal-data")

    async def build() -> bytes:
        reader = Pkcs11CardReader(module_path)
        cache = CacheService(data_dir / "cache")
        try:
            card = await _login(reader, persona)
            await cache.open_with_card(card, "10")
            journal = CacheJournal(cache)
            for i in range(ENTRIES):
                head = await journal.append(
                    persona["id_nat"],
                    "document_opened",
                    patient_ins="255081416802538",
                    document_ids=[f"doc-{i}"],
                    mode="bris_de_glace",
                    detail={"episode": "ep-1"},
                    at=T0 + timedelta(minutes=i),
                )
                assert head is not None and head.seq == i + 1
            await cache.close()
            keys: CacheKeys = await card_keys(card, persona["id_nat"])
            await card.logout()
            return bytes.fromhex(keys.pragma_key().split("x'")[1].split("'")[0])
        finally:
            await cache.aclose()
            await reader.close()

    key = asyncio.run(build())
    yield data_dir, key


def copy_of(data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(data_dir, target)
    return target


def tamper(data_dir: Path, key: bytes, persona: dict[str, Any], statements: list[str]) -> None:
    """What someone holding the key does: drop the triggers, change the rows."""
    import sqlcipher3

    paths = cache_paths(data_dir / "cache", persona["id_nat"])
    conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        for statement in CIPHER_SETTINGS:
            conn.execute(statement)
        conn.execute("DROP TRIGGER journal_no_update")
        conn.execute("DROP TRIGGER journal_no_delete")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def verify(
    data_dir: Path,
    sandbox: Sandbox,
    module_path: Path,
    *,
    label: str | None = None,
    pin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    persona = sandbox.persona("emergency")
    command = [
        sys.executable, "-m", "console.journal_cli", "verify",
        "--data-dir", str(data_dir),
        "--pkcs11-module", str(module_path),
        "--token-label", label or persona["token_label"],
        "--pin-stdin",
    ]  # fmt: skip
    env = {**os.environ, "SOFTHSM2_CONF": str(sandbox.directory / "softhsm2.conf")}
    return subprocess.run(
        command,
        input=(pin if pin is not None else persona["pin"]) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_a_whole_journal_verifies(
    journal_data: tuple[Path, bytes], sandbox: Sandbox, module_path: Path, tmp_path: Path
) -> None:
    data_dir, _ = journal_data
    done = verify(copy_of(data_dir, tmp_path), sandbox, module_path)
    assert done.returncode == 0, done.stderr
    assert "Journal de Karim BENALI : Journal intègre : 5 entrée(s) vérifiée(s)." in done.stdout
    assert "Dernière entrée : n° 5, empreinte SHA-256 " in done.stdout
    assert sandbox.persona("emergency")["pin"] not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ["UPDATE journal SET document_ids = '[\"doc-x\"]' WHERE seq = 3"],
            "L'entrée n° 3 du journal a été modifiée.",
        ),
        (["DELETE FROM journal WHERE seq = 2"], "L'entrée n° 2 du journal a été supprimée."),
        (
            [
                "UPDATE journal SET pos = pos + 1000 WHERE seq = 2",
                "UPDATE journal SET pos = pos - 1 WHERE seq = 3",
                "UPDATE journal SET pos = pos - 1000 + 1 WHERE seq = 2",
            ],
            "L'entrée n° 2 du journal a été déplacée.",
        ),
        (
            ["DELETE FROM journal WHERE seq = 5"],
            "Les entrées du journal à partir du n° 5 ont été supprimées.",
        ),
    ],
    ids=["edited", "deleted", "reordered", "truncated"],
)
def test_tampering_is_named(
    journal_data: tuple[Path, bytes],
    sandbox: Sandbox,
    module_path: Path,
    tmp_path: Path,
    statements: list[str],
    message: str,
) -> None:
    data_dir, key = journal_data
    copy = copy_of(data_dir, tmp_path)
    tamper(copy, key, sandbox.persona("emergency"), statements)
    done = verify(copy, sandbox, module_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"JOURNAL ALTÉRÉ (Karim BENALI) : {message}" in done.stdout


def test_a_wrong_pin_or_no_such_card_is_an_error(
    journal_data: tuple[Path, bytes], sandbox: Sandbox, module_path: Path, tmp_path: Path
) -> None:
    data_dir, _ = journal_data
    copy = copy_of(data_dir, tmp_path)
    done = verify(copy, sandbox, module_path, pin="0000")
    assert done.returncode == 2
    assert "Code PIN incorrect" in done.stderr and done.stdout == ""
    done = verify(copy, sandbox, module_path, label="CPS INCONNU")
    assert done.returncode == 2 and "Aucune carte « CPS INCONNU »" in done.stderr
    # Another professional's card has no cache here.
    done = verify(copy, sandbox, module_path, label="CPS MARTIN Claire", pin="1234")
    assert done.returncode == 2 and "Aucun cache de la console" in done.stderr


def test_a_removed_seal_is_named(
    journal_data: tuple[Path, bytes], sandbox: Sandbox, module_path: Path, tmp_path: Path
) -> None:
    data_dir, _ = journal_data
    copy = copy_of(data_dir, tmp_path)
    paths = cache_paths(copy / "cache", sandbox.persona("emergency")["id_nat"])
    assert paths.seal.is_file()  # the console sealed the journal's head beside the cache
    paths.seal.unlink()
    done = verify(copy, sandbox, module_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "le sceau du journal, gardé à côté du cache, a été supprimé" in done.stdout.lower()


def test_a_damaged_cache_file_has_its_own_exit_code_and_message(
    journal_data: tuple[Path, bytes], sandbox: Sandbox, module_path: Path, tmp_path: Path
) -> None:
    data_dir, _ = journal_data
    copy = copy_of(data_dir, tmp_path)
    paths = cache_paths(copy / "cache", sandbox.persona("emergency")["id_nat"])
    data = bytearray(paths.db.read_bytes())
    page = 16 * 1024  # CIPHER_SETTINGS: 16 KiB pages
    for start in range(page, len(data), page):  # every page but the first (the schema's)
        data[start + 100 : start + 164] = bytes(64)
    paths.db.write_bytes(bytes(data))
    done = verify(copy, sandbox, module_path)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "Le fichier du cache est endommagé" in done.stderr and done.stdout == ""
