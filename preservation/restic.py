"""A small typed wrapper over the ``restic`` binary (the Debian package; 0.14 here).

Why the binary and not a library: restic is the backup tool the archive's administrators
know, its repository format is documented and read by other tools, and it encrypts,
deduplicates and verifies by itself. Lantai only drives it: every call runs ``restic
--json …`` with the repository and the password given through restic's own environment
variables (never on a command line another user could read in ``ps``), parses the JSON it
prints, and turns a failure into one :class:`~repo.errors.LantaiError` line (a wrong
password, no repository there, a damaged pack, a full disk) instead of restic's paragraphs.

The password comes from ``--password-file`` (what the CLI passes), else restic's own
``RESTIC_PASSWORD`` / ``RESTIC_PASSWORD_FILE`` / ``RESTIC_PASSWORD_COMMAND``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from repo.errors import Conflict, Invalid, LantaiError, NotFound

PASSWORD_VARIABLES = ("RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND")


class ResticError(LantaiError):
    """restic failed; the message is its reason in one line."""


class DiskFull(ResticError):
    """No space left where restic wrote (the restore's target, a local repository)."""


@dataclass(frozen=True)
class Snapshot:
    """One restic snapshot as ``restic snapshots --json`` gives it."""

    id: str
    short_id: str
    time: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    hostname: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(id=data["id"], short_id=data.get("short_id", data["id"][:8]),
                   time=data["time"], paths=tuple(data.get("paths") or ()),
                   tags=tuple(data.get("tags") or ()), hostname=data.get("hostname", ""))

    def tag(self, prefix: str) -> str | None:
        """The value of the tag ``prefix:value`` (e.g. ``site:``), if the snapshot has one."""
        for tag in self.tags:
            if tag.startswith(prefix + ":"):
                return tag[len(prefix) + 1:]
        return None


def _reason(stderr: str, repo: str) -> LantaiError:
    """restic's complaint as one line, the known ones in words an administrator acts on."""
    text = stderr.strip()
    low = text.lower()
    if "wrong password" in low:
        return ResticError(f"wrong restic password for the repository {repo}")
    if "no space left on device" in low:
        return DiskFull(f"no space left on device (restic: {_last_line(text)})")
    if ("is there a repository at the following location" in low
            or "repository does not exist" in low):
        return NotFound(f"no restic repository at {repo} (make one with "
                        "`lantai backup init --repo REPO`)")
    if "config file already exists" in low or "repository master key and config already" in low:
        return Conflict(f"{repo} is already a restic repository")
    if "no matching id found" in low or "no snapshot found" in low:
        return NotFound(f"no such snapshot in {repo} ({_last_line(text)})")
    if any(w in low for w in ("ciphertext verification failed", "checksum mismatch",
                              "does not match", "invalid data returned", "damaged",
                              "unexpected eof", "load(<data/")):
        return ResticError(f"the backup repository {repo} is damaged: {_last_line(text)} "
                           "(run `restic check --read-data`)")
    if "connection refused" in low or "no such host" in low:
        return ResticError(f"the backup repository {repo} cannot be reached: "
                           f"{_last_line(text)}")
    return ResticError(f"restic: {_last_line(text) or 'failed'}")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()
             and not ln.lstrip().startswith("{")]
    fatal = [ln for ln in lines if ln.startswith("Fatal:")]
    line = (fatal or lines or [""])[-1]
    return line.removeprefix("Fatal:").strip()


