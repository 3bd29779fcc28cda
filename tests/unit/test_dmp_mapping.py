"""console.dmp.mapping: FHIR JSON as the sandbox builds it -> domain objects, and back.

The resources come from ``sandbox.fhir`` (the server's own builders), so a change of the wire
format on either side breaks these tests.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.dmp.mapping import (
    document_from_fhir,
    documents_page_from_bundle,
    parse_fhir_date,
    parse_fhir_datetime,
    patient_from_fhir,
    patients_from_bundle,
)
from console.domain.errors import DmpError, ProtocolError
from console.domain.ins import INS_NIR_SYSTEM, INS_NIR_TEST_SYSTEM
from console.domain.models import DocStatus, DocumentMeta, Visibility
from console.domain.terminology import terminology
from sandbox import fhir

BASE = "http://127.0.0.1:8470"
INS_VALUE = "255081416802538"
TERM = terminology()


def make_doc(**changes: Any) -> DocumentMeta:
    doc = DocumentMeta(
        id="0a1b2c3d4e5f",
        master_id="urn:oid:1.2.250.1.999.1.1.42",
        patient_ins=INS_VALUE,
        type_code="11488-4",
        class_code=TERM.types["11488-4"].class_code,
        title="CR de consultation du 3 mars",
        author_id_nat="899700000011",
        created=datetime(2024, 3, 3, 9, 30, tzinfo=UTC),
        deposited=datetime(2024, 3, 4, 17, 5, 12, tzinfo=UTC),
        author_name="Dr Claire MARTIN",
        author_profession="10",
        structure_name="Cabinet médical du Parc",
        entered_by=None,
        status=DocStatus.CURRENT,
        archived=False,
        visibility=frozenset(),
        content_type="application/pdf",
        size=1234,
        sha1="a9993e364706816aba3e25717850c26c9cd0d89d",
        replaces=None,
    )
    return DocumentMeta(**{**_fields(doc), **changes})


def _fields(doc: DocumentMeta) -> dict[str, Any]:
    return {name: getattr(doc, name) for name in DocumentMeta.__dataclass_fields__}


def wire(doc: DocumentMeta, **kwargs: Any) -> dict[str, Any]:
    """The DocumentReference the sandbox answers for ``doc``, through a JSON round trip."""
    resource = fhir.document_reference(doc, base_url=BASE, patient_system=INS_NIR_SYSTEM, **kwargs)
    parsed: dict[str, Any] = json.loads(json.dumps(resource))
    return parsed


def patient_row(**changes: Any) -> dict[str, Any]:
    row = {
        "ins": INS_VALUE,
        "ins_system": INS_NIR_SYSTEM,
        "family_name": "DELAUNAY",
        "given_names": "Virginie Véronique",
        "gender": "female",
        "birth_date": "1963-04-02",
        "address_city": "Saint-Martin",
    }
    row.update(changes)
    return row


def remove(resource: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of ``resource`` without the element at dotted ``path`` (ints index lists)."""
    out = copy.deepcopy(resource)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if last.isdigit():
        del node[int(last)]
    else:
        del node[last]
    return out


# -- DocumentReference: round trip -----------------------------------------------------------------
def test_round_trip_of_a_sandbox_document() -> None:
    doc = make_doc()
    assert document_from_fhir(wire(doc, structure_id="3997000012301")) == doc


def test_round_trip_with_every_optional_element() -> None:
    doc = make_doc(
        entered_by="1997000456/SEC0042",
        archived=True,
        visibility=frozenset({Visibility.MASQUE_PS, Visibility.INVISIBLE_PATIENT}),
        replaces="ffeeddcc",
        status=DocStatus.SUPERSEDED,
        content_type="text/xml",
    )
    mapped = document_from_fhir(wire(doc, entered_by_name="Nadia MERCIER"))
    assert mapped == doc
    assert mapped.masked and mapped.invisible_to_patient


dmp_types = st.sampled_from(sorted(TERM.types))
instants = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]),
)


