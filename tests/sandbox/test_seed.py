"""The seeded sandbox: deterministic, valid identities, DMP types, special patients, bodies."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from console.domain.habilitation import habilitation_matrix
from console.domain.ins import INS_NIR_SYSTEM, validate_nir
from console.domain.terminology import terminology
from console.resources import RESOURCES_DIR
from sandbox import documents, names
from sandbox.personas import BY_ID, PERSONAS
from sandbox.seed import (
    PATIENTS_FILE,
    PERSONAS_FILE,
    SEED_ANCHOR,
    SENSITIVE_TYPES,
    SeedOptions,
    generate,
    init_sandbox,
    make_nir,
    vaccine_codes,
)
from sandbox.store import DB_NAME

REF = date(2026, 1, 15)
SMALL = SeedOptions(patients=8, seed=11, chronic_docs=200, reference_date=REF, cards=False)
SEEDED_TABLES = (
    "structures",
    "professionals",
    "patients",
    "authorisations",
    "blocks",
    "documents",
    "binaries",
    "immunizations",
)

pytestmark = pytest.mark.integration


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("seed") / "sandbox"
    init_sandbox(directory, SMALL)
    return directory


@pytest.fixture(scope="module")
def db(small_dir: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{small_dir / DB_NAME}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def patients_json(small_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((small_dir / PATIENTS_FILE).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def personas_json(small_dir: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((small_dir / PERSONAS_FILE).read_text(encoding="utf-8"))
    return data


def dump(directory: Path) -> list[str]:
    """The seeded tables as SQL text (bodies included), in a stable order."""
    conn = sqlite3.connect(directory / DB_NAME)
    try:
        lines: list[str] = []
        for table in SEEDED_TABLES:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY {columns[0]}, {columns[1]}"):
                lines.append(f"{table} {row!r}")
        meta = conn.execute("SELECT key, value FROM meta WHERE key != 'initialised_at'")
        lines += [f"meta {row!r}" for row in sorted(meta)]
        return lines
    finally:
        conn.close()


def rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    return db.execute(sql, params).fetchall()


# -- determinism ------------------------------------------------------------------------------


def test_same_options_give_the_same_data(small_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    init_sandbox(again, SMALL)
    assert dump(again) == dump(small_dir)
    for name in (PERSONAS_FILE, PATIENTS_FILE):
        assert (again / name).read_bytes() == (small_dir / name).read_bytes()


def test_another_seed_gives_other_data(small_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_sandbox(other, SeedOptions(**{**_fields(SMALL), "seed": 12}))
    theirs, ours = dump(other), dump(small_dir)
    assert [line for line in theirs if line.startswith("patients")] != [
        line for line in ours if line.startswith("patients")
    ]
    ours_ids = _document_ids(ours)
    assert len(ours_ids) > SMALL.chronic_docs
    assert not _document_ids(theirs) & ours_ids


@pytest.mark.parametrize(
    "other_day",
    [REF + timedelta(days=1), REF + timedelta(days=400), date(2028, 2, 29), date(2031, 12, 31)],
)
def test_the_same_seed_gives_the_same_data_on_any_day(other_day: date) -> None:
    """People, NIRs, identifiers, document mixes and states depend on the seed alone; every
    date moves by the same number of days as the reference date."""
    options = SeedOptions(patients=8, seed=11, chronic_docs=60, reference_date=REF)
    ours = generate(options)
    theirs = generate(SeedOptions(**{**_fields(options), "reference_date": other_day}))
    shift = other_day - REF
    assert [p.ins for p in theirs.patients] == [p.ins for p in ours.patients]
    for mine, other in zip(ours.patients, theirs.patients, strict=True):
        assert (other.family_name, other.given_names, other.special) == (
            mine.family_name,
            mine.given_names,
            mine.special,
        )
        assert other.birth_date == mine.birth_date + shift
    assert len(theirs.docs) == len(ours.docs)
    for mine_doc, other_doc in zip(ours.docs, theirs.docs, strict=True):
        assert (other_doc.id, other_doc.master_id, other_doc.draft.type_code) == (
            mine_doc.id,
            mine_doc.master_id,
            mine_doc.draft.type_code,
        )
        assert (other_doc.status, other_doc.archived, other_doc.draft.visibility) == (
            mine_doc.status,
            mine_doc.archived,
            mine_doc.draft.visibility,
        )
        assert other_doc.draft.created == mine_doc.draft.created + shift
        assert other_doc.deposited == mine_doc.deposited + shift
    assert [(i.id, i.vaccine.code) for i in theirs.immunizations] == [
        (i.id, i.vaccine.code) for i in ours.immunizations
    ]
    assert [i.occurrence for i in theirs.immunizations] == [
        i.occurrence + shift for i in ours.immunizations
    ]
    moved = [
        (ins, who, kind, how, datetime.fromisoformat(at) - shift)
        for ins, who, kind, how, at in theirs.links.authorisations
    ]
    assert moved == [
        (ins, who, kind, how, datetime.fromisoformat(at))
        for ins, who, kind, how, at in ours.links.authorisations
    ]
    assert [r.recorded_at - shift for r in theirs.entourage.related] == [
        r.recorded_at for r in ours.entourage.related
    ]


def test_bodies_show_the_moved_dates() -> None:
    """A document's title and body show its date on the reference date's calendar."""
    late = SeedOptions(patients=6, seed=11, chronic_docs=50, reference_date=date(2030, 7, 1))
    result = generate(late)
    dated = [d for d in result.docs if " du " in d.draft.title and d.content_type == documents.TEXT]
    assert dated
    for doc in dated[:20]:
        text = doc.body.decode("utf-8")
        shown = doc.draft.created.strftime("%d/%m/%Y")
        assert shown in text


def _document_ids(lines: list[str]) -> set[str]:
    return {line.split("'")[1] for line in lines if line.startswith("documents ")}


def _fields(options: SeedOptions) -> dict[str, Any]:
    return {
        "patients": options.patients,
        "seed": options.seed,
        "chronic_docs": options.chronic_docs,
        "reference_date": options.reference_date,
        "cards": options.cards,
    }


def test_meta_records_the_options(db: sqlite3.Connection) -> None:
    meta = {r["key"]: r["value"] for r in rows(db, "SELECT key, value FROM meta")}
    assert meta["seed"] == "11"
    assert meta["reference_date"] == REF.isoformat()
    assert meta["patients"] == "8"
    assert meta["chronic_docs"] == "200"
    assert meta["cards"] == "0"


# -- patients ---------------------------------------------------------------------------------


def test_every_nir_is_valid_and_matches_the_patient(db: sqlite3.Connection) -> None:
    patients = rows(db, "SELECT * FROM patients")
    assert len(patients) == SMALL.patients
    for p in patients:
        nir = p["ins"]
        assert validate_nir(nir) == nir
        assert p["ins_system"] == INS_NIR_SYSTEM
        born = date.fromisoformat(p["birth_date"])
        assert nir[0] == ("1" if p["gender"] == "male" else "2")
        # The NIR was given as of the anchor's record (and never changes with the reference
        # date): its birth year and month are those of the birth date before it moved.
        born_then = born - (REF - SEED_ANCHOR)
        assert nir[1:3] == f"{born_then.year % 100:02d}"
        assert nir[3:5] == f"{born_then.month:02d}"
        assert nir[5:10] == p["birth_place"]
        assert 0 <= (REF - born).days <= 96 * 366
        assert p["family_name"].isupper()
        assert p["given_names"].split()


def test_one_patient_was_born_in_corsica(db: sqlite3.Connection) -> None:
    corsicans = [
        p for p in rows(db, "SELECT * FROM patients") if p["birth_place"][:2] in ("2A", "2B")
    ]
    assert corsicans
    for p in corsicans:
        assert date.fromisoformat(p["birth_date"]).year >= 1976  # 2A/2B exist since 1976


@given(
    gender=st.sampled_from(["male", "female"]),
    born=st.dates(min_value=date(1930, 1, 1), max_value=date(2026, 1, 1)),
    place=st.sampled_from(
        [
            *names.BIRTH_PLACES_METRO,
            *names.BIRTH_PLACES_CORSICA,
            *names.BIRTH_PLACES_OVERSEAS,
            *names.BIRTH_PLACES_ABROAD,
        ]
    ),
    order=st.integers(min_value=1, max_value=999),
)
def test_make_nir_is_always_valid(
    gender: str, born: date, place: names.BirthPlace, order: int
) -> None:
    nir = make_nir(gender, born, place.code, order)
    assert validate_nir(nir) == nir
    assert len(nir) == 15


def test_special_patients_have_their_property(
    db: sqlite3.Connection, patients_json: dict[str, Any]
) -> None:
    gp, emergency = BY_ID["gp"].id_nat, BY_ID["emergency"].id_nat

    def patient(ins: str) -> sqlite3.Row:
        found = rows(db, "SELECT * FROM patients WHERE ins = ?", (ins,))
        assert len(found) == 1, ins
        return found[0]

    chronic = patient(patients_json["chronic"])
    assert chronic["medecin_traitant"] == gp
    n_chronic = rows(
        db, "SELECT COUNT(*) AS n FROM documents WHERE patient_ins = ?", (chronic["ins"],)
    )[0]["n"]
    assert n_chronic >= SMALL.chronic_docs
    span = rows(
        db,
        "SELECT MIN(created) AS first, COUNT(DISTINCT type_code) AS types FROM documents"
        " WHERE patient_ins = ?",
        (chronic["ins"],),
    )[0]
    assert datetime.fromisoformat(span["first"]).date() < REF - timedelta(days=10 * 365)
    assert span["types"] >= 15

    assert patient(patients_json["opposed_bris_de_glace"])["opposed_bris_de_glace"] == 1
    assert patient(patients_json["opposed_centre_15"])["opposed_centre_15"] == 1

    blocked = patients_json["blocked"]
    assert blocked["persona"] == "emergency"
    blocks = rows(db, "SELECT id_nat FROM blocks WHERE patient_ins = ?", (blocked["ins"],))
    assert [tuple(r) for r in blocks] == [(emergency,)]
    assert not rows(
        db,
        "SELECT 1 FROM authorisations WHERE patient_ins = ? AND id_nat = ?",
        (blocked["ins"], emergency),
    )

    minor = patient(patients_json["minor"])
    age = (REF - date.fromisoformat(minor["birth_date"])).days / 365.25
    assert 8.9 < age < 10.1

    masked = patients_json["with_masked"]
    assert masked["author"] == "hospital_doctor"
    assert patient(masked["ins"])["medecin_traitant"] == gp
    assert len(masked["document_ids"]) >= 3
    for doc_id in masked["document_ids"]:
        doc = rows(db, "SELECT * FROM documents WHERE id = ?", (doc_id,))[0]
        assert doc["patient_ins"] == masked["ins"]
        assert "MASQUE_PS" in doc["visibility"].split()
        assert doc["author_id_nat"] == BY_ID["hospital_doctor"].id_nat
        assert doc["status"] == "current"
        assert doc["archived"] == 0
    others = rows(
        db,
        "SELECT id FROM documents WHERE patient_ins = ? AND visibility LIKE '%MASQUE_PS%'",
        (masked["ins"],),
    )
    assert sorted(r["id"] for r in others) == sorted(masked["document_ids"])

    specials = [
        patients_json[k] for k in ("chronic", "opposed_bris_de_glace", "opposed_centre_15", "minor")
    ] + [blocked["ins"], masked["ins"]]
    assert len(set(specials)) == 6


def test_treated_by_gp_are_her_patients(
    db: sqlite3.Connection, patients_json: dict[str, Any]
) -> None:
    treated = patients_json["treated_by_gp"]
    assert patients_json["chronic"] in treated
    assert patients_json["with_masked"]["ins"] in treated
    by_mt = rows(db, "SELECT ins FROM patients WHERE medecin_traitant = ?", (BY_ID["gp"].id_nat,))
    assert sorted(r["ins"] for r in by_mt) == sorted(treated)


def test_care_teams_and_mt_equivalents(
    db: sqlite3.Connection, patients_json: dict[str, Any]
) -> None:
    for kind in ("care_team", "mt_equivalent"):
        for persona_id, ins_list in patients_json[kind].items():
            for ins in ins_list:
                assert rows(
                    db,
                    "SELECT 1 FROM authorisations WHERE patient_ins = ? AND id_nat = ?"
                    " AND kind = ?",
                    (ins, BY_ID[persona_id].id_nat, kind),
                ), (persona_id, ins, kind)
    # every persona who reads has patients in her care, whatever --patients is
    for persona_id in ("nurse", "pharmacist", "dentist", "physio", "midwife", "hospital_doctor"):
        assert patients_json["care_team"][persona_id], persona_id
    assert "secretary" not in patients_json["care_team"]
    for row in rows(db, "SELECT * FROM authorisations"):
        assert row["kind"] in ("care_team", "mt_equivalent")
        assert datetime.fromisoformat(row["created_at"]).date() < REF


def test_matrix_tests_have_forbidden_documents_to_hide(
    db: sqlite3.Connection, patients_json: dict[str, Any]
) -> None:
    """Each non-doctor persona's care-team patients hold types her matrix row forbids."""
    matrix = habilitation_matrix()
    for persona_id in ("nurse", "pharmacist", "dentist", "physio"):
        profession = BY_ID[persona_id].profession
        for ins in patients_json["care_team"].get(persona_id, []):
            types = {
                r["type_code"]
                for r in rows(
                    db,
                    "SELECT type_code FROM documents WHERE patient_ins = ? AND status = 'current'",
                    (ins,),
                )
            }
            assert any(not matrix.allows(profession, t) for t in types), (persona_id, ins)
            assert any(matrix.allows(profession, t) for t in types), (persona_id, ins)
    sensitive = rows(
        db,
        "SELECT DISTINCT type_code FROM documents WHERE type_code IN"
        f" ({','.join('?' * len(SENSITIVE_TYPES))})",
        SENSITIVE_TYPES,
    )
    assert {r["type_code"] for r in sensitive} == set(SENSITIVE_TYPES)