class Restic:
    """One restic repository (``/path``, ``rest:http://…``, ``sftp:user@host:/path``)."""

    def __init__(self, repository: str | None = None, *, password_file: Path | None = None,
                 executable: str | None = None, cache_dir: Path | None = None) -> None:
        repository = repository or os.environ.get("RESTIC_REPOSITORY")
        if not repository:
            raise Invalid("no backup repository: give --repo REPO (a path, rest:URL or sftp:…)")
        if not re.match(r"^[a-z0-9]+:", repository):  # a local path (commands run elsewhere)
            repository = str(Path(repository).expanduser().absolute())
        self.repository = repository
        self.executable = executable or shutil.which("restic") or ""
        if not self.executable:
            raise LantaiError("restic is not installed (Debian: apt-get install restic)")
        env = dict(os.environ)
        env["RESTIC_REPOSITORY"] = repository
        if password_file is not None:
            path = Path(password_file)
            if not path.is_file():
                raise NotFound(f"{path}: no such password file")
            for name in PASSWORD_VARIABLES:
                env.pop(name, None)
            env["RESTIC_PASSWORD_FILE"] = str(path.resolve())
        elif not any(env.get(name) for name in PASSWORD_VARIABLES):
            raise Invalid("no restic password: give --password-file FILE or set "
                          "RESTIC_PASSWORD")
        if cache_dir is not None:
            env["RESTIC_CACHE_DIR"] = str(cache_dir)
        env.setdefault("RESTIC_PROGRESS_FPS", "0.2")
        self.env = env

    # ------------------------------------------------------------------ running
    def run(self, *args: str, cwd: Path | None = None, stdout: IO[bytes] | None = None,
            timeout: float | None = None) -> str:
        """``restic ARGS``; its stdout (text) or, with ``stdout``, into that file."""
        cmd = [self.executable, *args]
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=self.env, timeout=timeout,
                                  stdout=stdout if stdout is not None else subprocess.PIPE,
                                  stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ResticError(f"restic {args[0]} did not finish within {timeout:g} s") from None
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            out = proc.stdout.decode("utf-8", "replace") if stdout is None else ""
            raise _reason(err + "\n" + _errors_in_json(out), self.repository)
        return "" if stdout is not None else proc.stdout.decode("utf-8", "replace")

    def json(self, *args: str, cwd: Path | None = None) -> Any:
        text = self.run(*args, "--json", cwd=cwd)
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise ResticError(f"restic {args[0]}: unexpected output {text[:80]!r}") from None

    # ------------------------------------------------------------------ commands
    def init(self) -> None:
        self.run("init")

    def snapshots(self, *, tags: Iterable[str] = ()) -> list[Snapshot]:
        """Oldest first."""
        args = ["snapshots"]
        tags = list(tags)
        if tags:
            args += ["--tag", ",".join(tags)]
        found = [Snapshot.from_json(s) for s in self.json(*args) or []]
        return sorted(found, key=lambda s: s.time)

    def snapshot(self, snapshot_id: str) -> Snapshot:
        found = self.json("snapshots", snapshot_id) or []
        if not found:
            raise NotFound(f"no snapshot {snapshot_id} in {self.repository}")
        return Snapshot.from_json(found[0])

    def backup(self, folder: Path, *, tags: Sequence[str], host: str) -> dict[str, Any]:
        """Back up the contents of ``folder`` (run from inside it, so the snapshot's root is
        the folder's content; restic still records the folder's absolute path, which is what
        finds the parent snapshot of the next backup). The summary, with ``snapshot_id``.

        ``--ignore-ctime --ignore-inode``: the snapshot folder is rebuilt for every backup
        from hard links and fresh copies, which changes ctimes and inodes but not the content
        of an unchanged file (same size and mtime); without them restic reads every byte of
        the site again."""
        args = ["backup", ".", "--host", host, "--ignore-ctime", "--ignore-inode"]
        for tag in tags:
            args += ["--tag", tag]
        text = self.run(*args, "--json", cwd=folder)
        summary = None
        for line in text.splitlines():
            if '"summary"' in line:
                try:
                    summary = json.loads(line)
                except ValueError:
                    continue
        if summary is None or "snapshot_id" not in summary:
            raise ResticError("restic backup printed no snapshot id")
        return summary

    def restore(self, snapshot_id: str, target: Path, *, includes: Sequence[str] = ()) -> None:
        args = ["restore", snapshot_id, "--target", str(target)]
        for pattern in includes:
            args += ["--include", pattern]
        self.run(*args)

    def dump(self, snapshot_id: str, path: str, out: IO[bytes]) -> None:
        """One file of a snapshot (``path`` from the snapshot's root, ``/a/b``) into ``out``."""
        self.run("dump", snapshot_id, path, stdout=out)

    def restore_size(self, snapshot_id: str) -> int:
        data = self.json("stats", snapshot_id, "--mode", "restore-size")
        return int((data or {}).get("total_size", 0))

    def forget(self, keep: Sequence[str], *, tags: Sequence[str], prune: bool) -> Any:
        args = ["forget", *keep, "--tag", ",".join(tags), "--group-by", "host,tags"]
        if prune:
            args.append("--prune")
        # with --prune, prune's report (text) follows forget's JSON line
        text = self.run(*args, "--json")
        for line in text.splitlines():
            if line.startswith("["):
                return json.loads(line)
        return []


def _errors_in_json(text: str) -> str:
    """The ``error`` messages restic printed as JSON lines (backup's ``--json`` mode)."""
    out = []
    for line in text.splitlines():
        if '"error"' in line:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            err = data.get("error")
            if isinstance(err, dict):
                err = err.get("message")
            if err:
                out.append(f"{err} {data.get('item', '')}".strip())
    return "\n".join(out)


__all__ = ["DiskFull", "Restic", "ResticError", "Snapshot"]
