"""The command modules have no import cycle, and every command they define is reachable.

Each ``*/cli.py`` (and ``*_cli.py``) imports only ``repo.cli_support``; ``repo/cli.py``
imports them and registers their commands. A module that imports another command module
could make a cycle again (``import iiif.ingest_cli`` once failed that way), so each is
imported alone in a fresh interpreter, and the real ``lantai --help`` must list every
top-level command they define.
"""

from __future__ import annotations

import importlib

import click
import pytest
from support import PROJECT, run_lantai, run_python

from repo.cli import main as cli_main

SOURCES = ("repo", "iiif", "publisher", "ontology")
CLI_FILES = sorted(p.relative_to(PROJECT) for top in SOURCES
                   for pattern in ("cli.py", "*_cli.py") for p in (PROJECT / top).rglob(pattern))
MODULES = [".".join(p.with_suffix("").parts) for p in CLI_FILES]


def test_the_command_modules_are_found():
    assert {"repo.cli", "repo.catalog.cli", "iiif.ingest_cli"} <= set(MODULES)


@pytest.mark.subprocess
@pytest.mark.parametrize("module", MODULES)
def test_each_command_module_imports_alone(module):
    proc = run_python(f"import {module}")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("module", [m for m in MODULES if m != "repo.cli"])
def test_sub_cli_imports_no_other_command_module(module):
    """Only the helper module: a sub-CLI importing ``repo.cli`` is how the cycle came."""
    source = (PROJECT / CLI_FILES[MODULES.index(module)]).read_text(encoding="utf-8")
    for other in MODULES:
        assert f"from {other} import" not in source and f"import {other}\n" not in source


def _reachable(cmd: click.Command) -> set[int]:
    seen = {id(cmd)}
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            seen |= _reachable(sub)
    return seen


def _defined(module: str) -> list[click.Command]:
    """The click commands a module defines at top level (not those it imports)."""
    mod = importlib.import_module(module)
    return [v for v in vars(mod).values() if isinstance(v, click.Command)
            and getattr(v.callback, "__module__", None) == module]


@pytest.mark.parametrize("module", [m for m in MODULES if m != "repo.cli"])
def test_every_sub_command_is_registered(module):
    defined = _defined(module)
    assert defined, f"{module} defines no command"
    reachable = _reachable(cli_main)
    missing = [c.name for c in defined if id(c) not in reachable]
    assert not missing, f"{module}: not registered in repo/cli.py: {missing}"


@pytest.mark.subprocess
def test_lantai_help_lists_every_command(tmp_path):
    listed = run_lantai(tmp_path, "--help").stdout
    names = {line.split()[0] for line in listed.split("Commands:", 1)[1].splitlines()
             if line.strip()}
    assert {"search", "reindex", "import", "ingest", "ocr", "export", "init"} <= names
    assert names == set(cli_main.commands)
