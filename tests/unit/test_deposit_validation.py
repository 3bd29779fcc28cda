"""``console.domain.deposit``: what is checked before anything is sent.

File content (PDF, CDA R2, text; size; hashes), metadata, duplicates in a batch, the CSV
manifest with its per-line errors, and the file-name rule.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from console.domain.deposit import (
    DEFAULT_MAX_BODY_BYTES,
    ContentKind,
    DepositDraft,
    Field,
    InvalidIdentifierError,
    Prefill,
    Problem,
    act_start,
    check_content,
    check_size,
    draft_from_file_name,
    duplicate_issues,
    max_file_bytes,
    parse_manifest,
    prefill,
    validate_batch,
    validate_draft,
    validate_ps_id_nat,
)
from console.domain.ins import INS_NIR_SYSTEM, INS_NIR_TEST_SYSTEM, nir_key
from console.domain.models import Visibility

TODAY = date(2026, 1, 15)


def nir(body13: str) -> str:
    return f"{body13}{nir_key(body13):02d}"


NIR = nir("2550814168025")
NIR_CORSICA = nir("185072A123456")


def make_pdf(text: str = "Compte rendu") -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.save()
    return buffer.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


CDA = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>CR</title></ClinicalDocument>'
)


def problems(name: str, data: bytes, **kwargs: int) -> list[Problem]:
    return [i.problem for i in check_content(name, data, **kwargs).issues]


# -- content --------------------------------------------------------------------------------------


def test_a_valid_pdf_passes_with_its_hashes() -> None:
    data = make_pdf()
    checked = check_content("cr.pdf", data)
    assert checked.ok and checked.kind is ContentKind.PDF
    assert checked.sha1 == hashlib.sha1(data).hexdigest()
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.size == len(data)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("cr.pdf", b"", Problem.EMPTY),
        ("cr.pdf", b"PK\x03\x04 a word document renamed", Problem.NOT_PDF),
        ("cr.pdf", b"Bonjour, ceci est du texte", Problem.NOT_PDF),
        ("cr.docx", b"PK\x03\x04", Problem.UNSUPPORTED),
        ("cr.xml", b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>", Problem.MALFORMED_XML),
        ("cr.xml", b"<html><body>x</body></html>", Problem.NOT_CDA),
        ("cr.xml", b"<ClinicalDocument><title/></ClinicalDocument>", Problem.NOT_CDA),
        ("cr.txt", "Résumé".encode("latin-1"), Problem.NOT_TEXT),
        ("cr.txt", b"abc\x00def", Problem.NOT_TEXT),
        ("cr.txt", b"  \n\t ", Problem.EMPTY),
    ],
)
def test_bad_content_is_named(name: str, data: bytes, expected: Problem) -> None:
    checked = check_content(name, data)
    assert not checked.ok and checked.kind is None
    assert [i.problem for i in checked.issues] == [expected]
    assert all(i.field is Field.FILE and i.message for i in checked.issues)


def test_truncated_pdfs_are_refused() -> None:
    data = make_pdf()
    assert problems("a.pdf", data[: len(data) // 2]) == [Problem.TRUNCATED_PDF]
    assert problems("a.pdf", data[:-40]) == [Problem.TRUNCATED_PDF]  # %%EOF cut off
    # %%EOF present but the xref offset points past the end, or at garbage
    tail = data.rsplit(b"startxref", 1)
    assert problems("a.pdf", tail[0] + b"startxref\n99999999\n%%EOF\n") == [Problem.TRUNCATED_PDF]
    assert problems("a.pdf", tail[0] + b"startxref\n10\n%%EOF\n") == [Problem.TRUNCATED_PDF]
    assert problems("a.pdf", data.replace(b"startxref", b"startxrex")) == [Problem.TRUNCATED_PDF]


def test_an_encrypted_pdf_is_refused() -> None:
    data = encrypted_pdf()
    assert PdfReader(io.BytesIO(data)).is_encrypted
    assert problems("secret.pdf", data) == [Problem.ENCRYPTED_PDF]


def _xref_stream_pdf(encrypted: bool) -> bytes:
    body = b"%PDF-1.5\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    offset = len(body)
    extra = b" /Encrypt 3 0 R" if encrypted else b""
    body += b"2 0 obj\n<< /Type /XRef /Size 3 /W [1 2 1] /Root 1 0 R" + extra
    body += b" /Length 0 >>\nstream\n\nendstream\nendobj\n"
    return body + b"startxref\n%d\n%%%%EOF\n" % offset


def test_cross_reference_streams_are_read() -> None:
    assert problems("a.pdf", _xref_stream_pdf(encrypted=False)) == []
    assert problems("a.pdf", _xref_stream_pdf(encrypted=True)) == [Problem.ENCRYPTED_PDF]


def test_cda_and_text_pass() -> None:
    assert check_content("cr.xml", CDA).kind is ContentKind.CDA
    assert check_content("cr.xml", b"\xef\xbb\xbf" + CDA).kind is ContentKind.CDA
    assert check_content("note.txt", b"Compte rendu : RAS.").kind is ContentKind.TEXT
    assert check_content("note.txt", "\ufeffé".encode()).kind is ContentKind.TEXT


def test_xml_with_a_dtd_or_entities_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert problems("cr.xml", bomb) == [Problem.MALFORMED_XML]


def test_unknown_extension_is_sniffed() -> None:
    assert check_content("scan", make_pdf()).kind is ContentKind.PDF
    assert check_content("export.dat", CDA).kind is ContentKind.CDA
    assert problems("notes.md", b"# notes") == [Problem.UNSUPPORTED]


def test_size_limit_counts_base64_and_is_configurable() -> None:
    limit = max_file_bytes()
    assert limit < DEFAULT_MAX_BODY_BYTES  # base64 makes 4 of 3
    assert limit * 4 / 3 < DEFAULT_MAX_BODY_BYTES
    assert max_file_bytes(4 * 1024 * 1024) == (4 * 1024 * 1024 - 64 * 1024) * 3 // 4
    data = make_pdf()
    assert problems("a.pdf", data, max_bytes=len(data) - 1) == [Problem.TOO_LARGE]
    assert problems("a.pdf", data, max_bytes=len(data)) == []
    issue = check_size(limit + 1)
    assert issue is not None and issue.problem is Problem.TOO_LARGE
    assert "Mo" in issue.message
    assert check_size(0) is not None and check_size(10) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["a.pdf", "a.xml", "a.txt", "a", "a.bin"]))
def test_content_checks_never_raise(data: bytes, name: str) -> None:
    checked = check_content(name, data)
    assert checked.ok == (not checked.issues)


# -- metadata -------------------------------------------------------------------------------------


def good_draft(**changes: object) -> DepositDraft:
    values: dict[str, object] = {
        "ins": NIR,
        "type_code": "11488-4",
        "title": "Consultation du 14 janvier",
        "act_date": date(2026, 1, 14),
    }
    values.update(changes)
    return DepositDraft(**values)  # type: ignore[arg-type]


def test_a_valid_draft_gives_metadata() -> None:
    draft = good_draft(
        title="  Consultation   du 14  ", visibility=frozenset({Visibility.MASQUE_PS})
    )
    metadata, issues = validate_draft(draft, today=TODAY, replaces="abc")
    assert issues == ()
    assert metadata is not None
    assert metadata.patient.system == INS_NIR_SYSTEM and metadata.patient.value == NIR
    assert metadata.title == "Consultation du 14"
    assert metadata.visibility == {Visibility.MASQUE_PS}
    assert metadata.replaces == "abc"


def test_an_ins_token_with_the_test_system_is_kept() -> None:
    metadata, _ = validate_draft(good_draft(ins=f"{INS_NIR_TEST_SYSTEM}|{NIR}"), today=TODAY)
    assert metadata is not None and metadata.patient.system == INS_NIR_TEST_SYSTEM
    metadata, _ = validate_draft(good_draft(ins=NIR_CORSICA.lower()), today=TODAY)
    assert metadata is not None and metadata.patient.value == NIR_CORSICA


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"ins": ""}, Problem.MISSING_INS),
        ({"ins": NIR[:-2] + "00"}, Problem.INVALID_INS),
        ({"ins": "12345"}, Problem.INVALID_INS),
        ({"type_code": ""}, Problem.MISSING_TYPE),
        ({"type_code": "99999-9"}, Problem.UNKNOWN_TYPE),
        ({"title": "   "}, Problem.MISSING_TITLE),
        ({"title": "x" * 300}, Problem.INVALID_TITLE),
        ({"title": "a\x07b"}, Problem.INVALID_TITLE),
        ({"act_date": None}, Problem.MISSING_DATE),
        ({"act_date": TODAY + timedelta(days=1)}, Problem.FUTURE_DATE),
        ({"act_date": date(1850, 1, 1)}, Problem.INVALID_DATE),
    ],
)
def test_each_metadata_problem_is_named(changes: dict[str, object], expected: Problem) -> None:
    metadata, issues = validate_draft(good_draft(**changes), today=TODAY)
    assert metadata is None
    assert [i.problem for i in issues] == [expected]


def test_every_problem_is_reported_at_once_without_echoing_the_ins() -> None:
    bad = DepositDraft(ins=NIR[:-2] + "00", type_code="nope", title="", act_date=None)
    _, issues = validate_draft(bad, today=TODAY)
    assert {i.field for i in issues} == {Field.INS, Field.TYPE, Field.TITLE, Field.DATE}
    assert all(NIR[:13] not in i.message for i in issues)


def test_today_is_not_the_future_and_is_sent_as_an_instant() -> None:
    paris = timezone(timedelta(hours=1))
    now = datetime(2026, 1, 15, 0, 30, 12, 345, tzinfo=paris)  # 23:30 UTC the day before
    assert validate_draft(good_draft(act_date=now.date()), today=now.date())[1] == ()
    start = act_start(now.date(), now)
    assert isinstance(start, datetime) and start == now.replace(microsecond=0)
    assert start.astimezone(UTC) < datetime(2026, 1, 15, tzinfo=UTC)
    assert act_start(date(2026, 1, 10), now) == date(2026, 1, 10)
    with pytest.raises(ValueError):
        act_start(TODAY, datetime(2026, 1, 15))  # naive


# -- batches --------------------------------------------------------------------------------------


def test_the_same_file_twice_is_a_duplicate_after_its_first_occurrence() -> None:
    found = duplicate_issues([("a.pdf", "h1"), ("b.pdf", "h2"), ("c.pdf", "h1"), ("d", None)])
    assert list(found) == [2]
    assert found[2].problem is Problem.DUPLICATE and "a.pdf" in found[2].message


def test_a_batch_is_validated_whole() -> None:
    pdf = make_pdf("un")
    rows = [
        (good_draft(), check_content("ok.pdf", pdf)),
        (good_draft(), check_content("same.pdf", pdf)),
        (good_draft(ins="123"), check_content("ok2.pdf", make_pdf("deux"))),
        (good_draft(), check_content("empty.pdf", b"")),
        (good_draft(), None),
        (good_draft(act_date=TODAY + timedelta(days=3)), check_content("f.pdf", make_pdf("3"))),
    ]
    results = validate_batch(rows, today=TODAY)
    assert results[0][0] is not None and results[0][1] == ()
    assert [[i.problem for i in issues] for _, issues in results[1:]] == [
        [Problem.DUPLICATE],
        [Problem.INVALID_INS],
        [Problem.EMPTY],
        [Problem.UNREADABLE],
        [Problem.FUTURE_DATE],
    ]
    assert all(metadata is None for metadata, _ in results[1:])


def test_a_doctor_is_a_professional_id_nat() -> None:
    assert validate_ps_id_nat(" 899700000094 ") == "899700000094"
    with pytest.raises(InvalidIdentifierError, match="CPE"):
        validate_ps_id_nat("1997000456/SEC0042")
    for bad in ("", "12", "8997000000941", "89970000009A"):
        with pytest.raises(InvalidIdentifierError):
            validate_ps_id_nat(bad)


# -- manifest -------------------------------------------------------------------------------------


def test_a_french_excel_manifest_is_read() -> None:
    text = (
        "\ufeffFichier;INS;Type;Titre;Date de l'acte;Masqué PS;Invisible patient;"
        "Invisible représentants\n"
        f"cr1.pdf;{NIR};11488-4;Consultation;14/01/2026;non;oui;\n"
        f"sous-dossier/CR2.PDF;{NIR_CORSICA};11502-2;Biologie;2026-01-10;x;;1\n"
    )
    manifest = parse_manifest(text.encode("utf-8"))
    assert manifest.errors == ()
    first = manifest.entry("CR1.pdf")
    assert first is not None and first.issues == ()
    assert first.draft == DepositDraft(
        NIR, "11488-4", "Consultation", date(2026, 1, 14), frozenset({Visibility.INVISIBLE_PATIENT})
    )
    second = manifest.entry("/elsewhere/cr2.pdf")
    assert second is not None and second.line == 3
    assert second.draft.act_date == date(2026, 1, 10)
    assert second.draft.visibility == {
        Visibility.MASQUE_PS,
        Visibility.INVISIBLE_REPRESENTANTS_LEGAUX,
    }


def test_manifest_lines_report_their_own_errors_and_the_rest_is_kept() -> None:
    text = (
        "file,ins,type,title,date,masked\n"
        f"a.pdf,{NIR},11488-4,A,31/02/2026,no\n"  # no such day
        f",{NIR},11488-4,B,01/01/2026,no\n"  # no file name
        f"c.pdf,{NIR},11488-4,C,01/01/2026,peut-être\n"  # bad flag
        f"a.pdf,{NIR},11488-4,again,01/01/2026,no\n"  # twice
        "\n"
        f"d.pdf,not-a-nir,XXXX,D,2026-01-01,yes\n"  # INS and type kept for validate_draft
    )
    manifest = parse_manifest(text)
    assert [e.line for e in manifest.errors] == [3, 5]
    assert "nom de fichier" in manifest.errors[0].message
    assert "ligne 2" in manifest.errors[1].message
    a = manifest.entry("a.pdf")
    assert a is not None and a.draft.act_date is None and a.draft.title == "A"
    assert [i.problem for i in a.issues] == [Problem.INVALID_DATE]
    c = manifest.entry("c.pdf")
    assert c is not None and [i.problem for i in c.issues] == [Problem.INVALID_FLAG]
    d = manifest.entry("d.pdf")
    assert d is not None and d.issues == () and d.draft.visibility == {Visibility.MASQUE_PS}
    _, issues = validate_draft(d.draft, today=TODAY)
    assert {i.problem for i in issues} == {Problem.INVALID_INS, Problem.UNKNOWN_TYPE}


def test_manifest_without_a_file_column_or_empty_is_an_error() -> None:
    assert parse_manifest("ins;type\n1;2\n").errors[0].line == 1
    assert parse_manifest(b"").errors[0].line == 0
    assert parse_manifest("fichier\tins\na.pdf\t" + NIR).entry("a.pdf") is not None


def test_an_unreadable_manifest_line_stops_the_reading_there() -> None:
    text = f"fichier;titre\na.pdf;A\nb.pdf;{'x' * 200_000}\nc.pdf;C\n"  # over csv's field limit
    manifest = parse_manifest(text)
    assert list(manifest.entries) == ["a.pdf"]
    assert manifest.errors[0].line == 3 and "illisible" in manifest.errors[0].message


def test_a_windows_1252_manifest_is_read() -> None:
    text = f"fichier;ins;titre\na.pdf;{NIR};Compte rendu opératoire\n"
    entry = parse_manifest(text.encode("cp1252")).entry("a.pdf")
    assert entry is not None and entry.draft.title == "Compte rendu opératoire"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_manifest_parsing_never_raises(text: str) -> None:
    manifest = parse_manifest(text)
    assert all(e.file_name for e in manifest.entries.values())


# -- file names -----------------------------------------------------------------------------------


def test_the_file_name_rule() -> None:
    draft = draft_from_file_name(f"{NIR}_11488-4_20260114_Compte_rendu_de_consultation.pdf")
    assert draft == DepositDraft(NIR, "11488-4", "Compte rendu de consultation", date(2026, 1, 14))
    # type codes with underscores, Corsica, lower-case code, no title
    draft = draft_from_file_name(f"{NIR_CORSICA.lower()}_bil_auto_20251231.pdf")
    assert draft is not None
    assert (draft.ins, draft.type_code, draft.title) == (NIR_CORSICA, "BIL_AUTO", "")
    bad_date = draft_from_file_name(f"{NIR}_11488-4_20261341_x.pdf")
    assert bad_date is not None and bad_date.act_date is None
    assert draft_from_file_name("scan 0001.pdf") is None
    assert draft_from_file_name(f"{NIR}_11488-4.pdf") is None


def test_prefill_prefers_the_manifest_then_the_file_name() -> None:
    name = f"{NIR}_11488-4_20260114_CR.pdf"
    manifest = parse_manifest(f"fichier;type;date\n{name};11502-2;01/12/2025\n")
    draft, issues, source = prefill(name, manifest)
    assert source is Prefill.MANIFEST and issues == ()
    assert (draft.type_code, draft.act_date, draft.ins) == ("11502-2", date(2025, 12, 1), "")
    assert draft.title == f"{NIR} 11488-4 20260114 CR"  # no title in the manifest: the name
    draft, _, source = prefill(name, parse_manifest("fichier\nother.pdf\n"))
    assert source is Prefill.FILE_NAME and draft.type_code == "11488-4" and draft.title == "CR"
    draft, _, source = prefill("Scan_du_jour.pdf")
    assert source is Prefill.NONE and draft == DepositDraft(title="Scan du jour")
