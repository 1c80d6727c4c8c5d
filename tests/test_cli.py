"""The real ``lantai`` executable, run as a user would run it (a subprocess, ``--home`` tmp).

Good input does what it says; bad input exits non-zero with exactly one line on stderr that
starts with ``lantai: error:``, and leaves the stores exactly as they were.
"""

from __future__ import annotations

import json
import subprocess

import click
import pytest
import rdflib
from click.testing import CliRunner
from support import (
    BASE,
    FILE,
    ITEM,
    SERIES,
    lantai_env,
    lantai_executable,
    new_site,
    read_only_snapshot,
    run_lantai,
)

from repo.cli import main as cli_main

LANTAI = lantai_executable()
pytestmark = [  # rdflib's own parsers warn about rdflib's own deprecations, not ours
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
]


def all_commands(cmd: click.Command = cli_main, prefix: tuple[str, ...] = ()):
    yield prefix, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from all_commands(sub, (*prefix, name))


# ---------------------------------------------------------------------- help
def test_help_works_for_every_command():
    """Every command's --help, in process (fast), and a few through the real executable."""
    commands = list(all_commands())
    assert len(commands) >= 20
    runner = CliRunner()
    for path, cmd in commands:
        result = runner.invoke(cli_main, [*path, "--help"], prog_name="lantai")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: lantai"), (path, result.output)
        first_line = (cmd.help or "").strip().splitlines()[0]
        assert first_line.split()[0] in result.output, (path, first_line)
    for path in ((), ("users", "grant"), ("export", "rdf")):
        proc = subprocess.run([LANTAI, *path, "--help"], capture_output=True, text=True,
                              env=lantai_env(), timeout=60)
        assert proc.returncode == 0 and proc.stdout.startswith("Usage: lantai"), proc.stderr
        assert proc.stderr == ""
    short = subprocess.run([LANTAI, "-h"], capture_output=True, text=True, env=lantai_env())
    assert short.returncode == 0 and "init" in short.stdout and "publish" in short.stdout