# -- documents --------------------------------------------------------------------------------


def test_documents_are_dmp_types_with_their_class(db: sqlite3.Connection) -> None:
    term = terminology()
    docs = rows(db, "SELECT * FROM documents")
    for doc in docs:
        dtype = term.type(doc["type_code"])
        assert doc["type_system"] == dtype.system
        assert doc["class_code"] == dtype.class_code
    assert len({d["type_code"] for d in docs}) >= 20


def test_authors_come_from_the_directory(db: sqlite3.Connection) -> None:
    pros = {r["id_nat"]: r for r in rows(db, "SELECT * FROM professionals")}
    structures = {r["id"]: r for r in rows(db, "SELECT * FROM structures")}
    secretary = BY_ID["secretary"]
    deposits_for = {BY_ID[p].id_nat for p in secretary.deposits_for}
    for doc in rows(db, "SELECT * FROM documents"):
        author = pros[doc["author_id_nat"]]
        assert doc["author_profession"] == author["profession"]
        assert doc["author_name"] == f"{author['given_name']} {author['family_name']}"
        assert doc["structure_id"] == author["structure_id"]
        assert doc["structure_name"] == structures[author["structure_id"]]["name"]
        assert author["role"] != "secretary"
        if doc["entered_by"] is not None:
            assert doc["entered_by"] == secretary.id_nat
            assert doc["author_id_nat"] in deposits_for
    assert len(pros) >= len(PERSONAS) + 30
    professions = Counter(p["profession"] for p in pros.values())
    assert {"10", "21", "40", "50", "60", "70", "93"} <= set(professions)
    for persona in PERSONAS:
        row = pros[persona.id_nat]
        assert (row["profession"], row["role"], row["structure_id"], row["card_kind"]) == (
            persona.profession,
            persona.role,
            persona.structure.id,
            persona.card_kind,
        )


