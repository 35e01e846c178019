"""The layout's rules, checked on the source tree (README, "Layout").

- The pure domain package imports no I/O library, directly or through another module of
  the project.
- No product module is over ``MAX_MODULE_LINES`` lines (the filter grammar excepted) and
  no function over ``MAX_FUNCTION_LINES``.
- Importing an actor module changes no global state: the worker's entry module alone
  configures the broker.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("election", "actors", "bridge", "config", "bench", "scripts", "web")
OWN = ("election", "actors", "bridge", "config", "bench", "tests", "web")
#: Libraries that talk to servers, files or other processes.
IO_LIBRARIES = frozenset(
    {
        "google",
        "grpc",
        "redis",
        "peewee",
        "playhouse",
        "psycopg2",
        "dramatiq",
        "pika",
        "honcho",
        "psutil",
        "socket",
        "subprocess",
        "urllib3",
        "requests",
    }
)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
#: A recursive-descent grammar reads best in one module.
LONG_MODULES_ALLOWED = {"election/domain/filters.py"}


def module_path(name: str) -> Path | None:
    """The source file of the project module ``name``, if it is one."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports (``from a.b import c`` gives a.b and a.b.c)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def io_imports_reachable_from(package: str) -> dict[str, str]:
    """I/O libraries reachable from ``package``'s modules: library -> the module importing it."""
    start = [ROOT / package.replace(".", "/")]
    todo = [p for folder in start for p in sorted(folder.rglob("*.py"))]
    seen: set[Path] = set()
    found: dict[str, str] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in IO_LIBRARIES:
                found.setdefault(name, str(path.relative_to(ROOT)))
            elif top in OWN and (own := module_path(name)) is not None:
                todo.append(own)
    return found


def product_files() -> list[Path]:
    return sorted(p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py"))


def test_the_domain_package_imports_no_io_library() -> None:
    assert io_imports_reachable_from("election.domain") == {}


def test_the_io_check_finds_an_io_import() -> None:
    # The check itself can fail: the storage package does import peewee.
    assert "peewee" in io_imports_reachable_from("election.storage")


def test_no_product_module_is_too_long() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in product_files()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert {k: v for k, v in long.items() if k not in LONG_MODULES_ALLOWED} == {}


def test_no_product_function_is_too_long() -> None:
    long: dict[str, int] = {}
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = lines
    assert long == {}


@pytest.mark.parametrize("module", ["actors.logger", "actors.recorder", "actors.broker"])
def test_importing_an_actor_module_sets_no_broker_and_no_environment(module: str) -> None:
    probe = (
        "import os, sys, importlib\n"
        "before = dict(os.environ)\n"
        f"importlib.import_module({module!r})\n"
        "import dramatiq.broker\n"
        "assert dramatiq.broker.global_broker is None, 'a broker was set on import'\n"
        "changed = sorted(set(os.environ.items()) ^ set(before.items()))\n"
        "assert not changed, changed\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