# ---------------------------------------------------------------------- a session
def test_a_session_from_init_to_export(tmp_path):
    home = tmp_path / "site"
    out = run_lantai(home, "init", "--base", BASE + "/").stdout
    assert f"Site {BASE} in {home}" in out and "API token for admin" in out
    assert run_lantai(home, "init", "--base", BASE).returncode == 0  # again: nothing happens

    run_lantai(home, "add", "/", "fonds", "--name", "xjtu", "--set", "title@zh=西安交通大学档案",
               "--set", "title@en=XJTU Archives", "--set", "refcode=0421")
    run_lantai(home, "add", "/xjtu", "series", "--name", "xs", "--set", "title@zh=学生",
               "--set", "title@en=Students", "--set", "category=XS", "--set", "retention=Y")
    added = json.loads(run_lantai(home, "add", "/xjtu/xs", "item", "--set", "title@zh=新生名册",
                                  "--set", "title@en=Register of freshmen", "--set",
                                  "begin=1957-09", "--json").stdout)
    assert added["path"] == "/xjtu/xs/register-of-freshmen"
    assert added["fields"]["refcode"] == ["0421-XS·1957-Y-0001"]
    rec = added["path"]

    tree = run_lantai(home, "tree").stdout.splitlines()
    assert [line.split()[0] for line in tree] == ["/xjtu", "/xjtu/xs", rec]
    assert "新生名册 / Register of freshmen" in tree[2]
    rows = [json.loads(line) for line in run_lantai(home, "tree", "--json").stdout.splitlines()]
    assert [r["path"] for r in rows] == ["/xjtu", "/xjtu/xs", rec]

    shown = json.loads(run_lantai(home, "show", rec, "--json").stdout)
    assert shown["iri"] == added["iri"] and shown["state"] == "private"
    assert json.loads(run_lantai(home, "show", added["iri"], "--json").stdout)["path"] == rec
    assert ["Register of freshmen", "en"] in shown["fields"]["title"]

    out = run_lantai(home, "edit", rec, "--set", "title@en=Freshmen register, 1957",
                     "--add", "language=zh", "-m", "better title").stdout
    assert "revision 2" in out
    run_lantai(home, "edit", rec, "--unset", "language", "--revision", "2")
    history = json.loads(run_lantai(home, "history", rec, "--json").stdout)
    assert [(h["revision"], h["action"], h["author"]) for h in history] == \
        [(1, "create", "admin"), (2, "edit", "admin"), (3, "edit", "admin")]
    assert history[1]["message"] == "better title"
    assert "rev" in run_lantai(home, "history", rec).stdout

    diff = run_lantai(home, "diff", rec, "1", "2").stdout.splitlines()
    assert "+ title@en: Freshmen register, 1957" in diff
    assert "- title@en: Register of freshmen" in diff
    assert any(line.startswith("+ language: ") and line.endswith("chi") for line in diff)
    assert run_lantai(home, "diff", rec, "1", "3").stdout.count("\n") == 2
    assert "no differences" in run_lantai(home, "diff", rec, "3", "3").stdout

    assert "now at 4" in run_lantai(home, "revert", rec, "1").stdout
    assert json.loads(run_lantai(home, "show", rec, "--json").stdout)["fields"]["title"] == \
        shown["fields"]["title"]

    run_lantai(home, "users", "add", "wang", "--role", "Contributor", "--fullname", "王老师")
    run_lantai(home, "users", "add", "li", "--role", "reviewer")
    run_lantai(home, "users", "grant", "wang", "Editor", "--on", "/xjtu/xs")
    users = run_lantai(home, "users", "list").stdout
    assert "wang" in users and "li" in users and "Reviewer" in users
    assert "pending" in run_lantai(home, "transition", rec, "submit", "-m", "ready",
                                   user="wang").stdout
    assert run_lantai(home, "transition", rec, "publish", user="wang", check=False).returncode == 4
    assert "published 3 object(s)" in run_lantai(home, "publish", "/xjtu", "--recursive",
                                                 user="li").stdout
    assert "3 public object(s)" in run_lantai(home, "publish", "--rebuild").stdout

    out = run_lantai(home, "access", rec, "embargoed", "--until", "2099-01-01").stdout
    assert "embargoed until 2099-01-01" in out

    nq = run_lantai(home, "export", "rdf", "--public", "--format", "nq").stdout
    ds = rdflib.Dataset()
    ds.parse(data=nq, format="nquads")
    graphs = {str(g.identifier) for g in ds.graphs() if len(g)}
    assert added["iri"] not in graphs and len(graphs) == 2  # fonds and series; rec embargoed
    ttl = run_lantai(home, "export", "rdf", "--public", "--format", "ttl").stdout
    g = rdflib.Graph().parse(data=ttl, format="turtle")
    assert len(g) == len(ds)
    assert (None, None, rdflib.Literal("XJTU Archives", lang="en")) in g
    jsonld = run_lantai(home, "export", "rdf", "--public", "--format", "jsonld").stdout
    assert len(rdflib.Dataset().parse(data=jsonld, format="json-ld")) == len(ds)
    working = run_lantai(home, "export", "rdf", "--format", "nq").stdout
    assert "Freshmen register" not in working and "Register of freshmen" in working
    assert "urn:lantai:user" not in working  # users are not descriptions
    out_file = tmp_path / "public.nq"
    proc = run_lantai(home, "export", "rdf", "--public", "--format", "nq", "-o", str(out_file))
    assert out_file.read_text(encoding="utf-8") == nq and proc.stdout == ""
    # the stores say the same as the command line
    _, public_quads = read_only_snapshot(home)
    assert len(public_quads) == len(ds)


