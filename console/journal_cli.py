"""``staff-console journal verify``: check the console's journal with the professional's card.

::

    staff-console journal verify [--data-dir DIR] [--pkcs11-module PATH] [--token-label LABEL]
                                 [--sandbox-dir DIR] [--pin-stdin]
    staff-console journal verify --ecps IDNAT [--data-dir DIR]

Opens the professional's encrypted cache (``DIR/cache``, ``Settings.data_dir`` by default) the
way the console does: the card's holder names the cache, the PIN is asked on the terminal
(``getpass``: never echoed, never kept), the card signs the cache label and the key is derived
from that signature; an e-CPS cache takes its key from the OS keychain. The database is then
read only (``PRAGMA query_only``: nothing is purged, recovered or migrated) and the hash chain
checked against its anchor.

It prints ``Journal intègre ...`` and exits 0, or names the first altered, removed,
reordered or inserted entry (or a truncated end, or a cache file older than the journal's seal
kept beside it: a rollback) and exits 1. A cache file that cannot be read to the end (a damaged
page: "database disk image is malformed") exits 3 with a message saying so: the journal could
not be checked, which is neither "intact" nor "altered". Any other problem (no card, wrong PIN,
no cache, another card's cache, bad arguments) exits 2 with a message on stderr.

``--pin-stdin`` reads the PIN from the first line of standard input instead of the terminal:
for scripts and tests only (a PIN in a pipe may end up in a shell history or a file).

The console's own command line (``console.app``) hands ``staff-console journal ...`` here:
``main(argv[1:])`` when ``argv[0] == "journal"``. ``python -m console.journal_cli verify``
works too.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TextIO

from console.cache.journal import META_SEALED, SEAL_KEY_LABEL, JournalSeal, JournalStore
from console.cache.keys import (
    BINDING_CARD,
    BINDING_KEYRING,
    CacheKeys,
    CachePaths,
    cache_paths,
    card_keys,
    check_header,
    check_key,
    keyring_keys,
    read_header,
    spki_fingerprint,
    system_keyring,
)
from console.cache.store import CIPHER_SETTINGS
from console.config import Settings
from console.domain.card import PinState, TokenInfo
from console.domain.errors import CacheCorruptError, ConsoleError
from console.domain.journal import VerifyResult

__all__ = [
    "EXIT_ALTERED",
    "EXIT_DAMAGED",
    "EXIT_ERROR",
    "EXIT_OK",
    "JournalDamagedError",
    "build_parser",
    "main",
    "verify_file",
]

EXIT_OK = 0
EXIT_ALTERED = 1
EXIT_ERROR = 2
EXIT_DAMAGED = 3


class JournalDamagedError(CacheCorruptError):
    """The cache file is damaged: the journal cannot be read to the end (exit 3)."""


PinReader = Callable[[str], str]


class CliError(Exception):
    """A problem that ends the command with exit code 2 (the message is for the user)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="staff-console journal",
        description="Journal local de la console : vérification de la chaîne d'empreintes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = sub.add_parser(
        "verify",
        help="verify the hash chain of the journal in the professional's encrypted cache",
        description=(
            "Open the professional's cache with her card (PIN asked on the terminal) and "
            "verify the journal: exit 0 when whole, 1 naming the first altered, removed or "
            "reordered entry, 2 on any other problem."
        ),
    )
    verify.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"the console's data directory, holding cache/ (default {Settings().data_dir})",
    )
    verify.add_argument(
        "--pkcs11-module", type=Path, metavar="PATH", help="PKCS#11 module of the card middleware"
    )
    verify.add_argument(
        "--token-label", metavar="LABEL", help="the card to use, when several are present"
    )
    verify.add_argument(
        "--sandbox-dir",
        type=Path,
        metavar="DIR",
        help="use the SoftHSM2 test cards of a sandbox made by `dmp-sandbox init DIR`",
    )
    verify.add_argument(
        "--ecps",
        metavar="IDNAT",
        help="an e-CPS cache (key in the OS keychain) of this professional: no card",
    )
    verify.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the PIN from the first line of stdin (scripts and tests only)",
    )
    return parser


