"""The bris de glace attestation: a French PDF (reportlab) given at the end of each episode.

It says who opened the record (name, idNat, profession, structure), when (start, end,
duration, why it ended), the patient (name, INS, birth date), the coded reason and its
label, the justification as typed, each document opened (title, type, date of the act, id,
when opened), the masked documents the bris de glace revealed (marked as such), the server's
episode id, the head of the console's journal after the episode (to tie the attestation to
the local trace), and that the patient was notified.

reportlab is imported inside :func:`render_attestation` (it is slow to import and only needed
here); call it off the GUI thread (``run_in_executor``). Every text that came from the network
or the user (titles, names, justification) is escaped: reportlab's paragraphs read markup.

Fonts: DejaVu Sans when the system has it (every Unicode letter of a name), else Arial, else
the PDF core font Helvetica, whose WinAnsi encoding covers French (characters outside it are
replaced by "?", never by a black box).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from console.domain.emergency import Attestation, OpenedDocument, format_duration
from console.domain.localtime import format_date, format_datetime, format_time

__all__ = ["TITLE", "render_attestation"]

TITLE = "Attestation d'accès en mode bris de glace"

_FONT_CANDIDATES: Sequence[tuple[Path, Path]] = (
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (Path("/usr/share/fonts/TTF/DejaVuSans.ttf"), Path("/usr/share/fonts/TTF/DejaVuSans-Bold.ttf")),
    (
        Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),
        Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf"),
    ),
    (Path(r"C:\Windows\Fonts\arial.ttf"), Path(r"C:\Windows\Fonts\arialbd.ttf")),
    (
        Path("/System/Library/Fonts/Supplemental/Arial.ttf"),
        Path("/System/Library/Fonts/Supplemental/Arial Bold.ttf"),
    ),
    (Path("/Library/Fonts/Arial.ttf"), Path("/Library/Fonts/Arial Bold.ttf")),
)

RED = "#b3141a"
GREY = "#555555"


def _fonts() -> tuple[str, str, bool]:
    """(regular, bold, unicode) font names, registered with reportlab."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for regular, bold in _FONT_CANDIDATES:
        if regular.is_file() and bold.is_file():
            try:
                if "Attestation" not in pdfmetrics.getRegisteredFontNames():
                    pdfmetrics.registerFont(TTFont("Attestation", str(regular)))
                    pdfmetrics.registerFont(TTFont("Attestation-Bold", str(bold)))
            except Exception:  # a broken font file: try the next one
                continue
            return "Attestation", "Attestation-Bold", True
    return "Helvetica", "Helvetica-Bold", False


class _Text:
    """Plain text -> reportlab paragraph markup, safe and printable in the chosen font."""

    def __init__(self, unicode_font: bool) -> None:
        self.unicode_font = unicode_font

    def __call__(self, text: str) -> str:
        if not self.unicode_font:
            text = text.encode("cp1252", "replace").decode("cp1252")
        return escape(text).replace("\n", "<br/>")


def _when(moment: datetime, zone: tzinfo | None) -> str:
    return format_datetime(moment, seconds=True, offset=True, joiner=" à ", zone=zone)


