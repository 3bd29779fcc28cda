"""A secretary's batch killed with SIGKILL, then resumed in new processes: exactly once.

A child process runs the real pipeline (``BatchDepositService`` over ``HttpDmpGateway``, the
secretary's SoftHSM2 card, her encrypted cache opened with it) against the session's
sandbox, and reports on stdout what it committed (``QUEUED <master>``, ``SENT <master> <id>``).
The sandbox delays every POST (``/sandbox/faults``) so that the batch is mid-way when:

1. the parent kills the child (SIGKILL) after a few deposits were acknowledged;
2. a second child resumes and kills *itself* right after a server's answer, before the outbox
   records it (the worst moment: the DMP has the document, the console does not know);
3. a third child resumes and finishes.

Then the DMP holds each masterIdentifier of the batch exactly once, none missing, and the
third child saw at least one replay (the document of step 2, sent again with the same
masterIdentifier and answered idempotently).
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from reportlab.pdfgen import canvas

from console.smartcard import find_softhsm_module
from tests.integration.conftest import Sandbox

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FILES = 30
DELAY_MS = 150

CHILD = r"""
import asyncio, json, os, signal, sys
from collections import Counter
from pathlib import Path

from console.dmp import HttpDmpGateway
from console.domain.deposit import ItemStatus
from console.services.cache import CacheService
from console.services.deposit import BatchDepositService, Doctor, RetryPolicy
from console.smartcard import Pkcs11CardReader, find_softhsm_module

url, sandbox_dir, cache_dir, mode, folder, doctor = sys.argv[1:7]
kill_after = int(os.environ.get("KILL_AFTER_ANSWERS", "0"))


def say(*words):
    print(*words, flush=True)


class KillingGateway:
    # Dies right after the n-th answer of the DMP, before the outbox can record it.
    def __init__(self, gateway):
        self.gateway, self.answers = gateway, 0

    def __getattr__(self, name):
        return getattr(self.gateway, name)

    async def deposit(self, auth, bundle):
        receipt = await self.gateway.deposit(auth, bundle)
        self.answers += 1
        if kill_after and self.answers >= kill_after:
            say("KILLING", receipt.document_id)
            os.kill(os.getpid(), signal.SIGKILL)
        return receipt


async def main():
    personas = json.loads((Path(sandbox_dir) / "personas.json").read_text())
    persona = next(p for p in personas if p["id"] == "secretary")
    reader = Pkcs11CardReader(find_softhsm_module())
    token = next(t for t in await reader.tokens() if t.label == persona["token_label"])
    card = await reader.login(token, persona["pin"])
    gateway = HttpDmpGateway(url, timeout=30)
    nonce = await gateway.challenge()
    signature = await card.sign(nonce.encode(), "RS256")
    login = await gateway.login_with_card(card.certificate_der, nonce, signature, "RS256")
    cache = CacheService(Path(cache_dir))
    opened = await cache.open_with_card(card, persona["profession"])
    say("OPENED", opened.outbox_pending)
    batch = BatchDepositService(
        KillingGateway(gateway), cache=cache, concurrency=4,
        policy=RetryPolicy(base_s=0.05, cap_s=0.5),
    )

    def on_item(item):
        if item.status is ItemStatus.QUEUED and item.master_id:
            say("QUEUED", item.master_id)
        elif item.status is ItemStatus.SENT:
            say("SENT", item.master_id, item.server_id)

    await batch.depositor(login)
    if mode == "start":
        batch.set_listeners(on_item)
        await batch.add_paths([Path(folder)])
        batch.set_doctor(Doctor(doctor))
        progress = await batch.validate()
        say("VALID", progress.total, progress.invalid)
        result = await batch.start(login)
    else:
        restored = await batch.restore()
        say("RESTORED", len(restored), sum(1 for i in restored if not i.status.final))
        batch.set_listeners(on_item)  # from now on: what this run does
        result = await batch.resume(login)
    say("DONE", result.stop.value, result.sent, result.replayed)
    states = Counter(e.state.value for e in await batch.queue().entries())
    say("STATES", json.dumps(states, sort_keys=True, separators=(",", ":")))
    await cache.aclose()
    await card.logout()
    await reader.close()
    await gateway.aclose()


