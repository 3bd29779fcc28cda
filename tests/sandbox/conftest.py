"""A small hand-made sandbox database and an HTTP client over the FHIR router.

``mini_sandbox`` builds, in a temporary directory, a ``sandbox.sqlite3`` with a few
structures, professionals of several professions, patients with valid NIRs, documents of
varied types and states (masked, superseded, deleted, archived, 68599-0, 51969-4...) with
small reportlab PDF bodies, and serves it through :class:`FhirTestClient`, which validates
every FHIR resource the server answers with the R4B models of ``fhir.resources``.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B import get_fhir_model_class
from reportlab.pdfgen import canvas

from console.domain.ins import INS_NIR_TEST_SYSTEM, nir_key
from console.domain.models import AccessMode, Visibility
from console.domain.terminology import terminology
from sandbox import api
from sandbox.app import BodyLimitMiddleware
from sandbox.config import Settings
from sandbox.deps import issue_token
from sandbox.errors import FHIR_JSON, install_error_handlers
from sandbox.faults import FaultMiddleware
from sandbox.store import DB_NAME, Store

BASE_URL = "http://testserver"


def nir(body13: str) -> str:
    """A valid NIR: ``body13`` followed by its control key."""
    return f"{body13}{nir_key(body13):02d}"


# -- directory -------------------------------------------------------------------------------------
CABINET = "3997000012301"
HOSPITAL = "1997000456"
SAMU = "1997000789"
CABINET_B = "3997000099906"

GP = "899700000011"  # médecin traitant of ALICE and BOB (cabinet)
HOSP = "899700000094"  # hospital doctor (hospital), author of the masked document
EMERG = "899700000029"  # emergency doctor (hospital)
OTHER_DOC = "899700000110"  # doctor of another cabinet, in ALICE's care team, not MT
NURSE = "899700000045"
DENTIST = "899700000060"
REGULATOR = "899700000037"
COORD = "899700000128"  # coordination role (GENR08): reads a handful of types only
SECRETARY = "1997000456/SEC0042"  # secretary of the hospital (CPE)

PROFESSIONALS: tuple[tuple[str, str, str, str, str, str | None, str, str, str], ...] = (
    # id_nat, family, given, profession, label, specialty, role, structure, card
    (GP, "MARTIN", "Claire", "10", "Médecin", "SM54", "ps", CABINET, "CPS"),
    (HOSP, "LEFEBVRE", "Anne", "10", "Médecin", "SM04", "ps", HOSPITAL, "CPS"),
    (EMERG, "BENALI", "Karim", "10", "Médecin", "SM59", "ps", HOSPITAL, "CPS"),
    (OTHER_DOC, "DUPONT", "Marc", "10", "Médecin", "SM54", "ps", CABINET_B, "CPS"),
    (NURSE, "PETIT", "Julie", "60", "Infirmier", None, "ps", CABINET_B, "CPS"),
    (DENTIST, "FOURNIER", "Élodie", "40", "Chirurgien-Dentiste", None, "ps", CABINET_B, "CPS"),
    (REGULATOR, "LEROY", "Sophie", "10", "Médecin", "SM59", "regulator", SAMU, "CPS"),
    (COORD, "BLANC", "Paul", "GENR08", "Coordination", None, "ps", HOSPITAL, "CPS"),
    (
        SECRETARY,
        "MERCIER",
        "Nadia",
        "SECRETARIAT_MEDICAL",
        "Secrétariat médical",
        None,
        "secretary",
        HOSPITAL,
        "CPE",
    ),
)

# -- patients --------------------------------------------------------------------------------------
ALICE = nir("2850675123456")
BOB = nir("1720369012345")
CAROL = nir("2951213055001")  # blocked the nurse
UNKNOWN = nir("1601031000111")  # valid NIR, no record
INS_SYSTEM = INS_NIR_TEST_SYSTEM

BOB_DOCS = 45
BOB_TYPES = ("11488-4", "51969-4", "18748-4", "68599-0", "57833-6")
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DocSpec:
    label: str
    patient: str
    type_code: str
    author: str
    deposited: datetime
    status: str = "current"
    archived: bool = False
    visibility: tuple[Visibility, ...] = ()
    entered_by: str | None = None
    replaces: str | None = None
    """Label of the document this one replaced."""


ALICE_DOCS: tuple[DocSpec, ...] = (
    DocSpec("cr", ALICE, "11488-4", GP, datetime(2024, 1, 10, 10, tzinfo=UTC)),
    DocSpec(
        "masked",
        ALICE,
        "11488-4",
        HOSP,
        datetime(2024, 2, 10, 10, tzinfo=UTC),
        visibility=(Visibility.MASQUE_PS,),
    ),
    DocSpec("old", ALICE, "11488-4", GP, datetime(2023, 5, 1, 10, tzinfo=UTC), "superseded"),
    DocSpec("new", ALICE, "11488-4", GP, datetime(2023, 6, 1, 10, tzinfo=UTC), replaces="old"),
    DocSpec(
        "deleted", ALICE, "18748-4", GP, datetime(2023, 7, 1, 10, tzinfo=UTC), "entered-in-error"
    ),
    DocSpec("archived", ALICE, "34133-9", GP, datetime(2022, 1, 1, 10, tzinfo=UTC), archived=True),
    DocSpec("psy", ALICE, "68599-0", HOSP, datetime(2024, 3, 1, 10, tzinfo=UTC)),
    DocSpec("genetic", ALICE, "51969-4", HOSP, datetime(2024, 3, 5, 10, tzinfo=UTC)),
    DocSpec(
        "imaging",
        ALICE,
        "18748-4",
        HOSP,
        datetime(2024, 4, 1, 10, tzinfo=UTC),
        visibility=(Visibility.INVISIBLE_PATIENT,),
    ),
    DocSpec("presc", ALICE, "PRESC-KINE", GP, datetime(2024, 5, 1, 10, tzinfo=UTC)),
    DocSpec(
        "letter",
        ALICE,
        "11490-0",
        HOSP,
        datetime(2024, 5, 10, 10, tzinfo=UTC),
        entered_by=SECRETARY,
    ),
    DocSpec("carol_cr", CAROL, "11488-4", GP, datetime(2024, 1, 5, 10, tzinfo=UTC)),
)
"""Alice's documents (and Carol's one). Listed by default for a doctor: cr, masked (author
and MT only), new, psy, genetic, imaging, presc, letter."""

ALICE_LISTED = ("cr", "masked", "new", "psy", "genetic", "imaging", "presc", "letter")


@cache
def pdf(text: str) -> bytes:
    """A small one-page PDF saying ``text`` (deterministic)."""
    buf = io.BytesIO()
    page = canvas.Canvas(buf, invariant=1)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return buf.getvalue()


# -- tokens and clock -----------------------------------------------------------------------------
class FakeClock:
    """The app's clock (epoch seconds), which tests move forward."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token_for(
    store: Store,
    id_nat: str,
    patient_ins: str | None = None,
    mode: AccessMode = AccessMode.NORMAL,
    expires: float | None = None,
    *,
    now: float | None = None,
) -> str:
    """A bearer token: professional, or (with ``patient_ins``) patient-scoped in ``mode``,
    with its access episode, as ``POST /auth/access`` would issue it (no rule checked)."""
    start = time.time() if now is None else now
    end = start + 3600 if expires is None else expires
    if patient_ins is None:
        return issue_token(store, id_nat=id_nat, kind="professional", expires=end)
    episode = uuid.uuid4().hex
    reason, justification = (
        ("URGENCE_VITALE", "Patient inconscient aux urgences")
        if mode is AccessMode.BRIS_DE_GLACE
        else (None, None)
    )
    store.execute(
        "INSERT INTO access_episodes(id, id_nat, patient_ins, mode, reason_code, justification,"
        " started, ends) VALUES (?,?,?,?,?,?,?,?)",
        (episode, id_nat, patient_ins, mode.value, reason, justification, start, end),
    )
    return issue_token(
        store,
        id_nat=id_nat,
        kind="patient",
        expires=end,
        patient_ins=patient_ins,
        episode_id=episode,
    )


