"""What the console knows of a professional card (CPS / CPE) and its holder."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PinState(StrEnum):
    """The token's PIN flags, read before the PIN is asked (PKCS#11 CKF_USER_PIN_*)."""

    OK = "ok"
    COUNT_LOW = "count_low"
    """At least one wrong PIN was typed since the last good one."""
    FINAL_TRY = "final_try"
    """One more wrong PIN locks the card."""
    LOCKED = "locked"
    """The PIN is locked: unlock with the PUK through the card issuer's tools."""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A card present in a reader (a PKCS#11 token)."""

    slot_id: int
    label: str
    serial: str
    manufacturer: str = ""
    model: str = ""
    pin_state: PinState = PinState.OK

    @property
    def key(self) -> tuple[int, str]:
        """Identifies the physical card in its slot (the same card put back has the same key)."""
        return (self.slot_id, self.serial)


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """The holder, from the card's authentication certificate (read without the PIN)."""

    id_nat: str
    family_name: str
    given_name: str
    profession_label: str
    card_kind: str
    """"CPS" (a health professional) or "CPE" (an employee of a structure)."""
    structure_name: str = ""
    structure_id: str = ""
    employee_number: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.id_nat