def test_dates_states_and_identifiers(db: sqlite3.Connection) -> None:
    ref = datetime(REF.year, REF.month, REF.day, tzinfo=UTC)
    docs = rows(db, "SELECT * FROM documents")
    by_id = {d["id"]: d for d in docs}
    for doc in docs:
        created = datetime.fromisoformat(doc["created"])
        deposited = datetime.fromisoformat(doc["deposited"])
        assert created.tzinfo is not None
        assert created <= deposited < ref
        assert doc["status"] in ("current", "superseded", "entered-in-error")
        assert doc["master_id"].startswith(("urn:oid:1.2.250.1.999.", "urn:uuid:"))
        assert len(doc["id"]) == 32
        for code in doc["visibility"].split():
            assert code in ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")
        if doc["replaces"] is not None:
            old = by_id[doc["replaces"]]
            assert old["status"] == "superseded"
            assert (old["patient_ins"], old["type_code"]) == (doc["patient_ins"], doc["type_code"])
            assert doc["created"] > old["created"]
    superseded = [d for d in docs if d["status"] == "superseded"]
    assert {d["id"] for d in superseded} == {d["replaces"] for d in docs if d["replaces"]}
    states = Counter(d["status"] for d in docs)
    assert states["current"] > 0.9 * len(docs)
    assert superseded and states["entered-in-error"]
    assert any(d["archived"] for d in docs)
    visibility = Counter(code for d in docs for code in d["visibility"].split())
    assert visibility["MASQUE_PS"] >= 3


