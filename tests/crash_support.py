"""Kill a real ``lantai`` command with SIGKILL at a random moment, then judge the site.

Issue 14, item 7: a site must survive ``kill -9`` at any moment of an ingest, a media ingest,
``publish --rebuild``, a backup or a key rotation. This harness is how the tests prove it:

1. a *pristine* site is made once per scenario (real stores, real files, real key file
   outside the site);
2. the command is run once to completion on a copy, to measure how long it takes;
3. each trial copies the pristine site, starts the command as its own process (the real
   ``lantai`` executable), sleeps a delay drawn uniformly from ``[0, duration)`` by a seeded
   random generator (the seed is in every failure message, so a failing trial can be rerun
   alone with :func:`run_trial`), and sends SIGKILL: no ``except``, no ``finally``, no flush;
4. then :func:`check_site` judges what the kill left: the site opens (``Repository.open``,
   which finishes or rolls back what the journal names), the journal is empty afterwards, a
   copy rebuilt with ``publish --rebuild`` publishes exactly what the incremental projection
   did, every file a description names checks (FileStore.verify; the check of ``lantai
   fixity --deep``, run in this process; ocfl-py's validator on the OCFL storage root), no
   temporary name is left where it would be read as data, every JSON file parses, every
   SQLite database passes ``PRAGMA integrity_check``; and the scenario's own rule (all or
   nothing) holds.

The checks run in this process on real stores; only the command under test runs apart, so
that killing it is exactly what a power cut or the OOM killer does to it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Literal
from support import dump, lantai_env, lantai_executable

from repo.repository import Repository

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# names a writer uses before the rename that makes a file real (repo/durable.py: .NAME.*.part;
# tempfile: tmpXXXXXXXX; hand-made: NAME.tmp / NAME.new / NAME~)
TEMPORARY = re.compile(r"(^\..+\.part$)|(^tmp[a-z0-9_]{6,}(\.\w+)?$)|(\.(tmp|new)$)|(~$)")
# folders whose whole job is to hold unfinished things (swept by the code that owns them)
SCRATCH = ("tmp", "files/tmp", "files/ingesting", "preservation/staging", "journal")


@contextlib.contextmanager
def key_file_env(key_file: Path) -> Iterator[None]:
    """``LANTAI_KEY_FILE`` for this process while the block runs (the checks open sites in
    this process; copies of a site live at other paths, so ``<home>.key`` would not do)."""
    before = os.environ.get("LANTAI_KEY_FILE")
    os.environ["LANTAI_KEY_FILE"] = str(key_file)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("LANTAI_KEY_FILE", None)
        else:
            os.environ["LANTAI_KEY_FILE"] = before


def make_key_file(path: Path) -> Path:
    """A master key file (32 random bytes, base64) outside every site, as
    ``lantai keys new -o FILE`` makes one."""
    import base64

    path.write_text(base64.b64encode(os.urandom(32)).decode("ascii") + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


# ---------------------------------------------------------------------- scenarios
@dataclass
class Scenario:
    """One command to kill: ``args`` (after ``lantai --home HOME``) for a trial folder,
    ``outcome(repo, home)`` says what the open site holds ("none", "all", …) and raises
    AssertionError when it is something in between; ``extra_env`` for the command."""

    name: str
    pristine: Path  # a closed site, copied for each trial
    key_file: Path
    args: Callable[[Path], list[str]]
    outcome: Callable[[Repository, Path], str]
    extra_env: dict[str, str] = field(default_factory=dict)
    prepare_trial: Callable[[Path], None] | None = None  # e.g. a fresh restic repository
    # run after the kill, before the judgement (e.g. the command again, as its help says to
    # after a crash): returns a label of what it found and the problems it saw
    after_kill: Callable[[Path, bool], tuple[str, list[str]]] | None = None
    judge_key: Path | None = None  # the key the site is judged with (else key_file)
    duration: float = 0.0  # measured by :func:`measure`


@dataclass
class Trial:
    scenario: str
    seed: int
    delay: float
    killed: bool  # False: the command had finished before the signal
    returncode: int | None
    outcome: str = ""
    problems: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        what = "killed" if self.killed else f"finished (exit {self.returncode})"
        verdict = "ok" if self.ok else "FAILED: " + "; ".join(self.problems)
        return (f"{self.scenario} seed={self.seed} delay={self.delay:.3f}s {what} "
                f"→ {self.outcome or '?'} — {verdict}")


def trial_home(scenario: Scenario, folder: Path) -> Path:
    """A fresh copy of the scenario's pristine site in ``folder`` (made empty first)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    home = folder / "site"
    shutil.copytree(scenario.pristine, home, symlinks=True)
    if scenario.prepare_trial is not None:
        scenario.prepare_trial(folder)
    return home


