"""Bodies of the seeded documents: one-page PDFs (reportlab), CDA R2 XML and plain text.

Every body is a pure function of its :class:`DocumentContent`: the PDFs are made with
reportlab's *invariant* mode (fixed creation date and file id), so the same content gives
the same bytes, run after run. Every body says plainly that it is fictitious.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

FICTITIOUS_LABEL = "DOCUMENT FICTIF - BAC À SABLE DMP"
SYNTHETIC_NOTE = "Données synthétiques générées pour les tests : aucune personne réelle."

PDF = "application/pdf"
TEXT = "text/plain"
CDA = "text/xml"
CONTENT_TYPES = (PDF, TEXT, CDA)

INS_NIR_OID = "1.2.250.1.213.1.4.8"
RPPS_OID = "1.2.250.1.71.4.2.1"
"""OID of the national identifiers of professionals (idNat) in CDA headers."""
STRUCTURE_OID = "1.2.250.1.71.4.2.2"
LOINC_OID = "2.16.840.1.113883.6.1"
TRE_A05_OID = "1.2.250.1.213.1.1.4.12"
DOCUMENT_ID_ROOT = "1.2.250.1.999.1.1"
"""Root of the sandbox's document OIDs (the 999 arc marks test data)."""

_RED = Color(0.75, 0.05, 0.05)
_GREY = Color(0.35, 0.35, 0.35)
_MARGIN = 50.0


@dataclass(frozen=True, slots=True)
class DocumentContent:
    """What a body shows: header (structure, author), patient, title, date and text."""

    document_id: str
    title: str
    type_code: str
    type_label: str
    act_time: datetime
    structure_id: str
    structure_name: str
    author_id_nat: str
    author_name: str
    """As signed: "Dr Claire MARTIN"."""
    author_given_name: str
    author_family_name: str
    author_profession: str
    """Profession label ("Médecin - Cardiologie et maladies vasculaires")."""
    patient_ins: str
    patient_family_name: str
    patient_given_names: str
    patient_gender: str
    patient_birth_date: date
    lines: tuple[str, ...]

    @property
    def patient_name(self) -> str:
        return f"{self.patient_given_names.split()[0]} {self.patient_family_name}"


