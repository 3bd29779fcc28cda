"""The ``dmp-sandbox`` command: ``init``, ``serve`` and ``info`` a local DMP sandbox.

    dmp-sandbox init DIR [--patients N] [--seed S] [--chronic-docs N]
                         [--reference-date YYYY-MM-DD] [--force] [--no-cards]
    dmp-sandbox serve DIR [--port P] [--base-url URL]
    dmp-sandbox info DIR

The server listens on the loopback interface only: it serves test data, without TLS.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from sandbox import clock
from sandbox.seed import (
    PATIENTS_FILE,
    PERSONAS_FILE,
    SandboxDirectoryError,
    SeedOptions,
    init_sandbox,
)
from sandbox.store import DB_NAME

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8470

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure explained to the user (printed without a traceback)."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _clock_offset() -> float:
    try:
        return clock.offset_from_env()
    except clock.ClockOffsetError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc


def _reference_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dmp-sandbox",
        description="A local double of the French DMP (FHIR R4, PDSm / IHE MHD): test data only.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = sub.add_parser(
        "init",
        help="create a sandbox directory: test cards, database, personas.json, patients.json",
        description="Create a deterministic sandbox directory (same options, same data).",
    )
    init.add_argument("directory", type=Path, metavar="DIR")
    init.add_argument("--patients", type=_positive, default=40, help="number of patients (40)")
    init.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    init.add_argument(
        "--chronic-docs",
        type=_positive,
        default=3000,
        help="documents of the chronic patient (3000)",
    )
    init.add_argument(
        "--reference-date",
        type=_reference_date,
        default=None,
        help="the 'today' every seeded date is counted back from (default: today)",
    )
    init.add_argument(
        "--force", action="store_true", help="wipe DIR first if it is a sandbox directory"
    )
    init.add_argument(
        "--no-cards",
        action="store_true",
        help="skip the test CA and the SoftHSM2 cards (database and JSON files only)",
    )

    serve = sub.add_parser(
        "serve",
        help=f"serve a sandbox directory on {LOOPBACK}",
        description=f"Serve the sandbox on {LOOPBACK} only (test data, no TLS).",
    )
    serve.add_argument("directory", type=Path, metavar="DIR")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"({DEFAULT_PORT})")
    serve.add_argument(
        "--host",
        default=LOOPBACK,
        help=f"only {LOOPBACK} (or localhost) is accepted: the sandbox never leaves loopback",
    )
    serve.add_argument(
        "--base-url",
        default=None,
        help="absolute base of the links the server writes (default http://127.0.0.1:PORT)",
    )
    serve.add_argument(
        "--patient-token-ttl",
        type=_positive,
        default=None,
        metavar="S",
        help="lifetime of a patient-scoped token in seconds (3600)",
    )
    serve.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started the server dies (tests, benches)",
    )
    serve.add_argument(
        "--ciba-expires",
        type=_positive,
        default=None,
        metavar="S",
        help="lifetime of an e-CPS (CIBA) login request in seconds (120)",
    )
    serve.add_argument(
        "--bris-de-glace-minutes",
        type=_positive,
        default=None,
        metavar="M",
        help="time box of a bris de glace in minutes (60)",
    )
    serve.add_argument(
        "--bris-de-glace-seconds",
        type=_positive,
        default=None,
        metavar="S",
        help="time box of a bris de glace in seconds (replaces --bris-de-glace-minutes; tests)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=_positive,
        default=None,
        metavar="MB",
        help="largest request body accepted, in MB (20; 413 beyond)",
    )

    info = sub.add_parser("info", help="print the personas (with their PINs) and special patients")
    info.add_argument("directory", type=Path, metavar="DIR")
    return parser


# -- init ---------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    options = SeedOptions(
        patients=args.patients,
        seed=args.seed,
        chronic_docs=args.chronic_docs,
        reference_date=args.reference_date or clock.moved_today(_clock_offset()),
        cards=not args.no_cards,
    )
    try:
        options.check()
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    directory: Path = args.directory
    try:
        report = init_sandbox(
            directory, options, force=args.force, progress=lambda m: print(m, file=out)
        )
    except SandboxDirectoryError as exc:
        raise CliError(str(exc)) from exc
    except (FileNotFoundError, RuntimeError) as exc:  # SoftHSM2 missing, provisioning failed
        raise CliError(
            f"{exc}\n(install SoftHSM2, e.g. `apt install softhsm2`, or pass --no-cards)"
        ) from exc
    counts = report.counts
    t = report.timings
    root = directory.resolve()
    print(
        f"Bac à sable DMP initialisé dans {root} en {t['total']:.1f} s"
        f" (graine {options.seed}, date de référence {options.reference_date.isoformat()})",
        file=out,
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in t.items() if k != "total")
    print(f"  étapes : {steps}", file=out)
    print(
        f"  {counts['patients']} patients, {counts['documents']} documents"
        f" ({report.body_bytes / 1e6:.1f} Mo de corps), {counts['professionals']}"
        f" professionnels, {counts['structures']} structures,"
        f" {counts['authorisations']} autorisations, {counts['immunizations']} vaccinations",
        file=out,
    )
    print(f"  base : {root / DB_NAME}", file=out)
    print(f"  personas : {root / PERSONAS_FILE}", file=out)
    print(f"  patients : {root / PATIENTS_FILE}", file=out)
    if options.cards:
        print(f"  cartes : SOFTHSM2_CONF={root / 'softhsm2.conf'}", file=out)
    else:
        print("  cartes : aucune (--no-cards)", file=out)
    print(f"Lancer le serveur : dmp-sandbox serve {directory}", file=out)
    return EXIT_OK


# -- serve --------------------------------------------------------------------------------------


def _check_initialised(directory: Path) -> None:
    if not (directory / DB_NAME).is_file():
        raise CliError(
            f"{directory} is not an initialised sandbox (no {DB_NAME}): "
            f"run `dmp-sandbox init {directory}` first"
        )
    from sandbox.store import SCHEMA_VERSION, Store

    store = Store(directory / DB_NAME)
    try:
        version = store.schema_version()
    finally:
        store.close()
    if version != SCHEMA_VERSION:
        raise CliError(
            f"{directory} was made by another version of the sandbox (schema {version}, "
            f"expected {SCHEMA_VERSION}): run `dmp-sandbox init {directory} --force` to "
            "recreate it"
        )


def _base_url(text: str | None, port: int) -> str:
    if text is None:
        return f"http://{LOOPBACK}:{port}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError(f"--base-url must be an absolute http(s) URL, not {text!r}", EXIT_USAGE)
    return text.rstrip("/")


def _exit_with_parent() -> None:
    """A server started by a test must not outlive it (a killed pytest leaves no orphan)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    host: str = args.host
    if host not in (LOOPBACK, "localhost"):
        raise CliError(
            f"refusing to listen on {host!r}: the sandbox serves test data without TLS and only "
            f"listens on {LOOPBACK}",
            EXIT_USAGE,
        )
    directory: Path = args.directory
    _check_initialised(directory)
    port: int = args.port
    base_url = _base_url(args.base_url, port)

    import uvicorn  # the server's dependencies load only for `serve`

    from sandbox.app import create_app
    from sandbox.config import Settings

    overrides: dict[str, int] = {}
    if args.patient_token_ttl is not None:
        overrides["patient_token_ttl_s"] = args.patient_token_ttl
    if args.ciba_expires is not None:
        overrides["ciba_expires_s"] = args.ciba_expires
    if args.bris_de_glace_minutes is not None:
        overrides["bris_de_glace_minutes"] = args.bris_de_glace_minutes
    if args.bris_de_glace_seconds is not None:
        overrides["bris_de_glace_seconds"] = args.bris_de_glace_seconds
    if args.max_body_mb is not None:
        overrides["max_body_bytes"] = args.max_body_mb * 1024 * 1024
    app = create_app(directory, Settings(base_url=base_url, **overrides))
    root = directory.resolve()
    print(f"Bac à sable DMP : {base_url} (écoute sur {LOOPBACK}:{port})", file=out)
    print(f"  personas (cartes, PIN) : {root / PERSONAS_FILE}", file=out)
    print(f"  patients : {root / PATIENTS_FILE}", file=out)
    if (root / "softhsm2.conf").exists():
        print(f"  cartes : SOFTHSM2_CONF={root / 'softhsm2.conf'}", file=out)
    out.flush()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # uvicorn's access log prints query strings (they carry INS): ours logs redacted paths.
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="info", access_log=False)
    if args.exit_with_parent:
        _exit_with_parent()
    uvicorn.Server(config).run()
    return EXIT_OK