@settings(max_examples=150, deadline=None)
@given(
    type_code=dmp_types,
    created=instants,
    deposited=instants,
    visibility=st.frozensets(st.sampled_from(list(Visibility))),
    archived=st.booleans(),
    status=st.sampled_from(list(DocStatus)),
    size=st.integers(min_value=0, max_value=2**31),
    sha1=st.one_of(st.just(""), st.binary(min_size=20, max_size=20).map(bytes.hex)),
    entered_by=st.one_of(st.none(), st.just("1997000456/SEC0042")),
    author_name=st.text(min_size=0, max_size=30).map(str.strip),
    profession=st.sampled_from(["10", "60", "21", ""]),
    title=st.text(min_size=1, max_size=60).filter(lambda t: t.strip() == t and t != ""),
)
def test_round_trip_property(
    type_code: str,
    created: datetime,
    deposited: datetime,
    visibility: frozenset[Visibility],
    archived: bool,
    status: DocStatus,
    size: int,
    sha1: str,
    entered_by: str | None,
    author_name: str,
    profession: str,
    title: str,
) -> None:
    doc = make_doc(
        type_code=type_code,
        class_code=TERM.types[type_code].class_code,
        created=created,
        deposited=deposited,
        visibility=visibility,
        archived=archived,
        status=status,
        size=size,
        sha1=sha1,
        entered_by=entered_by,
        author_name=author_name,
        author_profession=profession,
        title=title,
    )
    mapped = document_from_fhir(wire(doc))
    # The display of a name is normalized (blanks collapsed at the ends only).
    assert mapped == doc
    assert mapped.created == created and mapped.created.utcoffset() == created.utcoffset()


# -- DocumentReference: tolerance ------------------------------------------------------------------
def test_extra_and_unknown_elements_are_ignored() -> None:
    doc = make_doc()
    resource = wire(doc)
    resource["language"] = "fr-FR"
    resource["unknownElement"] = {"deep": [1, 2, {"x": None}]}
    resource["extension"] = [
        {"url": "http://example.org/other", "valueString": "x"},
        {"url": "http://example.org/complex", "extension": [{"url": "a", "valueInteger": 1}]},
    ]
    resource["meta"]["profile"] = ["https://interop.esante.gouv.fr/ig/fhir/pdsm/x"]
    resource["type"]["coding"].append({"system": "urn:local", "code": "LOCAL-1"})
    resource["type"]["text"] = "free text"
    resource["contained"].append({"resourceType": "Device", "id": "dev"})
    resource["content"].append({"attachment": {"contentType": "text/plain"}})
    resource["content"][0]["format"] = {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "x"}
    resource["securityLabel"].append({"coding": [{"system": "urn:other", "code": "R"}]})
    resource["context"]["facilityType"] = {"coding": [{"code": "SA01"}]}
    assert document_from_fhir(resource) == doc


def test_a_local_type_coding_before_the_dmp_one_is_skipped() -> None:
    doc = make_doc()
    resource = wire(doc)
    resource["type"]["coding"].insert(0, {"system": "urn:local", "code": "LOCAL-1"})
    assert document_from_fhir(resource).type_code == "11488-4"


def test_class_from_the_terminology_when_category_is_missing() -> None:
    doc = make_doc(type_code="18748-4", class_code=TERM.types["18748-4"].class_code)
    resource = remove(wire(doc), "category")
    assert document_from_fhir(resource).class_code == TERM.types["18748-4"].class_code == "31"


def test_unknown_type_without_category_has_no_class() -> None:
    resource = wire(make_doc())
    resource["type"]["coding"] = [{"system": "urn:local", "code": "LOCAL-1"}]
    del resource["category"]
    mapped = document_from_fhir(resource)
    assert (mapped.type_code, mapped.class_code) == ("LOCAL-1", "")


def test_author_name_from_given_and_family() -> None:
    resource = wire(make_doc())
    resource["contained"][0]["name"] = [{"family": "MARTIN", "given": ["Claire", "Anne"]}]
    assert document_from_fhir(resource).author_name == "Claire Anne MARTIN"


def test_author_as_logical_reference() -> None:
    resource = wire(make_doc())
    resource["author"] = [
        {"identifier": {"system": fhir.IDNAT_SYSTEM, "value": "899700000011"}},
    ]
    mapped = document_from_fhir(resource)
    assert (mapped.author_id_nat, mapped.author_name, mapped.structure_name) == (
        "899700000011",
        "",
        "",
    )


