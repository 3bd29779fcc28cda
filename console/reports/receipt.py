"""Deposit receipts (PDF, reportlab): one line per document, whatever its outcome.

The receipt lists, for each document: its file, the patient's INS, title, type, date of the
act, ``masterIdentifier``, the DMP's id, its status and the error message if any. It is
patient data: :func:`render_receipt` returns bytes and writes nothing; the view writes them
only where the user chose (a save dialog), never to a temporary or default location.

reportlab is imported when a receipt is made, not when the console starts.
"""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from console.domain.deposit import STATUS_LABELS, BatchReceipt, ItemStatus, ReceiptLine
from console.domain.localtime import format_datetime

__all__ = ["render_receipt"]

_NOTICE = (
    "Ce document contient des données de santé à caractère personnel : conservez-le dans un "
    "espace protégé et ne le transmettez qu'aux personnes habilitées."
)


def _date(value: datetime | None) -> str:
    return format_datetime(value, offset=True) if value is not None else "—"


def _line_cells(index: int, line: ReceiptLine) -> list[str]:
    status = STATUS_LABELS[line.status]
    if line.message:
        status = f"{status} : {line.message}"
    act = line.act_date.strftime("%d/%m/%Y") if line.act_date is not None else ""
    identifiers = line.master_id or "(non attribué)"
    if line.server_id:
        identifiers += f"\nDMP : {line.server_id}"
    return [
        str(index),
        line.file_name,
        line.patient_ins,
        f"{line.title}\n{line.type_label} ({line.type_code})" if line.type_code else line.title,
        act,
        identifiers,
        status,
    ]


def render_receipt(receipt: BatchReceipt, *, generated: datetime | None = None) -> bytes:
    """The receipt as PDF bytes (A4 landscape)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        LongTable,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    cell = ParagraphStyle("cell", parent=styles["Normal"], fontSize=7, leading=8.5)
    head = ParagraphStyle("head", parent=cell, fontName="Helvetica-Bold")
    body = ParagraphStyle("body", parent=styles["Normal"], fontSize=9, leading=11)

    def para(text: str, style: ParagraphStyle = cell) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=receipt.title,
        author="Console DMP",
        invariant=1,
    )
    counts = ", ".join(
        f"{STATUS_LABELS[status]} : {receipt.count(status)}"
        for status in (ItemStatus.SENT, ItemStatus.FAILED, ItemStatus.INVALID, ItemStatus.CANCELLED)
        if receipt.count(status)
    )
    waiting = len(receipt.lines) - sum(
        receipt.count(s)
        for s in (ItemStatus.SENT, ItemStatus.FAILED, ItemStatus.INVALID, ItemStatus.CANCELLED)
    )
    if waiting:
        counts += (", " if counts else "") + f"en attente : {waiting}"
    facts = [
        f"Saisi par : {receipt.depositor or '—'}",
        f"Pour le compte de : {receipt.author or '—'}",
        f"Structure : {receipt.structure or '—'}",
        f"Début : {_date(receipt.started)} — fin : {_date(receipt.finished)}",
        f"Documents : {len(receipt.lines)} ({counts or 'aucun'})",
    ]
    if receipt.batch_id:
        facts.append(f"Lot : {receipt.batch_id}")
    if generated is not None:
        facts.append(f"Accusé établi le {_date(generated)}")
    story: list[object] = [Paragraph(escape(receipt.title), styles["Title"])]
    story.extend(para(fact, body) for fact in facts)
    story.append(Spacer(1, 3 * mm))
    story.append(para(_NOTICE, body))
    story.append(Spacer(1, 4 * mm))
    header = [
        "N°",
        "Fichier",
        "Patient (INS)",
        "Titre / type",
        "Date de l'acte",
        "Référence du dépôt / id DMP",
        "Statut",
    ]
    rows = [[para(h, head) for h in header]]
    rows.extend(
        [para(text) for text in _line_cells(i, line)]
        for i, line in enumerate(receipt.lines, start=1)
    )
    widths = [10 * mm, 40 * mm, 30 * mm, 55 * mm, 20 * mm, 68 * mm, 50 * mm]
    table = LongTable(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.93)),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    story.append(table)
    document.build(story)
    return buffer.getvalue()
