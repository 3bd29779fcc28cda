"""The sandbox's personas: one test card (SoftHSM2 token) and one directory entry each.

idNat of a PS is "8" + RPPS (test RPPS start 997, so test idNat start 8997). A CPE card
(secretary) is identified by "<structure id>/<employee number>".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Structure:
    id: str
    """Structure identifier: "1" + FINESS (établissement) or "3" + SIRET-like id (cabinet)."""
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    token_label: str
    pin: str
    id_nat: str
    family_name: str
    given_name: str
    profession: str
    """Matrix key: TRE_G15 profession code, or non-PS role code (SECRETARIAT_MEDICAL)."""
    profession_label: str
    specialty: str | None
    role: str
    """"ps", "regulator" or "secretary"."""
    structure: Structure
    deposits_for: tuple[str, ...] = field(default=())
    """Persona ids of the doctors a secretary deposits for."""

    @property
    def card_kind(self) -> str:
        return "CPE" if self.role == "secretary" else "CPS"


SO_PIN = "87654321"

CABINET_PARC = Structure("3997000012301", "Cabinet médical du Parc", "cabinet")
CH_SAINT_MARTIN = Structure("1997000456", "Centre hospitalier de Saint-Martin", "etablissement")
SAMU_69 = Structure("1997000789", "SAMU - Centre 15 de Saint-Martin", "centre_15")
PHARMACIE_GARE = Structure("3997000045602", "Pharmacie de la Gare", "officine")
CABINET_SOINS = Structure("3997000078903", "Cabinet infirmier des Tilleuls", "cabinet")
CABINET_DENTAIRE = Structure("3997000091204", "Cabinet dentaire Pasteur", "cabinet")
CABINET_KINE = Structure("3997000034505", "Cabinet de kinésithérapie du Lac", "cabinet")
MATERNITE = Structure("1997000567", "Maternité Sainte-Anne", "etablissement")

PERSONAS: tuple[Persona, ...] = (
    Persona(
        "gp",
        "CPS MARTIN Claire",
        "1234",
        "899700000011",
        "MARTIN",
        "Claire",
        "10",
        "Médecin",
        "SM54",
        "ps",
        CABINET_PARC,
    ),
    Persona(
        "emergency",
        "CPS BENALI Karim",
        "2345",
        "899700000029",
        "BENALI",
        "Karim",
        "10",
        "Médecin",
        "SM59",
        "ps",
        CH_SAINT_MARTIN,
    ),
    Persona(
        "regulator",
        "CPS LEROY Sophie",
        "3456",
        "899700000037",
        "LEROY",
        "Sophie",
        "10",
        "Médecin",
        "SM59",
        "regulator",
        SAMU_69,
    ),
    Persona(
        "nurse",
        "CPS PETIT Julie",
        "4567",
        "899700000045",
        "PETIT",
        "Julie",
        "60",
        "Infirmier",
        None,
        "ps",
        CABINET_SOINS,
    ),
    Persona(
        "pharmacist",
        "CPS MOREAU Thomas",
        "5678",
        "899700000052",
        "MOREAU",
        "Thomas",
        "21",
        "Pharmacien",
        None,
        "ps",
        PHARMACIE_GARE,
    ),
    Persona(
        "dentist",
        "CPS FOURNIER Elodie",
        "6789",
        "899700000060",
        "FOURNIER",
        "Élodie",
        "40",
        "Chirurgien-Dentiste",
        None,
        "ps",
        CABINET_DENTAIRE,
    ),
    Persona(
        "physio",
        "CPS GIRARD Lucas",
        "7890",
        "899700000078",
        "GIRARD",
        "Lucas",
        "70",
        "Masseur-Kinésithérapeute",
        None,
        "ps",
        CABINET_KINE,
    ),
    Persona(
        "midwife",
        "CPS ROUX Camille",
        "8901",
        "899700000086",
        "ROUX",
        "Camille",
        "50",
        "Sage-Femme",
        None,
        "ps",
        MATERNITE,
    ),
    Persona(
        "hospital_doctor",
        "CPS LEFEBVRE Anne",
        "9012",
        "899700000094",
        "LEFEBVRE",
        "Anne",
        "10",
        "Médecin",
        "SM04",
        "ps",
        CH_SAINT_MARTIN,
    ),
    Persona(
        "secretary",
        "CPE MERCIER Nadia",
        "0123",
        "1997000456/SEC0042",
        "MERCIER",
        "Nadia",
        "SECRETARIAT_MEDICAL",
        "Secrétariat médical",
        None,
        "secretary",
        CH_SAINT_MARTIN,
        deposits_for=("hospital_doctor", "emergency"),
    ),
)

BY_ID: dict[str, Persona] = {p.id: p for p in PERSONAS}
BY_ID_NAT: dict[str, Persona] = {p.id_nat: p for p in PERSONAS}
