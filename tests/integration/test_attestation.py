"""The bris de glace attestation (console.reports.attestation) from a real bris de glace on the
sandbox: its text read back with pypdf, its pages rendered with poppler's pdftoppm."""

from __future__ import annotations

import gc
import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from console.domain.dossier import AccessGrant, DocumentQuery, PatientRecord
from console.domain.emergency import (
    Attestation,
    EmergencyEpisode,
    EndReason,
    ProfessionalIdentity,
)
from console.domain.ins import INS
from console.domain.journal import JournalHead
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.reports.attestation import render_attestation
from tests.integration.conftest import Sandbox
from tests.integration.test_emergency import BRIS, JUSTIFICATION, make_console

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread() -> None:
    """Qt objects left in reference cycles by earlier GUI tests must be collected here, on the
    GUI thread: a collection triggered on a worker thread (the attestation's rendering, the
    cache's or the card's worker) would destroy them there (Qt warns, and may crash)."""
    gc.collect()


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def render_pages(data: bytes, directory: Path) -> list[Path]:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    source = directory / "attestation.pdf"
    source.write_bytes(data)
    subprocess.run(
        [pdftoppm, "-r", "60", "-png", str(source), str(directory / "page")],
        check=True,
        capture_output=True,
    )
    return sorted(directory.glob("page-*.png"))


@pytest.mark.asyncio
async def test_the_attestation_of_a_real_bris_de_glace(sandbox: Sandbox, tmp_path: Path) -> None:
    masked = sandbox.patients["with_masked"]
    console = await make_console(sandbox.url, sandbox)
    try:
        patient = await console.patient(sandbox, masked["ins"])
        dossier = await console.dossiers.open(patient, BRIS)
        listed: list[DocumentMeta] = []
        async for page in console.dossiers.search(dossier, [DocumentQuery(page_size=200)]):
            listed.extend(page.documents)
        hidden = [d for d in listed if d.masked]
        plain = [d for d in listed if not d.masked]
        assert {d.id for d in hidden} <= set(masked["document_ids"]) and hidden
        opened = [hidden[0], plain[0]]
        for doc in opened:
            await console.dossiers.retrieve(dossier, doc)
        task = console.service.stop()
        assert task is not None
        ended = await task
        episode = ended.episode
    finally:
        await console.service.aclose()
        await console.gateway.aclose()

    assert ended.attestation is not None and ended.attestation.startswith(b"%PDF")
    text = flat(pdf_text(ended.attestation))
    persona = sandbox.persona("emergency")
    for expected in (
        "ATTESTATION D'ACCÈS EN MODE BRIS DE GLACE",
        "Karim BENALI",
        persona["id_nat"],
        "Médecin",
        "Centre hospitalier de Saint-Martin (1997000456)",
        patient.display_name,
        patient.ins.value,
        patient.birth_date.strftime("%d/%m/%Y") if patient.birth_date else "non renseignée",
        "URGENCE_VITALE — Urgence vitale : patient hors d'état d'exprimer sa volonté, risque "
        "immédiat",
        JUSTIFICATION,
        "Fin de l'accès arrêté par le professionnel",
        "Fin confirmée par le DMP oui",
        f"Documents consultés ({len(opened)})",
        "DOCUMENT MASQUÉ — révélé par le bris de glace",
        f"Documents masqués révélés par le bris de glace ({len(hidden)})",
        "Le patient est informé de cet accès en mode bris de glace",
    ):
        assert expected in text, expected
    squeezed = re.sub(r"\s+", "", text)
    assert episode.episode_id in squeezed
    for doc in opened:
        assert doc.id in squeezed
        assert re.sub(r"\s+", "", doc.title) in squeezed
    head = re.search(r"entrée n° (\d+), empreinte SHA-256 ([0-9a-f]+)", text)
    assert head is not None and int(head.group(1)) == 4  # start, 2 documents, end

    pages = render_pages(ended.attestation, tmp_path)
    assert pages and all(p.stat().st_size > 5000 for p in pages)
    assert pages[0].read_bytes().startswith(b"\x89PNG")


T0 = datetime(2025, 3, 14, 21, 0, tzinfo=UTC)


def synthetic(n_docs: int, *, name: str = "Zoë Ŀaurence-Œdipe") -> Attestation:
    patient = PatientRecord(
        INS.parse("255081416802538"), "Dupont", name, date(1955, 8, 14), "female"
    )
    grant = AccessGrant(patient, AccessMode.BRIS_DE_GLACE, "t", T0 + timedelta(hours=1), "f" * 32)
    who = ProfessionalIdentity("899700000029", "Karim BENALI", "10", "Médecin")
    episode = EmergencyEpisode.start(
        grant,
        who,
        reason_code="AUTRE_URGENCE",
        justification="Motif <b>gras</b> & <a href='x'>lien</a>\nseconde ligne",
        now=T0,
    )
    docs = [
        DocumentMeta(f"{i:032x}", "m", patient.ins.value, "11488-4", "10", f"Compte rendu {i}",
                     "x", T0 - timedelta(days=i), T0,
                     visibility=frozenset({Visibility.MASQUE_PS}) if i % 7 == 0 else frozenset())
        for i in range(1, n_docs + 1)
    ]  # fmt: skip
    episode.record_listed(docs)
    for i, doc in enumerate(docs):
        episode.record_opened(doc, T0 + timedelta(seconds=30 * i))
    episode.end(EndReason.EXPIRED, T0 + timedelta(hours=1))
    episode.server_ended = False
    return Attestation.of(episode, generated_at=T0, journal_head=JournalHead(12, "c" * 64))


def test_text_is_printed_as_typed_never_as_markup(tmp_path: Path) -> None:
    data = render_attestation(synthetic(3), invariant=True)
    text = flat(pdf_text(data))
    assert "Motif <b>gras</b> & <a href='x'>lien</a> seconde ligne" in text
    assert "Zoë Ŀaurence-Œdipe" in text  # a Unicode font: every letter of a name
    assert "non (serveur injoignable à la fin)" in text
    assert "durée maximale écoulée" in text and "Durée 1 h 00 min" in text
    assert render_attestation(synthetic(3), invariant=True) == data  # reproducible


def test_a_long_list_of_documents_spans_pages(tmp_path: Path) -> None:
    data = render_attestation(synthetic(60))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 3
    text = flat(pdf_text(data))
    assert "Documents consultés (60)" in text
    assert "Page 3" in text
    assert "Compte rendu 60" in text
    pages = render_pages(data, tmp_path)
    assert len(pages) == len(reader.pages)
    assert all(p.stat().st_size > 3000 for p in pages)