def test_visibility_ignores_normal_and_foreign_codes() -> None:
    resource = wire(make_doc())
    assert resource["securityLabel"][0]["coding"][0]["code"] == "N"
    resource["securityLabel"].append(
        {"coding": [{"system": "urn:not-tre-a07", "code": "MASQUE_PS"}]}
    )
    assert document_from_fhir(resource).visibility == frozenset()


def test_created_falls_back_to_creation_then_date() -> None:
    doc = make_doc()
    resource = remove(wire(doc), "context")
    assert document_from_fhir(resource).created == doc.created  # attachment.creation
    resource = remove(resource, "content.0.attachment.creation")
    assert document_from_fhir(resource).created == doc.deposited


def test_title_falls_back_to_attachment_title_then_type_label() -> None:
    resource = remove(wire(make_doc()), "description")
    assert document_from_fhir(resource).title == "CR de consultation du 3 mars"
    resource = remove(resource, "content.0.attachment.title")
    assert document_from_fhir(resource).title == TERM.types["11488-4"].label


def test_master_id_falls_back_to_id() -> None:
    resource = remove(wire(make_doc()), "masterIdentifier")
    assert document_from_fhir(resource).master_id == "0a1b2c3d4e5f"


def test_content_type_parameters_are_dropped() -> None:
    resource = wire(make_doc())
    resource["content"][0]["attachment"]["contentType"] = "Text/Plain; charset=utf-8"
    assert document_from_fhir(resource).content_type == "text/plain"


def test_date_only_values_are_accepted() -> None:
    resource = wire(make_doc())
    resource["context"]["period"]["start"] = "2024-03-03"
    resource["date"] = "2024-03-04T17:05:12.123456789Z"
    mapped = document_from_fhir(resource)
    assert mapped.created == datetime(2024, 3, 3, tzinfo=UTC)
    assert mapped.deposited == datetime(2024, 3, 4, 17, 5, 12, 123456, tzinfo=UTC)


# -- DocumentReference: strictness -----------------------------------------------------------------
REQUIRED = [
    ("id", "DocumentReference.id"),
    ("status", "status"),
    ("type", "type"),
    ("type.coding", "type.coding"),
    ("type.coding.0.code", "type.coding[0].code"),
    ("subject", "subject"),
    ("subject.identifier", "subject.identifier"),
    ("subject.identifier.value", "subject.identifier.value"),
    ("author", "author"),
    ("contained.0.identifier", "author"),
    ("date", "date"),
    ("content", "content"),
    ("content.0.attachment", "content[0].attachment"),
    ("content.0.attachment.contentType", "attachment.contentType"),
]


@pytest.mark.parametrize(("path", "named"), REQUIRED)
def test_each_missing_required_element_is_a_protocol_error(path: str, named: str) -> None:
    resource = remove(wire(make_doc()), path)
    with pytest.raises(ProtocolError) as caught:
        document_from_fhir(resource)
    assert named in str(caught.value)
    assert isinstance(caught.value, DmpError)


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("status", "draft", "status"),
        ("status", 3, "status"),
        ("date", "04/03/2024", "date"),
        ("date", "2024-13-45", "date"),
        ("date", 20240304, "date"),
        ("context.period.start", "hier", "context.period.start"),
        ("content.0.attachment.hash", "not base64!", "attachment.hash"),
        ("content.0.attachment.hash", "AAAA", "attachment.hash"),
        ("content.0.attachment.contentType", "pdf", "attachment.contentType"),
        ("content.0.attachment.contentType", "text/plain\r\nX-Evil: 1", "contentType"),
        ("content.0.attachment.size", -1, "attachment.size"),
        ("content.0.attachment.size", "12", "attachment.size"),
        ("subject.identifier.value", "   ", "subject.identifier.value"),
        ("content", {"attachment": {}}, "content"),
        ("author", [{"reference": "#nobody"}], "author[0]"),
    ],
)
def test_malformed_elements_are_protocol_errors(path: str, value: Any, named: str) -> None:
    resource = wire(make_doc())
    *parents, last = path.split(".")
    node: Any = resource
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    with pytest.raises(ProtocolError) as caught:
        document_from_fhir(resource)
    assert named in str(caught.value)


