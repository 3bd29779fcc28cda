"""Settings of a sandbox instance (all overridable by tests and by `dmp-sandbox serve`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str = "http://127.0.0.1:8470"
    """Absolute base of the links the server writes (paging ``next`` links, Location)."""
    max_body_bytes: int = 20 * 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    professional_token_ttl_s: int = 8 * 3600
    patient_token_ttl_s: int = 3600
    bris_de_glace_minutes: int = 60
    """A bris de glace token never outlives this, whatever patient_token_ttl_s says."""
    bris_de_glace_seconds: int | None = None
    """When set, the bris de glace time box in seconds (replaces bris_de_glace_minutes): tests
    that watch a bris de glace end by itself run in seconds, not minutes."""
    challenge_ttl_s: int = 120
    ciba_expires_s: int = 120
    ciba_interval_s: int = 2
    refresh_token_ttl_s: int = 12 * 3600
    """Lifetime of an e-CPS refresh token; each refresh answers a new one (rotation)."""
    ecps_session_max_s: int = 24 * 3600
    """Absolute cap of an e-CPS session, from the approval on the phone: no refresh token nor
    access token of that login outlives it (then a new approval is needed)."""
    page_default: int = 50
    page_max: int = 1000

    @property
    def bris_de_glace_s(self) -> float:
        """The bris de glace time box in seconds."""
        if self.bris_de_glace_seconds is not None:
            return float(self.bris_de_glace_seconds)
        return self.bris_de_glace_minutes * 60.0