def test_bodies_match_their_metadata(db: sqlite3.Connection) -> None:
    docs = rows(
        db,
        "SELECT d.id, d.content_type, d.size, d.sha1, b.content_type AS body_type, b.data"
        " FROM documents d JOIN binaries b ON b.id = d.id",
    )
    assert len(docs) == rows(db, "SELECT COUNT(*) AS n FROM documents")[0]["n"]
    for doc in docs:
        assert doc["body_type"] == doc["content_type"]
        assert doc["size"] == len(doc["data"])
        assert doc["sha1"] == hashlib.sha1(doc["data"]).hexdigest()
    types = Counter(d["content_type"] for d in docs)
    assert set(types) == {documents.PDF, documents.TEXT, documents.CDA}
    assert types[documents.PDF] > 0.75 * len(docs)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_pdf_bodies_show_the_title_and_the_fictitious_label(db: sqlite3.Connection) -> None:
    docs = rows(
        db,
        "SELECT d.title, d.author_name, b.data FROM documents d JOIN binaries b ON b.id = d.id"
        " WHERE d.content_type = 'application/pdf' ORDER BY d.id LIMIT 80",
    )
    assert len(docs) == 80
    for doc in docs:
        reader = PdfReader(io.BytesIO(doc["data"]))
        assert len(reader.pages) == 1
        text = _flat(reader.pages[0].extract_text())
        assert _flat(doc["title"]) in text
        assert documents.FICTITIOUS_LABEL in text
        assert reader.metadata is not None and reader.metadata.title == doc["title"]
        assert len(doc["data"]) < 8000


