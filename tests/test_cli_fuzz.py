"""``lantai`` never answers with a traceback, whatever its arguments (issue 10, item 9).

A property over the main commands' arguments: hostile values (IRIs with spaces or ``>``,
language tags with a newline, lone surrogates, control characters, huge strings, missing
folders, devices and folders where a file is expected) end in one of the documented exit
codes (README: 0, 2 usage, 3 not found, 4 forbidden, 5 invalid, 6 conflict, 7 workflow,
8 busy), never 1 (an internal error is a bug) and never a "Traceback". In process through
click's ``CliRunner`` for speed, on a real site; a few hostile runs through the real
executable too.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FILE, ITEM, PERSON, lantai_env, lantai_executable, new_site

from repo.cli import main

DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 8}
HOSTILE = [
    "", "/", "-", "--", "http://evil/> <x", "http://e/a b", "https://archive.example.edu/id/",
    "zh\n", "en\r\nx", "\udc80", "\udcff x", "\x7f", "\x1b[2J", "\u2028", "\x85", "../../etc",
    "/dev/null", "/dev/zero", "/dev/full", "/proc/self/mem", "/no/such/folder/x.ttl", "/tmp",
    "x" * 100_000, "9" * 40, "{", "{x}.xml", "[/x]", "[bold]x", "-1", "title@zh\n=x",
    "title=\udc80", "subject=http://e/a b",
    "digest=sha256:" + "0" * 64, "place=<http://e/x>", "begin=1957-02-30", "@=", "=",
    ITEM, FILE, PERSON, FILE + "/no-such", "https://archive.example.edu/id/record/page-1",
]
FIELDS = ["title", "title@zh", "title@en", "title@zh\n", "title@\udc80", "begin", "subject",
          "place", "language", "digest", "refcode", "nonsense", "", "x" * 300]
REFS = [ITEM, FILE, PERSON, "/", "/xjtu", "/agents"]

# what a command line can carry: any bytes but NUL, decoded as Python decodes argv (a byte
# that is not UTF-8 becomes a lone surrogate, U+DC80–U+DCFF)
argv_text = st.binary(max_size=40).filter(lambda b: b"\0" not in b).map(os.fsdecode)
any_char = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")
text = st.one_of(st.sampled_from(HOSTILE), st.text(any_char, max_size=40), argv_text)
ref = st.one_of(st.sampled_from(REFS), text)
assignment = st.one_of(st.builds(lambda f, v: f"{f}={v}", st.sampled_from(FIELDS), text), text)
number = st.one_of(st.integers(-3, 20).map(str), text)


def options(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(values, max_size=2).map(lambda vs: [a for v in vs for a in (name, v)])


COMMANDS = {
    "tree": st.tuples(st.just(["tree"]), st.lists(ref, max_size=1),
                      options("--depth", number)),
    "show": st.tuples(st.just(["show"]), st.lists(ref, min_size=1, max_size=1),
                      st.sampled_from([[], ["--json"], ["--rdf", "ttl"], ["--rdf", "jsonld"]])),
    "add": st.tuples(st.just(["add"]), st.lists(ref, min_size=1, max_size=1),
                     st.lists(st.sampled_from(["item", "instantiation", "person"]) | text,
                              min_size=1, max_size=1),
                     options("--set", assignment), options("--key", text),
                     options("--name", text), options("--until", text),
                     options("--personal", text)),
    "edit": st.tuples(st.just(["edit"]), st.lists(ref, min_size=1, max_size=1),
                      options("--set", assignment), options("--add", assignment),
                      options("--unset", st.sampled_from(FIELDS) | text)),
    "move": st.tuples(st.just(["move"]), st.lists(ref, min_size=2, max_size=2),
                      options("--name", text), options("--position", number)),
    "history": st.tuples(st.sampled_from([["history"], ["history", "--json"], ["diff"],
                                          ["revert"]]),
                         st.lists(ref, min_size=1, max_size=1), st.lists(number, max_size=2)),
    "access": st.tuples(st.just(["access"]), st.lists(ref, min_size=1, max_size=1),
                        st.lists(st.sampled_from(["open", "restricted", "embargoed"]) | text,
                                 max_size=1),
                        options("--until", text), options("--personal", text)),
    "transition": st.tuples(st.just(["transition"]), st.lists(ref, min_size=1, max_size=1),
                            st.lists(st.sampled_from(["submit", "publish", "retract"]) | text,
                                     min_size=1, max_size=1)),
    "export": st.tuples(st.just(["export", "rdf"]),
                        st.sampled_from([[], ["--public"], ["--format", "nq"]]),
                        options("-o", text)),
    "files": st.tuples(st.sampled_from([["import", "ead"], ["ingest", "media", ITEM],
                                        ["import", "eac"]]),
                       st.lists(text, min_size=1, max_size=2)),
    "users": st.tuples(st.sampled_from([["users", "grant"], ["users", "add"],
                                        ["users", "revoke"]]),
                       st.lists(text | st.sampled_from(["editor", "Editor", "nobody"]),
                                max_size=3), options("--on", ref)),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    site = new_site(tmp_path_factory.mktemp("fuzz") / "site")
    site.repo.transition(site.admin, "/xjtu", "publish", recursive=True)
    site.close()
    return site.home


def check(home: Path, argv: list[str], user: str) -> None:
    result = CliRunner().invoke(main, ["--home", str(home), "--user", user, *argv])
    shown = f"lantai {argv!r} as {user}: exit {result.exit_code}\n{result.output[-2000:]}"
    assert "Traceback" not in result.output, shown
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    assert result.exit_code in DOCUMENTED, shown


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_argument_makes_a_traceback(home, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `export rdf -o x` writes there, not in the project

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(parts=COMMANDS[name], user=st.sampled_from(["admin", "editor", "nobody", "ghost"]))
    def run(parts, user):
        check(home, [a for part in parts for a in part], user)

    run()


@pytest.mark.parametrize("argv", [
    ["edit", ITEM, "--set", "subject=http://evil/> <x"],
    ["add", FILE, "item", "--set", "title@zh\n=x"],
    ["export", "rdf", "-o", "/no/such/folder/x.ttl"],
    ["import", "ead", "/dev/zero"],
    ["import", "ead", "{x}.xml"],  # a progress bar took the name for a format string
    ["ingest", "media", ITEM, "/proc/self/mem"],  # "regular", and reading it fails
])
def test_the_real_executable_answers_one_line(home, argv):
    proc = subprocess.run([lantai_executable(), "--home", str(home), *argv], cwd=home.parent,
                          capture_output=True, text=True, env=lantai_env(), timeout=120)
    assert proc.returncode in DOCUMENTED - {0}, proc.stderr
    lines = proc.stderr.splitlines()  # a progress bar may come first, on stderr too
    assert "Traceback" not in proc.stderr and lines[-1].startswith("lantai: error: "), lines
    assert proc.stderr.count("lantai: error") == 1, lines
