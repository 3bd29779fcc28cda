"""The journal's hash chain (console.domain.journal): canonical form, chaining, and verify
naming the first altered, removed, reordered or inserted entry, or a truncated end."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.domain.journal import (
    GENESIS,
    ChainedEntry,
    JournalEntry,
    JournalHead,
    JournalProblem,
    canonical,
    chain,
    entry_hash,
    verify,
)

T0 = datetime(2025, 3, 14, 2, 30, tzinfo=UTC)
ACTOR = "899700000029"
INS = "255081416802538"


def make_entry(seq: int, action: str = "document_opened", **changes: object) -> JournalEntry:
    entry = JournalEntry(
        seq=seq,
        timestamp=T0 + timedelta(seconds=seq),
        actor=ACTOR,
        action=action,
        patient_ins=INS,
        document_ids=(f"doc-{seq}",),
        mode="bris_de_glace",
        detail={"episode": "ep-1", "n": seq},
    )
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def build(n: int) -> list[ChainedEntry]:
    records: list[ChainedEntry] = []
    head = JournalHead()
    for seq in range(1, n + 1):
        record = chain(head, make_entry(seq))
        records.append(record)
        head = JournalHead(record.seq, record.hash)
    return records


def head_of(records: list[ChainedEntry]) -> JournalHead:
    return JournalHead(records[-1].seq, records[-1].hash) if records else JournalHead()


def rehash(record: ChainedEntry, entry: JournalEntry) -> ChainedEntry:
    """What a tamperer who recomputes the entry's own hash stores."""
    return ChainedEntry(entry, record.prev_hash, entry_hash(record.prev_hash, entry))


# --- canonical form and chaining -------------------------------------------------------------


def test_canonical_is_sorted_compact_utf8_with_utc_microseconds() -> None:
    entry = make_entry(
        3,
        timestamp=datetime(2025, 3, 14, 4, 30, 0, 123, tzinfo=timezone(timedelta(hours=2))),
        detail={"z": "é", "a": True, "none": None},
    )
    text = canonical(entry).decode("utf-8")
    assert text.startswith('{"action":"document_opened","actor":"899700000029"')
    assert '"ts":"2025-03-14T02:30:00.000123Z"' in text
    assert '"detail":{"a":true,"none":null,"z":"é"}' in text
    assert " " not in text
    assert '"v":1' in text


def test_canonical_is_the_same_whatever_the_detail_order() -> None:
    one = make_entry(1, detail={"a": "1", "b": "2"})
    two = make_entry(1, detail={"b": "2", "a": "1"})
    assert canonical(one) == canonical(two)


def test_canonical_refuses_naive_timestamps_floats_and_seq_zero() -> None:
    with pytest.raises(ValueError, match="timezone"):
        canonical(make_entry(1, timestamp=datetime(2025, 1, 1)))
    with pytest.raises(ValueError, match="detail"):
        canonical(make_entry(1, detail={"x": 1.5}))
    with pytest.raises(ValueError, match="seq"):
        canonical(make_entry(0))


def test_hash_is_sha256_of_prev_hash_and_canonical() -> None:
    entry = make_entry(1)
    expected = hashlib.sha256(GENESIS.encode() + canonical(entry)).hexdigest()
    assert entry_hash(GENESIS, entry) == expected
    assert chain(JournalHead(), entry).hash == expected


def test_chain_needs_the_next_seq() -> None:
    with pytest.raises(ValueError, match="cannot follow"):
        chain(JournalHead(), make_entry(2))


def test_every_field_is_covered_by_the_hash() -> None:
    base = make_entry(1)
    changes: list[dict[str, object]] = [
        {"timestamp": base.timestamp + timedelta(microseconds=1)},
        {"actor": "899700000011"},
        {"action": "document_listed"},
        {"patient_ins": None},
        {"document_ids": ("doc-1", "doc-2")},
        {"mode": "normal"},
        {"detail": {"episode": "ep-2", "n": 1}},
    ]
    hashes = {entry_hash(GENESIS, base)}
    for change in changes:
        hashes.add(entry_hash(GENESIS, dataclasses.replace(base, **change)))  # type: ignore[arg-type]
    assert len(hashes) == len(changes) + 1


# --- verify ------------------------------------------------------------------------------------


def test_a_whole_chain_verifies() -> None:
    records = build(6)
    result = verify(records, anchor=head_of(records))
    assert result.ok and bool(result)
    assert result.checked == 6
    assert result.head == head_of(records)
    assert result.problem is None and result.seq is None
    assert "6 entrée(s)" in result.message


def test_an_empty_journal_verifies() -> None:
    assert verify([], anchor=JournalHead()).ok


@pytest.mark.parametrize("seq", [1, 3, 6])
def test_an_edited_entry_is_named(seq: int) -> None:
    records = build(6)
    record = records[seq - 1]
    records[seq - 1] = ChainedEntry(
        dataclasses.replace(record.entry, action="nothing_to_see"), record.prev_hash, record.hash
    )
    result = verify(records, anchor=head_of(build(6)))
    assert not result.ok
    assert (result.problem, result.seq) == (JournalProblem.ALTERED, seq)
    assert result.checked == seq - 1
    assert result.message == f"L'entrée n° {seq} du journal a été modifiée."


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_an_edited_and_rehashed_entry_is_named_by_the_next_link(seq: int) -> None:
    records = build(6)
    records[seq - 1] = rehash(
        records[seq - 1], dataclasses.replace(records[seq - 1].entry, actor="x")
    )
    result = verify(records)
    assert (result.problem, result.seq) == (JournalProblem.ALTERED, seq)


