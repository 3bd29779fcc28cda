"""Times as people read them: French local time (Europe/Paris by default), with the offset
where a time is attested.

Times are stored and sent in UTC; only what is shown to a person goes through here. The
console sets the zone once at start-up from its settings (``Settings.time_zone``: an overseas
structure sets ``America/Martinique``, ``Indian/Reunion``...); the machine's own zone is never
used, since a hospital workstation is often left on UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_ZONE",
    "UnknownTimeZoneError",
    "display_zone",
    "format_date",
    "format_datetime",
    "format_time",
    "offset_label",
    "set_display_zone",
    "to_local",
    "today",
    "zone_named",
]

DEFAULT_ZONE = "Europe/Paris"


class UnknownTimeZoneError(ValueError):
    """The settings name a time zone this computer does not know."""


def zone_named(name: str) -> tzinfo:
    """The IANA zone `name` (tzdata ships it where the OS has none, as on Windows)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(f"fuseau horaire inconnu : {name!r}") from None


_zone: tzinfo = zone_named(DEFAULT_ZONE)


def set_display_zone(zone: tzinfo | str) -> None:
    """The zone every time shown to a person is given in (the app calls it at start-up)."""
    global _zone
    _zone = zone_named(zone) if isinstance(zone, str) else zone


def display_zone() -> tzinfo:
    return _zone


def to_local(moment: datetime, zone: tzinfo | None = None) -> datetime:
    """`moment` in the display zone (a naive `moment` is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or _zone)


def offset_label(moment: datetime) -> str:
    """``UTC+01:00`` for an aware local `moment`."""
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def format_date(value: date | datetime, zone: tzinfo | None = None) -> str:
    """``08/12/2026``; a date-time is first taken to the display zone."""
    if isinstance(value, datetime):
        value = to_local(value, zone)
    return value.strftime("%d/%m/%Y")


def format_time(moment: datetime, *, seconds: bool = False, zone: tzinfo | None = None) -> str:
    """``14:05`` (or ``14:05:09``) in the display zone."""
    return to_local(moment, zone).strftime("%H:%M:%S" if seconds else "%H:%M")


def format_datetime(
    moment: datetime,
    *,
    seconds: bool = False,
    offset: bool = False,
    joiner: str = " ",
    zone: tzinfo | None = None,
) -> str:
    """``08/12/2026 14:05`` in the display zone; with `offset`, ``... (UTC+01:00)``, as an
    attestation or a receipt says it so that it reads right anywhere."""
    shown = to_local(moment, zone)
    text = f"{shown:%d/%m/%Y}{joiner}{shown.strftime('%H:%M:%S' if seconds else '%H:%M')}"
    return f"{text} ({offset_label(shown)})" if offset else text


def today() -> date:
    """Today where the professional is (the display zone), whatever the computer's zone."""
    return to_local(datetime.now(UTC)).date()
