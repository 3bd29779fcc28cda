"""Nothing leaked: the integration flows run in a child pytest with the console's log set-up at
its most verbose and then every logger lowered to DEBUG (``tests/logscan_plugin.py``); the
log written, the sandbox's log and every file the console wrote (caches, spool, journal seal,
preferences in a private HOME) are scanned for every patient string of the seeded database:
NIRs (13 and 15 digits), family and given names, document titles. 0 hits.

The child runs the flows that touch patient data the most: the console end to end (card
login, search, record, preview, deposit), deposits and batches, offline reading from the
cache, vaccinations.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from console.logs import redact

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FLOWS = (
    "tests/integration/test_console_e2e.py",
    "tests/integration/test_deposit.py",
    "tests/integration/test_offline.py",
    "tests/integration/test_vaccination_e2e.py",
)
INPUT_SUFFIXES = frozenset({".pdf", ".csv", ".txt", ".xml", ".py", ".pyc"})
"""Files the tests themselves write as inputs (a batch's PDFs named after the NIR)."""


def patient_strings(database: Path) -> set[str]:
    """What a reader would recognise as a patient's: NIRs, names, titles (the names that are
    also a professional's, a structure's or a persona's are left out: they are not patients')."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        found: set[str] = set()
        for ins, family, given in conn.execute(
            "SELECT ins, family_name, given_names FROM patients"
        ):
            found |= {ins, ins[:13], family, *given.split()}
        found |= {title for (title,) in conn.execute("SELECT DISTINCT title FROM documents")}
        public: set[str] = set()
        for family, given in conn.execute("SELECT family_name, given_name FROM professionals"):
            public |= {family, *given.split()}
        public |= {name for (name,) in conn.execute("SELECT name FROM structures")}
    finally:
        conn.close()
    return {s for s in found - public if len(s) >= 5}


def scanned_files(root: Path, skip: Path) -> list[Path]:
    files = []
    for path in root.rglob("*"):
        if not path.is_file() or path.is_relative_to(skip):
            continue
        if path.suffix.lower() in INPUT_SUFFIXES or "logscan" in path.name:
            continue
        files.append(path)
    return files


def hits(data: bytes, strings: set[str]) -> set[str]:
    return {s for s in strings if s.encode("utf-8") in data}


def test_redaction_masks_identifiers_and_query_strings() -> None:
    line = "GET http://h/Patient?identifier=urn:oid:1.2.250.1.213.1.4.8%7C157034221878793 200"
    assert "157034221878793" not in redact(line) and "identifier=" not in redact(line)
    assert "[NIR]" in redact("ins 1570342218787 done")
    assert redact("3 document(s) sent in 12 ms") == "3 document(s) sent in 12 ms"


def test_no_patient_string_in_logs_or_files_at_debug(tmp_path: Path) -> None:
    log_file = tmp_path / "logscan.log"
    base = tmp_path / "run"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "LOGSCAN_FILE": str(log_file),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(REPO),
    }
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "tests.logscan_plugin",
         "--basetemp", str(base), "-p", "no:cacheprovider", *FLOWS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-4000:]
    (database,) = base.rglob("sandbox.sqlite3")
    sandbox_dir = database.parent
    strings = patient_strings(database)
    assert len(strings) > 100  # the scan has something to look for

    log = log_file.read_bytes()
    assert log.count(b"\n") > 50, "the child logged (at DEBUG, the console says a lot)"
    assert b"console." in log
    (withheld,) = [line for line in log.splitlines() if line.startswith(b"LOGSCAN withheld")]
    assert int(withheld.split()[2]) > 100, "httpx, qasync... did log at DEBUG: all withheld"
    found = {"console log": hits(log, strings)}
    serve_log = sandbox_dir / "serve.log"
    if serve_log.is_file():
        found["sandbox log"] = hits(serve_log.read_bytes(), strings)
    files = [*scanned_files(base, sandbox_dir), *scanned_files(home, sandbox_dir)]
    assert any(p.suffix == ".db" for p in files), "the caches were scanned"
    for path in files:
        leaked = hits(path.read_bytes(), strings)
        if leaked:
            found[str(path.relative_to(tmp_path))] = leaked
    leaks = {where: sorted(s)[:5] for where, s in found.items() if s}
    print(
        f"scanned {len(strings)} patient strings in {len(log)} bytes of log and "
        f"{len(files)} files: {sum(len(s) for s in found.values())} hit(s)"
    )
    assert leaks == {}
