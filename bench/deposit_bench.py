"""``python -m bench deposit``: a secretary's batch through the deposit pipeline, on loopback.

A fresh sandbox (no cards: the secretary logs in through the e-CPS push login, the phone
played by the approve endpoint) is served by a child process. 500 PDFs of about 200 KB
(reportlab, one page with a random 260x260 RGB image: incompressible) are deposited for one
patient on behalf of the secretary's hospital doctor:

- **ours**: :class:`console.services.deposit.BatchDepositService` driven through the
  secretary's screen (:class:`console.views.batch_deposit.BatchDepositView`, shown
  offscreen, its table and progress bar updated as files go), on a qasync loop: files read
  and checked, the batch validated, every bundle built (off the GUI thread) and queued whole
  in a real encrypted cache (SQLCipher, synchronous=FULL; key from an in-memory keychain),
  then sent 4 at a time, the outbox's claim / ack transactions beside the requests;
- **baseline**: a plain sequential ``httpx.Client`` loop posting the same documents'
  bundles (fresh masterIdentifiers, built before the clock starts).

Both runs deposit the same documents with fresh masterIdentifiers (each run stores its own
copies). A ``QTimer`` beats every 10 ms on the GUI thread during our run; the longest gap
between two beats is the GUI's longest stall.

On this loopback the sandbox itself is the limit (one process; 2 CPUs shared with the
client): ``server_ceiling`` shows what any client can get from it.

JSON lines: ``batch_end_to_end`` (validation + queueing + sending, beside the baseline's
sending alone), ``batch_send`` (our sending phase alone), ``server_ceiling`` (a bare async
client, 4 in flight, prebuilt bundles, no outbox: what the sandbox itself allows on this
machine), ``gui_stall`` (max gap, ms), and ``batch_end_to_end_wan``: the same with every
deposit delayed 40 ms by the sandbox's fault injection (what a DMP reached over the
Internet adds; 200 files), ours beside the sequential loop under the same delay.
Goals: ratio >= 3 end to end, no stall over 100 ms.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, note
from console.cache.keys import KeyringBackend
from console.cache.outbox import new_master_id
from console.dmp import HttpDmpGateway
from console.dmp.bundle import bundle_bytes
from console.domain.deposit import ContentKind, DepositDocument, DepositMetadata
from console.domain.dossier import ProfessionalLogin
from console.domain.ins import INS
from console.domain.models import Actor
from console.services.cache import CacheService
from console.services.deposit import BatchDepositService, Doctor
from sandbox.testing import SandboxProcess

BENCH = "deposit"
TYPE_CODE = "11488-4"
STALL_GOAL_MS = 100.0
RATIO_GOAL = 3.0
WAN_DELAY_MS = 40


class _MemoryKeyring:
    """An in-memory OS keychain (the cache's key material for an e-CPS login)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


def _memory_keyring() -> tuple[KeyringBackend | None, str]:
    return _MemoryKeyring(), "in-memory keychain (bench)"


def _pdf(index: int, rng: random.Random, side: int = 260) -> bytes:
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 770, f"DOCUMENT FICTIF - BAC A SABLE DMP - banc de dépôt n° {index}")
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    page.drawImage(ImageReader(image), 72, 400, width=side, height=side)
    page.save()
    return buffer.getvalue()


def _make_files(folder: Path, nir: str, n: int) -> int:
    rng = random.Random(2026)
    total = 0
    for i in range(n):
        data = _pdf(i, rng)
        total += len(data)
        (folder / f"{nir}_{TYPE_CODE}_20250110_Compte_rendu_{i:04d}.pdf").write_bytes(data)
    return total


