"""The cache's retention policy and admission rule (console.domain.retention, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.domain.errors import ConsoleError
from console.domain.models import SECRETARY_ROLE, AccessMode, DocStatus, DocumentMeta, Visibility
from console.domain.retention import (
    DEFAULT_MAX_IDLE,
    DEFAULT_PURGE_INTERVAL,
    CacheClosedError,
    CacheContext,
    CacheCorruptError,
    CacheError,
    CacheOwnershipError,
    CacheRefusal,
    CacheUnavailableError,
    PurgeReport,
    RetentionPolicy,
    cache_admission,
    patient_admission,
)

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
GP = "899700000011"
OTHER = "899700000094"
COMMON_TYPE = "11488-4"  # CR de consultation: every professional row may read it
NURSE_FORBIDDEN = "51969-4"  # génétique: forbidden to the nurse row


def doc(**changes: object) -> DocumentMeta:
    fields: dict[str, object] = {
        "id": "doc-1",
        "master_id": "urn:uuid:1",
        "patient_ins": "255081416802538",
        "type_code": COMMON_TYPE,
        "class_code": "11488-4",
        "title": "CR de consultation",
        "author_id_nat": OTHER,
        "created": NOW - timedelta(days=3),
        "deposited": NOW - timedelta(days=2),
    }
    fields.update(changes)
    return DocumentMeta(**fields)  # type: ignore[arg-type]


MASKED = frozenset({Visibility.MASQUE_PS})


# --- policy -----------------------------------------------------------------------------------


def test_defaults_are_72_hours_and_hourly() -> None:
    policy = RetentionPolicy()
    assert policy.max_idle == DEFAULT_MAX_IDLE == timedelta(hours=72)
    assert policy.purge_interval == DEFAULT_PURGE_INTERVAL == timedelta(hours=1)
    assert policy.purge_all_at_logout is False


def test_expiry_is_strictly_after_the_retention_period() -> None:
    policy = RetentionPolicy(max_idle=timedelta(hours=72))
    assert policy.cutoff(NOW) == NOW - timedelta(hours=72)
    assert not policy.is_expired(NOW - timedelta(hours=72), NOW)
    assert policy.is_expired(NOW - timedelta(hours=72, microseconds=1), NOW)
    assert not policy.is_expired(NOW, NOW)


def test_purge_is_due_first_then_every_interval() -> None:
    policy = RetentionPolicy(purge_interval=timedelta(hours=1))
    assert policy.purge_due(None, NOW)
    assert not policy.purge_due(NOW - timedelta(minutes=59), NOW)
    assert policy.purge_due(NOW - timedelta(hours=1), NOW)
    # A clock set back (time zone or NTP jump): purge rather than wait for hours.
    assert policy.purge_due(NOW + timedelta(hours=3), NOW)


@pytest.mark.parametrize(
    ("max_idle", "purge_interval"),
    [
        (timedelta(0), DEFAULT_PURGE_INTERVAL),
        (timedelta(hours=-1), DEFAULT_PURGE_INTERVAL),
        (DEFAULT_MAX_IDLE, timedelta(0)),
    ],
)
def test_nonsense_policies_are_refused(max_idle: timedelta, purge_interval: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        RetentionPolicy(max_idle=max_idle, purge_interval=purge_interval)


def test_purge_reports_add_up() -> None:
    total = PurgeReport(1, 2, 3, 4) + PurgeReport(1, 1, 1, 1)
    assert total == PurgeReport(2, 3, 4, 5)
    assert total.total == 14
    assert PurgeReport().total == 0


def test_cache_errors_belong_to_the_one_tree() -> None:
    for error in (
        CacheOwnershipError,
        CacheUnavailableError,
        CacheCorruptError,
        CacheClosedError,
    ):
        assert issubclass(error, CacheError)
        assert issubclass(error, ConsoleError)


# --- admission ----------------------------------------------------------------------------------


def ctx(
    profession: str = "10",
    mode: AccessMode = AccessMode.NORMAL,
    episode_id: str | None = None,
    *,
    sees_masked: bool = False,
    id_nat: str = GP,
) -> CacheContext:
    return CacheContext(id_nat, profession, mode, episode_id, sees_masked)


def test_a_normal_document_fetched_in_normal_mode_is_admitted() -> None:
    assert cache_admission(doc(), ctx())
    assert patient_admission(ctx())


def test_a_secretary_cache_holds_no_document_and_no_patient() -> None:
    decision = cache_admission(doc(), ctx(SECRETARY_ROLE))
    assert not decision and decision.reason is CacheRefusal.SECRETARY
    assert patient_admission(ctx(SECRETARY_ROLE)).reason is CacheRefusal.SECRETARY


def test_what_the_read_rules_hide_is_refused() -> None:
    superseded = cache_admission(doc(status=DocStatus.SUPERSEDED), ctx())
    assert superseded.reason is CacheRefusal.READ_RULES
    deleted = cache_admission(doc(status=DocStatus.ENTERED_IN_ERROR), ctx())
    assert deleted.reason is CacheRefusal.READ_RULES
    matrix = cache_admission(doc(type_code=NURSE_FORBIDDEN), ctx("60"))
    assert matrix.reason is CacheRefusal.READ_RULES


def test_an_archived_document_may_be_cached() -> None:
    # Listed on request in normal mode: the cache may keep it (the view filters it).
    assert cache_admission(doc(archived=True), ctx())


def test_a_masked_document_in_normal_mode_needs_the_author_or_the_mt_rights() -> None:
    masked = doc(visibility=MASKED)
    refused = cache_admission(masked, ctx())
    assert not refused and refused.reason is CacheRefusal.MASKED
    assert cache_admission(masked, ctx(id_nat=OTHER))  # its author
    assert cache_admission(masked, ctx(sees_masked=True))  # médecin traitant's rights


@pytest.mark.parametrize("mode", [AccessMode.BRIS_DE_GLACE, AccessMode.CENTRE_15])
def test_an_exceptional_access_needs_its_episode(mode: AccessMode) -> None:
    assert cache_admission(doc(), ctx(mode=mode)).reason is CacheRefusal.NO_EPISODE
    assert patient_admission(ctx(mode=mode)).reason is CacheRefusal.NO_EPISODE
    assert cache_admission(doc(), ctx(mode=mode, episode_id="ep-1"))
    assert cache_admission(doc(visibility=MASKED), ctx(mode=mode, episode_id="ep-1"))
    assert ctx(mode=mode, episode_id="ep-1").episode == "ep-1"


def test_an_episode_means_nothing_in_normal_mode() -> None:
    normal = ctx(episode_id="ep-1")
    assert not normal.exceptional
    assert normal.episode is None
    assert cache_admission(doc(visibility=MASKED), normal).reason is CacheRefusal.MASKED
