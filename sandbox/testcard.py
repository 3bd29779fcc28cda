"""Use a provisioned sandbox card (SoftHSM2 token) to authenticate, as a CPS reader would.

For clients and tests of the sandbox. The card's key never leaves the token: signatures are
made *on* it through python-pkcs11, in the current process::

    from sandbox.testcard import open_card, use_sandbox_cards

    module = use_sandbox_cards(sandbox_dir)          # sets SOFTHSM2_CONF, finds libsofthsm2.so
    with open_card(module, "CPS MARTIN Claire", pin) as card:
        body = {
            "certificate": base64.b64encode(card.certificate_der()).decode(),
            "nonce": nonce,
            "signature": base64.b64encode(card.sign(nonce.encode())).decode(),
            "algorithm": "RS256",
        }

or in one call, `card_auth_body(sandbox_dir, token_label, pin, nonce)` (the JSON body of
``POST /auth/card``).

One process, one SoftHSM2 configuration: python-pkcs11 loads a PKCS#11 module once per process
and SoftHSM2 reads ``SOFTHSM2_CONF`` when it is initialised, so ``SOFTHSM2_CONF`` must be in
``os.environ`` before the first ``pkcs11.lib(...)`` of the process; `use_sandbox_cards` does that.
If this module loaded SoftHSM2 for another configuration and no card is open, `open_card` and
`use_sandbox_cards` unload and reload it for the current ``SOFTHSM2_CONF``; if someone else
loaded it with another configuration, `use_sandbox_cards` raises `CardsUnavailableError`.
`can_use_in_process` tells in advance, and `sign_with_card` / `card_auth_body` fall back to a
child process (``python -m sandbox.testcard``) in that case. `release_sandbox_cards` unloads
SoftHSM2 (e.g. at the end of a test module) so that others can load it with their own conf.

The certificate can be read without the PIN (`read_card_certificate`). PINs are never logged.
SoftHSM2 logs a whole application in or out of a token at once: do not open the same card
twice at the same time in one process.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
import pkcs11.exceptions
from cryptography import x509
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass

from sandbox.pki import SIGNATURE_ALGORITHMS
from sandbox.tokens import KEY_ID, softhsm_conf_path, softhsm_env, softhsm_module_path

__all__ = [
    "CardSignature",
    "CardsUnavailableError",
    "TestCard",
    "can_use_in_process",
    "card_auth_body",
    "open_card",
    "read_card_certificate",
    "release_sandbox_cards",
    "sign_with_card",
    "use_sandbox_cards",
]

_SUBPROCESS_TIMEOUT_S = 60.0

_loaded_by_us: dict[Path, str | None] = {}
"""Modules this module loaded (resolved path) -> the SOFTHSM2_CONF they were loaded with."""
_open_cards = 0


class CardsUnavailableError(RuntimeError):
    """The PKCS#11 module is already loaded in this process with another SoftHSM2 configuration."""


def _loaded_key(module_path: Path | str) -> str | None:
    """The key of `module_path` in python-pkcs11's cache of loaded modules, if loaded."""
    target = Path(module_path).resolve()
    loaded: dict[str, Any] = getattr(pkcs11, "_loaded", {})
    for key in loaded:
        if Path(key).resolve() == target:
            return key
    return None


def _current_conf() -> str | None:
    return os.environ.get("SOFTHSM2_CONF")


def _conf_in_use(module_path: Path) -> tuple[bool, str | None]:
    """(whether this module loaded it, the SOFTHSM2_CONF it was loaded with).

    For a module loaded by someone else, the configuration is unknown: the current
    ``SOFTHSM2_CONF`` is the best guess.
    """
    resolved = module_path.resolve()
    if resolved in _loaded_by_us:
        return True, _loaded_by_us[resolved]
    return False, _current_conf()


def can_use_in_process(directory: Path) -> bool:
    """Whether this process can use the cards of sandbox `directory` (see the module doc)."""
    module = softhsm_module_path()
    if _loaded_key(module) is None:
        return True
    ours, conf = _conf_in_use(module)
    if conf == str(softhsm_conf_path(directory)):
        return True
    return ours and _open_cards == 0


def release_sandbox_cards() -> None:
    """Unload SoftHSM2 if this module loaded it and no card is open (e.g. at test teardown).

    Afterwards another sandbox directory (or another library) can load it with its own
    configuration. Does nothing when this module did not load it.
    """
    if _open_cards:
        raise CardsUnavailableError("a card is still open: close it before releasing SoftHSM2")
    for resolved in list(_loaded_by_us):
        key = _loaded_key(resolved)
        if key is not None:
            pkcs11.unload(key)
        del _loaded_by_us[resolved]


