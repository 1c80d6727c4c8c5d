"""What every ``lantai`` command module shares: the context (``--home``/``--user``, opening
the repository), the ``command`` decorator that turns our errors into one line and an exit
code, the consoles, progress bars and JSON output.

It exists so that command modules (``repo/cli.py``, ``repo/*/cli.py``, ``iiif/ingest_cli.py``)
import only this and never each other: ``repo/cli.py`` imports the sub-CLIs and registers
them, the sub-CLIs import this module, so no import cycle is possible and each imports alone.
Exit codes: 1 general, 2 usage, 3 not found, 4 forbidden, 5 invalid, 6 conflict, 7 workflow,
8 busy (see :mod:`repo.errors`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from repo.config import default_home
from repo.errors import LantaiError
from repo.repository import Repository, release_frames
from repo.security import User

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Context:
    """The site home and the acting user, with the repository opened on first use."""

    def __init__(self, home: Path | None = None, user: str | None = None) -> None:
        self.home = (home or default_home()).absolute()  # `--home rel`: one meaning everywhere
        self.user_name = user or os.environ.get("LANTAI_USER", "admin")
        self._repo: Repository | None = None

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = Repository.open(self.home)
            self._repo.release_due()  # embargoes that ended open by themselves
        return self._repo

    @property
    def user(self) -> User:
        return self.repo.active_user(self.user_name)  # a disabled account cannot act

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None


def fail(exc: LantaiError) -> NoReturn:
    """Print ``lantai: error: MESSAGE`` on stderr (one line, whatever the message holds:
    a value may carry newlines or line separators) and exit with the error's code."""
    err.print(f"lantai: error: {one_line(exc.message)}", markup=False)
    sys.exit(exc.exit_code)


def one_line(text: str) -> str:
    return " ".join(text.split()) or "?"


def warn(message: str) -> None:
    err.print(f"lantai: warning: {message}", markup=False)


def command(fn: Callable) -> Callable:
    """Run a command with the context; turn our errors into one line and an exit code, and
    close the repository whatever happens (its lock must not outlive the command)."""
    @wraps(fn)
    @click.pass_obj
    def wrapper(ctx: Context, *args, **kwargs):
        try:
            return fn(ctx, *args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            release_frames(exc.__traceback__)  # a failed write's frames keep no store
            if isinstance(exc, LantaiError):
                fail(exc)
            # a bug: still one line, never a traceback (exit 1, "general")
            fail(LantaiError(f"internal error ({type(exc).__name__}: {exc}); please report it"))
        finally:
            ctx.close()
    return wrapper


def progress_bar(description: str) -> Progress:
    """A progress bar on stderr, so stdout stays the command's output."""
    # the description holds names given by the user (a file "{x}.xml", "[/x]"): it is a
    # format string and markup to the column, so it is escaped for one and kept from the other
    text = TextColumn(description.replace("{", "{{").replace("}", "}}"), markup=False)
    return Progress(text, BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=False)


def echo_json(data: object, indent: int | None = None) -> None:
    """JSON for programs: plain stdout, never wrapped or styled."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=indent))