def run_whole(home: Path, key_file: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``lantai --home HOME ARGS…`` to its end (the harness's own steps, never killed)."""
    return subprocess.run([lantai_executable(), "--home", str(home), *args], text=True,
                          capture_output=True, timeout=600,
                          env=lantai_env(LANTAI_KEY_FILE=str(key_file), **env))


def start(scenario: Scenario, home: Path) -> subprocess.Popen:
    cmd = [lantai_executable(), "--home", str(home), *scenario.args(home)]
    env = lantai_env(LANTAI_KEY_FILE=str(scenario.key_file), **scenario.extra_env)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)


def measure(scenario: Scenario, folder: Path, runs: int = 1) -> float:
    """Run the command to completion on a copy ``runs`` times; its median wall time is the
    span the kills are drawn from. A command that fails here is a broken scenario."""
    times = []
    for _ in range(runs):
        home = trial_home(scenario, folder)
        t0 = time.monotonic()
        proc = start(scenario, home)
        _, err = proc.communicate(timeout=600)
        times.append(time.monotonic() - t0)
        assert proc.returncode == 0, (f"{scenario.name}: the command failed when run whole "
                                      f"(exit {proc.returncode}): {err.decode(errors='replace')}")
    scenario.duration = sorted(times)[len(times) // 2]
    return scenario.duration


def run_trial(scenario: Scenario, folder: Path, seed: int) -> Trial:
    """One trial: copy, start, SIGKILL after a seeded uniform delay, judge."""
    assert scenario.duration > 0, "measure() the scenario first"
    delay = random.Random(seed).uniform(0, scenario.duration)
    home = trial_home(scenario, folder)
    proc = start(scenario, home)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and anything it started
    _, err = proc.communicate(timeout=60)
    if killed:
        group_gone(proc.pid)
    trial = Trial(scenario.name, seed, delay, killed, proc.returncode,
                  stderr=err.decode(errors="replace"))
    if not killed and proc.returncode != 0:
        trial.problems.append(f"the command failed on its own (exit {proc.returncode}): "
                              f"{trial.stderr.strip()[-300:]}")
    label = ""
    if scenario.after_kill is not None:
        label, problems = scenario.after_kill(home, killed)
        trial.problems += problems
    with key_file_env(scenario.judge_key or scenario.key_file):
        outcome, problems = check_site(home, scenario.outcome)
    trial.outcome = "/".join(x for x in (label, outcome) if x)
    trial.problems += problems
    return trial


def group_gone(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no process of the killed command's group is left: the command itself is
    reaped by ``communicate``, but a child it started may still be dying (a process in an
    uninterruptible write ends only when the write does), and the judge must not open the
    site while anything of the dead command still runs or holds a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"processes of the killed group {pgid} still run after {timeout} s")


def run_trials(scenario: Scenario, folder: Path, seeds: range | list[int]) -> list[Trial]:
    return [run_trial(scenario, folder / f"trial-{seed}", seed) for seed in seeds]


def report(trials: list[Trial]) -> str:
    """What a failed assertion shows: every failed trial with its seed (rerun it with
    ``run_trial(scenario, folder, seed)``), then a count of the rest."""
    failed = [t for t in trials if not t.ok]
    lines = [t.line() for t in failed]
    for t in failed:
        if t.stderr.strip():
            lines.append(f"  stderr of seed {t.seed}: {t.stderr.strip()[-500:]}")
    lines.append(summary(trials))
    return "\n".join(lines)


def summary(trials: list[Trial]) -> str:
    """``N trials, K killed, F finished; outcomes: none×a, all×b; failures: …``."""
    if not trials:
        return "no trials"
    outcomes: dict[str, int] = {}
    for t in trials:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    killed = sum(t.killed for t in trials)
    failed = [t.seed for t in trials if not t.ok]
    seeds = sorted(t.seed for t in trials)
    return (f"{trials[0].scenario}: {len(trials)} trials (seeds {seeds[0]}–{seeds[-1]}), "
            f"{killed} killed, {len(trials) - killed} finished first; outcomes "
            + ", ".join(f"{k} ×{v}" for k, v in sorted(outcomes.items()))
            + f"; failed: {failed or 'none'}")


# ---------------------------------------------------------------------- the judgement
def check_site(home: Path, outcome: Callable[[Repository, Path], str]) -> tuple[str, list[str]]:
    """Open the site a kill left and list what is wrong with it (an empty list: nothing)."""
    problems: list[str] = []
    what = "?"
    try:
        repo = Repository.open(home, wait=30)
    except Exception as exc:  # the first rule: the site opens
        return what, [f"the site does not open: {type(exc).__name__}: {exc}"]
    try:
        leftover = sorted(p.name for p in (home / "journal").glob("*"))
        if leftover:
            problems.append(f"journal not recovered: {leftover}")
        markers = sorted(p.name for p in (home / "tmp" / "ingesting").glob("*"))
        if markers:  # the open's sweep found them locked: something of the dead command lives
            problems.append(f"ingest markers not swept on open: {markers}")
        incremental = dump(repo.public)
        named = named_digests(repo)
        try:
            what = outcome(repo, home)
        except AssertionError as exc:
            what = "broken"
            problems.append(f"the scenario's rule does not hold: {exc}")
    finally:
        repo.close()
        del repo
        gc.collect()
    problems += rebuilt_differs(home, incremental)
    problems += file_problems(home, named)
    problems += half_written(home)
    return what, problems


def named_digests(repo: Repository) -> set[str]:
    """Every file digest any description names (instantiations' ``digest``, any graph)."""
    found = set()
    for quad in repo.working:
        obj = quad.object
        if isinstance(obj, Literal) and DIGEST.match(obj.value):
            found.add(obj.value)
    return found


def rebuilt_differs(home: Path, incremental: list[str]) -> list[str]:
    """``publish --rebuild`` on a copy of the site must give the publication the incremental
    projection left (the public export, quad for quad)."""
    copy = home.with_name(home.name + "-rebuilt")
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(home, copy, symlinks=True)
    try:
        repo = Repository.open(copy, wait=30)
        try:
            repo.rebuild_publication()
            rebuilt = dump(repo.public)
        finally:
            repo.close()
            del repo
            gc.collect()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    if rebuilt == incremental:
        return []
    only_inc = sorted(set(incremental) - set(rebuilt))[:3]
    only_reb = sorted(set(rebuilt) - set(incremental))[:3]
    return [f"publish --rebuild differs from the incremental publication "
            f"({len(incremental)} vs {len(rebuilt)} quads; only incremental: {only_inc}; "
            f"only rebuilt: {only_reb})"]


def file_store(home: Path):
    """The site's file store (``FileStore.for_site`` knows whether its files are sealed)."""
    from repo.files import FileStore

    return FileStore.for_site(home)


def file_problems(home: Path, named: set[str]) -> list[str]:
    """Every named file is there and checks; the OCFL root (if any) validates; ``lantai
    fixity`` (if the tree has it) exits 0."""
    problems = []
    store = file_store(home)
    for digest in sorted(named):
        if digest not in store:
            problems.append(f"named file missing: {digest}")
        elif not store.verify(digest):
            problems.append(f"named file fails its digest: {digest}")
    problems += ocfl_problems(home / "files")
    if _has_fixity():
        problems += fixity_problems(home)
    return problems


def _has_fixity() -> bool:
    import importlib.util

    return importlib.util.find_spec("preservation.fixity") is not None


def fixity_problems(home: Path) -> list[str]:
    """What ``lantai fixity --deep`` would say (its own function, in this process: the
    command's start-up would double a trial's time): every stored file, staged or in the
    OCFL root, against its inventory; sealed chunks opened with the key."""
    from preservation.fixity import check
    from preservation.keyring import Keyring

    keyring = Keyring.open(home)
    try:
        found = check(home, deep=True, keyring=keyring, user="crash-test")
    finally:
        keyring.close()
    return [f"fixity: {p.line()}" for p in found.problems]


def ocfl_problems(root: Path) -> list[str]:
    """ocfl-py's validator on the storage root (taught the 0004 layout by
    preservation/ocfl_check.py), when ``files/`` is one (issue 14, item 1)."""
    if not (root / "0=ocfl_1.1").exists():
        return []
    from preservation.ocfl_check import validate_root

    valid, messages = validate_root(root)
    return [] if valid else [f"OCFL storage root invalid: {messages[:3]}"]


def half_written(home: Path) -> list[str]:
    """Nothing half-written visible: no temporary name left outside the scratch folders,
    every JSON and TOML file parses, every SQLite database passes its integrity check, no
    OCFL version folder without its inventory."""
    problems = []
    scratch = [home / s for s in SCRATCH]
    for path in home.rglob("*"):
        if any(path == s or s in path.parents for s in scratch):
            continue
        rel = path.relative_to(home)
        if path.is_file() and TEMPORARY.search(path.name) and not _inside_store(home, path):
            problems.append(f"a temporary file left: {rel}")
        if not path.is_file():
            if (re.fullmatch(r"v\d+", path.name) and (path.parent / "inventory.json").exists()
                    and not (path / "inventory.json").exists()):
                problems.append(f"an OCFL version without its inventory: {rel}")
            continue
        if path.suffix == ".json" and rel.parts[0] not in ("working", "publication"):
            try:
                json.loads(path.read_bytes())
            except ValueError as exc:
                problems.append(f"{rel}: not JSON ({exc})")
        elif path.suffix == ".toml":
            try:
                tomllib.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                problems.append(f"{rel}: not TOML ({exc})")
        elif path.suffix in (".sqlite3", ".sqlite", ".db"):
            problems += _sqlite_problems(path, rel)
    return problems


def _inside_store(home: Path, path: Path) -> bool:
    """Oxigraph's (RocksDB's) own files and the catalog's index: their engines keep their
    own journals, and their names (``*.log``, ``*.tmp`` of RocksDB) are theirs."""
    top = path.relative_to(home).parts[0]
    return top in ("working", "publication") or "catalog" in path.relative_to(home).parts[:2]


def _sqlite_problems(path: Path, rel: Path) -> list[str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            (result,) = con.execute("PRAGMA integrity_check").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return [f"{rel}: SQLite cannot read it ({exc})"]
    return [] if result == "ok" else [f"{rel}: integrity_check says {result}"]


__all__ = ["Scenario", "Trial", "check_site", "file_store", "key_file_env", "make_key_file",
           "measure", "named_digests", "report", "run_trial", "run_trials", "run_whole",
           "summary",
           "trial_home"]