def use_sandbox_cards(directory: Path) -> Path:
    """Point this process at the cards of sandbox `directory`; return the PKCS#11 module path.

    Sets ``SOFTHSM2_CONF`` to ``DIR/softhsm2.conf``. Raises FileNotFoundError when the directory
    has no cards and CardsUnavailableError when SoftHSM2 is already loaded in this process with
    another configuration that cannot be switched (see the module doc).
    """
    conf = softhsm_conf_path(directory)
    if not conf.is_file():
        raise FileNotFoundError(
            f"{conf} does not exist: provision the cards first (`dmp-sandbox init {directory}`)"
        )
    module = softhsm_module_path()
    if _loaded_key(module) is not None:
        ours, loaded_conf = _conf_in_use(module)
        if loaded_conf != str(conf):
            if not ours:
                raise CardsUnavailableError(
                    f"python-pkcs11 already loaded {module} in this process with "
                    f"SOFTHSM2_CONF={loaded_conf!r}; the cards of {directory} need "
                    f"SOFTHSM2_CONF={str(conf)!r}: use them from a child process "
                    "(sign_with_card does it)"
                )
            if _open_cards:
                raise CardsUnavailableError(
                    f"cards of another sandbox directory ({loaded_conf}) are open in this "
                    "process: close them first"
                )
            release_sandbox_cards()
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return module


def _lib(module_path: Path | str) -> Any:
    """Load (or reuse) the module for the current ``SOFTHSM2_CONF``.

    If this module loaded it with another configuration and no card is open, reload it.
    """
    path = Path(module_path)
    resolved = path.resolve()
    key = _loaded_key(path)
    if (
        key is not None
        and resolved in _loaded_by_us
        and _loaded_by_us[resolved] != _current_conf()
        and _open_cards == 0
    ):
        pkcs11.unload(key)
        key = None
    if key is None:
        _loaded_by_us[resolved] = _current_conf()
        return pkcs11.lib(str(path))
    return pkcs11.lib(key)


def _get_token(lib: Any, token_label: str) -> Any:
    try:
        return lib.get_token(token_label=token_label)
    except pkcs11.exceptions.NoSuchToken:
        raise pkcs11.exceptions.NoSuchToken(
            f"no card labelled {token_label!r} (SOFTHSM2_CONF={_current_conf()!r})"
        ) from None


def _certificate_der(session: Any) -> bytes:
    for attrs in (
        {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: KEY_ID},
        {Attribute.CLASS: ObjectClass.CERTIFICATE},
    ):
        for obj in session.get_objects(attrs):
            return bytes(obj[Attribute.VALUE])
    raise pkcs11.exceptions.NoSuchKey("the card holds no certificate")


class TestCard:
    """An open card (a logged-in session). Get one from `open_card`."""

    __test__ = False  # not a pytest test class

    def __init__(self, token_label: str, session: Any) -> None:
        self.token_label = token_label
        self._session = session

    def certificate_der(self) -> bytes:
        """The authentication certificate stored on the card (DER)."""
        return _certificate_der(self._session)

    def certificate(self) -> x509.Certificate:
        """The authentication certificate stored on the card."""
        return x509.load_der_x509_certificate(self.certificate_der())

    def sign(self, data: bytes, algorithm: str = "RS256") -> bytes:
        """Sign `data` on the card: "RS256" (RSASSA-PKCS1-v1_5 SHA-256) or "PS256"
        (RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length 32)."""
        if algorithm == "RS256":
            mechanism, param = Mechanism.SHA256_RSA_PKCS, None
        elif algorithm == "PS256":
            mechanism = Mechanism.SHA256_RSA_PKCS_PSS
            param = (Mechanism.SHA256, MGF.SHA256, 32)
        else:
            raise ValueError(
                f"unknown signature algorithm {algorithm!r} (expected one of "
                f"{', '.join(SIGNATURE_ALGORITHMS)})"
            )
        key = self._session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, id=KEY_ID)
        return bytes(key.sign(data, mechanism=mechanism, mechanism_param=param))


@contextmanager
def open_card(module_path: Path | str, token_label: str, pin: str) -> Iterator[TestCard]:
    """Open the card `token_label` and log in with `pin` (pkcs11's PinIncorrect if wrong).

    ``SOFTHSM2_CONF`` must already be set (`use_sandbox_cards`).
    """
    global _open_cards
    token = _get_token(_lib(module_path), token_label)
    session = token.open(user_pin=pin)
    _open_cards += 1
    try:
        yield TestCard(token_label, session)
    finally:
        _open_cards -= 1
        session.close()


