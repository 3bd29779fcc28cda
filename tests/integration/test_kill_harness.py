"""The crash harness: a secretary's batch killed with SIGKILL at random points, across
queuing, sending and resuming, then resumed to the end; the DMP must hold exactly one copy
of every file of the batch, none missing.

Each seed draws its kill times from its own ``random.Random(seed)`` (deterministic draws; where
they land depends on the machine's speed, which is the point: queuing, sending and the
restore each get hit over the seeds). Queuing runs in groups of 3 (``ENQUEUE_GROUP``) so that
a kill falls between two groups often. A resumed run adds again the files a kill left
unqueued (``BatchDepositService.add_unqueued``), then sends everything. Bounded: at most
``KILLS`` kills per seed, each run at most a few seconds, the last run to the end.

Figures (runs, kills, where they fell, lost, duplicated) are printed for the closing note.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from console.smartcard import find_softhsm_module
from tests.integration.conftest import Sandbox
from tests.integration.test_batch_crash import CHILD, REPO, Child, make_pdf

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEEDS = (11, 23, 37)
FILES = 24
KILLS = 3
DELAY_MS = 250

_START = CHILD.index("    await batch.depositor(login)\n    if mode")
_END = CHILD.index('    say("DONE"')
HARNESS_CHILD = (
    CHILD[:_START].replace(
        "url, sandbox_dir, cache_dir, mode, folder, doctor = sys.argv[1:7]",
        "import console.services.deposit as _deposit\n"
        "_deposit.ENQUEUE_GROUP = int(os.environ.get('ENQUEUE_GROUP', '50'))\n"
        "_groups = int(os.environ.get('KILL_AFTER_GROUPS', '0'))\n"
        "_enqueue = _deposit.CacheDepositQueue.enqueue\n"
        "async def _killing_enqueue(self, deposits):\n"
        "    global _groups\n"
        "    out = await _enqueue(self, deposits)\n"
        "    _groups -= 1\n"
        "    if _groups == 0:\n"
        "        print('KILLING queuing', flush=True)\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return out\n"
        "_deposit.CacheDepositQueue.enqueue = _killing_enqueue\n"
        "url, sandbox_dir, cache_dir, mode, folder, doctor = sys.argv[1:7]",
    )
    # As the batch screen does: what an earlier run left first (restore), then a new batch.
    + """    await batch.depositor(login)
    restored = await batch.restore()
    say("RESTORED", len(restored), sum(1 for i in restored if not i.status.final))
    say("UNQUEUED", len(batch.unqueued))
    batch.set_listeners(on_item)
    if batch.unqueued:
        await batch.add_unqueued()
        await batch.validate()
        result = await batch.start(login)
    elif any(not i.status.final for i in restored):
        result = await batch.resume(login)
    else:
        await batch.add_paths([Path(folder)])
        batch.set_doctor(Doctor(doctor))
        progress = await batch.validate()
        say("VALID", progress.total, progress.invalid)
        result = await batch.start(login)
"""
    + CHILD[_END:]
)
assert HARNESS_CHILD.count("_deposit.ENQUEUE_GROUP") == 1


def server_titles(sandbox: Sandbox, nir: str, tag: str) -> Counter[str]:
    """Title -> how many current documents of the patient carry it (the batch's tag only)."""
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
                description = entry["resource"].get("description", "")
                if tag in description:
                    counts[description] += 1
            nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not nxt:
                return counts
            answer = client.get(nxt[0])


def phase(child: Child) -> str:
    """Where the kill fell, from what the child had reported."""
    queued, sent = len(child.words("QUEUED")), len(child.words("SENT"))
    if not child.words("RESTORED"):
        return "login"
    if not (queued or sent):
        return "restore"
    if child.words("VALID") and not sent:
        return "queuing"
    return "sending"


@pytest.mark.parametrize("seed", SEEDS)
def test_random_kills_lose_nothing_and_duplicate_nothing(
    sandbox: Sandbox, tmp_path: Path, seed: int
) -> None:
    if find_softhsm_module() is None:
        pytest.skip("SoftHSM2 is not installed")
    rng = random.Random(seed)
    chronic = sandbox.patients["chronic"]
    nir = next(n for n in sandbox.patients["care_team"]["hospital_doctor"] if n != chronic)
    doctor = sandbox.persona("hospital_doctor")["id_nat"]
    tag = f"kill{seed}x{random.randrange(10**6)}"
    folder = tmp_path / "lot"
    folder.mkdir()
    for i in range(FILES):
        name = f"{nir}_11488-4_20250304_{tag}_{i:02d}.pdf"
        (folder / name).write_bytes(make_pdf(f"{tag} {i}"))
    titles = {f"{tag} {i:02d}" for i in range(FILES)}
    cache_dir = tmp_path / "cache"
    args = [sandbox.url, str(sandbox.directory), str(cache_dir), "start", str(folder), doctor]
    env = dict(os.environ, PYTHONPATH=str(REPO), ENQUEUE_GROUP="3")
    delay = {"status": None, "delay_ms": DELAY_MS, "count": 100_000, "path_prefix": "/",
             "method": "POST"}  # fmt: skip
    faults = httpx.Client(base_url=sandbox.url)
    assert faults.post("/sandbox/faults", json=delay).status_code == 201
    kills: list[str] = []
    runs = 0
    try:
        # the first run kills itself between two queue groups (a kill while queuing, the
        # audit's worst case); the others are killed from outside at random times
        groups = rng.randint(1, FILES // 3 - 1)
        first = _child(HARNESS_CHILD, args, {**env, "KILL_AFTER_GROUPS": str(groups)})
        runs += 1
        first.finish(timeout=120)
        assert first.words("KILLING"), first.output()
        # killed right after the commit of group `groups`, before it was reported
        assert len(first.words("QUEUED")) == 3 * (groups - 1)
        kills.append("queuing")
        first.close()
        for _ in range(KILLS - 1):
            child = _child(HARNESS_CHILD, args, env)
            runs += 1
            # the child takes ~1.5 s to import and log in with the card: kills fall from
            # the card login to the middle of the sending
            time.sleep(rng.uniform(1.2, 4.5))
            if child.process.poll() is None:
                where = phase(child)
                child.kill()
                kills.append(where)
            else:
                child.finish()
            child.close()
        assert faults.delete("/sandbox/faults").status_code in (200, 204)
        last = _child(HARNESS_CHILD, args, env)
        runs += 1
        code = last.finish(timeout=120)
        output = last.output()
        last.close()
        assert code == 0, output
    finally:
        faults.delete("/sandbox/faults")
        faults.close()
    counts = server_titles(sandbox, nir, tag)
    lost = titles - set(counts)
    duplicated = {t: n for t, n in counts.items() if n > 1}
    print(
        f"seed {seed}: {runs} runs, {len(kills)} kills ({Counter(kills)}), "
        f"{len(lost)} lost, {sum(n - 1 for n in duplicated.values())} duplicated"
    )
    assert lost == set(), f"never deposited: {sorted(lost)}"
    assert duplicated == {}, f"deposited more than once: {duplicated}"
    assert set(counts) == titles


def _child(code: str, args: list[str], env: dict[str, str]) -> Child:
    """A :class:`Child` running ``code`` instead of the crash test's script."""
    import subprocess
    import sys
    import threading

    child = Child.__new__(Child)
    child.lines = []
    child.process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.process.stdout is not None
    child._reader = threading.Thread(target=child._read, args=(child.process.stdout,), daemon=True)
    child._reader.start()
    return child