asyncio.run(main())
"""


class Child:
    """One run of the pipeline in a child process, its stdout read as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        stdout = self.process.stdout
        self._reader = threading.Thread(target=self._read, args=(stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: io.TextIOBase) -> None:
        for line in stdout:
            self.lines.append(line.rstrip("\n"))

    def words(self, kind: str) -> list[list[str]]:
        return [line.split()[1:] for line in list(self.lines) if line.split()[:1] == [kind]]

    def wait_for(self, predicate: object, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():  # type: ignore[operator]
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"child stopped or too slow: {self.output()}")
            time.sleep(0.01)

    def finish(self, timeout: float = 180) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=30)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.finish()

    def output(self) -> str:
        stderr = self.process.stderr.read() if self.process.stderr else ""
        return "\n".join(self.lines) + "\n--- stderr ---\n" + stderr[-3000:]

    def close(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def make_pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def server_masters(sandbox: Sandbox, nir: str, tag: str) -> Counter[str]:
    """masterIdentifier -> how many current documents carry it (the hospital doctor's view)."""
    token = sandbox.patient_token("hospital_doctor", nir, consent={"method": "oral"})
    counts: Counter[str] = Counter()
    params = {
        "patient.identifier": f"{sandbox.patients['ins_system']}|{nir}",
        "status": "current",
        "_count": "1000",
    }
    with sandbox.client(token) as client:
        answer = client.get("/DocumentReference", params=params)
        while True:
            answer.raise_for_status()
            bundle = answer.json()
            for entry in bundle.get("entry", []):
                resource = entry["resource"]
                if tag in resource.get("description", ""):
                    counts[resource["masterIdentifier"]["value"]] += 1
            nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not nxt:
                return counts
            answer = client.get(nxt[0])


def test_a_killed_batch_resumes_exactly_once(sandbox: Sandbox, tmp_path: Path) -> None:
    if find_softhsm_module() is None:
        pytest.skip("SoftHSM2 is not installed")
    chronic = sandbox.patients["chronic"]
    nir = next(n for n in sandbox.patients["care_team"]["hospital_doctor"] if n != chronic)
    doctor = sandbox.persona("hospital_doctor")["id_nat"]
    tag = f"crash{random.randrange(10**9)}"
    folder = tmp_path / "lot"
    folder.mkdir()
    for i in range(FILES):
        name = f"{nir}_11488-4_20250304_{tag}_{i:02d}.pdf"
        (folder / name).write_bytes(make_pdf(f"{tag} {i}"))
    cache_dir = tmp_path / "cache"
    args = [sandbox.url, str(sandbox.directory), str(cache_dir), "start", str(folder), doctor]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    delay = {"status": None, "delay_ms": DELAY_MS, "count": 10_000, "path_prefix": "/",
             "method": "POST"}  # fmt: skip
    faults = httpx.Client(base_url=sandbox.url)
    assert faults.post("/sandbox/faults", json=delay).status_code == 201
    children: list[Child] = []
    try:
        # 1. killed by the parent, a few deposits in
        first = Child(args, env)
        children.append(first)
        first.wait_for(lambda: len(first.words("SENT")) >= 6)
        first.kill()
        assert first.process.returncode == -signal.SIGKILL
        queued = {w[0] for w in first.words("QUEUED")}
        assert len(queued) == FILES  # the batch was queued whole before the first request
        acknowledged = {w[0] for w in first.words("SENT")}
        assert 6 <= len(acknowledged) < FILES

        # 2. resumed, and killed right after an answer of the DMP (not yet recorded)
        second = Child([*args[:3], "resume", *args[4:]], {**env, "KILL_AFTER_ANSWERS": "3"})
        children.append(second)
        assert second.finish() == -signal.SIGKILL, second.output()
        (opened,) = second.words("OPENED")
        pending = int(opened[0])
        # every document not reported acknowledged is still queued (a few more may have been
        # acknowledged between the commit and the report the kill cut short)
        assert 0 < pending <= FILES - len(acknowledged)
        restored, unsent = (int(x) for x in second.words("RESTORED")[0])
        assert restored == FILES and unsent == pending
        assert second.words("KILLING"), second.output()

        # 3. resumed to the end (the network is fast again)
        assert faults.delete("/sandbox/faults").status_code in (200, 204)
        third = Child([*args[:3], "resume", *args[4:]], env)
        children.append(third)
        assert third.finish() == 0, third.output()
        (done,) = third.words("DONE")
        stop, sent, replayed = done[0], int(done[1]), int(done[2])
        assert stop == "done" and replayed >= 1  # the answer lost in step 2 came back
        assert json.loads(third.words("STATES")[0][0]) == {"sent": FILES}
        assert sent == len({w[0] for w in third.words("SENT")})
    finally:
        for child in children:
            child.kill()
            child.close()
        faults.delete("/sandbox/faults")
        faults.close()

    counts = server_masters(sandbox, nir, tag)
    assert set(counts) == queued, "every document of the batch is on the DMP"
    assert set(counts.values()) == {1}, "and each exactly once"
