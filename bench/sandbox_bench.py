"""``python -m bench sandbox``: the sandbox's search latency and deposit throughput on loopback.

A fresh sandbox (default seed, no cards: the GP logs in through the e-CPS push login, the
phone played by the approve endpoint) is served by a child process; the GP opens the chronic
patient and the figures are wall times seen by an httpx client.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from functools import partial
from pathlib import Path

import httpx

from bench.common import emit, median_time, note
from console.domain.ins import INS
from sandbox.fhir import DocumentToSubmit, submission_bundle
from sandbox.testing import SandboxProcess


def _ecps_login(client: httpx.Client, id_nat: str) -> str:
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


def _all_pages(client: httpx.Client, params: dict[str, str | int]) -> int:
    answer = client.get("/DocumentReference", params=params)
    count = 0
    while True:
        answer.raise_for_status()
        bundle = answer.json()
        count += len(bundle.get("entry", []))
        nxt = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
        if not nxt:
            return count
        answer = client.get(nxt[0])


def run(*, quick: bool = False) -> None:
    chronic_docs = 500 if quick else 3000
    deposits = 20 if quick else 200
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        directory = Path(tmp) / "sandbox"
        note(f"sandbox init ({chronic_docs} documents for the chronic patient)...")
        subprocess.run(
            [sys.executable, "-m", "sandbox", "init", str(directory), "--no-cards",
             "--patients", "12", "--chronic-docs", str(chronic_docs)],
            check=True, capture_output=True,
        )  # fmt: skip
        with SandboxProcess(directory) as server:
            personas = {p["id"]: p for p in server.personas()}
            patients = server.patients()
            gp = personas["gp"]["id_nat"]
            ins = patients["chronic"]
            system = patients["ins_system"]
            with httpx.Client(base_url=server.url, timeout=60) as client:
                pro = _ecps_login(client, gp)
                access = client.post(
                    "/auth/access",
                    json={"patient": f"{system}|{ins}", "mode": "normal"},
                    headers={"Authorization": f"Bearer {pro}"},
                )
                access.raise_for_status()
                client.headers["Authorization"] = f"Bearer {access.json()['access_token']}"
                base = {"patient.identifier": f"{system}|{ins}"}
                total = client.get("/DocumentReference", params={**base, "_count": 1}).json()[
                    "total"
                ]

                def page() -> None:
                    client.get(
                        "/DocumentReference", params={**base, "_count": 100}
                    ).raise_for_status()

                emit("sandbox", "search_chronic_first_page_100", 100, median_time(page, 15))
                for size in (100, 1000):
                    params: dict[str, str | int] = {**base, "_count": size}
                    seconds = median_time(partial(_all_pages, client, params), 3)
                    emit(
                        "sandbox", f"search_chronic_all_pages_of_{size}", total, seconds,
                        docs_per_s=round(total / seconds),
                    )  # fmt: skip

                body = b"%PDF-1.4\n" + b"0" * 20_000 + b"\n%%EOF\n"
                patient = INS(system, ins)
                start = time.perf_counter()
                for i in range(deposits):
                    doc = DocumentToSubmit(
                        master_id=f"urn:uuid:{uuid.uuid4()}",
                        type_code="11488-4",
                        title=f"CR de consultation bench {i}",
                        author_id_nat=gp,
                        created=date.today(),
                        data=body,
                    )
                    client.post("/", json=submission_bundle(patient, [doc])).raise_for_status()
                seconds = time.perf_counter() - start
                emit(
                    "sandbox", "deposit_sequential_20kB", deposits, seconds,
                    docs_per_s=round(deposits / seconds, 1),
                )  # fmt: skip