def test_archived_extension_must_be_a_boolean() -> None:
    resource = wire(make_doc(archived=True))
    resource["extension"][0]["valueBoolean"] = "yes"
    with pytest.raises(ProtocolError, match="valueBoolean"):
        document_from_fhir(resource)


def test_an_author_without_idnat_system_is_refused() -> None:
    resource = wire(make_doc())
    resource["contained"][0]["identifier"] = [{"system": "urn:oid:9.9.9", "value": "123"}]
    with pytest.raises(ProtocolError, match="idNat"):
        document_from_fhir(resource)


def test_errors_never_quote_patient_data() -> None:
    resource = wire(make_doc())
    resource["date"] = "le 4 mars chez DELAUNAY"
    resource["status"] = "current"
    with pytest.raises(ProtocolError) as caught:
        document_from_fhir(resource)
    assert "DELAUNAY" not in str(caught.value)
    assert "mars" not in str(caught.value)


def test_an_id_that_is_not_a_fhir_id_is_not_quoted() -> None:
    resource = wire(make_doc())
    resource["id"] = "DELAUNAY Virginie 1963"
    del resource["date"]
    with pytest.raises(ProtocolError, match=r"DocumentReference\.date") as caught:
        document_from_fhir(resource)
    assert "DELAUNAY" not in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "DocumentReference",
        {"resourceType": "Patient", "id": "x"},
        {"resourceType": "OperationOutcome", "issue": []},
        {"id": "x"},
        {"resourceType": "<script>alert(1)</script>"},
    ],
)
def test_wrong_resource_type_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        document_from_fhir(payload)
    assert "<script>" not in str(caught.value)


# -- Patient ---------------------------------------------------------------------------------------
def test_patient_from_the_sandbox() -> None:
    record = patient_from_fhir(fhir.patient(patient_row()))
    assert record.ins.token() == f"{INS_NIR_SYSTEM}|{INS_VALUE}"
    assert (record.family_name, record.given_names) == ("DELAUNAY", "Virginie Véronique")
    assert (record.birth_date, record.gender) == (date(1963, 4, 2), "female")
    assert record.display_name == "DELAUNAY Virginie Véronique"


def test_patient_with_a_test_ins_and_extra_fields() -> None:
    resource = fhir.patient(patient_row(ins_system=INS_NIR_TEST_SYSTEM))
    resource["identifier"].insert(0, {"system": "urn:oid:1.2.3", "value": "local-42"})
    resource["name"].insert(0, {"use": "usual", "family": "DUPONT"})
    resource["telecom"] = [{"system": "phone", "value": "0600000000"}]
    record = patient_from_fhir(resource)
    assert record.ins.system == INS_NIR_TEST_SYSTEM
    assert record.family_name == "DELAUNAY"  # the official name, not the usual one


def test_patient_without_birth_date_or_gender() -> None:
    resource = fhir.patient(patient_row())
    del resource["birthDate"], resource["gender"]
    record = patient_from_fhir(resource)
    assert (record.birth_date, record.gender) == (None, "unknown")


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda r: r.pop("identifier"), "identifier"),
        (lambda r: r["identifier"][0].update(value="255081416802539"), "identifier[0].value"),
        (lambda r: r["identifier"][0].update(system="urn:oid:1.2.3"), "identifier"),
        (lambda r: r.update(birthDate="02/04/1963"), "birthDate"),
        (lambda r: r.update(birthDate="1963-02-30"), "birthDate"),
        (lambda r: r.update(resourceType="Practitioner"), "Patient"),
        (lambda r: r.update(name="DELAUNAY"), "name"),
    ],
)
def test_malformed_patients(mutate: Any, named: str) -> None:
    resource = fhir.patient(patient_row())
    mutate(resource)
    with pytest.raises(ProtocolError) as caught:
        patient_from_fhir(resource)
    assert named in str(caught.value)
    assert INS_VALUE[:-2] not in str(caught.value)


