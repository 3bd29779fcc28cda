"""Import layering of design.md section 2, checked on the source with ``ast``.

- ``console/domain`` is pure: no Qt, httpx, sqlcipher3, pkcs11 (nor the sandbox or other
  framework), and among console packages only ``console.domain.*`` and ``console.resources``.
- Adapters (``console/smartcard``, ``console/dmp``, ``console/cache``, ``console/reports``)
  import, among console packages, only ``console.domain``, ``console.resources`` and
  themselves: never services, views or another adapter.
- ``console/services`` never imports ``console.views`` (nor QtWidgets, see below).
- Only ``console/views`` and ``console/app.py`` import ``PySide6.QtWidgets`` (whole repo).

Imports inside functions, under ``TYPE_CHECKING`` and through ``importlib.import_module`` /
``__import__`` with a literal name count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("console", "sandbox", "bench")
"""The repository's Python packages (pyproject's setuptools ``packages.find``)."""

DOMAIN = "console.domain"
ADAPTERS = ("console.smartcard", "console.dmp", "console.cache", "console.reports")
SERVICES = "console.services"
VIEWS = "console.views"
APP = "console.app"
QT_WIDGETS = "PySide6.QtWidgets"
SHARED = ("console.domain", "console.resources")
"""Console modules any adapter may import."""

DOMAIN_FORBIDDEN = (
    "PySide6",
    "shiboken6",
    "qasync",
    "httpx",
    "sqlcipher3",
    "pkcs11",
    "reportlab",
    "fastapi",
    "starlette",
    "uvicorn",
    "sandbox",
)
"""Third-party (and sandbox) modules the pure domain must not import."""

DYNAMIC_IMPORTERS = {"import_module", "__import__"}


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.imported}: {self.rule}"


def is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_of(relpath: PurePosixPath) -> tuple[str, bool]:
    """Dotted module name of a repo-relative ``.py`` path, and whether it is a package."""
    parts = list(relpath.with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module name ``tree`` imports (absolute), with its line.

    ``from a.b import c`` yields ``a.b`` and ``a.b.c`` (``c`` may be a submodule).
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = node.level - 1
                if up > len(package) - 1:
                    yield node.lineno, f"<relative import beyond the top package: level {up + 1}>"
                    continue
                base_parts = package[: len(package) - up] if up else list(package)
                if node.module:
                    base_parts = [*base_parts, *node.module.split(".")]
                base = ".".join(base_parts)
            else:
                base = node.module or ""
            yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            first = node.args[0]
            if (
                name in DYNAMIC_IMPORTERS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and not first.value.startswith(".")
            ):
                yield node.lineno, first.value


def layer_of(module: str) -> str:
    if module == APP:
        return "app"
    for prefix in (DOMAIN, *ADAPTERS, SERVICES, VIEWS):
        if is_under(module, prefix):
            return prefix
    return "other"


def is_console_package(name: str) -> bool:
    """A console module other than the bare ``console`` package (version only)."""
    return is_under(name, "console") and name != "console"


def rule_broken(layer: str, imported: str) -> str | None:
    """Why importing ``imported`` from a module of ``layer`` breaks the layering, or None."""
    if is_under(imported, QT_WIDGETS) and layer not in {VIEWS, "app"}:
        return "only console/views and console/app.py may import PySide6.QtWidgets"
    if layer == DOMAIN:
        for forbidden in DOMAIN_FORBIDDEN:
            if is_under(imported, forbidden):
                return f"console/domain is pure and may not import {forbidden}"
        if is_console_package(imported) and not any(is_under(imported, s) for s in SHARED):
            return "console/domain may import only console.domain and console.resources"
    elif layer in ADAPTERS:
        own = (layer, *SHARED)
        if is_console_package(imported) and not any(is_under(imported, s) for s in own):
            return (
                f"adapter {layer} may import only console.domain and console.resources "
                "among console packages (no services, views or other adapters)"
            )
    elif layer == SERVICES and is_under(imported, VIEWS):
        return "console/services may not import console.views"
    return None


def check_source(source: str, relpath: str) -> list[Violation]:
    """The layering violations of ``source`` if it lived at ``relpath`` in the repo."""
    path = PurePosixPath(relpath)
    module, is_package = module_of(path)
    tree = ast.parse(source, filename=relpath)
    layer = layer_of(module)
    found: list[Violation] = []
    for line, imported in imported_names(tree, module, is_package):
        if imported.startswith("<"):
            found.append(Violation(relpath, line, imported, "invalid relative import"))
            continue
        rule = rule_broken(layer, imported)
        if rule is not None:
            found.append(Violation(relpath, line, imported, rule))
    return found


def python_files(root: Path) -> list[PurePosixPath]:
    files: list[PurePosixPath] = []
    for package in PACKAGES:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" not in path.parts:
                files.append(PurePosixPath(path.relative_to(root).as_posix()))
    return files


def scan_tree(root: Path) -> list[Violation]:
    found: list[Violation] = []
    for relpath in python_files(root):
        source = (root / relpath).read_text(encoding="utf-8")
        found.extend(check_source(source, str(relpath)))
    return found


# --- the real tree ----------------------------------------------------------------------------


def test_the_tree_respects_the_layering() -> None:
    violations = scan_tree(REPO)
    assert not violations, "layering violations:\n" + "\n".join(map(str, violations))


def test_the_scan_sees_the_repository_files() -> None:
    files = {str(p) for p in python_files(REPO)}
    assert "console/domain/rules.py" in files
    assert "console/domain/ins.py" in files
    assert "console/resources.py" in files
    assert all(f.endswith(".py") for f in files)
    domain_files = [f for f in files if f.startswith("console/domain/")]
    assert len(domain_files) >= 6


def test_the_domain_really_imports_console_modules() -> None:
    # guards against a checker that silently sees nothing: rules.py imports the matrix
    source = (REPO / "console/domain/rules.py").read_text(encoding="utf-8")
    names = {n for _, n in imported_names(ast.parse(source), "console.domain.rules", False)}
    assert "console.domain.habilitation" in names


# --- the checker on synthetic sources ---------------------------------------------------------


@pytest.mark.parametrize(
    ("relpath", "source", "imported"),
    [
        # domain: forbidden third-party modules, however imported
        ("console/domain/x.py", "import httpx", "httpx"),
        ("console/domain/x.py", "import sqlcipher3.dbapi2 as db", "sqlcipher3.dbapi2"),
        ("console/domain/x.py", "from pkcs11 import Mechanism", "pkcs11"),
        ("console/domain/x.py", "from PySide6.QtCore import QObject", "PySide6.QtCore"),
        ("console/domain/x.py", "import PySide6", "PySide6"),
        ("console/domain/__init__.py", "import httpx", "httpx"),
        ("console/domain/sub/deep.py", "import httpx", "httpx"),
        ("console/domain/x.py", "def f():\n    import httpx\n", "httpx"),
        (
            "console/domain/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import httpx\n",
            "httpx",
        ),
        ("console/domain/x.py", "import importlib\nimportlib.import_module('httpx')", "httpx"),
        ("console/domain/x.py", "__import__('pkcs11')", "pkcs11"),
        ("console/domain/x.py", "from sandbox.store import Store", "sandbox.store"),
        # domain: other console packages
        ("console/domain/x.py", "from console.services import session", "console.services"),
        ("console/domain/x.py", "from console import config", "console.config"),
        ("console/domain/x.py", "import console.dmp.client", "console.dmp.client"),
        ("console/domain/x.py", "from .. import views", "console.views"),
        ("console/domain/x.py", "from ..cache import store", "console.cache"),
        ("console/domain/__init__.py", "from ..smartcard import card", "console.smartcard"),
        # adapters
        ("console/dmp/client.py", "from console.services import session", "console.services"),
        ("console/dmp/client.py", "from console.views.main import W", "console.views.main"),
        ("console/dmp/client.py", "from console.cache import store", "console.cache"),
        ("console/cache/store.py", "from ..smartcard.token import Token", "console.smartcard"),
        ("console/reports/pdf.py", "import console.dmp", "console.dmp"),
        ("console/smartcard/card.py", "from console import services", "console.services"),
        ("console/smartcard/card.py", "from console.config import Settings", "console.config"),
        ("console/dmp/client.py", "from PySide6 import QtWidgets", "PySide6.QtWidgets"),
        # services
        ("console/services/session.py", "from console.views import main", "console.views"),
        ("console/services/session.py", "from ..views.main import Window", "console.views"),
        ("console/services/session.py", "from PySide6.QtWidgets import QWidget", QT_WIDGETS),
        ("console/services/session.py", "from PySide6 import QtWidgets", QT_WIDGETS),
        ("console/services/session.py", "import PySide6.QtWidgets", QT_WIDGETS),
        # QtWidgets anywhere else
        ("console/config.py", "from PySide6.QtWidgets import QApplication", QT_WIDGETS),
        ("console/__init__.py", "import PySide6.QtWidgets", QT_WIDGETS),
        ("sandbox/app.py", "from PySide6.QtWidgets import QWidget", QT_WIDGETS),
        ("bench/__main__.py", "import PySide6.QtWidgets as w", QT_WIDGETS),
    ],
)
def test_checker_reports_a_violation(relpath: str, source: str, imported: str) -> None:
    violations = check_source(source, relpath)
    assert violations, f"{source!r} in {relpath} was not reported"
    assert any(is_under(v.imported, imported) for v in violations), violations
    assert all(v.path == relpath and v.line >= 1 and v.rule for v in violations)


@pytest.mark.parametrize(
    ("relpath", "source"),
    [
        ("console/domain/rules.py", "from console.domain.models import Actor"),
        ("console/domain/rules.py", "from . import models\nfrom .errors import ConsoleError"),
        ("console/domain/sub/x.py", "from .. import models\nfrom ..errors import ConsoleError"),
        ("console/domain/__init__.py", "from .models import Actor"),
        ("console/domain/x.py", "from console.resources import load_json"),
        ("console/domain/x.py", "from .. import resources"),
        ("console/domain/x.py", "import console.domain.ins"),
        ("console/domain/x.py", "from console import domain"),
        ("console/domain/x.py", "import console"),
        ("console/domain/x.py", "import httpx_like\nimport pkcs11x\nimport json, hashlib"),
        ("console/domain/x.py", "from cryptography import x509\nimport dataclasses"),
        ("console/domain/x.py", "importlib.import_module(name)"),
        ("console/dmp/client.py", "import httpx\nfrom console.domain.models import Actor"),
        ("console/dmp/client.py", "from .mapping import to_fhir\nfrom . import fhir"),
        ("console/dmp/client.py", "from console.dmp.mapping import to_fhir"),
        ("console/dmp/client.py", "from ..domain import rules\nfrom .. import resources"),
        ("console/cache/store.py", "import sqlcipher3\nfrom console.domain import models"),
        ("console/smartcard/card.py", "import pkcs11\nfrom PySide6.QtCore import QThread"),
        ("console/reports/pdf.py", "from reportlab.pdfgen import canvas"),
        ("console/services/session.py", "from console.dmp.client import DmpClient"),
        ("console/services/session.py", "from ..cache import store\nfrom ..domain import rules"),
        ("console/services/session.py", "from PySide6.QtCore import QObject, Signal"),
        ("console/views/main.py", "from PySide6.QtWidgets import QMainWindow"),
        ("console/views/main.py", "from console.services import session"),
        ("console/views/widgets/table.py", "from PySide6 import QtWidgets"),
        ("console/app.py", "from PySide6.QtWidgets import QApplication\nimport console.views"),
        ("console/app.py", "from console.dmp import client\nfrom console.cache import store"),
        ("sandbox/deps.py", "from console.domain.models import Actor\nimport fastapi"),
    ],
)
def test_checker_accepts_allowed_imports(relpath: str, source: str) -> None:
    assert check_source(source, relpath) == []


def test_checker_reports_the_line() -> None:
    source = "from __future__ import annotations\n\nimport json\nimport httpx\n"
    (violation,) = check_source(source, "console/domain/x.py")
    assert violation.line == 4
    assert violation.imported == "httpx"
    assert "console/domain/x.py:4" in str(violation)


def test_checker_reports_a_relative_import_above_the_top_package() -> None:
    (violation,) = check_source("from .... import x", "console/domain/x.py")
    assert violation.rule == "invalid relative import"


def test_module_names() -> None:
    assert module_of(PurePosixPath("console/domain/rules.py")) == ("console.domain.rules", False)
    assert module_of(PurePosixPath("console/domain/__init__.py")) == ("console.domain", True)
    assert module_of(PurePosixPath("console/app.py")) == ("console.app", False)
    assert layer_of("console.app") == "app"
    assert layer_of("console.application") == "other"
    assert layer_of("console.domainx") == "other"
    assert layer_of("console.dmp.fhir.mapping") == "console.dmp"


def test_scan_tree_finds_an_injected_violation(tmp_path: Path) -> None:
    (tmp_path / "console" / "domain").mkdir(parents=True)
    (tmp_path / "console" / "views").mkdir()
    (tmp_path / "console" / "__init__.py").write_text("")
    (tmp_path / "console" / "domain" / "__init__.py").write_text("")
    (tmp_path / "console" / "domain" / "ok.py").write_text("from . import bad\n")
    (tmp_path / "console" / "domain" / "bad.py").write_text("import json\nimport httpx\n")
    (tmp_path / "console" / "views" / "w.py").write_text("from PySide6.QtWidgets import QLabel\n")
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "ui.py").write_text("from PySide6 import QtWidgets\n")
    violations = scan_tree(tmp_path)
    assert sorted((v.path, v.line, v.imported) for v in violations) == [
        ("console/domain/bad.py", 2, "httpx"),
        ("sandbox/ui.py", 1, QT_WIDGETS),
    ]
