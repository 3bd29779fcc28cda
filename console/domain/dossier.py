"""A patient's record as the console holds it: demographics, the access grant, queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta
from console.domain.terminology import VACCINATION_HISTORY, terminology


@dataclass(frozen=True, slots=True)
class ProfessionalLogin:
    """A professional's session on the DMP (the bearer token never leaves the gateway).

    ``refresh_token`` renews an e-CPS session without the phone (OAuth refresh grant); None
    for a card session (renewed by a new signature) or a server that gives none. A secret,
    like ``token``: never shown, logged nor stored.
    """

    id_nat: str
    display_name: str
    profession: str
    token: str = field(repr=False)
    expires_at: datetime
    refresh_token: str | None = field(default=None, repr=False)


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


# -- openings: the DMP's consultation rule ---------------------------------------------------

NEW_SINCE_MARGIN = timedelta(minutes=10)
"""How far before the last visit a later opening searches deposits (clock skew between the
console and the server, documents indexed while the last list was fetched). Documents
already known are never marked new, so the margin only costs a few duplicates."""


@dataclass(frozen=True, slots=True)
class Visit:
    """A professional's last complete opening of a patient's record.

    ``at`` is when that opening's search started (aware): what was deposited since then is
    new. ``complete_history`` says whether that opening listed the whole history (the date
    limit of the first opening removed) or only the last two years.
    """

    at: datetime
    complete_history: bool = False


def later_opening_query(last: Visit, margin: timedelta = NEW_SINCE_MARGIN) -> DocumentQuery:
    """A later opening: only what was deposited since the last visit, whatever its act date."""
    return DocumentQuery(deposited_since=last.at - margin)


def vaccination_query(query: DocumentQuery) -> DocumentQuery | None:
    """The search for the vaccination history (11369-6) that goes with ``query``.

    The vaccination history is always searched without a date limit (DMP rule): when
    ``query`` has a date bound (act dates or deposit date), a second query asks for the
    11369-6 documents without any; None when ``query`` already covers them (no date bound)
    or excludes them (other types or classes asked).
    """
    bounded = (
        query.act_from is not None or query.act_to is not None or query.deposited_since is not None
    )
    if not bounded:
        return None
    if query.type_codes and VACCINATION_HISTORY not in query.type_codes:
        return None
    if query.class_codes:
        vaccination = terminology().types.get(VACCINATION_HISTORY)
        if vaccination is None or vaccination.class_code not in query.class_codes:
            return None
    return DocumentQuery(
        type_codes=(VACCINATION_HISTORY,),
        include_archived=query.include_archived,
        page_size=query.page_size,
    )


def opening_queries(query: DocumentQuery) -> tuple[DocumentQuery, ...]:
    """``query`` then, if it has a date bound, the vaccination history without one."""
    vaccination = vaccination_query(query)
    return (query,) if vaccination is None else (query, vaccination)
