"""Integration fixtures: one provisioned sandbox (SoftHSM2 cards + seeded database) per test
session, served by a real `dmp-sandbox serve` child process on a loopback port.

python-pkcs11 loads a PKCS#11 module once per process and SoftHSM2 reads SOFTHSM2_CONF when
it initialises, so the session's conf is exported before any test loads the module.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxProcess

SEED = "7"
PATIENTS = "10"
CHRONIC_DOCS = "400"


@dataclass
class Sandbox:
    url: str
    directory: Path
    personas: dict[str, dict[str, Any]]
    patients: dict[str, Any]
    process: SandboxProcess

    def persona(self, persona_id: str) -> dict[str, Any]:
        return self.personas[persona_id]

    def adults(self) -> list[str]:
        """The INS of the seeded adults with no special choice (no opposition, no block, not
        the chronic patient...), in patients.json order: found by their role, never by a
        literal NIR, so the tests hold whatever the seed's reference date."""
        ref = date.fromisoformat(self.patients["reference_date"])
        found = [
            p["ins"]
            for p in self.patients["all"]
            if p["special"] is None and age_on(date.fromisoformat(p["birth_date"]), ref) >= 18
        ]
        assert len(found) >= 2, "the seed has fewer than two plain adults"
        return found

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def card_login(self, persona_id: str, algorithm: str = "RS256") -> str:
        """Log in with the persona's SoftHSM2 card: challenge, signature on the token, token."""
        from sandbox.testcard import open_card
        from sandbox.tokens import softhsm_module_path

        persona = self.persona(persona_id)
        with self.client() as client:
            nonce = client.post("/auth/challenge").json()["nonce"]
            with open_card(softhsm_module_path(), persona["token_label"], persona["pin"]) as card:
                body = {
                    "certificate": base64.b64encode(card.certificate_der()).decode(),
                    "nonce": nonce,
                    "signature": base64.b64encode(card.sign(nonce.encode(), algorithm)).decode(),
                    "algorithm": algorithm,
                }
            answer = client.post("/auth/card", json=body)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def open_patient(
        self, token: str, ins: str, mode: str = "normal", **fields: Any
    ) -> httpx.Response:
        body = {"patient": f"{self.patients['ins_system']}|{ins}", "mode": mode, **fields}
        with self.client(token) as client:
            return client.post("/auth/access", json=body)

    def patient_token(self, persona_id: str, ins: str, mode: str = "normal", **fields: Any) -> str:
        answer = self.open_patient(self.card_login(persona_id), ins, mode, **fields)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token


def age_on(birth: date, day: date) -> int:
    """Age in whole years on `day` (29 February birthdays count from 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@pytest.fixture(scope="session")
def sandbox_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dmp-sandbox")
    subprocess.run(
        [sys.executable, "-m", "sandbox", "init", str(directory), "--force",
         "--seed", SEED, "--patients", PATIENTS, "--chronic-docs", CHRONIC_DOCS],
        check=True, capture_output=True,
    )  # fmt: skip
    os.environ["SOFTHSM2_CONF"] = str(directory / "softhsm2.conf")
    return directory


@pytest.fixture(scope="session")
def sandbox(sandbox_dir: Path) -> Iterator[Sandbox]:
    with SandboxProcess(sandbox_dir) as process:
        personas = {p["id"]: p for p in json.loads((sandbox_dir / "personas.json").read_text())}
        patients = json.loads((sandbox_dir / "patients.json").read_text())
        yield Sandbox(process.url, sandbox_dir, personas, patients, process)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """test_cards.py provisions cards with its own SoftHSM2 configuration and uses them in
    this process; python-pkcs11 loads the module once per process, so it runs before any
    test loads it with the session's configuration (otherwise its in-process half would
    have to be skipped)."""
    first = [i for i in items if i.nodeid.startswith("tests/integration/test_cards.py")]
    if first:
        rest = [i for i in items if i not in first]
        items[:] = first + rest