# -- FHIR validation -------------------------------------------------------------------------------
def validate_fhir(body: Any) -> Any:
    """Validate a FHIR JSON resource with the R4B model of its resourceType; return the model."""
    assert isinstance(body, dict), f"FHIR JSON object expected, got {type(body).__name__}"
    model = get_fhir_model_class(body["resourceType"])
    return model.model_validate(body)


class FhirTestClient(TestClient):
    """TestClient that validates every FHIR JSON body the server sends (R4B models), and
    checks that errors are OperationOutcomes."""

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = super().request(*args, **kwargs)
        content_type = response.headers.get("content-type", "")
        if content_type.startswith(FHIR_JSON):
            validate_fhir(response.json())
        if response.status_code >= 400:
            assert content_type.startswith(FHIR_JSON), (response.status_code, content_type)
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["diagnostics"].strip()
        return response


# -- the mini sandbox ----------------------------------------------------------------------------
@dataclass
class MiniSandbox:
    directory: Path
    store: Store
    clock: FakeClock
    app: FastAPI
    client: FhirTestClient
    docs: dict[str, str] = field(default_factory=dict)
    """Document ids by label (see ALICE_DOCS, and "bob00".."bob44")."""

    def token(
        self,
        id_nat: str,
        patient_ins: str | None = None,
        mode: AccessMode = AccessMode.NORMAL,
        ttl: float = 3600,
    ) -> str:
        now = self.clock()
        return token_for(self.store, id_nat, patient_ins, mode, now + ttl, now=now)

    def auth(
        self, id_nat: str, patient_ins: str | None = None, mode: AccessMode = AccessMode.NORMAL
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(id_nat, patient_ins, mode)}"}

    def count(self, table: str) -> int:
        row = self.store.query_one(f"SELECT COUNT(*) AS n FROM {table}")
        assert row is not None
        return int(row["n"])

    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings


def build_app(store: Store, settings: Settings, clock: FakeClock) -> FastAPI:
    """The sandbox app with only the FHIR router (same handlers and middleware as
    ``sandbox.app.create_app``), so these tests do not depend on the auth router."""
    app = FastAPI()
    app.state.store = store
    app.state.settings = settings
    app.state.clock = clock
    install_error_handlers(app)
    app.include_router(api.router)
    app.add_middleware(BodyLimitMiddleware, limit=lambda: app.state.settings.max_body_bytes)
    app.add_middleware(FaultMiddleware)
    return app


def fill(store: Store) -> dict[str, str]:
    """Insert the directory, patients, documents, bodies and immunizations; return doc ids."""
    structures = (
        (CABINET, "Cabinet médical du Parc", "cabinet"),
        (HOSPITAL, "Centre hospitalier de Saint-Martin", "etablissement"),
        (SAMU, "SAMU - Centre 15", "centre_15"),
        (CABINET_B, "Maison de santé des Tilleuls", "cabinet"),
    )
    names = {s[0]: s[1] for s in structures}
    people = {p[0]: p for p in PROFESSIONALS}
    ids: dict[str, str] = {}
    with store.transaction() as conn:
        conn.executemany("INSERT INTO structures(id, name, kind) VALUES (?,?,?)", structures)
        conn.executemany(
            "INSERT INTO professionals(id_nat, family_name, given_name, profession,"
            " profession_label, specialty, role, structure_id, card_kind)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            PROFESSIONALS,
        )
        conn.executemany(
            "INSERT INTO patients(ins, ins_system, family_name, given_names, birth_date, gender,"
            " birth_place, address_city, medecin_traitant) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (ALICE, INS_SYSTEM, "DURAND", "Alice Marie", "1985-06-12", "female", "75112",
                 "Paris", GP),
                (BOB, INS_SYSTEM, "BERNARD", "Bob", "1972-03-04", "male", "69123", "Lyon", GP),
                (CAROL, INS_SYSTEM, "THOMAS", "Carol", "1995-12-01", "female", "13055",
                 "Marseille", None),
            ),
        )  # fmt: skip
        created_at = T0.isoformat()
        conn.executemany(
            "INSERT INTO authorisations(patient_ins, id_nat, kind, method, created_at)"
            " VALUES (?,?,?,?,?)",
            [
                (ALICE, who, "care_team", "oral", created_at)
                for who in (HOSP, EMERG, OTHER_DOC, NURSE, DENTIST, COORD)
            ]
            + [(BOB, who, "care_team", "oral", created_at) for who in (HOSP, NURSE, DENTIST)]
            + [(CAROL, NURSE, "care_team", "oral", created_at)],
        )
        conn.execute("INSERT INTO blocks(patient_ins, id_nat) VALUES (?,?)", (CAROL, NURSE))
        specs = list(ALICE_DOCS)
        for i in range(BOB_DOCS):
            specs.append(
                DocSpec(
                    f"bob{i:02d}",
                    BOB,
                    BOB_TYPES[i % len(BOB_TYPES)],
                    GP if i % 2 else HOSP,
                    T0 + timedelta(days=i),
                    visibility=(Visibility.MASQUE_PS,) if i == 7 else (),
                )
            )
        term = terminology()
        for spec in specs:
            ids[spec.label] = uuid.uuid4().hex
        for spec in specs:
            doc_id = ids[spec.label]
            author = people[spec.author]
            dtype = term.type(spec.type_code)
            body = pdf(f"{dtype.label} ({spec.label})")
            conn.execute(
                "INSERT INTO documents(id, master_id, patient_ins, type_code, type_system,"
                " class_code, title, author_id_nat, author_name, author_profession,"
                " structure_id, structure_name, entered_by, created, deposited, status,"
                " archived, visibility, content_type, size, sha1, replaces)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    f"urn:uuid:{uuid.uuid4()}",
                    spec.patient,
                    dtype.code,
                    dtype.system,
                    dtype.class_code,
                    f"{dtype.label} ({spec.label})",
                    author[0],
                    f"{author[2]} {author[1]}",
                    author[3],
                    author[7],
                    names[author[7]],
                    spec.entered_by,
                    (spec.deposited - timedelta(days=2)).isoformat(),
                    spec.deposited.isoformat(),
                    spec.status,
                    int(spec.archived),
                    " ".join(v.value for v in spec.visibility),
                    "application/pdf",
                    len(body),
                    hashlib.sha1(body).hexdigest(),
                    None if spec.replaces is None else ids[spec.replaces],
                ),
            )
            conn.execute(
                "INSERT INTO binaries(id, content_type, data) VALUES (?,?,?)",
                (doc_id, "application/pdf", body),
            )
        conn.executemany(
            "INSERT INTO immunizations(id, patient_ins, vaccine_system, vaccine_code,"
            " vaccine_display, occurrence, lot_number, performer_id_nat, performer_name,"
            " recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                ("imm1", ALICE, "http://www.whocc.no/atc", "J07BD52", "ROR", "1986-06-20",
                 "L123", GP, "Claire MARTIN", created_at),
                ("imm2", ALICE, "http://www.whocc.no/atc", "J07BB02", "Grippe", "2023-10-20",
                 "FLU99", GP, "Claire MARTIN", created_at),
            ),
        )  # fmt: skip
    return ids


@pytest.fixture
def mini_sandbox(tmp_path: Path) -> Iterator[MiniSandbox]:
    store = Store.create(tmp_path / DB_NAME)
    ids = fill(store)
    clock = FakeClock()
    settings = Settings(base_url=BASE_URL, page_default=10, page_max=50)
    app = build_app(store, settings, clock)
    with FhirTestClient(app, base_url=BASE_URL, raise_server_exceptions=True) as client:
        yield MiniSandbox(tmp_path, store, clock, app, client, ids)
    store.close()