# -- info ---------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{path} not found: run `dmp-sandbox init {path.parent}` first") from None


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    directory: Path = args.directory
    _check_initialised(directory)
    personas = _load_json(directory / PERSONAS_FILE)
    patients = _load_json(directory / PATIENTS_FILE)
    print(f"Bac à sable DMP : {directory.resolve()}", file=out)
    print(
        f"  graine {patients.get('seed')}, date de référence {patients.get('reference_date')},"
        f" {len(patients['all'])} patients",
        file=out,
    )
    print(
        "\nPersonas (cartes de test SoftHSM2 : PIN affichés, ce sont des cartes fictives)", file=out
    )
    for p in personas:
        specialty = f" ({p['specialty']})" if p.get("specialty") else ""
        print(
            f"  {p['id']:<16} {p['given_name']} {p['family_name']} - {p['profession_label']}"
            f"{specialty}, {p['structure']['name']}",
            file=out,
        )
        print(
            f"  {'':<16} idNat {p['id_nat']}, carte {p['card_kind']} « {p['token_label']} »,"
            f" PIN {p['pin']}",
            file=out,
        )
        for target in p.get("deposits_for", []):
            print(f"  {'':<16} dépose pour {target['persona']} ({target['id_nat']})", file=out)
    names = {p["ins"]: p for p in patients["all"]}

    def who(ins: str) -> str:
        p = names.get(ins)
        if p is None:
            return ins
        return f"{ins} {p['given_names'].split()[0]} {p['family_name']} ({p['birth_date']})"

    print(f"\nPatients particuliers (système INS {patients['ins_system']})", file=out)
    print(f"  chronique            {who(patients['chronic'])}", file=out)
    print(f"  opposé bris de glace {who(patients['opposed_bris_de_glace'])}", file=out)
    print(f"  opposé centre 15     {who(patients['opposed_centre_15'])}", file=out)
    blocked = patients["blocked"]
    print(f"  bloque {blocked['persona']:<13} {who(blocked['ins'])}", file=out)
    print(f"  mineur               {who(patients['minor'])}", file=out)
    masked = patients["with_masked"]
    print(
        f"  documents masqués    {who(masked['ins'])}: {len(masked['document_ids'])} documents"
        f" de {masked['author']}",
        file=out,
    )
    print(f"  suivis par gp        {len(patients['treated_by_gp'])} patients", file=out)
    for persona, ins_list in patients.get("care_team", {}).items():
        print(f"  équipe de soins de {persona}: {len(ins_list)} patients", file=out)
    return EXIT_OK


# -- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    parser = build_parser()
    args = parser.parse_args(argv)
    commands = {"init": cmd_init, "serve": cmd_serve, "info": cmd_info}
    try:
        if args.command == "serve":
            # The server's clock moves; init only takes the moved day as its default reference
            # date and issues its certificates on the real time (see sandbox.clock).
            clock.start(_clock_offset())
        return commands[args.command](args, stream)
    except CliError as exc:
        print(f"dmp-sandbox {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
