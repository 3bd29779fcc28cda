"""DMP document types (JDV_J66, LOINC + TRE_A05) and classes (TRE_A03), from ``resources/``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from console.domain.errors import ResourceDataError, UnknownDocumentTypeError
from console.resources import load_json

LOINC_SYSTEM = "http://loinc.org"
TRE_A05_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"
VACCINATION_HISTORY = "11369-6"


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str
    system: str
    label: str
    class_code: str
    class_label: str


@dataclass(frozen=True, slots=True)
class Terminology:
    types: dict[str, DocumentType]
    classes: dict[str, str]
    class_system: str

    def type(self, code: str) -> DocumentType:
        try:
            return self.types[code]
        except KeyError:
            raise UnknownDocumentTypeError(f"Type de document inconnu du DMP : {code!r}") from None

    def is_dmp_type(self, code: str) -> bool:
        return code in self.types


@cache
def terminology() -> Terminology:
    """The DMP's 102 document types and their classes (loaded once)."""
    try:
        raw = load_json("dmp_type_class_map.json")
        classes = {str(k): str(v) for k, v in raw["classes"].items()}
        types: dict[str, DocumentType] = {}
        for row in raw["types"]:
            code = str(row["code"])
            system = str(row["system"])
            label = row.get("label_fr") or _FALLBACK_LABELS.get(code) or code
            types[code] = DocumentType(
                code, system, str(label), str(row["class_code"]), classes[str(row["class_code"])]
            )
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ResourceDataError(f"resources/dmp_type_class_map.json is unreadable: {exc}") from exc
    return Terminology(types, classes, str(raw["class_system"]))


# PROVISIONAL labels for the codes whose label the extracted source lacks (null in
# dmp_type_class_map.json: TRE_A05 labels were not retrieved). Written from the codes'
# meaning, not copied from TRE_A05: replace with the official labels when the NOS file is
# imported. Kept so that a missing label never shows as a bare code.
_FALLBACK_LABELS = {
    "11526-1": "CR d'anatomo-pathologie",
    "AUTORIS-SOINS": "Autorisation de soins",
    "ATTEST-RESID": "Attestation de résidence",
    "ATTEST-DROITS-AM": "Attestation de droits à l'Assurance Maladie",
    "ATTEST-ASS-COMPL": "Attestation d'assurance complémentaire",
    "ATTEST-HEBGT": "Attestation d'hébergement",
    "BIL_AUTO": "Bilan d'autonomie",
    "CERT_DECL": "Certificat, déclaration",
    "DISP_AUT": "Dispensation (autre)",
    "EXPPAT_1": "Directives anticipées",
    "EXPPAT_2": "Expression personnelle du patient",
    "EXPPAT_3": "Volontés et droits du patient",
    "DOCPAT01": "Synthèse (déposée par le patient)",
    "DOCPAT02": "Prescription (déposée par le patient)",
    "DOCPAT03": "Compte rendu (déposé par le patient)",
    "DOCPAT04": "Imagerie (déposée par le patient)",
    "DOCPAT05": "Biologie (déposée par le patient)",
    "DOCPAT06": "Compte rendu de consultation (déposé par le patient)",
    "DOCPAT07": "Certificat (déposé par le patient)",
    "DOCPAT08": "Synthèse de santé (déposée par le patient)",
    "DOCPAT09": "Document de gestion (déposé par le patient)",
    "IMG-KOS": "Référence d'objets d'imagerie (KOS)",
    "PROT_ALD": "Protocole de soins ALD",
    "REMB": "Données de remboursement",
    "SYNTH": "Synthèse",
    "PRESC-AAT": "Prescription d'arrêt de travail",
    "PRESC-BIO": "Prescription d'actes de biologie",
    "PRESC-KINE": "Prescription d'actes de kinésithérapie",
    "PRESC-INF": "Prescription d'actes infirmiers",
    "PRESC-PEDI": "Prescription d'actes de pédicurie",
    "PRESC-ORTHOPHO": "Prescription d'actes d'orthophonie",
    "PRESC-ORTHOPTIE": "Prescription d'actes d'orthoptie",
}
