"""The master key from the terminal: ``lantai keys new`` and ``check``, ``lantai init
--key-file``, and every way a key can be wrong — missing, another site's, inside the site,
unreadable, malformed — each one line and an exit code, nothing made or changed.

(Rotation is in test_rotation.py.)
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from preservation import keys
from repo.cli import main
from repo.config import read_settings

BASE = "https://archive.example.edu"


def lantai(*args: str | Path, key: Path | None = None, env: dict[str, str] | None = None):
    """``lantai ARGS`` in this process, with no key in the environment but ``key``/``env``
    (``--key-file`` sets LANTAI_KEY_FILE: undone after the call)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("LANTAI_KEY_FILE", "LANTAI_MASTER_KEY", "LANTAI_MASTER_KEY_FILE"):
            mp.delenv(name, raising=False)
        for name, value in (env or {}).items():
            mp.setenv(name, value)
        full = (["--key-file", str(key)] if key else []) + [str(a) for a in args]
        return CliRunner().invoke(main, full, catch_exceptions=False)


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith("lantai: error:")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def keyed(tmp_path):
    """A site made by ``lantai init --key-file`` and its key file (outside it)."""
    key = tmp_path / "site-master.key"
    assert lantai("keys", "new", "-o", key).exit_code == 0
    home = tmp_path / "site"
    result = lantai("--home", home, "init", "--base", BASE, key=key)
    assert result.exit_code == 0, result.output
    return home, key


def test_keys_new_writes_a_private_key_and_never_overwrites(tmp_path):
    key = tmp_path / "k"
    result = lantai("keys", "new", "-o", key)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    master = keys.read_key_file(key)
    assert len(master) == 32
    assert f"id {keys.key_id(master)}" in result.output
    before = key.read_bytes()
    one_line_error(lantai("keys", "new", "-o", key), "never overwritten")
    assert key.read_bytes() == before
    printed = lantai("keys", "new", "-o", "-")
    assert printed.exit_code == 0
    assert len(base64.b64decode(printed.output.strip(), validate=True)) == 32
    assert lantai("keys", "new", "-o", "-").output != printed.output  # random each time


def test_init_with_a_key_file_keys_the_site_to_it(keyed):
    home, key = keyed
    master = keys.read_key_file(key)
    assert keys.recorded_key_id(home) == keys.key_id(master)
    assert read_settings(home).files_encrypted
    assert not home.with_name(home.name + ".key").exists()  # no second key made beside it
    assert not any(p.suffix == ".key" for p in home.rglob("*"))
    check = lantai("--home", home, "keys", "check", key=key)
    assert check.exit_code == 0, check.output
    assert f"key {keys.key_id(master)} opens" in check.output
    assert "wraps 0 data key(s)" in check.output


def test_init_refuses_a_missing_key_file_and_makes_nothing(tmp_path):
    home = tmp_path / "site"
    result = lantai("--home", home, "init", "--base", BASE, key=tmp_path / "absent.key")
    one_line_error(result, "absent.key", "lantai keys new")
    assert not home.exists()
    assert not (tmp_path / "absent.key").exists()  # never made for the user either


def test_init_refuses_a_malformed_key_from_the_environment(tmp_path):
    home = tmp_path / "site"
    one_line_error(lantai("--home", home, "init", "--base", BASE,
                          env={"LANTAI_MASTER_KEY": "c2hvcnQ="}), "LANTAI_MASTER_KEY")
    one_line_error(lantai("--home", home, "init", "--base", BASE,
                          env={"LANTAI_MASTER_KEY_FILE": str(tmp_path / "gone.key")}),
                   "gone.key")
    assert not home.exists()


def test_init_refuses_a_key_inside_the_site(tmp_path):
    home = tmp_path / "site"
    home.mkdir()
    inside = home / "master.key"
    one_line_error(lantai("--home", home, "keys", "new", "-o", inside), "inside the site")
    assert not inside.exists()
    inside.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    one_line_error(lantai("--home", home, "init", "--base", BASE, key=inside),
                   "inside the site folder")
    assert sorted(p.name for p in home.iterdir()) == ["master.key"]


def test_the_wrong_key_names_both_ids(keyed, tmp_path):
    home, key = keyed
    other = tmp_path / "other.key"
    assert lantai("keys", "new", "-o", other).exit_code == 0
    mine, theirs = (keys.key_id(keys.read_key_file(k)) for k in (key, other))
    one_line_error(lantai("--home", home, "keys", "check", key=other), mine, theirs)
    one_line_error(lantai("--home", home, "serve", "--port", "1", key=other), mine, theirs)
    # the environment's key is checked the same way
    one_line_error(lantai("--home", home, "keys", "check",
                          env={"LANTAI_MASTER_KEY": other.read_text().strip()}),
                   mine, theirs)
    assert keys.recorded_key_id(home) == mine  # unchanged


def test_a_missing_key_says_where_keys_are_looked_for(keyed):
    home, _key = keyed
    for args in (("keys", "check"), ("serve", "--port", "1")):
        one_line_error(lantai("--home", home, *args), "no master key", "--key-file",
                       "LANTAI_KEY_FILE", "LANTAI_MASTER_KEY", str(home.resolve()) + ".key")
    assert not home.with_name(home.name + ".key").exists()  # a keyed site never gets a new key


def test_a_key_file_inside_the_site_is_refused_everywhere(keyed):
    home, key = keyed
    inside = home / "copy.key"
    inside.write_bytes(key.read_bytes())
    one_line_error(lantai("--home", home, "keys", "check", key=inside), "inside the site folder")
    one_line_error(lantai("--home", home, "keys", "check",
                          env={"LANTAI_MASTER_KEY_FILE": str(inside)}),
                   "inside the site folder")


def test_unreadable_and_malformed_key_files(keyed, tmp_path):
    home, _key = keyed
    folder = tmp_path / "a-folder.key"
    folder.mkdir()
    given = lantai("--home", home, "keys", "check", key=folder)
    assert given.exit_code == 2 and "is a directory" in given.output  # click's usage error
    one_line_error(lantai("--home", home, "keys", "check",
                          env={"LANTAI_KEY_FILE": str(folder)}), "a folder")
    if os.geteuid() != 0:  # root reads any file: mode 000 keeps only others out
        locked = tmp_path / "locked.key"
        locked.write_text(base64.b64encode(os.urandom(32)).decode())
        locked.chmod(0)
        one_line_error(lantai("--home", home, "keys", "check", key=locked),
                       "cannot read the key file")
    cases = {
        "not-base64.key": b"this is not base64 at all!!\n",
        "short.key": base64.b64encode(os.urandom(16)) + b"\n",
        "binary.key": b"\xff\xfe\x00garbage",
        "empty.key": b"",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        result = lantai("--home", home, "keys", "check", key=path)
        one_line_error(result, name)
        assert "base64" in result.output or "32 bytes" in result.output, result.output
    one_line_error(lantai("--home", home, "keys", "check",
                          env={"LANTAI_MASTER_KEY": "bm90IGEga2V5"}), "LANTAI_MASTER_KEY")


def test_keys_check_reports_data_keys_it_wraps(keyed):
    from repo.files import FileStore

    home, key = keyed
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANTAI_KEY_FILE", str(key))
        with FileStore.for_site(home) as files:
            for i in range(3):
                files.put(f"file {i}".encode() * 1000)
    check = lantai("--home", home, "keys", "check", key=key)
    assert check.exit_code == 0 and "wraps 3 data key(s)" in check.output, check.output