def read_card_certificate(module_path: Path | str, token_label: str) -> bytes:
    """The card's certificate (DER), read without logging in."""
    token = _get_token(_lib(module_path), token_label)
    with token.open() as session:
        return _certificate_der(session)


@dataclass(frozen=True, slots=True)
class CardSignature:
    """A card's certificate and its signature over some data."""

    certificate_der: bytes
    signature: bytes
    algorithm: str


def sign_with_card(
    directory: Path,
    token_label: str,
    pin: str,
    data: bytes,
    algorithm: str = "RS256",
    *,
    in_process: bool | None = None,
) -> CardSignature:
    """Sign `data` with the card `token_label` of sandbox `directory`.

    In this process when possible (`can_use_in_process`), else in a child process; `in_process`
    forces one or the other. pkcs11 errors (PinIncorrect, NoSuchToken...) are raised as the
    same pkcs11 exception classes either way.
    """
    if in_process is None:
        in_process = can_use_in_process(directory)
    if in_process:
        module = use_sandbox_cards(directory)
        with open_card(module, token_label, pin) as card:
            return CardSignature(card.certificate_der(), card.sign(data, algorithm), algorithm)
    return _sign_in_child(directory, token_label, pin, data, algorithm)


def card_auth_body(
    directory: Path,
    token_label: str,
    pin: str,
    nonce: str,
    algorithm: str = "RS256",
    *,
    in_process: bool | None = None,
) -> dict[str, str]:
    """The JSON body of ``POST /auth/card`` answering the challenge `nonce` with this card."""
    signed = sign_with_card(
        directory, token_label, pin, nonce.encode("utf-8"), algorithm, in_process=in_process
    )
    return {
        "certificate": base64.b64encode(signed.certificate_der).decode("ascii"),
        "nonce": nonce,
        "signature": base64.b64encode(signed.signature).decode("ascii"),
        "algorithm": algorithm,
    }


def _sign_in_child(
    directory: Path, token_label: str, pin: str, data: bytes, algorithm: str
) -> CardSignature:
    job = json.dumps(
        {
            "token_label": token_label,
            "pin": pin,
            "data": base64.b64encode(data).decode("ascii"),
            "algorithm": algorithm,
        }
    )
    env = softhsm_env(directory)
    result = subprocess.run(
        [sys.executable, "-m", "sandbox.testcard", "sign", str(Path(directory).resolve())],
        input=job.encode("utf-8"),
        capture_output=True,
        env=env,
        timeout=_SUBPROCESS_TIMEOUT_S,
        check=False,
    )
    try:
        answer = json.loads(result.stdout.decode("utf-8"))
    except ValueError:
        answer = {}
    if "signature" in answer:
        return CardSignature(
            base64.b64decode(answer["certificate"]),
            base64.b64decode(answer["signature"]),
            algorithm,
        )
    error_type = answer.get("error_type", "")
    message = answer.get("error") or result.stderr.decode("utf-8", "replace").strip()
    exc_class = getattr(pkcs11.exceptions, error_type, None)
    if isinstance(exc_class, type) and issubclass(exc_class, pkcs11.exceptions.PKCS11Error):
        raise exc_class(message)
    if error_type == "ValueError":
        raise ValueError(message)
    raise RuntimeError(
        f"card signing child process failed (exit {result.returncode}): {message or 'no output'}"
    )


def _child_sign(directory: Path) -> int:
    try:
        job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        module = use_sandbox_cards(directory)
        with open_card(module, job["token_label"], job["pin"]) as card:
            signature = card.sign(base64.b64decode(job["data"]), job["algorithm"])
            certificate = card.certificate_der()
    except Exception as exc:  # reported to the parent; messages never contain the PIN
        sys.stdout.write(json.dumps({"error_type": type(exc).__name__, "error": str(exc)}))
        return 1
    sys.stdout.write(
        json.dumps(
            {
                "certificate": base64.b64encode(certificate).decode("ascii"),
                "signature": base64.b64encode(signature).decode("ascii"),
            }
        )
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sandbox.testcard sign DIR``: job as JSON on stdin (used by sign_with_card)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "sign":
        sys.stderr.write(
            "usage: python -m sandbox.testcard sign DIR  (job on stdin: JSON with token_label, "
            "pin, data (base64), algorithm)\n"
        )
        return 2
    return _child_sign(Path(args[1]))


if __name__ == "__main__":
    raise SystemExit(main())