def test_patients_from_a_searchset() -> None:
    resource = fhir.patient(patient_row())
    bundle = fhir.searchset([(f"{BASE}/Patient/{INS_VALUE}", resource)], total=1, self_url=BASE)
    (record,) = patients_from_bundle(bundle)
    assert record.ins.value == INS_VALUE
    empty = fhir.searchset([], total=0, self_url=BASE)
    assert patients_from_bundle(empty) == []


# -- Bundles ---------------------------------------------------------------------------------------
def test_documents_page_from_a_searchset() -> None:
    docs = [make_doc(id=f"doc{i}", master_id=f"m{i}") for i in range(3)]
    entries = [(f"{BASE}/DocumentReference/{d.id}", wire(d)) for d in docs]
    bundle = fhir.searchset(
        entries, total=10, self_url=f"{BASE}/x", next_url=f"{BASE}/DocumentReference?_offset=3"
    )
    mapped, total, next_url = documents_page_from_bundle(json.loads(json.dumps(bundle)))
    assert mapped == docs
    assert total == 10
    assert next_url == f"{BASE}/DocumentReference?_offset=3"


def test_last_page_has_no_next_link_and_total_is_optional() -> None:
    bundle = fhir.searchset([], total=0, self_url=BASE)
    assert documents_page_from_bundle(bundle) == ([], 0, None)
    del bundle["total"], bundle["entry"]
    assert documents_page_from_bundle(bundle) == ([], None, None)


def test_include_and_outcome_entries_are_skipped() -> None:
    doc = make_doc()
    bundle = fhir.searchset([(f"{BASE}/DocumentReference/x", wire(doc))], total=1, self_url=BASE)
    bundle["entry"].append(
        {"resource": {"resourceType": "Patient", "id": "p"}, "search": {"mode": "include"}}
    )
    bundle["entry"].append(
        {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {}}
    )
    assert documents_page_from_bundle(bundle)[0] == [doc]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda b: b.update(resourceType="Parameters"), "Bundle"),
        (lambda b: b.update(type="transaction-response"), "Bundle.type"),
        (lambda b: b.update(total=-1), "Bundle.total"),
        (lambda b: b.update(total="3"), "Bundle.total"),
        (lambda b: b.update(entry={"resource": {}}), "Bundle.entry"),
        (lambda b: b["entry"].append({"fullUrl": "x"}), "Bundle.entry[1].resource"),
        (
            lambda b: b["entry"].append({"resource": {"resourceType": "Patient"}}),
            "Bundle.entry[1].resource",
        ),
        (lambda b: b["link"].append({"relation": "next"}), "Bundle.link[1].url"),
        (lambda b: b["entry"][0]["resource"].pop("subject"), "subject"),
    ],
)
def test_malformed_bundles(mutate: Any, named: str) -> None:
    bundle = fhir.searchset(
        [(f"{BASE}/DocumentReference/x", wire(make_doc()))], total=1, self_url=BASE
    )
    mutate(bundle)
    with pytest.raises(ProtocolError) as caught:
        documents_page_from_bundle(bundle)
    assert named in str(caught.value)


# -- dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-03", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
        ("2024-03-05T10:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05T10:00:30Z", datetime(2024, 3, 5, 10, 0, 30, tzinfo=UTC)),
        ("2024-03-05T10:00:30+01:00", datetime(2024, 3, 5, 9, 0, 30, tzinfo=UTC)),
    ],
)
def test_fhir_datetimes(text: str, expected: datetime) -> None:
    parsed = parse_fhir_datetime(text, "x")
    assert parsed == expected and parsed.tzinfo is not None


@pytest.mark.parametrize("text", ["", "2024-3-5", "2024-03-05 10:00", "2024-02-30", "T10:00"])
def test_bad_fhir_datetimes(text: str) -> None:
    with pytest.raises(ProtocolError, match="champ"):
        parse_fhir_datetime(text, "champ")


def test_fhir_dates() -> None:
    assert parse_fhir_date("1963-04-02", "d") == date(1963, 4, 2)
    assert parse_fhir_date("1963", "d") == date(1963, 1, 1)
    with pytest.raises(ProtocolError):
        parse_fhir_date("1963-04-02T00:00:00Z", "d")