def test_a_rehashed_last_entry_is_seen_only_thanks_to_the_anchor() -> None:
    original = build(4)
    records = list(original)
    records[-1] = rehash(records[-1], dataclasses.replace(records[-1].entry, document_ids=()))
    assert verify(records).ok  # a chain alone cannot see it
    result = verify(records, anchor=head_of(original))
    assert (result.problem, result.seq) == (JournalProblem.ALTERED, 4)


@pytest.mark.parametrize("seq", [1, 2, 5])
def test_a_deleted_entry_is_named(seq: int) -> None:
    records = build(6)
    del records[seq - 1]
    result = verify(records, anchor=head_of(build(6)))
    assert (result.problem, result.seq) == (JournalProblem.REMOVED, seq)
    assert "supprimée" in result.message


def test_two_swapped_entries_are_named() -> None:
    records = build(6)
    records[2], records[3] = records[3], records[2]
    result = verify(records)
    assert (result.problem, result.seq) == (JournalProblem.REORDERED, 3)
    assert "déplacée" in result.message


def test_an_entry_moved_to_the_end_is_named() -> None:
    records = build(6)
    records.append(records.pop(1))
    result = verify(records)
    assert (result.problem, result.seq) == (JournalProblem.REORDERED, 2)


def test_an_entry_moved_earlier_is_named_by_the_first_misplaced_seq() -> None:
    records = build(6)
    records.insert(1, records.pop(4))  # 1, 5, 2, 3, 4, 6
    result = verify(records)
    assert (result.problem, result.seq) == (JournalProblem.REORDERED, 2)


def test_a_forged_entry_inserted_in_the_middle_is_named() -> None:
    records = build(5)
    forged = chain(JournalHead(2, records[1].hash), make_entry(3, action="forged"))
    records.insert(2, forged)
    result = verify(records)
    assert (result.problem, result.seq) == (JournalProblem.INSERTED, 3)
    assert "ajoutée" in result.message


def test_a_forged_entry_appended_without_the_anchor_is_named() -> None:
    original = build(4)
    records = [*original, chain(head_of(original), make_entry(5, action="forged"))]
    assert verify(records).ok
    result = verify(records, anchor=head_of(original))
    assert (result.problem, result.seq) == (JournalProblem.INSERTED, 5)


def test_truncation_at_the_end_needs_the_anchor() -> None:
    original = build(6)
    truncated = original[:4]
    # The limit of a chain alone: a shorter chain is a valid chain.
    assert verify(truncated).ok
    result = verify(truncated, anchor=head_of(original))
    assert (result.problem, result.seq) == (JournalProblem.TRUNCATED, 5)
    assert result.message == "Les entrées du journal à partir du n° 5 ont été supprimées."
    everything = verify([], anchor=head_of(original))
    assert (everything.problem, everything.seq) == (JournalProblem.TRUNCATED, 1)


def test_a_chain_can_start_after_a_checkpoint() -> None:
    records = build(6)
    start = JournalHead(3, records[2].hash)
    assert verify(records[3:], start=start, anchor=head_of(records)).ok
    result = verify(records[3:], start=JournalHead(3, GENESIS))
    assert (result.problem, result.seq) == (JournalProblem.ALTERED, 4)


def test_the_head_is_the_last_good_entry_when_broken() -> None:
    records = build(5)
    del records[3]
    result = verify(records)
    assert result.head == JournalHead(3, records[2].hash)


# --- properties -------------------------------------------------------------------------------

sizes = st.integers(min_value=2, max_value=25)


@given(sizes, st.data())
def test_any_single_deletion_is_named(n: int, data: st.DataObject) -> None:
    records = build(n)
    anchor = head_of(records)
    index = data.draw(st.integers(0, n - 1))
    del records[index]
    result = verify(records, anchor=anchor)
    expected = JournalProblem.TRUNCATED if index == n - 1 else JournalProblem.REMOVED
    assert (result.problem, result.seq) == (expected, index + 1)


@given(sizes, st.data())
def test_any_adjacent_swap_is_named(n: int, data: st.DataObject) -> None:
    records = build(n)
    index = data.draw(st.integers(0, n - 2))
    records[index], records[index + 1] = records[index + 1], records[index]
    result = verify(records, anchor=head_of(build(n)))
    assert (result.problem, result.seq) == (JournalProblem.REORDERED, index + 1)


@given(sizes, st.data(), st.text(min_size=1, max_size=10), st.booleans())
def test_any_edit_is_named(n: int, data: st.DataObject, text: str, rehashed: bool) -> None:
    records = build(n)
    anchor = head_of(records)
    index = data.draw(st.integers(0, n - 1))
    edited = dataclasses.replace(records[index].entry, action=records[index].entry.action + text)
    record = records[index]
    records[index] = (
        rehash(record, edited) if rehashed else ChainedEntry(edited, record.prev_hash, record.hash)
    )
    result = verify(records, anchor=anchor)
    assert (result.problem, result.seq) == (JournalProblem.ALTERED, index + 1)


@given(sizes, st.data())
def test_any_truncation_is_named_with_the_anchor(n: int, data: st.DataObject) -> None:
    records = build(n)
    keep = data.draw(st.integers(0, n - 1))
    result = verify(records[:keep], anchor=head_of(records))
    assert (result.problem, result.seq) == (JournalProblem.TRUNCATED, keep + 1)
