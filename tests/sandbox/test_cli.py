"""The ``dmp-sandbox`` command: init (directory safety, cards), serve (loopback only), info."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sandbox.cli import main
from sandbox.personas import PERSONAS
from sandbox.seed import MARKER, PATIENTS_FILE, PERSONAS_FILE
from sandbox.store import DB_NAME
from sandbox.testing import SandboxProcess

pytestmark = pytest.mark.integration

SMALL_ARGS = (
    "--patients", "8", "--chronic-docs", "200", "--seed", "5",
    "--reference-date", "2026-01-15", "--no-cards",
)  # fmt: skip


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def init_small(directory: Path, *extra: str) -> tuple[int, str]:
    return run("init", str(directory), *SMALL_ARGS, *extra)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "sandbox"
    code, _ = init_small(directory)
    assert code == 0
    return directory


# -- init ---------------------------------------------------------------------------------------


def test_init_prints_a_summary_and_writes_the_files(tmp_path: Path) -> None:
    directory = tmp_path / "new"
    code, out = init_small(directory)
    assert code == 0
    assert "8 patients" in out
    assert str(directory.resolve() / PERSONAS_FILE) in out
    assert str(directory.resolve() / PATIENTS_FILE) in out
    assert "--no-cards" in out
    for name in (MARKER, DB_NAME, PERSONAS_FILE, PATIENTS_FILE):
        assert (directory / name).is_file()
    assert not (directory / "tokens").exists()


def test_init_refuses_a_non_empty_directory_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    code, _ = init_small(tmp_path)
    assert code != 0
    assert "--force" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_force_never_wipes_a_directory_that_is_not_a_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "thesis.tex").write_text("precious", encoding="utf-8")
    code, _ = init_small(tmp_path, "--force")
    assert code != 0
    assert "does not look like a sandbox" in capsys.readouterr().err
    assert (tmp_path / "thesis.tex").read_text(encoding="utf-8") == "precious"


def test_force_keeps_a_sandbox_holding_foreign_files(
    small_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "copy"
    shutil.copytree(small_dir, directory)
    (directory / "my-notes.md").write_text("keep me", encoding="utf-8")
    code, _ = init_small(directory, "--force")
    assert code != 0
    assert "my-notes.md" in capsys.readouterr().err
    assert (directory / "my-notes.md").exists()
    assert (directory / DB_NAME).exists()


def test_force_reinitialises_a_sandbox_directory(small_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    shutil.copytree(small_dir, directory)
    (directory / "sandbox-8470.log").write_text("old log", encoding="utf-8")
    before = json.loads((directory / PATIENTS_FILE).read_text(encoding="utf-8"))
    code, _ = run("init", str(directory), *SMALL_ARGS, "--seed", "6", "--force")
    assert code == 0
    after = json.loads((directory / PATIENTS_FILE).read_text(encoding="utf-8"))
    assert after["seed"] == 6
    assert after["chronic"] != before["chronic"]
    assert not (directory / "sandbox-8470.log").exists()


def test_init_rejects_too_few_patients(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("init", str(tmp_path / "x"), "--patients", "3", "--no-cards")
    assert code == 2
    assert "--patients" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_init_rejects_a_bad_reference_date(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        run("init", str(tmp_path / "x"), "--reference-date", "15/01/2026")
    assert exc.value.code == 2


def test_init_with_cards_provisions_one_token_per_persona(tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt install softhsm2)")
    directory = tmp_path / "cards"
    started = time.perf_counter()
    code, out = run(
        "init", str(directory), "--patients", "6", "--chronic-docs", "50", "--seed", "3",
        "--reference-date", "2026-01-15",
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert code == 0, out
    assert "SOFTHSM2_CONF=" in out
    assert (directory / "softhsm2.conf").is_file()
    assert (directory / "pki" / "ca.pem").is_file()
    personas = json.loads((directory / PERSONAS_FILE).read_text(encoding="utf-8"))
    for entry in personas:
        assert (directory / entry["certificate"]).is_file()
    assert len([p for p in (directory / "tokens").iterdir() if p.is_dir()]) == len(PERSONAS)
    print(f"init with cards: {elapsed:.1f} s")


# -- serve and info -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_serve_refuses_any_host_but_loopback(
    small_dir: Path, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("serve", str(small_dir), "--host", host)
    assert code == 2
    assert "127.0.0.1" in capsys.readouterr().err


def test_serve_explains_an_uninitialised_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("serve", str(tmp_path))
    assert code == 1
    assert "dmp-sandbox init" in capsys.readouterr().err


def test_serve_explains_data_of_another_schema_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "old"
    assert init_small(directory)[0] == 0
    conn = sqlite3.connect(directory / "sandbox.sqlite3")
    try:
        conn.execute("PRAGMA user_version = 1")
    finally:
        conn.close()
    code, _ = run("serve", str(directory))
    assert code == 1
    err = capsys.readouterr().err
    assert "schema 1" in err and "--force" in err


def test_serve_rejects_a_relative_base_url(
    small_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run("serve", str(small_dir), "--base-url", "sandbox.local/fhir")
    assert code == 2
    assert "--base-url" in capsys.readouterr().err


def test_serve_answers_on_loopback(small_dir: Path) -> None:
    with SandboxProcess(small_dir) as sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{sandbox.url}/metadata", timeout=5) as resp:
            assert resp.status == 200
            assert json.load(resp)["resourceType"] == "CapabilityStatement"
        log = sandbox.log_text()
    assert sandbox.url in log
    assert str(small_dir.resolve() / PERSONAS_FILE) in log


def test_info_prints_personas_with_pins_and_special_patients(small_dir: Path) -> None:
    code, out = run("info", str(small_dir))
    assert code == 0
    patients = json.loads((small_dir / PATIENTS_FILE).read_text(encoding="utf-8"))
    for persona in PERSONAS:
        assert persona.id in out
        assert f"PIN {persona.pin}" in out
    for key in ("chronic", "opposed_bris_de_glace", "opposed_centre_15", "minor"):
        assert patients[key] in out
    assert patients["blocked"]["ins"] in out
    assert patients["with_masked"]["ins"] in out


def test_python_m_sandbox_is_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("init", "serve", "info"):
        assert command in result.stdout