def render_attestation(
    attestation: Attestation, *, zone: tzinfo | None = None, invariant: bool = False
) -> bytes:
    """The attestation as PDF bytes.

    Args:
        attestation: What to attest.
        zone: Time zone of the dates shown (default: the console's display zone, French
            local time: never the computer's, often left on UTC).
        invariant: Reproducible output (no creation date, fixed ids), for tests.
    """
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    regular, bold, unicode_font = _fonts()
    t = _Text(unicode_font)
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
    small_bold = ParagraphStyle("small_bold", parent=small, fontName=bold)
    label = ParagraphStyle("label", parent=base, fontName=bold, textColor=colors.HexColor(GREY))
    title = ParagraphStyle(
        "title", parent=base, fontName=bold, fontSize=16, leading=20, alignment=TA_CENTER
    )
    subtitle = ParagraphStyle(
        "subtitle", parent=base, alignment=TA_CENTER, textColor=colors.HexColor(GREY)
    )
    heading = ParagraphStyle(
        "heading",
        parent=base,
        fontName=bold,
        fontSize=11,
        leading=14,
        textColor=colors.HexColor(RED),
        spaceBefore=8,
        spaceAfter=3,
    )
    a = attestation
    page_width = A4[0] - 36 * mm

    def rows_table(rows: Sequence[tuple[str, str]]) -> Table:
        data = [[Paragraph(t(k), label), Paragraph(t(v), base)] for k, v in rows]
        table = Table(data, colWidths=[48 * mm, page_width - 48 * mm])
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.HexColor("#dddddd")),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        return table

    def section(name: str, body: Any) -> KeepTogether:
        return KeepTogether([Paragraph(t(name), heading), body])

    pro = a.professional
    structure = pro.structure_name or "non communiquée"
    if pro.structure_id:
        structure += f" ({pro.structure_id})"
    patient = a.patient
    birth = patient.birth_date.strftime("%d/%m/%Y") if patient.birth_date else "non renseignée"
    story: list[Any] = [
        Paragraph(t(TITLE.upper()), title),
        Paragraph(t("Dossier médical partagé (DMP) — accès exceptionnel en urgence"), subtitle),
        Spacer(1, 6 * mm),
        section(
            "Professionnel de santé",
            rows_table(
                [
                    ("Nom", pro.name or pro.id_nat),
                    ("Identifiant national (idNat)", pro.id_nat),
                    ("Profession", pro.profession_text or "non communiquée"),
                    ("Structure", structure),
                ]
            ),
        ),
        section(
            "Patient",
            rows_table(
                [
                    ("Nom", patient.display_name),
                    ("INS (NIR)", patient.ins.value),
                    ("Système de l'INS", patient.ins.system),
                    ("Date de naissance", birth),
                ]
            ),
        ),
        section(
            "Accès en mode bris de glace",
            rows_table(
                [
                    ("Début", _when(a.started_at, zone)),
                    ("Fin", _when(a.ended_at, zone)),
                    ("Durée", format_duration(a.duration)),
                    ("Fin de l'accès", a.end_reason.label),
                    ("Motif (code)", f"{a.reason_code} — {a.reason_label}"),
                    ("Justification", a.justification),
                    ("Épisode (serveur DMP)", a.episode_id or "non communiqué"),
                    (
                        "Fin confirmée par le DMP",
                        "oui" if a.server_ended else "non (serveur injoignable à la fin)",
                    ),
                ]
                + ([("Serveur DMP", a.server_label)] if a.server_label else [])
            ),
        ),
    ]

    def documents_table(docs: Sequence[OpenedDocument], *, opened: bool) -> Table:
        header = ["N°", "Titre", "Type", "Date de l'acte", "Identifiant"]
        if opened:
            header.append("Ouvert le")
        data: list[list[Any]] = [[Paragraph(t(h), small_bold) for h in header]]
        masked_rows = []
        for number, doc in enumerate(docs, start=1):
            doc_title = doc.title
            if doc.masked:
                doc_title += "\nDOCUMENT MASQUÉ — révélé par le bris de glace"
                masked_rows.append(number)
            row = [
                Paragraph(str(number), small),
                Paragraph(t(doc_title), small),
                Paragraph(t(f"{doc.type_label} ({doc.type_code})"), small),
                Paragraph(t(format_date(doc.act_date, zone)), small),
                Paragraph(t(doc.id), small),
            ]
            if opened:
                when = format_time(doc.opened_at, seconds=True, zone=zone) if doc.opened_at else ""
                if doc.openings > 1:
                    when += f" ({doc.openings} fois)"
                row.append(Paragraph(t(when), small))
            data.append(row)
        widths = [10 * mm, 0.0, 34 * mm, 23 * mm, 36 * mm]
        if opened:
            widths.append(26 * mm)
        widths[1] = page_width - sum(widths)
        table = Table(data, colWidths=widths, repeatRows=1)
        style = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#bbbbbb")),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        for row_number in masked_rows:
            style.append(
                ("BACKGROUND", (0, row_number), (-1, row_number), colors.HexColor("#fde2e2"))
            )
            style.append(
                ("LINEBEFORE", (0, row_number), (0, row_number), 2.5, colors.HexColor(RED))
            )
        table.setStyle(TableStyle(style))
        return table

    story.append(Paragraph(t(f"Documents consultés ({len(a.documents)})"), heading))
    if a.documents:
        story.append(documents_table(a.documents, opened=True))
    else:
        story.append(Paragraph(t("Aucun document n'a été ouvert pendant cet accès."), base))
    opened_ids = {o.id for o in a.documents}
    unopened = [d for d in a.revealed if d.id not in opened_ids]
    if a.revealed:
        revealed: list[Any] = [
            Paragraph(
                t(f"Documents masqués révélés par le bris de glace ({len(a.revealed)})"), heading
            ),
            Paragraph(
                t(
                    "Ces documents avaient été masqués aux professionnels à la demande du "
                    "patient ; le bris de glace les a rendus visibles. "
                    f"Ouverts : {len(a.revealed) - len(unopened)} (marqués ci-dessus). "
                    f"Listés sans être ouverts : {len(unopened)}."
                ),
                base,
            ),
        ]
        if unopened:
            revealed += [Spacer(1, 2 * mm), documents_table(unopened, opened=False)]
        story.append(KeepTogether(revealed))

    trace = [
        "Le patient est informé de cet accès en mode bris de glace par le DMP (notification "
        "dans Mon espace santé), avec le motif indiqué ci-dessus."
        if a.patient_notified
        else "Le patient n'a pas encore été informé de cet accès.",
        "Chaque consultation a été tracée par le DMP (journal d'audit du serveur) et dans le "
        "journal local de la console, dont chaque entrée est chaînée à la précédente.",
    ]
    if a.journal_head is not None and a.journal_head.seq:
        trace.append(
            f"Journal local après cet accès : entrée n° {a.journal_head.seq}, empreinte "
            f"SHA-256 {a.journal_head.hash}."
        )
    story.append(
        section("Information du patient et traçabilité", Paragraph(t("\n".join(trace)), base))
    )
    story.append(Spacer(1, 8 * mm))
    story.append(
        Paragraph(
            t(
                "Je soussigné(e), "
                f"{pro.name or pro.id_nat}, atteste avoir accédé au dossier médical partagé de "
                "ce patient en mode bris de glace pour le motif et avec la justification "
                "ci-dessus, dans l'intérêt de sa prise en charge en urgence."
            ),
            base,
        )
    )
    story.append(Spacer(1, 14 * mm))
    story.append(Paragraph(t("Signature :"), label))

    generated = _when(a.generated_at, zone)

    def decorate(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFillColor(colors.HexColor(RED))
        canvas.rect(0, A4[1] - 8 * mm, A4[0], 8 * mm, stroke=0, fill=1)
        canvas.setFillColor(colors.white)
        canvas.setFont(bold, 9)
        canvas.drawString(18 * mm, A4[1] - 5.5 * mm, "BRIS DE GLACE — ACCÈS D'URGENCE TRACÉ")
        canvas.setFillColor(colors.HexColor(GREY))
        canvas.setFont(regular, 7.5)
        footer = f"Attestation générée le {generated} par staff-console"
        if not unicode_font:
            footer = footer.encode("cp1252", "replace").decode("cp1252")
        canvas.drawString(18 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=TITLE,
        author="staff-console",
        subject="",
        creator="staff-console",
        invariant=1 if invariant else 0,
    )
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
