"""`dmp-sandbox init`: a deterministic sandbox directory (cards, database, JSON files).

Same seed, same data, on any day: the people, their NIRs, every identifier and the document
mixes depend on the seed and the options alone (every random draw comes from
:class:`random.Random` instances seeded from them, identifiers too: no ``uuid4``, no clock).
The whole record is drawn as of a fixed day, :data:`SEED_ANCHOR`, then every date is moved by
the same number of days to the reference date (stored in ``meta``): what lies a year before
the anchor lies a year before the reference date, ages are kept, and every special patient
keeps what its tests need on whatever day the sandbox is made. The NIRs keep the birth year
and month of the anchor's record (a NIR never changes once given). The only non-seeded
values are the cards' keys (generated on the tokens) and ``meta.initialised_at``.

Layout of a sandbox directory::

    DIR/.dmp-sandbox        marker (a directory ``init --force`` may wipe)
    DIR/sandbox.sqlite3     the database (sandbox/schema.sql)
    DIR/personas.json       the personas' cards and identities (a JSON list)
    DIR/patients.json       the special patients' INS and every patient's identity
    DIR/softhsm2.conf, DIR/tokens/, DIR/pki/   the cards (sandbox.tokens), unless --no-cards
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from console.domain.ins import INS_NIR_SYSTEM, nir_key, validate_nir
from console.domain.models import Visibility
from console.domain.terminology import terminology
from console.resources import RESOURCES_DIR, load_json
from sandbox import documents, names
from sandbox.personas import PERSONAS, Persona, Structure
from sandbox.store import DB_NAME, Store

MARKER = ".dmp-sandbox"
PERSONAS_FILE = "personas.json"
PATIENTS_FILE = "patients.json"

SPECIALS = (
    "chronic",
    "opposed_bris_de_glace",
    "opposed_centre_15",
    "blocked",
    "minor",
    "with_masked",
)
"""The special patients of design.md section 4 (always the first patients created)."""

MIN_PATIENTS = len(SPECIALS)
DOCS_PER_PATIENT = (10, 60)
CHRONIC_YEARS = 15
CHRONIC_MIN_DOCS = 50
SENSITIVE_TYPES = ("68599-0", "51969-4", "83901-9", "80788-3", "ATTEST-RESID")
SEED_ANCHOR = date(2026, 1, 1)
"""The day the record is drawn as of, before its dates move to the reference date. Changing
it changes every seeded sandbox: the same seed would no longer give the same data."""

_KNOWN_ENTRIES = frozenset(
    {
        MARKER,
        DB_NAME,
        f"{DB_NAME}-wal",
        f"{DB_NAME}-shm",
        f"{DB_NAME}-journal",
        PERSONAS_FILE,
        PATIENTS_FILE,
        "softhsm2.conf",
        "pki",
        "tokens",
    }
)
"""What ``init`` creates (plus ``*.log``, written by sandbox.testing): all ``--force`` removes."""


class SandboxDirectoryError(RuntimeError):
    """The target directory cannot be (re)initialised: not empty, or not a sandbox."""


# -- options and report ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedOptions:
    patients: int = 40
    seed: int = 2026
    chronic_docs: int = 3000
    reference_date: date = field(default_factory=date.today)
    cards: bool = True

    def check(self) -> None:
        if self.patients < MIN_PATIENTS:
            raise ValueError(f"--patients must be at least {MIN_PATIENTS} (the special patients)")
        if self.chronic_docs < CHRONIC_MIN_DOCS:
            raise ValueError(f"--chronic-docs must be at least {CHRONIC_MIN_DOCS}")

    def as_meta(self) -> dict[str, str]:
        return {
            "seed": str(self.seed),
            "reference_date": self.reference_date.isoformat(),
            "patients": str(self.patients),
            "chronic_docs": str(self.chronic_docs),
            "cards": "1" if self.cards else "0",
        }


@dataclass(frozen=True, slots=True)
class InitReport:
    directory: Path
    counts: dict[str, int]
    """Rows per table."""
    timings: dict[str, float]
    """Seconds per step (cards, database, files, total)."""
    body_bytes: int
    patients: dict[str, Any]
    """The content of patients.json."""


# -- the directory --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pro:
    """A professional of the directory, persona or synthetic."""

    id_nat: str
    family_name: str
    given_name: str
    gender: str
    profession: str
    profession_label: str
    specialty: str | None
    role: str
    structure: Structure
    card_kind: str = "CPS"
    pools: tuple[str, ...] = ()
    persona: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_doctor(self) -> bool:
        return self.profession in ("10", "40")

    @property
    def signature(self) -> str:
        """As a letter is signed: "Dr Claire MARTIN", "Mme Julie PETIT"."""
        return f"{self._civility} {self.display_name}"

    @property
    def title_name(self) -> str:
        """As a title names the author: "Dr MARTIN"."""
        return f"{self._civility} {self.family_name}"

    @property
    def _civility(self) -> str:
        if self.is_doctor:
            return "Dr"
        return "Mme" if self.gender == "female" else "M."

    @property
    def full_profession(self) -> str:
        if self.specialty is None:
            return self.profession_label
        return f"{self.profession_label} - {specialty_label(self.specialty)}"


_PERSONA_GENDER = {
    "gp": "female",
    "emergency": "male",
    "regulator": "female",
    "nurse": "female",
    "pharmacist": "male",
    "dentist": "female",
    "physio": "male",
    "midwife": "female",
    "hospital_doctor": "female",
    "secretary": "female",
}


@cache
def _role_labels() -> dict[str, str]:
    raw = load_json("JDV_J65-SubjectRole-DMP.json")
    return {str(r["code"]): str(r["display"]).removesuffix(" (SM)") for r in raw}


def specialty_label(code: str) -> str:
    return _role_labels().get(code, code)


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _synthetic_id_nat(index: int) -> str:
    """ "8" + an RPPS-like number: 997 (test range) + 7 digits + a Luhn key."""
    body = f"9971{index:06d}"
    return "8" + body + _luhn_digit(body)


@dataclass(frozen=True, slots=True)
class Directory:
    structures: tuple[Structure, ...]
    pros: tuple[Pro, ...]
    personas: dict[str, Pro]
    pools: dict[str, tuple[Pro, ...]]
    """Synthetic professionals by author pool (personas are chosen per patient)."""

    def persona(self, persona_id: str) -> Pro:
        return self.personas[persona_id]


def build_directory(personas: Sequence[Persona] = PERSONAS) -> Directory:
    structures: dict[str, Structure] = {}
    for persona in personas:
        structures.setdefault(persona.structure.id, persona.structure)
    by_key: dict[str, Structure] = {}
    for structure_spec in names.STRUCTURES:
        structure = structures.setdefault(
            structure_spec.id,
            Structure(structure_spec.id, structure_spec.name, structure_spec.kind),
        )
        by_key[structure_spec.key] = structure
    pros: list[Pro] = []
    persona_pros: dict[str, Pro] = {}
    for persona in personas:
        pro = Pro(
            id_nat=persona.id_nat,
            family_name=persona.family_name,
            given_name=persona.given_name,
            gender=_PERSONA_GENDER.get(persona.id, "female"),
            profession=persona.profession,
            profession_label=persona.profession_label,
            specialty=persona.specialty,
            role=persona.role,
            structure=persona.structure,
            card_kind=persona.card_kind,
            persona=persona.id,
        )
        pros.append(pro)
        persona_pros[persona.id] = pro
    pools: dict[str, list[Pro]] = {}
    for index, spec in enumerate(names.PROFESSIONALS, start=1):
        pro = Pro(
            id_nat=_synthetic_id_nat(index),
            family_name=spec.family_name,
            given_name=spec.given_name,
            gender=spec.gender,
            profession=spec.profession,
            profession_label=spec.profession_label,
            specialty=spec.specialty,
            role="ps",
            structure=by_key[spec.structure],
            pools=spec.pools,
        )
        pros.append(pro)
        for pool in spec.pools:
            pools.setdefault(pool, []).append(pro)
    return Directory(
        structures=tuple(structures.values()),
        pros=tuple(pros),
        personas=persona_pros,
        pools={k: tuple(v) for k, v in pools.items()},
    )


# -- vaccines -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VaccineCode:
    system: str
    code: str
    display: str
    label: str
    ages: tuple[int, int]


@cache
def vaccine_codes() -> tuple[VaccineCode, ...]:
    """The vaccines the seed records.

    When the project ships ``resources/vaccines.json`` (the codes the Immunization API knows),
    its codes and displays are used, with the local short labels and ages of names.VACCINES;
    otherwise the local ATC list alone.
    """
    local = {v.code: v for v in names.VACCINES}
    fallback = tuple(
        VaccineCode(names.ATC_SYSTEM, v.code, v.display, v.label, v.ages) for v in names.VACCINES
    )
    path = RESOURCES_DIR / "vaccines.json"
    if not path.exists():
        return fallback
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        system = str(raw["system"])
        found: list[VaccineCode] = []
        for row in raw["vaccines"]:
            code = str(row["code"])
            display = str(row.get("display") or code)
            known = local.get(code)
            label = known.label if known else display.split(",")[0].split(" (")[0]
            ages = known.ages if known else (18, 95)
            found.append(VaccineCode(system, code, display, label, ages))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return fallback
    return tuple(found) or fallback


# -- patients -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PatientSeed:
    ins: str
    family_name: str
    given_names: str
    birth_date: date
    gender: str
    birth_place: str
    city: str
    special: str | None = None
    medecin_traitant: Pro | None = None
    opposed_bris_de_glace: bool = False
    opposed_centre_15: bool = False
    preferred: dict[str, tuple[Pro, float]] = field(default_factory=dict)
    """Author pool -> (professional, probability): who usually writes that kind for her."""
    sensitive: bool = False
    forced_sensitive: bool = False
    excluded_authors: set[str] = field(default_factory=set)

    def age_years(self, on: date) -> int:
        years = on.year - self.birth_date.year
        if (on.month, on.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


def make_nir(gender: str, birth_date: date, place_code: str, order: int) -> str:
    """A NIR with its key: sex, year, month, department + commune (or 99 + country), order."""
    body = (
        f"{1 if gender == 'male' else 2}{birth_date.year % 100:02d}{birth_date.month:02d}"
        f"{place_code}{order:03d}"
    )
    return validate_nir(body + f"{nir_key(body):02d}")


def _birth_date(rng: random.Random, ref: date, min_days: int, max_days: int) -> date:
    return ref - timedelta(days=rng.randint(min_days, max_days))


def _age_days(years: tuple[int, int]) -> tuple[int, int]:
    """Days of life of someone aged years[0] to years[1] (inclusive)."""
    return years[0] * 365 + 1, years[1] * 365 + 364


def _given_names(rng: random.Random, gender: str, birth_year: int) -> str:
    pool = (names.MALE_GIVEN_NAMES if gender == "male" else names.FEMALE_GIVEN_NAMES)[
        names.given_name_period(birth_year)
    ]
    count = rng.choices((1, 2, 3), weights=(5, 4, 1))[0]
    return " ".join(rng.sample(pool, count))


def _patient_plan(index: int, rng: random.Random) -> tuple[str | None, tuple[int, int], str | None]:
    """(special, age range in years, gender or None for random) of the index-th patient."""
    if index < len(SPECIALS):
        special = SPECIALS[index]
        plans: dict[str, tuple[tuple[int, int], str | None]] = {
            "chronic": ((66, 74), "male"),
            "opposed_bris_de_glace": ((35, 80), None),
            "opposed_centre_15": ((30, 45), None),
            "blocked": ((25, 70), None),
            "minor": ((9, 9), None),
            "with_masked": ((45, 70), "female"),
        }
        ages, gender = plans[special]
        return special, ages, gender
    normal = index - len(SPECIALS)
    if normal == 0:
        return None, (0, 0), None  # a newborn
    if normal == 1:
        return None, (14, 17), None  # a teenager
    bracket = rng.choices([(1, 17), (18, 39), (40, 64), (65, 95)], weights=(12, 25, 33, 30))[0]
    return None, bracket, None


def make_patients(rng: random.Random, count: int, ref: date) -> list[PatientSeed]:
    patients: list[PatientSeed] = []
    seen: set[str] = set()
    for index in range(count):
        special, ages, gender = _patient_plan(index, rng)
        gender = gender or rng.choice(("female", "male"))
        if ages == (0, 0):
            birth = _birth_date(rng, ref, 20, 200)
        else:
            birth = _birth_date(rng, ref, *_age_days(ages))
        family = rng.choice(names.FAMILY_NAMES)
        if special == "opposed_centre_15":
            # born in Corsica (2A/2B exist since 1976): the NIR carries letters
            place = rng.choice(names.BIRTH_PLACES_CORSICA)
            family = rng.choice(names.CORSICAN_FAMILY_NAMES)
        else:
            origin = rng.choices(("metro", "overseas", "abroad"), weights=(84, 5, 11))[0]
            place = rng.choice(
                {
                    "metro": names.BIRTH_PLACES_METRO,
                    "overseas": names.BIRTH_PLACES_OVERSEAS,
                    "abroad": names.BIRTH_PLACES_ABROAD,
                }[origin]
            )
        while True:
            nir = make_nir(gender, birth, place.code, rng.randint(1, 999))
            if nir not in seen:
                seen.add(nir)
                break
        patients.append(
            PatientSeed(
                ins=nir,
                family_name=family,
                given_names=_given_names(rng, gender, birth.year),
                birth_date=birth,
                gender=gender,
                birth_place=place.code,
                city=rng.choice(names.RESIDENCE_CITIES),
                special=special,
                opposed_bris_de_glace=special == "opposed_bris_de_glace",
                opposed_centre_15=special == "opposed_centre_15",
            )
        )
    return patients


@dataclass(slots=True)
class CareLinks:
    """Authorisations and blocks decided for the patients (rows of the schema)."""

    authorisations: list[tuple[str, str, str, str | None, str]] = field(default_factory=list)
    """(patient ins, id_nat, kind, method, created_at)."""
    blocks: list[tuple[str, str]] = field(default_factory=list)
    care_team: dict[str, list[str]] = field(default_factory=dict)
    """Persona id -> INS of the patients whose care team she is in."""
    mt_equivalent: dict[str, list[str]] = field(default_factory=dict)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def assign_care(
    rng: random.Random, patients: list[PatientSeed], directory: Directory, ref: date
) -> CareLinks:
    """Médecins traitants, care teams, mt_equivalents, the block; who writes for whom."""
    links = CareLinks()
    gp = directory.persona("gp")
    by_special = {p.special: p for p in patients if p.special}
    normals = [p for p in patients if p.special is None]
    ref_dt = datetime(ref.year, ref.month, ref.day, tzinfo=UTC)

    def authorise(patient: PatientSeed, pro: Pro, kind: str = "care_team") -> None:
        method = rng.choice((None, None, "oral", "ecrit")) if kind == "care_team" else None
        created = ref_dt - timedelta(days=rng.randint(30, 2000), minutes=rng.randint(0, 600))
        links.authorisations.append((patient.ins, pro.id_nat, kind, method, _iso(created)))
        if pro.persona is not None:
            target = links.care_team if kind == "care_team" else links.mt_equivalent
            target.setdefault(pro.persona, []).append(patient.ins)

    # médecin traitant: the GP persona for about a third, synthetic GPs for most others
    treated = [by_special["chronic"], by_special["with_masked"]]
    candidates = [p for p in normals if p.age_years(ref) >= 1]
    extra = max(0, round(len(patients) / 3) - len(treated))
    treated += rng.sample(candidates, min(extra, len(candidates)))
    treated_ins = {p.ins for p in treated}
    for patient in patients:
        if patient.ins in treated_ins:
            patient.medecin_traitant = gp
        elif patient.special == "minor" or patient.age_years(ref) < 16:
            patient.medecin_traitant = rng.choice(
                (*directory.pools["pediatrics"], *directory.pools["gp"], None)
            )
        elif rng.random() < 0.82:
            patient.medecin_traitant = rng.choice(directory.pools["gp"])

    # the emergency doctor writes for half of the patients she may have met, never for the
    # one who blocked her
    emergency = directory.persona("emergency")
    blocked = by_special["blocked"]
    links.blocks.append((blocked.ins, emergency.id_nat))
    blocked.excluded_authors.add(emergency.id_nat)
    for patient in patients:
        if patient is not blocked and rng.random() < 0.5:
            patient.preferred["emergency"] = (emergency, 0.7)

    def team(persona_id: str, pools: Sequence[str], chosen: Sequence[PatientSeed]) -> None:
        pro = directory.persona(persona_id)
        for patient in chosen:
            if pro.id_nat in patient.excluded_authors:
                continue
            authorise(patient, pro)
            for pool in pools:
                patient.preferred[pool] = (pro, 0.85)

    gp_normals = [p for p in normals if p.ins in treated_ins]
    adults = [p for p in normals if p.age_years(ref) >= 18]
    chronic, with_masked = by_special["chronic"], by_special["with_masked"]
    # (the sensitive documents these care teams get make no sense for a toddler)
    gp_older = [p for p in gp_normals if p.age_years(ref) >= 3]
    team("nurse", ["nursing"], [chronic, *rng.sample(gp_older, min(3, len(gp_older)))])
    team("pharmacist", ["pharmacy"], [chronic, *rng.sample(gp_older, min(3, len(gp_older)))])
    hospital = rng.sample(adults, min(4, len(adults)))
    team("hospital_doctor", ["hospital", "cardiology"], [chronic, with_masked, *hospital])
    # every non-doctor persona has at least one patient in her care, whatever --patients is
    team("dentist", ["dental"], rng.sample(adults, min(2, len(adults))) or [chronic])
    walkers = [p for p in normals if p.age_years(ref) >= 3]
    team("physio", ["physio"], rng.sample(walkers, min(2, len(walkers))) or [chronic])
    mothers = [p for p in normals if p.gender == "female" and 18 <= p.age_years(ref) <= 42]
    team("midwife", ["midwifery"], mothers[:1] or [with_masked])
    others_gp = [p for p in adults if p.ins not in treated_ins]
    for patient in rng.sample(others_gp, min(2, len(others_gp))):
        authorise(patient, gp)
        patient.preferred["gp"] = (gp, 0.3)

    # same rights as the médecin traitant (sees masked documents)
    hospital_doctor = directory.persona("hospital_doctor")
    mt_eq = [p for p in gp_normals if hospital_doctor.id_nat not in p.excluded_authors]
    if mt_eq:
        authorise(mt_eq[0], hospital_doctor, "mt_equivalent")
    cardiologist = directory.pools["cardiology"][0]
    for patient in rng.sample(adults, min(2, len(adults))):
        authorise(patient, cardiologist, "mt_equivalent")

    # synthetic care teams (specialists, pharmacies, nurses of the town)
    synthetic = [p for p in directory.pros if p.persona is None and p.profession != "41"]
    for patient in patients:
        for pro in rng.sample(synthetic, rng.randint(0, 3)):
            if not any(a[0] == patient.ins and a[1] == pro.id_nat for a in links.authorisations):
                authorise(patient, pro)

    # who gets sensitive documents: those the matrix tests need, and a fair share of others
    non_doctor_personas = {"nurse", "pharmacist", "dentist", "physio", "midwife"}
    forced = {
        ins for persona_id in non_doctor_personas for ins in links.care_team.get(persona_id, [])
    }
    for patient in patients:
        if patient.ins in forced or patient.special == "chronic":
            patient.sensitive = patient.forced_sensitive = True
        elif patient.age_years(ref) >= 3 and rng.random() < 0.35:
            patient.sensitive = True
    return links


# -- documents --------------------------------------------------------------------------------


@dataclass(slots=True)
class DocDraft:
    type_code: str
    author: Pro
    created: datetime
    title: str
    lines: list[str]
    visibility: list[str] = field(default_factory=list)
    content_type: str | None = None
    protected: bool = False
    """Never superseded, deleted nor archived by the random status changes."""


@dataclass(slots=True)
class DocRow:
    id: str
    master_id: str
    patient: PatientSeed
    draft: DocDraft
    deposited: datetime
    entered_by: str | None
    content_type: str
    body: bytes
    status: str = "current"
    archived: bool = False
    replaces: str | None = None
    submission_id: str = ""

    def values(self) -> tuple[Any, ...]:
        doc_type = terminology().type(self.draft.type_code)
        author = self.draft.author
        return (
            self.id,
            self.master_id,
            self.patient.ins,
            doc_type.code,
            doc_type.system,
            doc_type.class_code,
            self.draft.title,
            author.id_nat,
            author.display_name,
            author.profession,
            author.structure.id,
            author.structure.name,
            self.entered_by,
            _iso(self.draft.created),
            _iso(self.deposited),
            self.status,
            int(self.archived),
            " ".join(self.draft.visibility),
            self.content_type,
            len(self.body),
            hashlib.sha1(self.body, usedforsecurity=False).hexdigest(),
            self.replaces,
            self.submission_id,
            None,
        )


@dataclass(slots=True)
class ImmunizationRow:
    id: str
    patient_ins: str
    vaccine: VaccineCode
    occurrence: date
    lot_number: str
    performer: Pro
    recorded_at: datetime


def _fr(value: date | datetime) -> str:
    return value.strftime("%d/%m/%Y")


def _num(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


class DocumentFactory:
    """Episodes of care for one patient: consultations, stays, results... as drafts."""

    def __init__(
        self,
        rng: random.Random,
        directory: Directory,
        patient: PatientSeed,
        ref: date,
        vaccines: Sequence[VaccineCode],
        shift: timedelta = timedelta(0),
    ) -> None:
        self.rng = rng
        self.directory = directory
        self.patient = patient
        self.ref = ref
        self.shift = shift
        """From the anchor's calendar to the reference date's (the texts show the latter)."""
        self.ref_dt = datetime(ref.year, ref.month, ref.day, tzinfo=UTC)
        self.vaccines = vaccines
        self.immunizations: list[tuple[VaccineCode, datetime, Pro]] = []

    # -- helpers ---------------------------------------------------------------------------------
    def pick(self, pool: str) -> Pro:
        rng = self.rng
        preferred = self.patient.preferred.get(pool)
        if preferred is not None and rng.random() < preferred[1]:
            return preferred[0]
        mt = self.patient.medecin_traitant
        if pool == "gp" and mt is not None and rng.random() < 0.85:
            return mt
        choices = [
            p for p in self.directory.pools[pool] if p.id_nat not in self.patient.excluded_authors
        ]
        return rng.choice(choices)

    def age(self, when: datetime) -> int:
        return self.patient.age_years(when.date())

    def fr(self, value: date | datetime) -> str:
        """`value` (on the anchor's calendar) as the document's text shows it: moved to the
        reference date's calendar, in French."""
        return _fr(value + self.shift)

    def later(self, when: datetime, min_days: int, max_days: int) -> datetime | None:
        """A time ``min_days``-``max_days`` after ``when``, or None if after the reference."""
        rng = self.rng
        moment = when + timedelta(days=rng.randint(min_days, max_days))
        moment = moment.replace(hour=rng.randint(8, 18), minute=rng.choice(range(0, 60, 5)))
        return moment if moment < self.ref_dt - timedelta(hours=3) else None

    def draft(
        self, type_code: str, author: Pro, when: datetime, title: str, lines: Sequence[str]
    ) -> DocDraft:
        terminology().type(type_code)  # fails early on a non-DMP type
        return DocDraft(type_code, author, when, title, list(lines))

    def few(self, pool: Sequence[str], low: int, high: int) -> list[str]:
        return self.rng.sample(list(pool), min(len(pool), self.rng.randint(low, high)))

    # -- episodes ----------------------------------------------------------------------------------
    def gp_visit(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        gp = self.pick("gp")
        lines = [
            f"Motif : {rng.choice(names.CONSULT_REASONS)}",
            *self.few(names.CONSULT_FINDINGS, 1, 3),
            f"Conclusion : {rng.choice(names.CONSULT_CONCLUSIONS)}",
        ]
        if self.patient.special == "chronic":
            lines.insert(1, "Antécédents : " + " ".join(self.few(names.CHRONIC_HISTORY, 1, 2)))
        out = [
            self.draft(
                "11488-4",
                gp,
                when,
                f"Compte rendu de consultation du {self.fr(when)} - {gp.title_name}",
                lines,
            )
        ]
        if rng.random() < 0.55:
            drugs = self.few(names.DRUGS, 1, 4)
            out.append(
                self.draft(
                    "57833-6",
                    gp,
                    when + timedelta(minutes=5),
                    f"Ordonnance du {self.fr(when)} - {gp.title_name}",
                    [f"{i}. {d}" for i, d in enumerate(drugs, start=1)],
                )
            )
            dispensed = self.later(when, 0, 3)
            if dispensed is not None and rng.random() < 0.5:
                out.append(self.dispensation(dispensed, drugs))
        if rng.random() < 0.2:
            out.append(
                self.draft(
                    "PRESC-BIO",
                    gp,
                    when + timedelta(minutes=7),
                    f"Prescription d'analyses biologiques du {self.fr(when)} - {gp.title_name}",
                    ["Bilan à réaliser à jeun :", *rng.sample(sorted(names.ANALYTES), 2)],
                )
            )
            result = self.later(when, 1, 8)
            if result is not None:
                out.extend(self.biology(result))
        if 18 <= self.age(when) <= 64 and rng.random() < 0.06:
            out.append(
                self.draft(
                    "PRESC-AAT",
                    gp,
                    when + timedelta(minutes=9),
                    f"Avis d'arrêt de travail du {self.fr(when)} - {gp.title_name}",
                    [f"Arrêt de travail initial de {rng.randint(2, 10)} jours."],
                )
            )
        return out

    def dispensation(self, when: datetime, drugs: Sequence[str] | None = None) -> DocDraft:
        pharmacist = self.pick("pharmacy")
        drugs = list(drugs) if drugs else self.few(names.DRUGS, 1, 4)
        return self.draft(
            "60593-1",
            pharmacist,
            when,
            f"Dispensation du {self.fr(when)} - {pharmacist.structure.name}",
            [f"Délivré : {d.split(',')[0]}" for d in drugs]
            + ["Conseils de bon usage donnés au comptoir."],
        )

    def biology(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        lab = self.pick("lab")
        panels = rng.sample(sorted(names.ANALYTES), rng.randint(1, 3))
        if self.patient.special == "chronic" and "Glycémie et HbA1c" not in panels:
            panels[0] = "Glycémie et HbA1c"
        lines: list[str] = []
        for panel in panels:
            lines.append(f"{panel} :")
            for a in names.ANALYTES[panel]:
                span = a.high - a.low
                value = rng.uniform(a.low - 0.1 * span, a.high + 0.15 * span)
                flag = "  *" if not a.low <= value <= a.high else ""
                unit = f" {a.unit}" if a.unit else ""
                lines.append(
                    f"  {a.name} : {_num(value, a.decimals)}{unit}"
                    f" (N : {_num(a.low, a.decimals)} - {_num(a.high, a.decimals)}){flag}"
                )
        lines.append("Résultats validés par le biologiste.")
        return [
            self.draft(
                "11502-2",
                lab,
                when,
                f"Résultats d'analyses du {self.fr(when)} - {panels[0]} - {lab.structure.name}",
                lines,
            )
        ]

    def imaging(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        exam, conclusion = rng.choice(names.IMAGING_EXAMS)
        out: list[DocDraft] = []
        if rng.random() < 0.3:
            gp = self.pick("gp")
            before = when - timedelta(days=rng.randint(3, 20))
            out.append(
                self.draft(
                    "55115-0",
                    gp,
                    before,
                    f"Demande d'examen : {exam} - {gp.title_name}",
                    [
                        f"Merci de réaliser : {exam}.",
                        f"Contexte : {rng.choice(names.CONSULT_REASONS)}",
                    ],
                )
            )
        radiologist = self.pick("radiology")
        out.append(
            self.draft(
                "18748-4",
                radiologist,
                when,
                f"{exam} du {self.fr(when)} - {radiologist.structure.name}",
                [
                    f"Examen : {exam}.",
                    "Technique : protocole standard.",
                    f"Conclusion : {conclusion}",
                ],
            )
        )
        return out

    def specialist(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        if rng.random() < 0.2:
            doctor = self.pick("ophthalmology")
            return [
                self.draft(
                    "78513-9",
                    doctor,
                    when,
                    f"Consultation d'ophtalmologie du {self.fr(when)} - {doctor.title_name}",
                    [
                        "Acuité visuelle corrigée : 10/10 aux deux yeux.",
                        "Tonus oculaire normal. Fond d'œil sans anomalie.",
                        "Renouvellement de la correction optique.",
                    ],
                )
            ]
        pool = "cardiology" if rng.random() < 0.4 else "specialist"
        doctor = self.pick(pool)
        speciality = specialty_label(doctor.specialty or "").lower()
        out = [
            self.draft(
                "11488-4",
                doctor,
                when,
                f"Consultation de {speciality} du {self.fr(when)} - {doctor.title_name}",
                [
                    f"Adressé(e) par le médecin traitant : {rng.choice(names.CONSULT_REASONS)}",
                    *self.few(names.CONSULT_FINDINGS, 1, 2),
                    f"Conclusion : {rng.choice(names.CONSULT_CONCLUSIONS)}",
                ],
            )
        ]
        if doctor.specialty == "SM04" and rng.random() < 0.5:
            out.append(
                self.draft(
                    "70004-7",
                    doctor,
                    when + timedelta(minutes=20),
                    f"Électrocardiogramme du {self.fr(when)} - {doctor.title_name}",
                    ["Rythme sinusal régulier, 68/min.", "Pas de trouble de la repolarisation."],
                )
            )
        return out

    def hospital_stay(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        doctor = self.pick("hospital")
        service = rng.choice(names.HOSPITAL_SERVICES)
        if doctor.specialty == "SM04":
            service = "Cardiologie"
        end = self.later(when, 2, 12)
        if end is None:
            return []
        structure = doctor.structure.name
        out: list[DocDraft] = []
        if rng.random() < 0.35:
            surgeon = self.pick("surgeon")
            anesthetist = rng.choice(
                [p for p in self.directory.pools["anesthetist"] if p.structure == surgeon.structure]
                or self.directory.pools["anesthetist"]
            )
            structure = surgeon.structure.name
            op_day = when + timedelta(days=1, hours=1)
            out += [
                self.draft(
                    "34749-2",
                    anesthetist,
                    when - timedelta(days=rng.randint(7, 20)),
                    f"Consultation pré-anesthésique - {anesthetist.title_name}",
                    ["Score ASA 2.", "Pas d'allergie connue aux agents anesthésiques."],
                ),
                self.draft(
                    "34874-8",
                    surgeon,
                    op_day,
                    f"Compte rendu opératoire du {self.fr(op_day)} - {surgeon.title_name}",
                    self.few(names.SURGERY_LINES, 3, 5),
                ),
                self.draft(
                    "77436-4",
                    anesthetist,
                    op_day + timedelta(hours=2),
                    f"Compte rendu d'anesthésie du {self.fr(op_day)} - {anesthetist.title_name}",
                    ["Anesthésie générale, intubation orotrachéale.", "Réveil sans particularité."],
                ),
            ]
            result = self.later(op_day, 5, 12)
            if result is not None:
                pathologist = self.pick("pathology")
                out.append(
                    self.draft(
                        "60568-3",
                        pathologist,
                        result,
                        f"Compte rendu anatomopathologique du {self.fr(result)}",
                        self.few(names.PATHOLOGY_LINES, 3, 4),
                    )
                )
            doctor = surgeon
            service = "Chirurgie"
        lines = [*self.few(names.HOSPITAL_LINES, 3, 5), "Traitement de sortie : voir ordonnance."]
        out += [
            self.draft(
                "34112-3",
                doctor,
                end,
                f"Compte rendu d'hospitalisation - {service}"
                f" - séjour du {self.fr(when)} au {self.fr(end)}",
                [f"Séjour en {service.lower()}, {structure}.", *lines],
            ),
            self.draft(
                "11490-0",
                doctor,
                end + timedelta(minutes=30),
                f"Lettre de liaison de sortie du {self.fr(end)} - {structure}",
                [f"Sortie le {self.fr(end)}.", *self.few(names.HOSPITAL_LINES, 2, 3)],
            ),
        ]
        return out

    def emergency(self, when: datetime) -> list[DocDraft]:
        doctor = self.pick("emergency")
        return [
            self.draft(
                "15507-7",
                doctor,
                when.replace(hour=self.rng.choice((0, 2, 5, 13, 19, 21, 22, 23))),
                f"Passage aux urgences du {self.fr(when)} - {doctor.structure.name}",
                self.few(names.EMERGENCY_LINES, 2, 3),
            )
        ]

    def nursing(self, when: datetime) -> list[DocDraft]:
        rng = self.rng
        gp = self.pick("gp")
        code = rng.choice(("57832-8", "PRESC-INF"))
        out = [
            self.draft(
                code,
                gp,
                when,
                f"Prescription de soins infirmiers du {self.fr(when)} - {gp.title_name}",
                ["Soins infirmiers à domicile, 7 jours sur 7, pendant 1 mois.", "Pansements."],
            )
        ]
        nurse = self.pick("nursing")
        moment: datetime | None = when
        for _ in range(rng.randint(1, 3)):
            assert moment is not None
            moment = self.later(moment, 1, 10)
            if moment is None:
                break
            out.append(
                self.draft(
                    "11506-3",
                    nurse,
                    moment,
                    f"Suivi de soins infirmiers du {self.fr(moment)} - {nurse.title_name}",
                    self.few(names.NURSING_LINES, 2, 4),
                )
            )
        return out

    def physio(self, when: datetime) -> list[DocDraft]:
        gp = self.pick("gp")
        out = [
            self.draft(
                "PRESC-KINE",
                gp,
                when,
                f"Prescription de kinésithérapie du {self.fr(when)} - {gp.title_name}",
                ["10 séances de rééducation.", "Rééducation de l'épaule droite."],
            )
        ]
        start = self.later(when, 3, 15)
        if start is not None:
            physio = self.pick("physio")
            out.append(
                self.draft(
                    "47420-5",
                    physio,
                    start,
                    f"Bilan kinésithérapique du {self.fr(start)} - {physio.title_name}",
                    self.few(names.PHYSIO_LINES, 2, 4),
                )
            )
        return out

    def vaccination(self, when: datetime, vaccine: VaccineCode | None = None) -> list[DocDraft]:
        rng = self.rng
        age = self.age(when)
        if vaccine is None:
            eligible = [v for v in self.vaccines if v.ages[0] <= age <= v.ages[1]]
            if not eligible:
                return []
            vaccine = rng.choice(eligible)
        pool = rng.choice(("gp", "gp", "nursing", "pharmacy")) if age >= 16 else "gp"
        if age < 16 and rng.random() < 0.4:
            pool = "pediatrics"
        author = self.pick(pool)
        if rng.random() < 0.75:
            self.immunizations.append((vaccine, when, author))
        return [
            self.draft(
                "87273-9",
                author,
                when,
                f"Vaccination {vaccine.label} du {self.fr(when)}",
                [
                    f"Vaccin : {vaccine.display}.",
                    f"Lot : {self.lot_number()}.",
                    "Administration conforme au schéma vaccinal, pas de réaction immédiate.",
                ],
            )
        ]

    def lot_number(self) -> str:
        rng = self.rng
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(2))
        return f"{letters}{rng.randint(1000, 9999)}"

    def vaccination_history(self, when: datetime) -> list[DocDraft]:
        gp = self.pick("gp")
        done = [v for v, at, _ in self.immunizations if at <= when]
        lines = [f"{v.display}" for v in done] or ["Vaccinations antérieures : carnet non fourni."]
        return [
            self.draft(
                "11369-6",
                gp,
                when,
                f"Historique des vaccinations au {self.fr(when)}",
                ["Vaccinations enregistrées :", *lines[:12]],
            )
        ]

    def synthesis(self, when: datetime) -> list[DocDraft]:
        gp = self.patient.medecin_traitant or self.pick("gp")
        lines = self.few(names.SYNTHESIS_LINES, 3, 5)
        if self.patient.special == "chronic":
            lines = [*names.CHRONIC_HISTORY, *lines]
        return [
            self.draft(
                "60591-5",
                gp,
                when,
                f"Volet de synthèse médicale du {self.fr(when)} - {gp.title_name}",
                lines,
            )
        ]

    def certificate(self, when: datetime) -> list[DocDraft]:
        gp = self.pick("gp")
        return [
            self.draft(
                "89601-9",
                gp,
                when,
                f"Certificat médical de non contre-indication au sport - {gp.title_name}",
                [
                    "Je soussigné(e) certifie avoir examiné ce jour la personne désignée.",
                    "Absence de contre-indication à la pratique du sport en compétition.",
                ],
            )
        ]

    def dental(self, when: datetime) -> list[DocDraft]:
        dentist = self.pick("dental")
        return [
            self.draft(
                "83836-7",
                dentist,
                when,
                f"Schéma dentaire du {self.fr(when)} - {dentist.title_name}",
                self.few(names.DENTAL_LINES, 2, 4),
            )
        ]

    def pharmacy_review(self, when: datetime) -> list[DocDraft]:
        pharmacist = self.pick("pharmacy")
        code = self.rng.choice(("56445-0", "78601-2"))
        label = "Bilan partagé de médication" if code == "56445-0" else "Entretien pharmaceutique"
        return [
            self.draft(
                code,
                pharmacist,
                when,
                f"{label} du {self.fr(when)} - {pharmacist.structure.name}",
                [
                    "Revue de l'ensemble des traitements (prescrits et non prescrits).",
                    "Pas d'interaction majeure identifiée.",
                    "Propositions transmises au médecin traitant.",
                ],
            )
        ]

    def child_exam(self, when: datetime) -> list[DocDraft]:
        doctor = self.pick(self.rng.choice(("pediatrics", "gp")))
        code = self.rng.choice(("59283-2", "68817-6"))
        label = "Examen de santé de l'enfant" if code == "59283-2" else "Bilan de prévention"
        return [
            self.draft(
                code,
                doctor,
                when,
                f"{label} du {self.fr(when)} - {doctor.title_name}",
                self.few(names.CHILD_LINES, 3, 5),
            )
        ]

    def pregnancy(self, when: datetime) -> list[DocDraft]:
        midwife = self.pick("midwifery")
        out = [
            self.draft(
                "57055-6",
                midwife,
                when,
                f"Synthèse anténatale du {self.fr(when)} - {midwife.title_name}",
                self.few(names.PREGNANCY_LINES, 2, 4),
            )
        ]
        birth = self.later(when, 20, 120)
        if birth is not None:
            obstetrician = self.pick("obstetrics")
            out.append(
                self.draft(
                    "15508-5",
                    obstetrician,
                    birth,
                    f"Compte rendu d'accouchement du {self.fr(birth)}"
                    f" - {obstetrician.structure.name}",
                    ["Accouchement par voie basse à terme.", "Délivrance complète."],
                )
            )
        return out

    def referral(self, when: datetime) -> list[DocDraft]:
        gp = self.pick("gp")
        target = self.pick(self.rng.choice(("specialist", "cardiology")))
        return [
            self.draft(
                "96349-6",
                gp,
                when,
                f"Lettre d'adressage au {target.title_name} du {self.fr(when)}",
                [
                    "Cher confrère, chère consœur,",
                    "Je vous adresse ce patient pour avis : "
                    + self.rng.choice(names.CONSULT_REASONS),
                    "Bien confraternellement.",
                ],
            )
        ]

    def psychiatry(self, when: datetime) -> list[DocDraft]:
        doctor = self.pick("psychiatry")
        if self.age(when) < 16:
            doctor = next(
                (p for p in self.directory.pools["psychiatry"] if p.specialty == "SM43"), doctor
            )
        return [
            self.draft(
                "68599-0",
                doctor,
                when,
                f"Synthèse psychiatrique du {self.fr(when)} - {doctor.title_name}",
                self.few(names.PSY_LINES, 3, 5),
            )
        ]

    def psychology(self, when: datetime) -> list[DocDraft]:
        author = self.pick("psychology")
        return [
            self.draft(
                "83901-9",
                author,
                when,
                f"Bilan psychologique du {self.fr(when)} - {author.title_name}",
                self.few(names.PSYCHOLOGY_LINES, 2, 4),
            )
        ]

    def genetics(self, when: datetime) -> list[DocDraft]:
        doctor = self.pick("genetics")
        return [
            self.draft(
                "51969-4",
                doctor,
                when,
                f"Compte rendu de génétique moléculaire du {self.fr(when)}"
                f" - {doctor.structure.name}",
                self.few(names.GENETICS_LINES, 3, 4),
            )
        ]

    def social(self, when: datetime) -> list[DocDraft]:
        pros = self.directory.pools["social"]
        author = pros[1] if self.age(when) < 20 and len(pros) > 1 else pros[0]
        return [
            self.draft(
                "80788-3",
                author,
                when,
                f"Projet personnalisé d'accompagnement - {author.structure.name}",
                self.few(names.SOCIAL_LINES, 2, 4),
            )
        ]

    def residence(self, when: datetime) -> list[DocDraft]:
        author = self.directory.pools["social"][0]
        return [
            self.draft(
                "ATTEST-RESID",
                author,
                when,
                f"Attestation de résidence du {self.fr(when)} - {author.structure.name}",
                list(names.RESIDENCE_LINES),
            )
        ]

    # -- plan ------------------------------------------------------------------------------
    def weights(self, when: datetime) -> dict[Callable[[datetime], list[DocDraft]], float]:
        age = self.age(when)
        chronic = self.patient.special == "chronic"
        w: dict[Callable[[datetime], list[DocDraft]], float] = {
            self.gp_visit: 10,
            self.biology: 12 if chronic else 4,
            self.imaging: 2.5,
            self.specialist: 4 if chronic else 2.5,
            self.hospital_stay: 1.5 if age >= 18 else 0.3,
            self.emergency: 0.8,
            self.nursing: 7 if chronic else (2 if age >= 70 else 0.6),
            self.physio: 0.6,
            self.vaccination: 5 if age < 3 else 1.2,
            self.vaccination_history: 0.3,
            self.certificate: 0.6 if 6 <= age <= 60 else 0.1,
            self.dental: 0.5 if age >= 3 else 0,
            self.referral: 0.5,
        }
        if age < 3:
            # an infant's record: paediatric follow-up and vaccines, little else
            for kind in (self.imaging, self.specialist, self.biology, self.referral):
                w[kind] = 0.3
            for kind in (self.nursing, self.physio, self.certificate, self.hospital_stay):
                w[kind] = 0
        if chronic:
            w[self.dispensation_only] = 9
            w[self.pharmacy_review] = 0.6
        if self.patient.medecin_traitant is not None:
            w[self.synthesis] = 0.6
        if age < 16:
            w[self.child_exam] = 4
        if age >= 60:
            w[self.pharmacy_review] = w.get(self.pharmacy_review, 0) + 0.4
        if self.patient.gender == "female" and 18 <= age <= 42:
            w[self.pregnancy] = 0.4
        for pool, kinds in (
            ("nursing", (self.nursing,)),
            ("pharmacy", (self.pharmacy_review,)),
            ("dental", (self.dental,)),
            ("physio", (self.physio,)),
            ("hospital", (self.hospital_stay,)),
        ):
            if pool in self.patient.preferred and self.patient.preferred[pool][0].persona:
                for kind in kinds:
                    w[kind] = w.get(kind, 0) + 1.5
        if self.patient.sensitive:
            w[self.psychiatry] = 0.5
            w[self.psychology] = 0.3
            w[self.genetics] = 0.2
        return {k: v for k, v in w.items() if v > 0}

    def dispensation_only(self, when: datetime) -> list[DocDraft]:
        return [self.dispensation(when)]

    def moment(self, window_days: int, skew: float) -> datetime:
        rng = self.rng
        days_ago = 1 + int((window_days - 1) * rng.random() ** skew)
        day = self.ref_dt - timedelta(days=days_ago)
        return day.replace(hour=rng.randint(8, 18), minute=rng.choice(range(0, 60, 5)))

    def mandatory(self, window_days: int) -> list[DocDraft]:
        """Episodes some patients must have, whatever the draw."""
        out: list[DocDraft] = []
        patient = self.patient
        age = patient.age_years(self.ref)
        if patient.sensitive:
            if patient.forced_sensitive:
                kinds = [self.psychiatry, self.psychology, self.genetics, self.social]
                if age >= 18:
                    kinds.append(self.residence)
            else:
                kinds = self.rng.sample(
                    [self.psychiatry, self.psychology, self.genetics, self.social], 2
                )
                if age >= 70 and self.rng.random() < 0.5:
                    kinds.append(self.residence)
            for kind in kinds:
                out += kind(self.moment(window_days, 1.3))
        if age < 3 or patient.special == "minor":
            out += self.childhood_vaccines()
        if patient.special == "with_masked":
            out += self.masked_stay()
        if (self.ref - patient.birth_date).days < window_days + 1:
            out += self.birth()
        return out

    def birth(self) -> list[DocDraft]:
        """The maternity's documents of a child born within the record's window."""
        born = self.patient.birth_date
        when = datetime(born.year, born.month, born.day, self.rng.randint(0, 23), tzinfo=UTC)
        midwife = self.pick("midwifery")
        pediatrician = self.directory.pools["pediatrics"][0]
        weight = self.rng.randint(2700, 4100)
        out = [
            self.draft(
                "57075-4",
                midwife,
                when + timedelta(hours=1),
                f"Synthèse salle de naissance enfant du {self.fr(when)} - {midwife.structure.name}",
                [
                    f"Naissance à terme, poids de naissance {weight} g.",
                    "Apgar 10 à 1 et 5 minutes.",
                ],
            )
        ]
        leaving = self.later(when, 3, 5)
        if leaving is not None:
            out.append(
                self.draft(
                    "78489-2",
                    pediatrician,
                    leaving,
                    f"Synthèse enfant en maternité du {self.fr(leaving)}"
                    f" - {pediatrician.title_name}",
                    [
                        "Examen de sortie normal. Dépistage néonatal réalisé.",
                        "Alimentation : allaitement maternel.",
                        "Suivi par le médecin traitant ou le pédiatre à J8-J10.",
                    ],
                )
            )
        return out

    def childhood_vaccines(self) -> list[DocDraft]:
        """The French schedule (2, 4, 5, 11, 12, 16 months; 6 years) up to the reference."""
        codes = {v.code: v for v in self.vaccines}
        schedule = (
            (2, "J07CA09"), (2, "J07AL02"), (4, "J07CA09"), (4, "J07AL02"), (5, "J07AH07"),
            (11, "J07CA09"), (11, "J07AL02"), (12, "J07BD52"), (12, "J07AH07"),
            (16, "J07BD52"), (72, "J07CA02"),
        )  # fmt: skip
        out: list[DocDraft] = []
        birth = self.patient.birth_date
        for months, code in schedule:
            vaccine = codes.get(code)
            day = birth + timedelta(days=int(months * 30.44) + self.rng.randint(0, 12))
            if vaccine is None or day >= self.ref - timedelta(days=1):
                continue
            when = datetime(day.year, day.month, day.day, self.rng.randint(8, 18), tzinfo=UTC)
            out += self.vaccination(when, vaccine)
            # the schedule is recorded even when the note is not kept as a document
            if not self.immunizations or self.immunizations[-1][0] is not vaccine:
                self.immunizations.append((vaccine, when, out[-1].author))
        if out:
            last = max(d.created for d in out)
            moment = self.later(last, 1, 60)
            if moment is not None:
                out += self.vaccination_history(moment)
        return out

    def masked_stay(self) -> list[DocDraft]:
        """The hospital doctor's documents the patient asked to mask (MASQUE_PS)."""
        doctor = self.directory.persona("hospital_doctor")
        start = self.ref_dt - timedelta(days=self.rng.randint(90, 400), hours=14)
        end = start + timedelta(days=4, hours=2)
        drafts = [
            self.draft(
                "11488-4",
                doctor,
                start - timedelta(days=21),
                f"Consultation de cardiologie du {self.fr(start - timedelta(days=21))}"
                f" - {doctor.title_name}",
                ["Dyspnée d'effort récente.", "Hospitalisation programmée pour bilan."],
            ),
            self.draft(
                "70004-7",
                doctor,
                start + timedelta(days=1),
                f"Échographie cardiaque du {self.fr(start + timedelta(days=1))}"
                f" - {doctor.title_name}",
                ["FEVG conservée.", "Pas de valvulopathie significative."],
            ),
            self.draft(
                "34112-3",
                doctor,
                end,
                f"Compte rendu d'hospitalisation - Cardiologie - séjour du {self.fr(start)}"
                f" au {self.fr(end)}",
                ["Séjour en cardiologie, Centre hospitalier de Saint-Martin.", "Bilan rassurant."],
            ),
            self.draft(
                "11490-0",
                doctor,
                end + timedelta(minutes=45),
                f"Lettre de liaison de sortie du {self.fr(end)}"
                f" - Centre hospitalier de Saint-Martin",
                [f"Sortie le {self.fr(end)}.", "Pas de modification du traitement."],
            ),
        ]
        for draft in drafts:
            draft.visibility = [Visibility.MASQUE_PS.value]
            draft.protected = True
            draft.content_type = documents.PDF
        return drafts

    def plan(self, count: int, window_days: int, skew: float) -> list[DocDraft]:
        """The mandatory episodes, then drawn ones up to ``count`` documents in all."""
        mandatory = self.mandatory(window_days)
        drawn: list[DocDraft] = []
        rng = self.rng
        while len(mandatory) + len(drawn) < count:
            when = self.moment(window_days, skew)
            weights = self.weights(when)
            kinds = list(weights)
            kind = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
            drawn += kind(when)
        # the last episode may overflow: cut it, never a mandatory document
        return mandatory + drawn[: max(0, count - len(mandatory))]


# -- the whole seed --------------------------------------------------------------------------


# -- "Entourage et volontés" ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelatedRow:
    """A person of trust and/or relative to contact (a ``related_persons`` row)."""

    id: str
    patient_ins: str
    roles: tuple[str, ...]
    """TRE_R260 codes: NOK (personne de confiance), ECON (personne à prévenir)."""
    relationship: str
    family_name: str
    given_names: str
    gender: str
    phones: tuple[tuple[str, str], ...]
    """(use, number) pairs."""
    rank: int
    recorded_at: datetime

    def values(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.patient_ins,
            " ".join(self.roles),
            self.relationship,
            self.family_name,
            self.given_names,
            self.gender,
            json.dumps([{"value": v, "use": u} for u, v in self.phones], ensure_ascii=False),
            self.rank,
            _iso(self.recorded_at),
        )


@dataclass(frozen=True, slots=True)
class DirectivesRow:
    """What a patient recorded about her advance directives (an ``advance_directives`` row)."""

    id: str
    patient_ins: str
    written: bool
    written_on: date | None
    location: str | None
    recorded_at: datetime

    def values(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.patient_ins,
            int(self.written),
            None if self.written_on is None else self.written_on.isoformat(),
            self.location,
            _iso(self.recorded_at),
        )


@dataclass(slots=True)
class EntourageResult:
    related: list[RelatedRow] = field(default_factory=list)
    directives: list[DirectivesRow] = field(default_factory=list)


class _EntourageMaker:
    """Draws the relatives and advance directives of the patients (own random stream, so
    the rest of the seed is unchanged by it)."""

    def __init__(self, rng: random.Random, ref: date) -> None:
        self.rng = rng
        self.ref = ref
        self.ref_dt = datetime(ref.year, ref.month, ref.day, 12, tzinfo=UTC)
        self.result = EntourageResult()

    def _phone(self, use: str) -> tuple[str, str]:
        prefix = self.rng.choice(names.FICTION_PHONE_PREFIXES[use])
        return use, f"{prefix} {self.rng.randint(0, 99):02d} {self.rng.randint(0, 99):02d}"

    def _recorded(self) -> datetime:
        return self.ref_dt - timedelta(
            days=self.rng.randint(20, 1500), minutes=self.rng.randint(0, 600)
        )

    def relative(
        self,
        patient: PatientSeed,
        relation: names.Relation,
        roles: tuple[str, ...],
        rank: int,
    ) -> RelatedRow:
        rng = self.rng
        if relation.gender is not None:
            gender = relation.gender
        elif relation.code == "SPS":
            other = "female" if patient.gender == "male" else "male"
            gender = other if rng.random() < 0.9 else patient.gender
        else:
            gender = rng.choice(("female", "male"))
        age = max(18, patient.age_years(self.ref) + rng.randint(*relation.age_offset))
        birth_year = self.ref.year - age
        pool = (names.MALE_GIVEN_NAMES if gender == "male" else names.FEMALE_GIVEN_NAMES)[
            names.given_name_period(birth_year)
        ]
        if rng.random() < relation.same_family_name:
            family = patient.family_name
        else:
            family = rng.choice(names.FAMILY_NAMES)
        phones = [self._phone("mobile")] if rng.random() < 0.92 else []
        if not phones or rng.random() < 0.3:
            phones.append(self._phone("home"))
        return RelatedRow(
            id=_uuid(rng).hex,
            patient_ins=patient.ins,
            roles=roles,
            relationship=relation.code,
            family_name=family,
            given_names=rng.choice(pool),
            gender=gender,
            phones=tuple(phones),
            rank=rank,
            recorded_at=self._recorded(),
        )

    def directives(self, patient: PatientSeed, written: bool) -> DirectivesRow:
        rng = self.rng
        adult_days = max(1, (self.ref - patient.birth_date).days - 18 * 365 - 30)
        recorded = self._recorded()
        written_on = None
        location = None
        if written:
            written_on = recorded.date() - timedelta(days=rng.randint(0, min(adult_days, 2500)))
            adult = patient.birth_date + timedelta(days=18 * 366)
            written_on = min(max(written_on, adult), recorded.date())
            location = rng.choice(names.DIRECTIVES_LOCATIONS)
        return DirectivesRow(_uuid(rng).hex, patient.ins, written, written_on, location, recorded)

    def patient(self, patient: PatientSeed) -> None:
        """Some patients recorded their circle and directives, others nothing."""
        rng = self.rng
        age = patient.age_years(self.ref)
        related = self.result.related
        match patient.special:
            case "opposed_centre_15":
                return  # recorded nothing: "Non renseigné" everywhere
            case "minor":
                for rank, parent in enumerate(names.PARENTS, start=1):
                    related.append(self.relative(patient, parent, ("ECON",), rank))
                return
            case "chronic":
                spouse = names.RELATIONS_ADULT[0]
                related.append(self.relative(patient, spouse, ("NOK", "ECON"), 1))
                child = rng.choice(names.RELATIONS_ADULT[1:3])
                related.append(self.relative(patient, child, ("ECON",), 2))
                self.result.directives.append(self.directives(patient, written=True))
                return
            case "with_masked":
                trusted = rng.choice(names.RELATIONS_ADULT[3:5])
                related.append(self.relative(patient, trusted, ("NOK",), 0))
                related.append(self.relative(patient, names.RELATIONS_ADULT[0], ("ECON",), 1))
                self.result.directives.append(self.directives(patient, written=False))
                return
        if age < 18:
            if rng.random() < 0.6:
                parents = rng.sample(names.PARENTS, rng.randint(1, 2))
                for rank, parent in enumerate(parents, start=1):
                    related.append(self.relative(patient, parent, ("ECON",), rank))
            return
        if rng.random() < 0.45:
            return  # nothing recorded
        relations = names.RELATIONS_YOUNG_ADULT if age < 30 else names.RELATIONS_ADULT
        chosen = rng.sample(relations, rng.randint(1, 3))
        trusted_index = 0 if rng.random() < 0.55 else None
        rank = 0
        for index, relation in enumerate(chosen):
            roles: tuple[str, ...]
            if index == trusted_index:
                roles = ("NOK", "ECON") if rng.random() < 0.6 else ("NOK",)
            else:
                roles = ("ECON",)
            if "ECON" in roles:
                rank += 1
            related.append(self.relative(patient, relation, roles, rank if "ECON" in roles else 0))
        odds_written, odds_absent = (0.45, 0.2) if age >= 60 else (0.1, 0.15)
        draw = rng.random()
        if draw < odds_written:
            self.result.directives.append(self.directives(patient, written=True))
        elif draw < odds_written + odds_absent:
            self.result.directives.append(self.directives(patient, written=False))


def make_entourage(
    rng: random.Random, patients: Sequence[PatientSeed], ref: date
) -> EntourageResult:
    """The seeded "Entourage et volontés": deterministic, for some patients only (the
    chronic patient: person of trust, two relatives and written directives; the minor: her
    parents; ``with_masked``: a person of trust and directives declared absent;
    ``opposed_centre_15``: nothing)."""
    maker = _EntourageMaker(rng, ref)
    for patient in patients:
        maker.patient(patient)
    return maker.result


@dataclass(slots=True)
class SeedResult:
    directory: Directory
    patients: list[PatientSeed]
    links: CareLinks
    docs: list[DocRow]
    immunizations: list[ImmunizationRow]
    entourage: EntourageResult = field(default_factory=EntourageResult)

    def masked_ids(self, patient: PatientSeed) -> list[str]:
        return [
            d.id
            for d in self.docs
            if d.patient is patient and Visibility.MASQUE_PS.value in d.draft.visibility
        ]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _sub_rng(options: SeedOptions, purpose: str) -> random.Random:
    # str seeds are hashed with SHA-512 by random.seed (version 2): stable across runs and
    # independent of PYTHONHASHSEED.
    # The reference date is not part of it: the same seed gives the same draws on any day.
    return random.Random(f"dmp-sandbox/{options.seed}/{purpose}")


def _deposit_delay(rng: random.Random, type_code: str) -> timedelta:
    if type_code in ("11502-2", "60593-1", "87273-9"):
        return timedelta(minutes=rng.randint(5, 240))
    if type_code in ("34112-3", "11490-0", "60568-3", "51969-4"):
        return timedelta(hours=rng.randint(1, 72))
    return timedelta(minutes=rng.randint(2, 60 * 24 * 2))


def _content_type(rng: random.Random, type_code: str) -> str:
    if type_code in ("11502-2", "60591-5", "87273-9", "11488-4", "11490-0", "34112-3"):
        if rng.random() < 0.12:
            return documents.CDA
    if rng.random() < 0.06:
        return documents.TEXT
    return documents.PDF


def _master_id(rng: random.Random, draft: DocDraft, seen: set[str]) -> str:
    while True:
        if rng.random() < 0.2:
            master = f"urn:uuid:{_uuid(rng)}"
        else:
            master = (
                f"urn:oid:{documents.DOCUMENT_ID_ROOT}.{draft.author.structure.id}"
                f".{rng.randrange(10**9, 10**10)}"
            )
        if master not in seen:
            seen.add(master)
            return master


def _content(
    row_id: str, patient: PatientSeed, draft: DocDraft, shift: timedelta
) -> documents.DocumentContent:
    """What the body shows, its dates moved by `shift` to the reference date's calendar."""
    author = draft.author
    return documents.DocumentContent(
        document_id=row_id,
        title=draft.title,
        type_code=draft.type_code,
        type_label=terminology().type(draft.type_code).label,
        act_time=draft.created + shift,
        structure_id=author.structure.id,
        structure_name=author.structure.name,
        author_id_nat=author.id_nat,
        author_name=author.signature,
        author_given_name=author.given_name,
        author_family_name=author.family_name,
        author_profession=author.full_profession,
        patient_ins=patient.ins,
        patient_family_name=patient.family_name,
        patient_given_names=patient.given_names,
        patient_gender=patient.gender,
        patient_birth_date=patient.birth_date + shift,
        lines=tuple(draft.lines),
    )


class _RowMaker:
    def __init__(
        self,
        rng: random.Random,
        directory: Directory,
        ref: date,
        shift: timedelta = timedelta(0),
    ) -> None:
        self.rng = rng
        self.shift = shift
        self.ref_dt = datetime(ref.year, ref.month, ref.day, tzinfo=UTC)
        self.secretary = directory.personas.get("secretary")
        self.deposits_for = set()
        if self.secretary is not None:
            persona = next(p for p in PERSONAS if p.id == "secretary")
            self.deposits_for = {directory.persona(i).id_nat for i in persona.deposits_for}
        self.masters: set[str] = set()
        self.ids: set[str] = set()

    def row(self, patient: PatientSeed, draft: DocDraft) -> DocRow:
        rng = self.rng
        while True:
            row_id = _uuid(rng).hex
            if row_id not in self.ids:
                self.ids.add(row_id)
                break
        latest = self.ref_dt - timedelta(minutes=1)
        deposited = min(draft.created + _deposit_delay(rng, draft.type_code), latest)
        deposited = max(deposited, draft.created)
        entered_by = None
        if (
            self.secretary is not None
            and draft.author.id_nat in self.deposits_for
            and rng.random() < 0.4
        ):
            entered_by = self.secretary.id_nat
        content_type = draft.content_type or _content_type(rng, draft.type_code)
        body = documents.render(_content(row_id, patient, draft, self.shift), content_type)
        return DocRow(
            id=row_id,
            master_id=_master_id(rng, draft, self.masters),
            patient=patient,
            draft=draft,
            deposited=deposited,
            entered_by=entered_by,
            content_type=content_type,
            body=body,
            submission_id=_uuid(rng).hex,
        )


def _statuses(
    rng: random.Random, rows: list[DocRow], maker: _RowMaker, patient: PatientSeed
) -> list[DocRow]:
    """A few superseded (with their replacing version), deleted, archived and hidden ones."""
    candidates = [r for r in rows if not r.draft.protected and r.draft.type_code != "60593-1"]
    if not candidates:
        return rows
    scale = max(1, len(rows) // 200)
    # the chronic patient always has some of each state, so that every seed shows them
    least = 1 if patient.special == "chronic" else 0
    out = list(rows)
    n_replace = max(least, rng.choice((0, 0, 1, 1, 2)) * scale)
    for original in rng.sample(candidates, min(n_replace, len(candidates))):
        if original.status != "current":
            continue
        later = original.draft.created + timedelta(days=rng.randint(1, 20), hours=1)
        if later >= maker.ref_dt - timedelta(hours=3):
            continue
        original.status = "superseded"
        draft = DocDraft(
            original.draft.type_code,
            original.draft.author,
            later,
            f"{original.draft.title} (version corrigée)",
            [*original.draft.lines, "Version corrigée remplaçant la précédente."],
            list(original.draft.visibility),
            original.content_type,
            True,
        )
        replacement = maker.row(patient, draft)
        replacement.replaces = original.id
        out.append(replacement)
    current = [r for r in candidates if r.status == "current"]
    n_errors = max(least, rng.choice((0, 0, 0, 1)) * scale)
    for row in rng.sample(current, min(n_errors, len(current))):
        row.status = "entered-in-error"
    old_limit = maker.ref_dt - timedelta(days=3 * 365)
    old = [r for r in candidates if r.status == "current" and r.draft.created < old_limit]
    for row in rng.sample(old, min(max(least, rng.choice((0, 1, 2)) * scale), len(old))):
        row.archived = True
    # pending announcement: hidden from the patient until the consultation
    pending = [
        r
        for r in candidates
        if r.status == "current" and r.draft.type_code in ("51969-4", "60568-3", "18748-4")
    ]
    if pending and (least or rng.random() < 0.3):
        row = rng.choice(pending)
        row.draft.visibility = [*row.draft.visibility, Visibility.INVISIBLE_PATIENT.value]
    # a teenager's confidential document, hidden from her legal representatives
    if 12 <= patient.age_years(maker.ref_dt.date()) < 18 and rng.random() < 0.7:
        row = rng.choice(candidates)
        row.draft.visibility = [
            *row.draft.visibility,
            Visibility.INVISIBLE_REPRESENTANTS_LEGAUX.value,
        ]
    # masked at the patient's request (often psychiatric or specialised documents)
    if patient.special is None and rng.random() < 0.2:
        maskable = [
            r for r in candidates if r.status == "current" and r.draft.author.persona is None
        ] or candidates
        row = rng.choice(maskable)
        if Visibility.MASQUE_PS.value not in row.draft.visibility:
            row.draft.visibility = [Visibility.MASQUE_PS.value, *row.draft.visibility]
    return out


def generate(options: SeedOptions, personas: Sequence[Persona] = PERSONAS) -> SeedResult:
    """All the seeded rows, in memory (bodies included): a pure function of ``options``."""
    options.check()
    ref = SEED_ANCHOR
    shift = timedelta(days=(options.reference_date - SEED_ANCHOR).days)
    directory = build_directory(personas)
    patients = make_patients(_sub_rng(options, "patients"), options.patients, ref)
    links = assign_care(_sub_rng(options, "care"), patients, directory, ref)
    vaccines = vaccine_codes()
    docs: list[DocRow] = []
    immunizations: list[ImmunizationRow] = []
    for patient in patients:
        rng = _sub_rng(options, f"documents/{patient.ins}")
        factory = DocumentFactory(rng, directory, patient, ref, vaccines, shift)
        age_days = max(30, (ref - patient.birth_date).days)
        if patient.special == "chronic":
            count, window, skew = options.chronic_docs, CHRONIC_YEARS * 365, 1.15
        else:
            window = min(age_days, int(rng.uniform(3, 12) * 365))
            # a baby's record is short: about one document a month of life, ten at least
            count = min(rng.randint(*DOCS_PER_PATIENT), DOCS_PER_PATIENT[0] + window // 30)
            skew = 1.6
        drafts = factory.plan(count, window, skew)
        drafts.sort(key=lambda d: d.created)
        maker = _RowMaker(rng, directory, ref, shift)
        maker.ids = {d.id for d in docs}
        maker.masters = {d.master_id for d in docs}
        rows = [maker.row(patient, draft) for draft in drafts]
        docs += _statuses(rng, rows, maker, patient)
        for vaccine, when, performer in factory.immunizations:
            immunizations.append(
                ImmunizationRow(
                    id=_uuid(rng).hex,
                    patient_ins=patient.ins,
                    vaccine=vaccine,
                    occurrence=when.date(),
                    lot_number=factory.lot_number(),
                    performer=performer,
                    recorded_at=min(
                        when + timedelta(minutes=rng.randint(5, 120)),
                        factory.ref_dt - timedelta(minutes=1),
                    ),
                )
            )
    entourage = make_entourage(_sub_rng(options, "entourage"), patients, ref)
    result = SeedResult(directory, patients, links, docs, immunizations, entourage)
    _move_dates(result, shift)
    return result


def _move_dates(result: SeedResult, shift: timedelta) -> None:
    """Move every date of `result`, drawn as of :data:`SEED_ANCHOR`, by `shift` (to the
    reference date). The bodies were rendered with moved dates already (``_content``)."""
    for patient in result.patients:
        patient.birth_date += shift
    drafts: dict[int, DocDraft] = {}
    for row in result.docs:
        drafts[id(row.draft)] = row.draft
        row.deposited += shift
    for draft in drafts.values():
        draft.created += shift
    result.immunizations[:] = [
        replace(i, occurrence=i.occurrence + shift, recorded_at=i.recorded_at + shift)
        for i in result.immunizations
    ]
    result.links.authorisations[:] = [
        (ins, id_nat, kind, method, _iso(datetime.fromisoformat(created) + shift))
        for ins, id_nat, kind, method, created in result.links.authorisations
    ]
    entourage = result.entourage
    entourage.related[:] = [
        replace(r, recorded_at=r.recorded_at + shift) for r in entourage.related
    ]
    entourage.directives[:] = [
        replace(
            d,
            written_on=None if d.written_on is None else d.written_on + shift,
            recorded_at=d.recorded_at + shift,
        )
        for d in entourage.directives
    ]


# -- writing ---------------------------------------------------------------------------------------


def write_database(store: Store, result: SeedResult, options: SeedOptions) -> None:
    with store.transaction() as conn:
        conn.executemany(
            "INSERT INTO structures(id, name, kind) VALUES (?,?,?)",
            [(s.id, s.name, s.kind) for s in result.directory.structures],
        )
        conn.executemany(
            "INSERT INTO professionals(id_nat, family_name, given_name, profession,"
            " profession_label, specialty, role, structure_id, card_kind)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.id_nat,
                    p.family_name,
                    p.given_name,
                    p.profession,
                    p.profession_label,
                    p.specialty,
                    p.role,
                    p.structure.id,
                    p.card_kind,
                )
                for p in result.directory.pros
            ],
        )
        conn.executemany(
            "INSERT INTO patients(ins, ins_system, family_name, given_names, birth_date, gender,"
            " birth_place, address_city, medecin_traitant, opposed_bris_de_glace,"
            " opposed_centre_15) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.ins,
                    INS_NIR_SYSTEM,
                    p.family_name,
                    p.given_names,
                    p.birth_date.isoformat(),
                    p.gender,
                    p.birth_place,
                    p.city,
                    None if p.medecin_traitant is None else p.medecin_traitant.id_nat,
                    int(p.opposed_bris_de_glace),
                    int(p.opposed_centre_15),
                )
                for p in result.patients
            ],
        )
        conn.executemany(
            "INSERT INTO authorisations(patient_ins, id_nat, kind, method, created_at)"
            " VALUES (?,?,?,?,?)",
            result.links.authorisations,
        )
        conn.executemany(
            "INSERT INTO blocks(patient_ins, id_nat) VALUES (?,?)", result.links.blocks
        )
        conn.executemany(
            "INSERT INTO documents(id, master_id, patient_ins, type_code, type_system,"
            " class_code, title, author_id_nat, author_name, author_profession, structure_id,"
            " structure_name, entered_by, created, deposited, status, archived, visibility,"
            " content_type, size, sha1, replaces, submission_id, submission_hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.values() for d in result.docs),
        )
        conn.executemany(
            "INSERT INTO binaries(id, content_type, data) VALUES (?,?,?)",
            ((d.id, d.content_type, d.body) for d in result.docs),
        )
        conn.executemany(
            "INSERT INTO immunizations(id, patient_ins, vaccine_system, vaccine_code,"
            " vaccine_display, occurrence, lot_number, performer_id_nat, performer_name,"
            " recorded_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    i.id,
                    i.patient_ins,
                    i.vaccine.system,
                    i.vaccine.code,
                    i.vaccine.display,
                    i.occurrence.isoformat(),
                    i.lot_number,
                    i.performer.id_nat,
                    i.performer.display_name,
                    _iso(i.recorded_at),
                    "completed",
                )
                for i in result.immunizations
            ],
        )
        conn.executemany(
            "INSERT INTO related_persons(id, patient_ins, roles, relationship, family_name,"
            " given_names, gender, phones, rank, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [r.values() for r in result.entourage.related],
        )
        conn.executemany(
            "INSERT INTO advance_directives(id, patient_ins, written, written_on, location,"
            " recorded_at) VALUES (?,?,?,?,?,?)",
            [d.values() for d in result.entourage.directives],
        )
        meta = {
            **options.as_meta(),
            "generator": "dmp-sandbox init",
            "initialised_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?,?)", sorted(meta.items())
        )


def personas_document(
    personas: Sequence[Persona] = PERSONAS, *, cards: bool = True
) -> list[dict[str, Any]]:
    """The content of personas.json (a list, one object per persona)."""
    by_id = {p.id: p for p in personas}
    out: list[dict[str, Any]] = []
    for p in personas:
        entry: dict[str, Any] = {
            "id": p.id,
            "token_label": p.token_label,
            "pin": p.pin,
            "id_nat": p.id_nat,
            "family_name": p.family_name,
            "given_name": p.given_name,
            "profession": p.profession,
            "profession_label": p.profession_label,
            "specialty": p.specialty,
            "role": p.role,
            "card_kind": p.card_kind,
            "structure": {"id": p.structure.id, "name": p.structure.name, "kind": p.structure.kind},
            "certificate": f"pki/{p.id}.pem" if cards else None,
        }
        if p.role == "secretary":
            entry["deposits_for"] = [
                {"persona": d, "id_nat": by_id[d].id_nat} for d in p.deposits_for
            ]
        out.append(entry)
    return out


def patients_document(result: SeedResult, options: SeedOptions) -> dict[str, Any]:
    """The content of patients.json: the special patients, the GP's, the care teams, all."""
    by_special = {p.special: p for p in result.patients if p.special}
    gp = result.directory.persona("gp")
    with_masked = by_special["with_masked"]
    blocked_pairs = [
        (ins, id_nat) for ins, id_nat in result.links.blocks if ins == by_special["blocked"].ins
    ]
    by_id_nat = {p.id_nat: p.persona for p in result.directory.personas.values()}
    return {
        "ins_system": INS_NIR_SYSTEM,
        "seed": options.seed,
        "reference_date": options.reference_date.isoformat(),
        "chronic": by_special["chronic"].ins,
        "opposed_bris_de_glace": by_special["opposed_bris_de_glace"].ins,
        "opposed_centre_15": by_special["opposed_centre_15"].ins,
        "blocked": {"ins": blocked_pairs[0][0], "persona": by_id_nat[blocked_pairs[0][1]]},
        "minor": by_special["minor"].ins,
        "with_masked": {
            "ins": with_masked.ins,
            "author": "hospital_doctor",
            "document_ids": result.masked_ids(with_masked),
        },
        "treated_by_gp": [
            p.ins
            for p in result.patients
            if p.medecin_traitant is not None and p.medecin_traitant.id_nat == gp.id_nat
        ],
        "care_team": {k: list(v) for k, v in sorted(result.links.care_team.items())},
        "mt_equivalent": {k: list(v) for k, v in sorted(result.links.mt_equivalent.items())},
        "entourage": entourage_document(result),
        "all": [
            {
                "ins": p.ins,
                "family_name": p.family_name,
                "given_names": p.given_names,
                "birth_date": p.birth_date.isoformat(),
                "gender": p.gender,
                "special": p.special,
            }
            for p in result.patients
        ],
    }


def entourage_document(result: SeedResult) -> dict[str, list[str]]:
    """Who recorded what in "Entourage et volontés" (patients.json ``entourage``)."""
    related = result.entourage.related
    directives = result.entourage.directives
    trusted = {r.patient_ins for r in related if "NOK" in r.roles}
    contacts = {r.patient_ins for r in related if "ECON" in r.roles}
    written = {d.patient_ins for d in directives if d.written}
    absent = {d.patient_ins for d in directives if not d.written}
    recorded = trusted | contacts | written | absent
    order = [p.ins for p in result.patients]
    return {
        "trusted_person": [ins for ins in order if ins in trusted],
        "contacts": [ins for ins in order if ins in contacts],
        "directives_written": [ins for ins in order if ins in written],
        "directives_absent": [ins for ins in order if ins in absent],
        "nothing": [ins for ins in order if ins not in recorded],
    }


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# -- the directory on disk ---------------------------------------------------------------------


def _is_known_entry(entry: Path) -> bool:
    return entry.name in _KNOWN_ENTRIES or (entry.name.endswith(".log") and entry.is_file())


def prepare_directory(directory: Path, *, force: bool) -> None:
    """Create ``directory``, or empty it when ``force`` and it is a sandbox directory.

    A directory is wiped only when it carries the marker (or the database) and holds nothing
    but what ``init`` creates; otherwise nothing is removed.
    """
    if directory.exists() and not directory.is_dir():
        raise SandboxDirectoryError(f"{directory} exists and is not a directory")
    entries = sorted(directory.iterdir()) if directory.exists() else []
    if entries:
        if not force:
            raise SandboxDirectoryError(
                f"{directory} is not empty: choose an empty directory, or pass --force to "
                "wipe a previous sandbox directory"
            )
        if not ((directory / MARKER).exists() or (directory / DB_NAME).exists()):
            raise SandboxDirectoryError(
                f"{directory} does not look like a sandbox directory (no {MARKER} nor "
                f"{DB_NAME}): refusing to wipe it, even with --force"
            )
        unknown = [e.name for e in entries if not _is_known_entry(e)]
        if unknown:
            raise SandboxDirectoryError(
                f"{directory} holds files dmp-sandbox did not create ({', '.join(unknown)}): "
                "refusing to wipe it; move them away first"
            )
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text(
        "A DMP sandbox directory made by `dmp-sandbox init` (test data only).\n",
        encoding="utf-8",
    )


def _provision(directory: Path, personas: Sequence[Persona]) -> None:
    from sandbox.tokens import provision_cards  # needs SoftHSM2: imported only when used

    provision_cards(directory, personas)


def table_counts(store: Store) -> dict[str, int]:
    tables = (
        "structures",
        "professionals",
        "patients",
        "authorisations",
        "blocks",
        "documents",
        "binaries",
        "immunizations",
        "related_persons",
        "advance_directives",
    )
    return {t: int(store.query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in tables}


def init_sandbox(
    directory: Path,
    options: SeedOptions,
    *,
    force: bool = False,
    personas: Sequence[Persona] = PERSONAS,
    progress: Callable[[str], None] | None = None,
) -> InitReport:
    """``dmp-sandbox init``: cards, database and JSON files in ``directory``."""
    options.check()
    say = progress or (lambda _msg: None)
    directory = Path(directory)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    prepare_directory(directory, force=force)
    if options.cards:
        say("Cartes : autorité de test et jetons SoftHSM2...")
        t0 = time.perf_counter()
        _provision(directory, personas)
        timings["cards"] = time.perf_counter() - t0
    say("Données : annuaire, patients, documents...")
    t0 = time.perf_counter()
    result = generate(options, personas)
    timings["generate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    store = Store.create(directory / DB_NAME)
    try:
        write_database(store, result, options)
        counts = table_counts(store)
    finally:
        store.close()
    timings["database"] = time.perf_counter() - t0
    patients = patients_document(result, options)
    _dump(directory / PERSONAS_FILE, personas_document(personas, cards=options.cards))
    _dump(directory / PATIENTS_FILE, patients)
    timings["total"] = time.perf_counter() - started
    return InitReport(
        directory=directory,
        counts=counts,
        timings=timings,
        body_bytes=sum(len(d.body) for d in result.docs),
        patients=patients,
    )
