"""The habilitation matrix (matrice d'habilitation): profession x document type -> may read.

Data lives in ``resources/habilitation_matrix.json``; each row carries its source, and rows not
yet confirmed from the annex of the arrêté du 26 octobre 2023 are flagged ``provisional``.
A profession without a row reads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from console.domain.errors import ResourceDataError
from console.domain.terminology import terminology
from console.resources import load_json


class RuleKind(StrEnum):
    ALL_EXCEPT = "all_except"
    ONLY = "only"


@dataclass(frozen=True, slots=True)
class MatrixRow:
    profession: str
    label: str
    rule: RuleKind
    types: frozenset[str]
    provisional: bool
    source: str

    def allows(self, type_code: str) -> bool:
        if self.rule is RuleKind.ONLY:
            return type_code in self.types
        return type_code not in self.types


@dataclass(frozen=True, slots=True)
class HabilitationMatrix:
    rows: Mapping[str, MatrixRow]
    known_types: frozenset[str]

    def allows(self, profession: str, type_code: str) -> bool:
        """May ``profession`` read documents of ``type_code``? Unknown ones: no."""
        row = self.rows.get(profession)
        return row is not None and type_code in self.known_types and row.allows(type_code)

    def readable_types(self, profession: str) -> frozenset[str]:
        return frozenset(t for t in self.known_types if self.allows(profession, t))

    def row(self, profession: str) -> MatrixRow | None:
        return self.rows.get(profession)

    @classmethod
    def from_data(cls, data: Mapping[str, Any], known_types: Iterable[str]) -> HabilitationMatrix:
        known = frozenset(known_types)
        rows: dict[str, MatrixRow] = {}
        try:
            for raw in data["rows"]:
                types = frozenset(str(t) for t in raw["types"])
                unknown = types - known
                if unknown:
                    raise ResourceDataError(
                        f"matrix row {raw['profession']}: unknown types {sorted(unknown)}"
                    )
                if not str(raw.get("source", "")).strip():
                    raise ResourceDataError(f"matrix row {raw['profession']} has no source")
                row = MatrixRow(
                    profession=str(raw["profession"]),
                    label=str(raw["label"]),
                    rule=RuleKind(raw["rule"]),
                    types=types,
                    provisional=bool(raw["provisional"]),
                    source=str(raw["source"]),
                )
                if row.profession in rows:
                    raise ResourceDataError(f"matrix row {row.profession} appears twice")
                rows[row.profession] = row
        except (KeyError, TypeError, ValueError) as exc:
            raise ResourceDataError(f"habilitation matrix is malformed: {exc}") from exc
        return cls(rows, known)


@cache
def habilitation_matrix() -> HabilitationMatrix:
    """The bundled matrix, checked against the DMP's document types (loaded once)."""
    return HabilitationMatrix.from_data(
        load_json("habilitation_matrix.json"), terminology().types.keys()
    )