def test_home_from_the_environment_and_passwords_from_stdin(tmp_path):
    home = tmp_path / "envsite"
    proc = subprocess.run([LANTAI, "init", "--base", BASE, "--password-stdin"],
                          input="a long secret\n", capture_output=True, text=True,
                          env=lantai_env(LANTAI_HOME=str(home)), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (home / "lantai.toml").exists()
    proc = subprocess.run([LANTAI, "users", "list"], capture_output=True, text=True,
                          env=lantai_env(LANTAI_HOME=str(home), LANTAI_USER="admin"), timeout=60)
    assert proc.stdout.startswith("admin")
    working, _ = read_only_snapshot(home)
    text = "\n".join(working)
    assert "a long secret" not in text and "scrypt$" in text


def test_long_values_are_not_wrapped(tmp_path):
    """Output read by programs (and tree lines) must not be hard-wrapped at 80 columns."""
    home = tmp_path / "site"
    run_lantai(home, "init", "--base", BASE)
    long_zh = "西安交通大学档案馆藏全宗" * 6
    long_en = "The archives of Xi'an Jiaotong University, " * 4
    run_lantai(home, "add", "/", "fonds", "--name", "xjtu", "--set", f"title@zh={long_zh}",
               "--set", f"title@en={long_en}")
    assert json.loads(run_lantai(home, "show", "/xjtu", "--json").stdout)["fields"]["title"]
    (row,) = [json.loads(line) for line in run_lantai(home, "tree", "--json").stdout.splitlines()]
    assert row["title"] == long_zh
    assert len(run_lantai(home, "tree").stdout.strip().splitlines()) == 1


# ---------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The standard site (see conftest.py), closed so the command line can open it."""
    site = new_site(tmp_path_factory.mktemp("cli") / "site")
    site.repo.transition(site.admin, ITEM, "publish")
    site.close()
    return site.home


# One case per kind of mistake and command (the API tests cover the variations in process).
BAD = [
    # (arguments, user, exit code, words in the message)
    (("show", "/nowhere"), None, 3, "/nowhere"),
    (("add", FILE, "item", "--set", "title@zh=件"), "reader", 4, "may not"),
    (("add", FILE, "item", "--set", "begin=1957"), None, 5, "title is required"),
    (("add", "/", "item", "--set", "title@zh=件", "--set", "title@en=Item"), None, 5,
     "cannot be placed"),
    (("add", FILE, "item", "--set", "title@en=西迁"), None, 5, "@zh"),
    (("add", FILE, "item", "--set", "title@zh=件", "--set", "begin=1957年"), None, 5, "begin"),
    (("add", FILE, "item", "--set", "title@zh=件", "--set", "refcode=0999-XS·1957-Y-0001-002"),
     None, 5, "fonds"),
    (("add", FILE, "item", "--set", "title@zh=件", "--set", "refcode=0421-XS.1957-Y-0001-002"),
     None, 5, "U+00B7"),
    (("add", FILE, "item", "--set", "title"), None, 5, "FIELD=VALUE"),
    (("edit", ITEM, "--set", "refcode=0421-XS·1957-Y-0001"), None, 6, "0421-XS·1957-Y-0001"),
    (("edit", ITEM, "--set", "title@en=Stale", "--revision", "1"), None, 6, "revision 1"),
    (("edit", ITEM, "--set", "title@en=Mine"), "reader", 4, "reader"),
    (("edit", ITEM, "--set", "title@en=Mine"), "ghost", 3, "ghost"),
    (("move", SERIES, FILE), None, 5, "into itself"),
    (("delete", FILE), None, 5, "--recursive"),
    (("diff", ITEM, "1", "99"), None, 3, "99"),
    (("transition", FILE, "retract"), None, 7, "private"),
    (("publish", FILE), "editor", 4, "editor"),
    (("publish", "--rebuild"), "reviewer", 1, "Manager"),
    (("access", ITEM, "restricted", "--until", "2030-01-01"), None, 5, "--until"),
    (("access", "/xjtu", "open"), None, 5, "already"),
    (("access", ITEM, "--personal", "shoeSize"), None, 5, "shoeSize"),
    (("export", "rdf", "--format", "nq"), "reader", 4, "Manager"),
    (("users", "add", "newbie", "--role", "Wizard"), None, 5, "Wizard"),
    (("users", "add", "reader"), None, 6, "reader"),
    (("users", "add", "newbie"), "editor", 4, "editor"),
    (("users", "grant", "reader", "Editor"), "editor", 4, "Manager"),
    (("init", "--base", "https://other.example.org"), None, 6, "already"),
]


@pytest.mark.parametrize(("args", "user", "code", "words"), BAD,
                         ids=[" ".join(a[:2]) + f"-{i}" for i, (a, *_) in enumerate(BAD)])
def test_bad_input_is_one_line_a_code_and_no_change(prepared, args, user, code, words):
    before = read_only_snapshot(prepared)
    proc = run_lantai(prepared, *args, user=user, check=False)
    lines = proc.stderr.splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("lantai: error: "), proc.stderr
    assert words in lines[0]
    assert read_only_snapshot(prepared) == before


def test_a_folder_that_is_not_a_site(tmp_path):
    proc = run_lantai(tmp_path / "nothing-here", "tree", check=False)
    assert proc.returncode != 0
    (line,) = proc.stderr.splitlines()
    assert line.startswith("lantai: error: ") and "lantai init" in line
    assert not (tmp_path / "nothing-here" / "working").exists()


def test_init_with_a_bad_base(tmp_path):
    proc = run_lantai(tmp_path / "x", "init", "--base", "ftp://archive", check=False)
    assert proc.returncode == 5
    (line,) = proc.stderr.splitlines()
    assert line.startswith("lantai: error: ") and "ftp://archive" in line
    assert not (tmp_path / "x" / "lantai.toml").exists()


@pytest.mark.parametrize("args", [("transition", ITEM, "explode"), ("publish", "--rebuild", ITEM),
                                  ("add", FILE)])
def test_usage_errors_are_one_line_too(prepared, args):
    proc = run_lantai(prepared, *args, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lantai: error: "), proc.stderr