def test_cda_bodies_are_well_formed_cda(db: sqlite3.Connection) -> None:
    docs = rows(
        db,
        "SELECT d.type_code, d.title, d.patient_ins, b.data FROM documents d"
        " JOIN binaries b ON b.id = d.id WHERE d.content_type = 'text/xml'",
    )
    assert docs
    ns = {"cda": "urn:hl7-org:v3"}
    for doc in docs:
        root = ET.fromstring(doc["data"])
        assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
        code = root.find("cda:code", ns)
        assert code is not None and code.get("code") == doc["type_code"]
        assert root.findtext("cda:title", namespaces=ns) == doc["title"]
        patient_id = root.find("cda:recordTarget/cda:patientRole/cda:id", ns)
        assert patient_id is not None and patient_id.get("extension") == doc["patient_ins"]
        section = root.find("cda:component/cda:structuredBody/cda:component/cda:section", ns)
        assert section is not None
        assert section.findall("cda:text/cda:paragraph", ns)


def test_text_bodies_are_utf8_and_labelled(db: sqlite3.Connection) -> None:
    docs = rows(
        db,
        "SELECT d.title, b.data FROM documents d JOIN binaries b ON b.id = d.id"
        " WHERE d.content_type = 'text/plain'",
    )
    assert docs
    for doc in docs:
        text = doc["data"].decode("utf-8")
        assert documents.FICTITIOUS_LABEL in text
        assert doc["title"] in text