def french_date(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def render(content: DocumentContent, content_type: str) -> bytes:
    """The body of ``content`` as ``content_type`` (one of :data:`CONTENT_TYPES`)."""
    if content_type == PDF:
        return render_pdf(content)
    if content_type == CDA:
        return render_cda(content)
    if content_type == TEXT:
        return render_text(content)
    raise ValueError(f"unsupported content type {content_type!r}")


# -- PDF -------------------------------------------------------------------------------------


def render_pdf(content: DocumentContent) -> bytes:
    """A small one-page A4 PDF (2-3 kB): header, patient box, title, text, fictitious label."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(content.title)
    canvas.setAuthor(content.author_name)
    canvas.setSubject(content.type_label)
    canvas.setCreator("dmp-sandbox")
    width, height = A4
    right = width - _MARGIN
    text_width = width - 2 * _MARGIN

    canvas.setFillColor(_RED)
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawCentredString(width / 2, height - 30, FICTITIOUS_LABEL)

    canvas.setFillColor(black)
    y = height - 62
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(_MARGIN, y, content.structure_name)
    canvas.setFont("Helvetica", 9)
    canvas.drawString(_MARGIN, y - 13, content.author_name)
    canvas.drawString(_MARGIN, y - 25, content.author_profession)
    canvas.setFillColor(_GREY)
    canvas.drawString(_MARGIN, y - 37, f"Identifiant national : {content.author_id_nat}")

    canvas.setFillColor(black)
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawRightString(right, y, content.patient_name)
    canvas.setFont("Helvetica", 9)
    born = "Née le" if content.patient_gender == "female" else "Né le"
    canvas.drawRightString(right, y - 13, f"{born} {french_date(content.patient_birth_date)}")
    canvas.drawRightString(right, y - 25, f"INS (NIR) : {content.patient_ins}")

    y -= 58
    canvas.line(_MARGIN, y + 8, right, y + 8)
    canvas.setFont("Helvetica-Bold", 13)
    for part in simpleSplit(content.title, "Helvetica-Bold", 13, text_width):
        y -= 16
        canvas.drawString(_MARGIN, y, part)
    canvas.setFont("Helvetica", 9)
    canvas.setFillColor(_GREY)
    y -= 14
    canvas.drawString(
        _MARGIN,
        y,
        f"{content.type_label} - le {french_date(content.act_time)}"
        f" à {content.act_time.strftime('%Hh%M')}",
    )
    canvas.setFillColor(black)
    canvas.setFont("Helvetica", 10)
    y -= 10
    for line in content.lines:
        y -= 6
        for part in simpleSplit(line, "Helvetica", 10, text_width):
            y -= 13
            canvas.drawString(_MARGIN, y, part)
    y -= 30
    canvas.setFont("Helvetica-Oblique", 9)
    canvas.drawString(_MARGIN, y, content.author_name)

    canvas.setFont("Helvetica", 7.5)
    canvas.setFillColor(_GREY)
    canvas.drawString(_MARGIN, 40, SYNTHETIC_NOTE)
    canvas.setFillColor(_RED)
    canvas.setFont("Helvetica-Bold", 8)
    canvas.drawRightString(right, 40, FICTITIOUS_LABEL)
    canvas.showPage()
    canvas.save()
    return buf.getvalue()


# -- plain text ------------------------------------------------------------------------------


def render_text(content: DocumentContent) -> bytes:
    born = "Née le" if content.patient_gender == "female" else "Né le"
    birth = french_date(content.patient_birth_date)
    parts = [
        f"*** {FICTITIOUS_LABEL} ***",
        "",
        content.structure_name,
        f"{content.author_name} - {content.author_profession}",
        "",
        f"Patient : {content.patient_name}, {born.lower()} {birth}",
        f"INS (NIR) : {content.patient_ins}",
        "",
        content.title,
        f"{content.type_label} - le {french_date(content.act_time)}"
        f" à {content.act_time.strftime('%Hh%M')}",
        "",
        *content.lines,
        "",
        content.author_name,
        "",
        SYNTHETIC_NOTE,
        "",
    ]
    return "\n".join(parts).encode("utf-8")


# -- CDA R2 ------------------------------------------------------------------------------------


def _cda_time(value: datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S%z") if value.tzinfo else value.strftime("%Y%m%d%H%M%S")


def _type_code_attrs(content: DocumentContent) -> str:
    system = LOINC_OID if content.type_code[:1].isdigit() else TRE_A05_OID
    system_name = "LOINC" if system == LOINC_OID else "TRE_A05-TypeDocComplementaire"
    return (
        f"code={quoteattr(content.type_code)} codeSystem={quoteattr(system)}"
        f" codeSystemName={quoteattr(system_name)} displayName={quoteattr(content.type_label)}"
    )


def render_cda(content: DocumentContent) -> bytes:
    """A minimal, well-formed CDA R2 document with a structuredBody (one section)."""
    gender = "F" if content.patient_gender == "female" else "M"
    given = "".join(f"<given>{escape(g)}</given>" for g in content.patient_given_names.split())
    paragraphs = "\n".join(
        f"            <paragraph>{escape(line)}</paragraph>" for line in content.lines
    )
    author = (
        f"<given>{escape(content.author_given_name)}</given>"
        f"<family>{escape(content.author_family_name)}</family>"
    )
    label = f"{FICTITIOUS_LABEL} - {SYNTHETIC_NOTE}"
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.8.2.1"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root={quoteattr(DOCUMENT_ID_ROOT)} extension={quoteattr(content.document_id)}/>
  <code {_type_code_attrs(content)}/>
  <title>{escape(content.title)}</title>
  <effectiveTime value="{_cda_time(content.act_time)}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root={quoteattr(DOCUMENT_ID_ROOT)} extension={quoteattr(content.document_id)}/>
  <versionNumber value="1"/>
  <recordTarget>
    <patientRole>
      <id root="{INS_NIR_OID}" extension={quoteattr(content.patient_ins)}/>
      <patient>
        <name>{given}<family qualifier="BR">{escape(content.patient_family_name)}</family></name>
        <administrativeGenderCode code="{gender}" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="{content.patient_birth_date.strftime("%Y%m%d")}"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="{_cda_time(content.act_time)}"/>
    <assignedAuthor>
      <id root="{RPPS_OID}" extension={quoteattr(content.author_id_nat)}/>
      <assignedPerson>
        <name>{author}</name>
      </assignedPerson>
      <representedOrganization>
        <id root="{STRUCTURE_OID}" extension={quoteattr(content.structure_id)}/>
        <name>{escape(content.structure_name)}</name>
      </representedOrganization>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="1.2.250.1.213.4.1" extension="DMP-SANDBOX"/>
        <name>DMP - bac à sable</name>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
  <component>
    <structuredBody>
      <component>
        <section>
          <code {_type_code_attrs(content)}/>
          <title>{escape(content.title)}</title>
          <text>
            <paragraph>{escape(label)}</paragraph>
{paragraphs}
          </text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"""
    return xml.encode("utf-8")
