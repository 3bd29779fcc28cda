"""INS (Identifiant National de Santé) checks: the NIR with its control key.

The NIR is 13 characters (sex, year, month, department, commune, order) followed by a
two-digit control key equal to ``97 - (n mod 97)`` where ``n`` is the 13 characters read as
a number, Corsica's departments 2A and 2B being read as 19 and 18 first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from console.domain.errors import InvalidINSError

INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS_NIA_OID = "1.2.250.1.213.1.4.9"
INS_NIR_TEST_OID = "1.2.250.1.213.1.4.10"
INS_NIR_DEMO_OID = "1.2.250.1.213.1.4.11"
INS_SYSTEMS = {
    f"urn:oid:{oid}" for oid in (INS_NIR_OID, INS_NIA_OID, INS_NIR_TEST_OID, INS_NIR_DEMO_OID)
}
INS_NIR_SYSTEM = f"urn:oid:{INS_NIR_OID}"
INS_NIR_TEST_SYSTEM = f"urn:oid:{INS_NIR_TEST_OID}"

_NIR_SHAPE = re.compile(
    r"^[1-478][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(2[AB]|[0-9]{2})[0-9]{6}[0-9]{2}$"
)


def _numeric_body(body13: str) -> int:
    return int(body13.replace("2A", "19").replace("2B", "18"))


def nir_key(body13: str) -> int:
    """Return the control key of the 13-character NIR body ``body13``."""
    return 97 - (_numeric_body(body13) % 97)


def normalize_nir(text: str) -> str:
    """Strip spaces, dots and dashes a user may type; upper-case the Corsica letters."""
    return re.sub(r"[\s.\-]", "", text).upper()


def validate_nir(text: str) -> str:
    """Return the normalized 15-character NIR or raise :class:`InvalidINSError`."""
    nir = normalize_nir(text)
    if len(nir) != 15:
        raise InvalidINSError(f"Le NIR doit compter 15 caractères (clé comprise), pas {len(nir)}.")
    if not _NIR_SHAPE.match(nir):
        raise InvalidINSError(
            "Le NIR n'a pas la forme attendue (sexe, année, mois, département...)."
        )
    key = int(nir[13:])
    expected = nir_key(nir[:13])
    if key != expected:
        raise InvalidINSError("La clé de contrôle du NIR est fausse : vérifiez la saisie.")
    return nir


def is_valid_nir(text: str) -> bool:
    try:
        validate_nir(text)
    except InvalidINSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class INS:
    """An INS: identifier system (an ``urn:oid:`` URI) and value (the NIR)."""

    system: str
    value: str

    @classmethod
    def parse(cls, token: str) -> INS:
        """Parse ``system|value`` (a FHIR token) or a bare NIR (INS-NIR system assumed)."""
        system, sep, value = token.partition("|")
        if not sep:
            system, value = INS_NIR_SYSTEM, token
        if system not in INS_SYSTEMS:
            raise InvalidINSError(f"Système d'identifiant INS inconnu : {system}")
        return cls(system, validate_nir(value))

    def token(self) -> str:
        return f"{self.system}|{self.value}"