def test_immunizations_use_known_vaccines(db: sqlite3.Connection) -> None:
    known = {(v.system, v.code) for v in vaccine_codes()}
    if (RESOURCES_DIR / "vaccines.json").exists():
        shipped = json.loads((RESOURCES_DIR / "vaccines.json").read_text(encoding="utf-8"))
        assert known == {(shipped["system"], v["code"]) for v in shipped["vaccines"]}
    imms = rows(db, "SELECT * FROM immunizations")
    assert len(imms) >= 5
    patients = {r["ins"]: r for r in rows(db, "SELECT * FROM patients")}
    for imm in imms:
        assert (imm["vaccine_system"], imm["vaccine_code"]) in known
        occurred = date.fromisoformat(imm["occurrence"])
        assert date.fromisoformat(patients[imm["patient_ins"]]["birth_date"]) <= occurred < REF
        assert imm["status"] == "completed"


# -- JSON files ---------------------------------------------------------------------------------


def test_personas_json_describes_every_card(personas_json: list[dict[str, Any]]) -> None:
    keys = {
        "id",
        "token_label",
        "pin",
        "id_nat",
        "family_name",
        "given_name",
        "profession",
        "profession_label",
        "specialty",
        "role",
        "card_kind",
        "structure",
    }
    assert [p["id"] for p in personas_json] == [p.id for p in PERSONAS]
    for entry in personas_json:
        assert keys <= set(entry)
        persona = BY_ID[entry["id"]]
        assert entry["pin"] == persona.pin
        assert entry["id_nat"] == persona.id_nat
        assert entry["structure"] == {
            "id": persona.structure.id,
            "name": persona.structure.name,
            "kind": persona.structure.kind,
        }
        assert entry["certificate"] is None  # --no-cards
    secretary = next(p for p in personas_json if p["id"] == "secretary")
    assert secretary["card_kind"] == "CPE"
    assert secretary["deposits_for"] == [
        {"persona": "hospital_doctor", "id_nat": BY_ID["hospital_doctor"].id_nat},
        {"persona": "emergency", "id_nat": BY_ID["emergency"].id_nat},
    ]


def test_patients_json_has_every_key(patients_json: dict[str, Any], db: sqlite3.Connection) -> None:
    assert patients_json["ins_system"] == INS_NIR_SYSTEM
    for key in ("chronic", "opposed_bris_de_glace", "opposed_centre_15", "minor"):
        assert validate_nir(patients_json[key])
    assert set(patients_json["blocked"]) == {"ins", "persona"}
    assert set(patients_json["with_masked"]) == {"ins", "author", "document_ids"}
    assert isinstance(patients_json["treated_by_gp"], list)
    everyone = patients_json["all"]
    assert len(everyone) == SMALL.patients
    db_patients = {r["ins"]: r for r in rows(db, "SELECT * FROM patients")}
    for entry in everyone:
        row = db_patients[entry["ins"]]
        assert (entry["family_name"], entry["given_names"], entry["birth_date"]) == (
            row["family_name"],
            row["given_names"],
            row["birth_date"],
        )