def _ecps_token(client: httpx.Client, id_nat: str) -> str:
    start = client.post("/auth/ciba", data={"login_hint": id_nat, "binding_message": "BENCH"})
    start.raise_for_status()
    req = start.json()["auth_req_id"]
    client.post(f"/sandbox/ecps/{req}/approve").raise_for_status()
    answer = client.post(
        "/auth/token",
        data={"grant_type": "urn:openid:params:grant-type:ciba", "auth_req_id": req},
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _baseline(url: str, token: str, bundles: list[bytes]) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        start = time.perf_counter()
        for body in bundles:
            client.post("/", content=body).raise_for_status()
        return time.perf_counter() - start


def _ceiling(url: str, token: str, bundles: list[bytes], concurrency: int = 4) -> float:
    """The server's own limit: the same bundles posted by a bare async client, 4 in flight
    (no validation, no outbox, no encryption): no client can beat it by much."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}

    async def post_all() -> float:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            gate = asyncio.Semaphore(concurrency)

            async def post(body: bytes) -> None:
                async with gate:
                    (await client.post("/", content=body)).raise_for_status()

            start = time.perf_counter()
            await asyncio.gather(*(post(b) for b in bundles))
            return time.perf_counter() - start

    return asyncio.run(post_all())


def _baseline_bundles(files: list[Path], nir: str, author: Actor, entered: Actor) -> list[bytes]:
    out = []
    for path in files:
        metadata = DepositMetadata(INS("urn:oid:1.2.250.1.213.1.4.8", nir), TYPE_CODE, path.stem,
                                   date(2025, 1, 10))  # fmt: skip
        document = DepositDocument(
            new_master_id(), metadata, author, ContentKind.PDF, path.read_bytes(), entered
        )
        out.append(bundle_bytes([document]))
    return out


def _ours(
    url: str, token: str, secretary_id: str, doctor_id: str, folder: Path, cache_dir: Path
) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync
    from PySide6.QtCore import QTimer

    from console.views.batch_deposit import BatchDepositView
    from console.views.dossier_view import ensure_application

    app = ensure_application(["bench"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))

    async def run() -> dict[str, Any]:
        gateway = HttpDmpGateway(url, timeout=60.0)
        cache = CacheService(cache_dir, keyring=_memory_keyring)
        try:
            login = ProfessionalLogin(
                secretary_id, "bench", "SECRETARIAT_MEDICAL", token, datetime.now(UTC)
            )
            await cache.open_with_keyring(secretary_id, "SECRETARIAT_MEDICAL")
            batch = BatchDepositService(gateway, cache=cache, concurrency=4)
            view = BatchDepositView(batch, login)  # the secretary's screen, shown, listening
            view.resize(1200, 800)
            view.show()
            await view.initialize()
            batch.set_doctor(Doctor(doctor_id, "Dr bench"))
            timer.start()
            beats.append(time.perf_counter())
            t0 = time.perf_counter()
            await view.add_paths([folder])
            await view.validate()
            progress = batch.progress()
            t1 = time.perf_counter()
            sending: dict[str, float] = {}
            show_progress = view._progress_changed

            def on_progress(p: Any) -> None:
                if p.running and "start" not in sending:
                    sending["start"] = time.perf_counter()
                show_progress(p)

            batch.set_listeners(view._item_changed, on_progress)
            result = await batch.start(login)
            t2 = time.perf_counter()
            beats.append(time.perf_counter())
            timer.stop()
            rows = view.model.rowCount()
            view.close()
            done = batch.progress()
            return {
                "validate_s": t1 - t0,
                "queue_s": sending.get("start", t2) - t1,
                "send_s": t2 - sending.get("start", t1),
                "total_s": t2 - t0,
                "sent": done.sent,
                "invalid": progress.invalid,
                "stop": result.stop.value,
                "retries": result.retried,
                "rows": rows,
            }
        finally:
            await cache.aclose()
            await gateway.aclose()

    try:
        figures: dict[str, Any] = loop.run_until_complete(run())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    figures["max_gap_ms"] = max(gaps, default=0.0) * 1000
    figures["beats"] = len(beats)
    return figures


def run(*, quick: bool = False) -> None:
    n = 60 if quick else 500
    with tempfile.TemporaryDirectory(prefix="bench-deposit-") as tmp:
        root = Path(tmp)
        directory = root / "sandbox"
        note("sandbox init...")
        subprocess.run(
            [sys.executable, "-m", "sandbox", "init", str(directory), "--no-cards",
             "--patients", "8", "--chronic-docs", "50"],
            check=True, capture_output=True,
        )  # fmt: skip
        personas = {p["id"]: p for p in json.loads((directory / "personas.json").read_text())}
        patients = json.loads((directory / "patients.json").read_text())
        secretary = personas["secretary"]
        doctor = personas["hospital_doctor"]
        nir = patients["chronic"]
        folder = root / "files"
        folder.mkdir()
        note(f"making {n} PDFs of about 200 KB...")
        size = _make_files(folder, nir, n)
        files = sorted(folder.iterdir())
        author = Actor(doctor["id_nat"], "10", structure_id=secretary["structure"]["id"])
        entered = Actor(secretary["id_nat"], "SECRETARIAT_MEDICAL")
        with SandboxProcess(directory) as sandbox:
            with httpx.Client(base_url=sandbox.url, timeout=30) as client:
                token = _ecps_token(client, secretary["id_nat"])
            note("baseline: sequential httpx loop...")
            bundles = _baseline_bundles(files, nir, author, entered)
            baseline_s = _baseline(sandbox.url, token, bundles)
            note("ceiling: bare concurrent httpx client, 4 in flight...")
            bundles = _baseline_bundles(files, nir, author, entered)
            ceiling_s = _ceiling(sandbox.url, token, bundles)
            del bundles
            note("ours: batch pipeline on a qasync loop...")
            ours = _ours(
                sandbox.url, token, secretary["id_nat"], doctor["id_nat"], folder, root / "cache"
            )
            n_wan = min(n, 200)
            wan_folder = root / "files-wan"
            wan_folder.mkdir()
            for path in files[:n_wan]:
                (wan_folder / path.name).write_bytes(path.read_bytes())
            note(f"same, {WAN_DELAY_MS} ms of latency per deposit ({n_wan} files)...")
            with httpx.Client(base_url=sandbox.url, timeout=30) as client:
                rule = {"status": None, "delay_ms": WAN_DELAY_MS, "count": 10 * n_wan,
                        "path_prefix": "/", "method": "POST"}  # fmt: skip
                client.post("/sandbox/faults", json=rule).raise_for_status()
                bundles = _baseline_bundles(files[:n_wan], nir, author, entered)
                wan_baseline_s = _baseline(sandbox.url, token, bundles)
                del bundles
                wan = _ours(
                    sandbox.url,
                    token,
                    secretary["id_nat"],
                    doctor["id_nat"],
                    wan_folder,
                    root / "cache-wan",
                )
                client.delete("/sandbox/faults").raise_for_status()
        ratio_goal = f">= {RATIO_GOAL:g}x the sequential loop"
        emit(BENCH, "batch_end_to_end", n, ours["total_s"], baseline_s,
             mean_kb=round(size / n / 1024, 1), validate_s=round(ours["validate_s"], 3),
             queue_s=round(ours["queue_s"], 3), send_s=round(ours["send_s"], 3),
             sent=ours["sent"], retries=ours["retries"], stop=ours["stop"], goal=ratio_goal,
             concurrency=4)  # fmt: skip
        emit(BENCH, "batch_send", n, ours["send_s"], baseline_s, goal=ratio_goal)
        emit(BENCH, "server_ceiling", n, ceiling_s, baseline_s,
             what="bare httpx.AsyncClient, 4 in flight, bundles prebuilt, no outbox")  # fmt: skip
        emit(BENCH, "gui_stall", ours["beats"], ours["max_gap_ms"] / 1000,
             max_gap_ms=round(ours["max_gap_ms"], 1),
             goal=f"<= {STALL_GOAL_MS:g} ms")  # fmt: skip
        emit(BENCH, "batch_end_to_end_wan", n_wan, wan["total_s"], wan_baseline_s,
             latency_ms=WAN_DELAY_MS, send_s=round(wan["send_s"], 3), sent=wan["sent"],
             max_gap_ms=round(wan["max_gap_ms"], 1), goal=ratio_goal,
             what=f"each deposit delayed {WAN_DELAY_MS} ms by the sandbox")  # fmt: skip
