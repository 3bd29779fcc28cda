"""A patient's record as the console holds it: demographics, the access grant, queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta


@dataclass(frozen=True, slots=True)
class ProfessionalLogin:
    """A professional's session on the DMP (the bearer token never leaves the gateway)."""

    id_nat: str
    display_name: str
    profession: str
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """Patient identity as the DMP returns it (INS-qualified)."""

    ins: INS
    family_name: str
    given_names: str
    birth_date: date | None
    gender: str

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()} {self.given_names}".strip()


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """An open access mode on one patient (patient-scoped token)."""

    patient: PatientRecord
    mode: AccessMode
    token: str = field(repr=False)
    expires_at: datetime
    episode_id: str = ""


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """Server-side search parameters (ITI-67)."""

    type_codes: tuple[str, ...] = ()
    class_codes: tuple[str, ...] = ()
    act_from: date | None = None
    act_to: date | None = None
    deposited_since: datetime | None = None
    include_archived: bool = False
    page_size: int = 200


@dataclass(frozen=True, slots=True)
class DocumentPage:
    """One page of a document search, as it arrived.

    ``total`` is the number of documents of the whole search (``Bundle.total``: only those the
    professional may see) when the server tells it, else None.
    """

    documents: tuple[DocumentMeta, ...]
    total: int | None = None
