"""The personas' smart cards, played by SoftHSM2 tokens.

`provision_cards(DIR, personas)` creates the sandbox test CA (`sandbox.pki`), writes
``DIR/softhsm2.conf`` (tokens under ``DIR/tokens``), initialises one token per persona with
``softhsm2-util``, generates an RSA-2048 key pair *on* each token (the private key is sensitive
and never leaves it), issues the persona's CPS/CPE certificate and stores it on the token next
to the key (same CKA_ID), and writes ``DIR/pki/<persona id>.pem``.

On each token::

    private key   CKO_PRIVATE_KEY  RSA-2048  label "CPS authentification"  id 01  (sign only)
    public key    CKO_PUBLIC_KEY             label "CPS authentification"  id 01
    certificate   CKO_CERTIFICATE  X.509     label "Certificat d'authentification"  id 01

python-pkcs11 loads a PKCS#11 module once per process, and SoftHSM2 reads ``SOFTHSM2_CONF``
when it is initialised; so everything that talks PKCS#11 here runs in child processes
(``python -m sandbox.tokens _keygen DIR``, job on stdin) with ``SOFTHSM2_CONF`` in their
environment, and the calling process never loads pkcs11. To use a card from a client or a test,
see `sandbox.testcard`.

PINs travel to ``softhsm2-util`` on its command line and to the child on its stdin; they are never
logged or printed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.personas import SO_PIN, Persona, Structure
from sandbox.pki import card_certificate_path, create_ca, issue_card_certificate, load_ca

__all__ = [
    "CERTIFICATE_LABEL",
    "CONF_FILE",
    "KEY_ID",
    "KEY_LABEL",
    "MODULE_CANDIDATES",
    "TOKENS_DIR",
    "ProvisioningError",
    "SoftHSMNotFoundError",
    "provision_cards",
    "softhsm_conf_path",
    "softhsm_env",
    "softhsm_module_path",
    "softhsm_util_path",
    "tokens_present",
    "write_softhsm_conf",
]

CONF_FILE = "softhsm2.conf"
TOKENS_DIR = "tokens"
KEY_ID = b"\x01"
KEY_LABEL = "CPS authentification"
CERTIFICATE_LABEL = "Certificat d'authentification"
KEY_BITS = 2048

MODULE_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib64/softhsm/libsofthsm2.so"),
    Path("/usr/lib64/pkcs11/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
    Path("/opt/homebrew/lib/softhsm/libsofthsm2.so"),
    Path("/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so"),
)

_WORKER_COMMAND = "_keygen"
_WORKER_TIMEOUT_S = 300.0


class SoftHSMNotFoundError(FileNotFoundError):
    """SoftHSM2 (its PKCS#11 module or softhsm2-util) is not installed."""


class ProvisioningError(RuntimeError):
    """The cards could not be provisioned."""


def softhsm_module_path() -> Path:
    """The SoftHSM2 PKCS#11 module: ``$SOFTHSM2_MODULE`` if set, else the usual install paths."""
    env = os.environ.get("SOFTHSM2_MODULE")
    if env:
        path = Path(env)
        if not path.is_file():
            raise SoftHSMNotFoundError(
                f"SOFTHSM2_MODULE is set to {env!r}, which is not a file: point it at "
                "libsofthsm2.so or unset it"
            )
        return path
    for candidate in MODULE_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise SoftHSMNotFoundError(
        "SoftHSM2's PKCS#11 module (libsofthsm2.so) was not found in "
        + ", ".join(str(c) for c in MODULE_CANDIDATES)
        + ". Install it (Debian/Ubuntu: `sudo apt-get install softhsm2`; macOS: "
        "`brew install softhsm`) or set SOFTHSM2_MODULE to its path."
    )


def softhsm_util_path() -> Path:
    """The ``softhsm2-util`` program."""
    found = shutil.which("softhsm2-util")
    if found is None:
        raise SoftHSMNotFoundError(
            "softhsm2-util was not found on PATH. Install SoftHSM2 (Debian/Ubuntu: "
            "`sudo apt-get install softhsm2`; macOS: `brew install softhsm`)."
        )
    return Path(found)


def softhsm_conf_path(directory: Path) -> Path:
    """``DIR/softhsm2.conf`` (absolute)."""
    return Path(directory).resolve() / CONF_FILE


def write_softhsm_conf(directory: Path) -> Path:
    """Write ``DIR/softhsm2.conf`` keeping the tokens in ``DIR/tokens``; return its path."""
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    token_dir = root / TOKENS_DIR
    token_dir.mkdir(exist_ok=True)
    conf = root / CONF_FILE
    conf.write_text(
        "# SoftHSM2 configuration of a dmp-sandbox directory (test cards only).\n"
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n",
        encoding="utf-8",
    )
    return conf


def softhsm_env(directory: Path) -> dict[str, str]:
    """A copy of ``os.environ`` with ``SOFTHSM2_CONF`` pointing at the directory's conf."""
    env = dict(os.environ)
    env["SOFTHSM2_CONF"] = str(softhsm_conf_path(directory))
    return env


def tokens_present(directory: Path) -> bool:
    """Whether ``DIR/tokens`` already holds anything (SoftHSM2 tokens are sub-directories)."""
    token_dir = Path(directory) / TOKENS_DIR
    return token_dir.is_dir() and any(token_dir.iterdir())


def provision_cards(
    directory: Path, personas: Sequence[Persona], *, jobs: int | None = None
) -> None:
    """Create the test CA and one SoftHSM2 card per persona in `directory` (see module doc).

    Refuses (ProvisioningError) when ``DIR/tokens`` already holds tokens: wipe the directory
    to re-provision. `jobs` is the number of key-generation child processes (default: up to
    the number of CPUs, at most 4).
    """
    root = Path(directory).resolve()
    if tokens_present(root):
        raise ProvisioningError(
            f"{root / TOKENS_DIR} already holds SoftHSM2 tokens: remove it (or the whole "
            "sandbox directory) before provisioning the cards again"
        )
    labels = [p.token_label for p in personas]
    if len(set(labels)) != len(labels):
        raise ProvisioningError("two personas share a token label")
    ids = [p.id for p in personas]
    if len(set(ids)) != len(ids):
        raise ProvisioningError("two personas share an id")
    module = softhsm_module_path()
    util = softhsm_util_path()

    create_ca(root)
    write_softhsm_conf(root)
    env = softhsm_env(root)
    for persona in personas:
        _init_token(util, env, persona)
    if not personas:
        return

    n_jobs = jobs if jobs is not None else min(4, _cpu_count())
    n_jobs = max(1, min(n_jobs, len(personas)))
    chunks = [list(personas[i::n_jobs]) for i in range(n_jobs)]
    workers = [_start_worker(root, module, env, chunk) for chunk in chunks]
    certificates: dict[str, bytes] = {}
    errors: list[str] = []
    for worker in workers:
        try:
            certificates.update(_finish_worker(*worker))
        except ProvisioningError as exc:
            errors.append(str(exc))
    if errors:
        raise ProvisioningError("; ".join(errors))
    for persona in personas:
        cert = x509.load_der_x509_certificate(certificates[persona.id])
        path = card_certificate_path(root, persona.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _init_token(util: Path, env: dict[str, str], persona: Persona) -> None:
    # The command line holds PINs: never put it in an error message.
    result = subprocess.run(
        [
            str(util),
            "--init-token",
            "--free",
            "--label",
            persona.token_label,
            "--pin",
            persona.pin,
            "--so-pin",
            SO_PIN,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise ProvisioningError(
            f"softhsm2-util could not initialise the token {persona.token_label!r} "
            f"(exit {result.returncode}): {detail}"
        )


def _start_worker(
    root: Path, module: Path, env: dict[str, str], personas: Sequence[Persona]
) -> tuple[subprocess.Popen[bytes], Any, bytes]:
    job = {
        "module": str(module),
        "personas": [dataclasses.asdict(p) for p in personas],
    }
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.tokens", _WORKER_COMMAND, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=env,
    )
    return proc, stderr, json.dumps(job).encode("utf-8")


def _finish_worker(proc: subprocess.Popen[bytes], stderr: Any, job: bytes) -> dict[str, bytes]:
    try:
        try:
            out, _ = proc.communicate(job, timeout=_WORKER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise ProvisioningError(
                f"card provisioning child process timed out after {_WORKER_TIMEOUT_S:.0f} s"
            ) from None
        stderr.seek(0)
        err_text = stderr.read().decode("utf-8", "replace").strip()
    finally:
        stderr.close()
    try:
        answer = json.loads(out.decode("utf-8")) if out.strip() else {}
    except ValueError:
        answer = {}
    if proc.returncode != 0 or "certificates" not in answer:
        reason = answer.get("error") or err_text.splitlines()[-1:] or ["no output"]
        if isinstance(reason, list):
            reason = reason[0]
        raise ProvisioningError(
            f"card provisioning child process failed (exit {proc.returncode}): {reason}"
        )
    return {pid: base64.b64decode(der) for pid, der in answer["certificates"].items()}


# --- child process side: the only code of this module that loads pkcs11 -------------------


def _persona_from_json(data: dict[str, Any]) -> Persona:
    fields = dict(data)
    fields["structure"] = Structure(**fields["structure"])
    fields["deposits_for"] = tuple(fields.get("deposits_for", ()))
    return Persona(**fields)


def _der_integer(value: int) -> bytes:
    """DER encoding of a non-negative INTEGER (CKA_SERIAL_NUMBER holds the DER form)."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    length = len(body)
    if length < 0x80:
        header = bytes([0x02, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x02, 0x80 | len(size)]) + size
    return header + body


def _provision_on_tokens(
    directory: Path, module: str, personas: Sequence[Persona]
) -> dict[str, str]:
    import pkcs11
    from pkcs11 import Attribute, CertificateType, KeyType, MechanismFlag, ObjectClass

    ca = load_ca(directory)
    lib = pkcs11.lib(module)
    certificates: dict[str, str] = {}
    for persona in personas:
        token = lib.get_token(token_label=persona.token_label)
        with token.open(rw=True, user_pin=persona.pin) as session:
            public, _private = session.generate_keypair(
                KeyType.RSA,
                KEY_BITS,
                id=KEY_ID,
                label=KEY_LABEL,
                store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={Attribute.PRIVATE: False, Attribute.MODIFIABLE: False},
                private_template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.PRIVATE: True,
                    Attribute.MODIFIABLE: False,
                },
            )
            modulus = int.from_bytes(public[Attribute.MODULUS], "big")
            exponent = int.from_bytes(public[Attribute.PUBLIC_EXPONENT], "big")
            public_key = rsa.RSAPublicNumbers(exponent, modulus).public_key()
            cert = issue_card_certificate(ca, public_key, persona)
            der = cert.public_bytes(serialization.Encoding.DER)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: False,
                    Attribute.MODIFIABLE: False,
                    Attribute.LABEL: CERTIFICATE_LABEL,
                    Attribute.ID: KEY_ID,
                    Attribute.SUBJECT: cert.subject.public_bytes(),
                    Attribute.ISSUER: cert.issuer.public_bytes(),
                    Attribute.SERIAL_NUMBER: _der_integer(cert.serial_number),
                    Attribute.VALUE: der,
                }
            )
        certificates[persona.id] = base64.b64encode(der).decode("ascii")
    return certificates


def _worker_main(directory: Path) -> int:
    try:
        job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        personas = [_persona_from_json(p) for p in job["personas"]]
        certificates = _provision_on_tokens(directory, job["module"], personas)
    except Exception as exc:  # reported to the parent; messages never contain PINs
        sys.stdout.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        sys.stdout.flush()
        return 1
    sys.stdout.write(json.dumps({"certificates": certificates}))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Internal entry point of the provisioning child process."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != _WORKER_COMMAND:
        sys.stderr.write(
            "usage: python -m sandbox.tokens _keygen DIR  (internal: job as JSON on stdin; "
            "use `dmp-sandbox init` instead)\n"
        )
        return 2
    return _worker_main(Path(args[1]))


if __name__ == "__main__":
    raise SystemExit(main())