# -- opening the cache read-only -----------------------------------------------------------------


class _ReadOnlyStore:
    """What ``JournalStore.verify`` needs of a store, over a query-only connection."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @property
    def conn(self) -> Any:
        return self._conn

    def transaction(self) -> AbstractContextManager[Any]:  # never used by verify
        return nullcontext(self._conn)

    def now_us(self) -> int:  # never used by verify
        return 0


def verify_file(paths: CachePaths, keys: CacheKeys) -> VerifyResult:
    """Verify the journal of the cache at `paths` opened with `keys`, reading only, and
    against the journal's seal kept beside it (a rolled-back cache file).

    Raises:
        CacheCorruptError: the file cannot be decrypted with these keys, or has no journal.
        JournalDamagedError: the file is damaged (a page cannot be read).
    """
    import sqlcipher3

    if not paths.db.is_file():
        raise CacheCorruptError("La base du cache est introuvable.")
    conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
    try:
        conn.execute(keys.pragma_key())
        for statement in CIPHER_SETTINGS:
            conn.execute(statement)
        conn.execute("PRAGMA query_only = ON")
        try:
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlcipher3.DatabaseError:
            raise CacheCorruptError(
                "Le cache ne peut pas être déchiffré avec cette clé : il est conservé."
            ) from None
        if not {"journal", "journal_head"} <= tables:
            raise CacheCorruptError("Ce cache n'a pas de journal.")
        try:
            sealed_before = (
                "meta" in tables
                and conn.execute("SELECT value FROM meta WHERE key = ?", (META_SEALED,)).fetchone()
                is not None
            )
            seal = JournalSeal(paths.seal, keys.mac(SEAL_KEY_LABEL), paths.db.stem).read()
            return JournalStore(_ReadOnlyStore(conn)).verify(seal, sealed_before=sealed_before)
        except sqlcipher3.DatabaseError as exc:
            raise JournalDamagedError(
                "Le fichier du cache est endommagé : le journal n'a pas pu être lu jusqu'au bout "
                f"({type(exc).__name__}). Son intégrité ne peut pas être établie ; gardez une "
                "copie du fichier et signalez-le."
            ) from None
    finally:
        conn.close()


# -- the command ---------------------------------------------------------------------------------


def _module(args: argparse.Namespace) -> Path:
    from console.app import choose_pkcs11_module

    return choose_pkcs11_module(args.pkcs11_module, sandbox=args.sandbox_dir is not None)


def _choose_token(tokens: Sequence[TokenInfo], label: str | None) -> TokenInfo:
    if label is not None:
        for token in tokens:
            if token.label == label:
                return token
        raise CliError(f"Aucune carte « {label} » dans les lecteurs.")
    if not tokens:
        raise CliError("Aucune carte dans les lecteurs : insérez votre carte CPS.")
    if len(tokens) > 1:
        labels = ", ".join(f"« {t.label} »" for t in tokens)
        raise CliError(
            f"Plusieurs cartes présentes ({labels}) : choisissez-en une avec --token-label."
        )
    return tokens[0]


def _ask_pin(args: argparse.Namespace, token: TokenInfo, stdin: TextIO, ask: PinReader) -> str:
    if token.pin_state is PinState.LOCKED:
        raise CliError("La carte est bloquée : le code PIN a été saisi trop de fois.")
    if args.pin_stdin:
        pin = stdin.readline().rstrip("\r\n")
    else:
        warning = ""
        if token.pin_state is PinState.FINAL_TRY:
            warning = " (dernier essai avant blocage)"
        pin = ask(f"Code PIN de la carte « {token.label} »{warning} : ")
    if not pin:
        raise CliError("Aucun code PIN saisi.")
    return pin


async def _card_keys(
    args: argparse.Namespace, cache_dir: Path, stdin: TextIO, ask: PinReader
) -> tuple[CachePaths, CacheKeys, str]:
    from console.smartcard.reader import Pkcs11CardReader

    module = _module(args)
    reader = Pkcs11CardReader(module)
    try:
        token = _choose_token(await reader.tokens(), args.token_label)
        identity = await reader.identity(token)
        id_nat = identity.id_nat
        paths = cache_paths(cache_dir, id_nat)
        header = read_header(paths.header)
        if header is None:
            if paths.db.exists():
                raise CliError("L'en-tête du cache a disparu : le cache ne peut pas être ouvert.")
            raise CliError(f"Aucun cache de la console pour la carte de {identity.display_name}.")
        if header.binding != BINDING_CARD:
            raise CliError("Ce cache est celui d'une connexion e-CPS : utilisez --ecps IDNAT.")
        pin = _ask_pin(args, token, stdin, ask)
        card = await reader.login(token, pin)
        del pin
        try:
            check_header(
                header,
                id_nat=id_nat,
                binding=BINDING_CARD,
                fingerprint=spki_fingerprint(card.certificate_der),
            )
            keys = await card_keys(card, id_nat)
        finally:
            await card.logout()
        check_key(header, keys)
        return paths, keys, identity.display_name
    finally:
        await reader.close()


def _keyring_keys(id_nat: str, cache_dir: Path) -> tuple[CachePaths, CacheKeys, str]:
    paths = cache_paths(cache_dir, id_nat)
    header = read_header(paths.header)
    if header is None:
        raise CliError(f"Aucun cache de la console pour {id_nat}.")
    check_header(header, id_nat=id_nat, binding=BINDING_KEYRING, fingerprint="")
    backend, why = system_keyring()
    if backend is None:
        raise CliError(f"Trousseau du système indisponible ({why}).")
    keys = keyring_keys(backend, id_nat, create=False)
    check_key(header, keys)
    return paths, keys, id_nat


def _run(args: argparse.Namespace, out: TextIO, stdin: TextIO, ask: PinReader) -> int:
    if args.sandbox_dir is not None:
        conf = args.sandbox_dir / "softhsm2.conf"
        if not conf.is_file():
            raise CliError(f"{args.sandbox_dir} n'a pas de softhsm2.conf (dmp-sandbox init).")
        os.environ["SOFTHSM2_CONF"] = str(conf.resolve())
    data_dir: Path = args.data_dir or Settings().data_dir
    cache_dir = data_dir / "cache"
    if args.ecps:
        paths, keys, who = _keyring_keys(args.ecps, cache_dir)
    else:
        paths, keys, who = asyncio.run(_card_keys(args, cache_dir, stdin, ask))
    try:
        result = verify_file(paths, keys)
    finally:
        keys.wipe()
    if result.ok:
        print(f"Journal de {who} : {result.message}", file=out)
        if result.head.seq:
            print(
                f"Dernière entrée : n° {result.head.seq}, empreinte SHA-256 {result.head.hash}",
                file=out,
            )
        return EXIT_OK
    print(f"JOURNAL ALTÉRÉ ({who}) : {result.message}", file=out)
    print(
        f"Entrées intègres avant elle : {result.checked} ; problème : {result.problem}, "
        f"entrée n° {result.seq}.",
        file=out,
    )
    return EXIT_ALTERED


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
    ask_pin: PinReader = getpass.getpass,
) -> int:
    """Run ``journal ARGS`` (`argv` without the leading ``journal``); the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    try:
        return _run(args, out, stdin or sys.stdin, ask_pin)
    except JournalDamagedError as exc:
        print(f"staff-console journal : {exc}", file=err)
        return EXIT_DAMAGED
    except (CliError, ConsoleError) as exc:
        print(f"staff-console journal : {exc}", file=err)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("staff-console journal : interrompu.", file=err)
        return EXIT_ERROR
    except Exception as exc:  # never a bare traceback, never the "altered" code
        print(
            f"staff-console journal : erreur inattendue ({type(exc).__name__}) : la vérification "
            "n'a pas pu aller au bout.",
            file=err,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
