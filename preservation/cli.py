"""The preservation commands, registered on ``lantai`` by :func:`register` (repo/cli.py).

Each part keeps its commands in its own module (``*_cli.py``) so that they import alone;
this module only gathers them and holds the one option they share, ``--key-file``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click


def _use_key_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """``--key-file FILE`` is ``LANTAI_KEY_FILE=FILE`` for this command (and what it runs)."""
    if value is not None:
        os.environ["LANTAI_KEY_FILE"] = str(Path(value).resolve())
    return value


def key_file_option(fn):
    """The master key's file for this command (or env LANTAI_KEY_FILE; see preservation.keys)."""
    return click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False),
                        default=None, expose_value=False, is_eager=True,
                        callback=_use_key_file,
                        help="File holding the site's master key (env LANTAI_KEY_FILE).")(fn)


def register(main: click.Group) -> None:
    from preservation.audit_cli import audit_group
    from preservation.backup_cli import backup_cmd, repair_cmd, restore_cmd
    from preservation.files_cli import files_group
    from preservation.fixity_cli import fixity_cmd
    from preservation.keys_cli import keys_group

    for command in (keys_group, files_group, backup_cmd, restore_cmd, repair_cmd, fixity_cmd,
                    audit_group):
        main.add_command(command)
