"""The README's command examples work, in order, on a new site (the real ``lantai``).

Those that need files or a server of their own (import, ingest, ocr, serve) are left out;
they have their own tests. A command the README shows must not fail: the ``revert … 1``
example once did, because nothing had changed since revision 1.
"""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
from support import PROJECT, lantai_env, lantai_executable

NEEDS_MORE = ("import", "ingest", "ocr", "serve")


def readme_commands() -> list[list[str]]:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Using it\s+```sh\n(.*?)```", text, re.S)
    assert block, "the README has no 'Using it' command block"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "lantai" and words[1] not in NEEDS_MORE:
            commands.append(words[1:])
    return commands


def test_the_readme_shows_commands():
    names = [c[0] for c in readme_commands()]
    assert {"init", "add", "edit", "history", "diff", "revert", "publish"} <= set(names)


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_readme_commands_work(tmp_path):
    env = lantai_env(LANTAI_HOME=str(tmp_path / "my-archive"))
    for args in readme_commands():
        proc = subprocess.run([lantai_executable(), *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, f"lantai {shlex.join(args)}: {proc.stderr}"
    assert (tmp_path / "public.nq").stat().st_size > 0
