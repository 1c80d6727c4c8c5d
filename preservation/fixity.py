"""Fixity: read the stored files and prove they are the bytes the inventories name.

``check(home)`` walks the OCFL storage root (``{home}/files``) and the staging area
(``{home}/preservation/staging``), and for every object:

* the inventory: its ``inventory.json.sha256`` sidecar, and the copy in the head version
  (the spec keeps them identical: an inventory edited with its sidecar still differs from the
  copy); the object in the folder its id hashes to (layout 0004);
* every content file of the manifest, read once, streamed with a large buffer and
  ``posix_fadvise(SEQUENTIAL)``: its SHA-256 (of the stored bytes: sealed files are checked
  without the key) against the manifest;
* every file under a version's content folder that no manifest names;
* with ``deep`` (and the master key), for sealed files, that every AES-GCM chunk opens under
  the file's data key and the plaintext's SHA-256 is the digest the descriptions use — in the
  same read (the tags prove the plaintext; see docs/preservation.md for what it costs).

A damaged file is named by object, logical path and problem: ``missing``, ``truncated``
(shorter than its size), ``swapped`` (holds another file's bytes), ``changed`` (any other
difference), ``not in inventory``, ``does not open`` (a sealed chunk fails), ``inventory
changed`` (or missing, or unreadable), ``misplaced``. Each object checked gets a PREMIS
fixity event (:mod:`preservation.events`): one success, or one failure per damaged file.

``share=(k, n)`` checks the objects whose id hashes to ``k - 1`` modulo ``n`` (the 0004
layout names an object's folder by the SHA-256 of its id, so the share is chosen without
opening an inventory): seven nightly runs with ``1/7`` … ``7/7`` read every file once a week.

Why not ocfl-py's validator: it checks the same digests (and much more of the spec, which
``lantai files`` tests run), but it reads every version's inventory in full, names problems
by code, cannot take a share of a root, and knows nothing of sealed files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from preservation import crypt
from preservation.events import EventLog
from repo.errors import LantaiError

BUFFER = 4 * 1024 * 1024  # reads of 4 MiB: the disk streams, Python pays per call
OCFL_ROOT_ENTRIES = {"0=ocfl_1.1", "ocfl_1.1.txt", "ocfl_1.1.md", "ocfl_layout.json",
                     "extensions"}
OBJECT_MARKER = "0=ocfl_object_1.1"
FILES_JSON = "lantai/files.json"
EVENT_BATCH = 200  # objects whose events are written in one transaction
WORKERS = 2  # objects checked side by side (see bench/fixity.py for what a second one gives)

MISSING = "missing"
TRUNCATED = "truncated"
SWAPPED = "swapped"
CHANGED = "changed"
EXTRA = "not in inventory"
UNOPENED = "does not open"
INVENTORY = "inventory changed"
MISPLACED = "misplaced"


class FixityError(LantaiError):
    """Fixity cannot run (no storage root, a deep check without the key)."""


@dataclass(frozen=True)
class Problem:
    """One damaged file: where, what, and what we know of it."""
    object_id: str | None   # the OCFL object id (the record IRI); None in staging or outside
    path: str               # logical path (or the path under the root or staging)
    problem: str
    detail: str = ""
    digest: str | None = None  # what the inventory says it should be (sha256:<hex>)
    stored: str | None = None  # the stored file, relative to the site home (for repair)

    def line(self) -> str:
        where = f"{self.object_id} {self.path}" if self.object_id else self.path
        return f"{where}: {self.problem}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class FixityReport:
    run: str
    share: tuple[int, int] | None
    deep: bool
    objects: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["share"] = f"{self.share[0]}/{self.share[1]}" if self.share else None
        return data


@dataclass(frozen=True)
class Sealed:
    """What ``lantai/files.json`` says of a sealed content file."""
    key_name: str     # the keyring name (sha256:<plaintext hex>)
    digest: str       # the plaintext digest
    size: int | None  # the plaintext size


# ------------------------------------------------------------------------------- reading


@dataclass
class _Read:
    digest: str = ""
    size: int = 0
    plain_digest: str | None = None
    plain_size: int | None = None
    header_size: int | None = None  # the plaintext size a sealed header claims
    error: str | None = None


_local = threading.local()


def _buffer(size: int) -> memoryview:
    """A reusable read buffer of up to :data:`BUFFER` bytes (one per thread: allocating and
    zeroing 4 MiB per file cost more than reading a small file)."""
    buf = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = memoryview(bytearray(BUFFER))
    return buf[:max(1, min(size, BUFFER))]


class _HashingRaw(io.RawIOBase):
    """The stored file read in order, hashed as it goes (SealedReader reads chunk after
    chunk, so its seeks land where the last read ended: one read of the disk for both)."""

    def __init__(self, f: io.BufferedReader) -> None:
        super().__init__()
        self._f = f
        self.hash = hashlib.sha256()
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or offset < self.pos:
            raise io.UnsupportedOperation("read in order only")
        while self.pos < offset and self.read(min(BUFFER, offset - self.pos)):
            pass
        return self.pos

    def readinto(self, buffer) -> int:
        n = self._f.readinto(buffer)
        if n:
            self.hash.update(memoryview(buffer)[:n])
            self.pos += n
        return n or 0

    def close(self) -> None:
        """Kept open: the SealedReader closes its raw file when it goes; we read on."""

    def drain(self) -> None:
        buf = _buffer(BUFFER)
        while self.readinto(buf):
            pass


def _open(path: Path) -> io.FileIO:
    """The file unbuffered (we read in large blocks), the kernel told we read it in order
    (it reads ahead further and drops pages behind)."""
    f = io.FileIO(path, "r")
    with contextlib.suppress(AttributeError, OSError):  # not on every system
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
    return f


def _prefetch(fd: int, offset: int) -> None:
    """Ask the kernel for the next block now (``WILLNEED`` starts its read and returns):
    hashing a block and reading the next then overlap, without a thread."""
    with contextlib.suppress(AttributeError, OSError):
        os.posix_fadvise(fd, offset, BUFFER, os.POSIX_FADV_WILLNEED)


def read_digest(path: Path) -> _Read:
    """SHA-256 and size of the stored bytes, in one streamed read."""
    h = hashlib.sha256()
    size = 0
    with _open(path) as f:
        fd = f.fileno()
        view = _buffer(os.fstat(fd).st_size + 1)
        while n := f.readinto(view):
            size += n
            _prefetch(fd, size)  # the disk reads the next block while this one is hashed
            h.update(view[:n])
    return _Read("sha256:" + h.hexdigest(), size)


def read_sealed(path: Path, key: bytes) -> _Read:
    """Stored digest and size, and the plaintext's digest with every chunk opened: one read."""
    with _open(path) as f:
        stored = os.fstat(f.fileno()).st_size
        # the raw reads go through a buffer of their own (the SealedReader asks chunk by
        # chunk); the plaintext into the shared one
        raw = _HashingRaw(io.BufferedReader(f, buffer_size=max(8192, min(stored, BUFFER))))
        result = _Read()
        plain = hashlib.sha256()
        try:
            reader = crypt.SealedReader(raw, key, name=path.name)  # type: ignore[arg-type]
            result.header_size = reader.size
            view = _buffer(reader.size + 1)
            done = 0
            while n := reader.readinto(view):
                plain.update(view[:n])
                done += n
            result.plain_digest, result.plain_size = "sha256:" + plain.hexdigest(), done
        except crypt.DecryptionError as exc:
            result.error = str(exc).removeprefix(f"{path.name}: ")
        raw.drain()  # what the reader did not take (bytes after the last chunk or a failure)
        result.digest, result.size = "sha256:" + raw.hash.hexdigest(), raw.pos
        return result


def sealed_header_size(path: Path) -> int | None:
    """The plaintext size a sealed file's header claims (None when it has no such header)."""
    try:
        with open(path, "rb") as f:
            head = f.read(crypt.HEADER_BYTES)
    except OSError:
        return None
    if len(head) != crypt.HEADER_BYTES or not head.startswith(crypt.MAGIC):
        return None
    return int.from_bytes(head[8:16], "big")  # magic (4), chunk size (4), plaintext size (8)


# ------------------------------------------------------------------------------- the root


def in_share(name_hash: str, share: tuple[int, int] | None) -> bool:
    """Is the object whose id has this SHA-256 (hex) in share ``k`` of ``n``?"""
    if share is None:
        return True
    k, n = share
    return int(name_hash[:16], 16) % n == k - 1


def parse_share(text: str) -> tuple[int, int]:
    """``"3/7"`` → ``(3, 7)``; ValueError unless 1 ≤ k ≤ n."""
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise ValueError(f"a share is K/N, as 1/7 (not {text!r})")
    share = int(k), int(n)
    if not 1 <= share[0] <= share[1]:
        raise ValueError(f"a share K/N needs 1 ≤ K ≤ N (not {text!r})")
    return share


def _walk_root(root: Path, rel: str = "") -> Iterator[tuple[str, Path]]:
    """("object", folder) for each object folder; ("stray", file) for files outside any."""
    try:
        entries = sorted(os.scandir(root / rel) if rel else os.scandir(root),
                         key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if not rel and entry.name in OCFL_ROOT_ENTRIES:
            continue
        sub = f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_dir(follow_symlinks=False):
            if (Path(entry.path) / OBJECT_MARKER).exists():
                yield "object", Path(entry.path)
            else:
                yield from _walk_root(root, sub)
        else:
            yield "stray", Path(entry.path)


def _files_under(folder: Path) -> Iterator[Path]:
    for base, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(base) / name


def _files_json_facts(data: bytes) -> tuple[dict[str, Sealed], dict[str, int]]:
    """From one ``lantai/files.json``: logical path → sealed facts, and logical path → the
    stored size (the sealed size of a sealed file). Entries are found wherever they are
    (a list, under a key, keyed by IRI): any dict with a logical ``path``."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}, {}
    facts: dict[str, Sealed] = {}
    sizes: dict[str, int] = {}
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack += item
            continue
        if not isinstance(item, dict):
            continue
        stack += [v for v in item.values() if isinstance(v, (dict, list))]
        path = item.get("path") or item.get("logical_path") or item.get("logicalPath")
        if not isinstance(path, str):
            continue
        size = item.get("size")
        digest = item.get("digest") or item.get("sha256")
        name = item.get("keyringName") or item.get("keyring") or digest
        if isinstance(size, int) and not isinstance(size, bool):
            sizes[path] = crypt.sealed_size(size) if item.get("sealed") else size
        if item.get("sealed") and isinstance(name, str) and isinstance(digest, str):
            facts[path] = Sealed(name, digest, size if isinstance(size, int) else None)
    return facts, sizes


# ------------------------------------------------------------------------------- objects


class _Checker:
    def __init__(self, home: Path, report: FixityReport, keyring) -> None:
        self.home = home
        self.report = report
        self.keyring = keyring
        self._index: dict[str, tuple[str, str]] | None = None
        self._lock = threading.Lock()

    def _key(self, name: str) -> bytes | None:
        if self.keyring is None:
            return None
        try:
            return self.keyring.data_key(name)
        except LantaiError:
            return None

    # the inventory ------------------------------------------------------------------

    def _inventory(self, folder: Path, problems: list[Problem]) -> dict | None:
        """The object's inventory, checked against its sidecar and the head version's copy;
        when the root's fails, the copy that checks names the files (or none, if none does)."""
        root_inv = self._read_inventory(folder)
        if root_inv is None:
            versions = sorted((p for p in folder.glob("v*") if p.is_dir()),
                              key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else -1)
            newest = self._read_inventory(versions[-1]) if versions else None
            oid = newest[0].get("id") if newest else None
            problems.append(Problem(oid if isinstance(oid, str) else None, "inventory.json",
                                    INVENTORY, "missing or unreadable"))
            return newest[0] if newest and newest[1] else None
        inv, sidecar_ok, raw = root_inv
        oid = inv.get("id") if isinstance(inv.get("id"), str) else None
        head = inv.get("head")
        copy = self._read_inventory(folder / head) if isinstance(head, str) else None
        trusted = copy[0] if copy is not None and copy[1] else None
        if not sidecar_ok:
            problems.append(Problem(oid, "inventory.json", INVENTORY,
                                    "its digest is not the one in inventory.json.sha256"))
            return trusted
        if copy is None:
            problems.append(Problem(oid, f"{head}/inventory.json", INVENTORY,
                                    "the head version's copy is missing or unreadable"))
            return inv
        if copy[2] != raw:
            problems.append(Problem(oid, "inventory.json", INVENTORY,
                                    f"differs from the copy in {head}/"))
            return trusted or inv
        if not copy[1]:
            problems.append(Problem(oid, f"{head}/inventory.json", INVENTORY,
                                    "its digest is not the one in its sidecar"))
        return inv

    @staticmethod
    def _read_inventory(folder: Path) -> tuple[dict, bool, bytes] | None:
        try:
            raw = (folder / "inventory.json").read_bytes()
        except OSError:
            return None
        try:
            sidecar = (folder / "inventory.json.sha256").read_text("ascii").split()
        except (OSError, UnicodeDecodeError):
            sidecar = []
        ok = bool(sidecar) and sidecar[0].lower() == hashlib.sha256(raw).hexdigest()
        try:
            inv = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(inv, dict) or inv.get("digestAlgorithm") != "sha256":
            return None
        return inv, ok, raw

    # one object ------------------------------------------------------------------------

    def check_object(self, folder: Path, deep: bool
                     ) -> tuple[str | None, list[Problem], list[int]]:
        """The object's id, its problems, and [files, bytes] read."""
        problems: list[Problem] = []
        tally = [0, 0]
        inv = self._inventory(folder, problems)
        if inv is None:
            return (problems[0].object_id if problems else None), problems, tally
        oid = str(inv.get("id"))
        if hashlib.sha256(oid.encode()).hexdigest() != folder.name:
            problems.append(Problem(oid, "", MISPLACED,
                                    f"the object is in {folder.name}, not where its id hashes"))
        manifest: dict[str, list[str]] = {d.lower(): list(ps)
                                          for d, ps in (inv.get("manifest") or {}).items()}
        names = self._logical_names(inv)
        content_dir = inv.get("contentDirectory") or "content"
        sealed, sizes = self._by_content(folder, inv, manifest)
        if not deep:
            sealed = {}
        by_content = {cp: d for d, cps in manifest.items() for cp in cps}
        for digest, content_paths in sorted(manifest.items()):
            for cp in content_paths:
                name = names.get(digest, cp)
                problem = self._check_file(folder / cp, cp, name, oid, digest, manifest,
                                           names, sealed.get(digest), sizes.get(digest),
                                           tally)
                if problem is not None:
                    problems.append(problem)
        for version in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "extensions"):
            for path in _files_under(version / content_dir):
                rel = path.relative_to(folder).as_posix()
                if rel not in by_content:
                    problems.append(Problem(oid, rel, EXTRA, "a file no inventory names"))
        return oid, problems, tally

    @staticmethod
    def _logical_names(inv: dict) -> dict[str, str]:
        """digest → a logical path (the newest version's name first)."""
        names: dict[str, str] = {}
        versions = inv.get("versions") or {}
        for v in sorted(versions, key=lambda v: int(v[1:]) if v[1:].isdigit() else 0,
                        reverse=True):
            for digest, paths in (versions[v].get("state") or {}).items():
                if paths:
                    names.setdefault(digest.lower(), paths[0])
        return names

    @staticmethod
    def _by_content(folder: Path, inv: dict, manifest: dict[str, list[str]]
                    ) -> tuple[dict[str, Sealed], dict[str, int]]:
        """content digest → what its version's ``lantai/files.json`` says: the sealed facts
        (keyring name, plaintext digest) and the stored size expected (to tell a cut file).
        Every version's files.json counts: old versions' files are sealed under keys named
        there. Read leniently: a files.json we cannot read costs a deeper check, never a
        false alarm."""
        sealed: dict[str, Sealed] = {}
        sizes: dict[str, int] = {}
        for version in (inv.get("versions") or {}).values():
            state = {d.lower(): ps for d, ps in (version.get("state") or {}).items()}
            listing = next((d for d, ps in state.items() if FILES_JSON in ps), None)
            if listing is None or not manifest.get(listing):
                continue
            try:
                data = (folder / manifest[listing][0]).read_bytes()
            except OSError:
                continue
            facts, plain_sizes = _files_json_facts(data)
            for digest, logicals in state.items():
                for logical in logicals:
                    if logical in facts:
                        sealed[digest] = facts[logical]
                    if logical in plain_sizes:
                        sizes[digest] = plain_sizes[logical]
        return sealed, sizes

    def _check_file(self, path: Path, content_path: str, name: str, oid: str | None,
                    digest: str, manifest: dict[str, list[str]], names: dict[str, str],
                    sealed: Sealed | None, expected_size: int | None,
                    tally: list[int]) -> Problem | None:
        want = "sha256:" + digest
        stored = path.relative_to(self.home).as_posix()

        def problem(kind: str, detail: str) -> Problem:
            return Problem(oid, name, kind, detail, want, stored)

        if not path.is_file():
            return problem(MISSING, content_path)
        key = self._key(sealed.key_name) if sealed is not None else None
        try:
            got = read_sealed(path, key) if key is not None else read_digest(path)
        except OSError as exc:
            return problem(CHANGED, f"unreadable: {exc.strerror}")
        tally[0] += 1
        tally[1] += got.size
        if got.digest != want:
            return problem(*self._what_differs(path, got, digest, manifest, names,
                                               expected_size))
        if sealed is not None and key is not None:
            if got.error:
                return problem(UNOPENED, got.error)
            if got.plain_digest != sealed.digest:
                return problem(CHANGED, "its plaintext is not the file the descriptions name")
        return None

    def _what_differs(self, path: Path, got: _Read, digest: str,
                      manifest: dict[str, list[str]], names: dict[str, str],
                      expected_size: int | None) -> tuple[str, str]:
        other = got.digest.removeprefix("sha256:")
        if other != digest and other in manifest:
            return SWAPPED, f"holds the bytes of {names.get(other, manifest[other][0])}"
        elsewhere = self._elsewhere(other)
        if elsewhere is not None:
            return SWAPPED, f"holds the bytes of {elsewhere[0]} {elsewhere[1]}"
        header = got.header_size if got.header_size is not None else sealed_header_size(path)
        expected = expected_size
        if expected is None and header is not None:
            expected = crypt.sealed_size(header)
        if expected is not None and got.size < expected:
            return TRUNCATED, f"{got.size} of {expected} bytes"
        return CHANGED, "its digest is not the inventory's"

    def _elsewhere(self, digest: str) -> tuple[str, str] | None:
        """The object and logical path whose inventory names these bytes, in the whole root
        (the inventories are read once, and only when a file does not check)."""
        with self._lock:
            return self._elsewhere_locked(digest)

    def _elsewhere_locked(self, digest: str) -> tuple[str, str] | None:
        if self._index is None:
            self._index = {}
            for kind, folder in _walk_root(self.home / "files"):
                found = self._read_inventory(folder) if kind == "object" else None
                if found is None:
                    continue
                inv = found[0]
                names = self._logical_names(inv)
                for d in inv.get("manifest") or {}:
                    self._index.setdefault(d.lower(), (str(inv.get("id")),
                                                       names.get(d.lower(), "?")))
        return self._index.get(digest)

    # staging ---------------------------------------------------------------------------

    def check_staged(self, path: Path, deep: bool) -> Problem | None:
        """A staged file is named by its plaintext's SHA-256: a plain file must hash to its
        name; a sealed one (its header says so) must open to it — with the key; without,
        its length is all there is to check (its stored digest is recorded nowhere)."""
        hexname = path.name
        rel = path.relative_to(self.home).as_posix()
        want = "sha256:" + hexname
        header = sealed_header_size(path)
        key = self._key(want) if deep and header is not None else None
        try:
            got = read_sealed(path, key) if key is not None else read_digest(path)
        except OSError as exc:
            return Problem(None, rel, CHANGED, f"unreadable: {exc.strerror}", want, rel)
        self.report.files += 1
        self.report.bytes += got.size
        if got.digest == want:
            return None  # a plain staged file, intact
        if len(hexname) != 64:
            return Problem(None, rel, EXTRA, "not a staged file", None, rel)
        if header is None:
            return Problem(None, rel, CHANGED, "its digest is not its name", want, rel)
        if key is None:
            if got.size < crypt.sealed_size(header):
                return Problem(None, rel, TRUNCATED,
                               f"{got.size} of {crypt.sealed_size(header)} bytes", want, rel)
            return None
        if got.error:
            return Problem(None, rel, UNOPENED, got.error, want, rel)
        if got.plain_digest != want:
            return Problem(None, rel, CHANGED, "its plaintext is not the file it names",
                           want, rel)
        return None


# ------------------------------------------------------------------------------- check


def check(home: Path, *, share: tuple[int, int] | None = None, deep: bool = False,
          progress: Callable[[int, int], None] | None = None, user: str | None = None,
          keyring=None, record: bool = True, workers: int = WORKERS) -> FixityReport:
    """Check the site's stored files (all, or one share); record the events; the report.
    ``progress(done, total)`` is called per object. ``deep`` needs the site's master key
    (a :class:`~preservation.keyring.Keyring` is opened when none is given)."""
    home = Path(home)
    root = home / "files"
    if root.exists() and any(root.iterdir()) and not (root / "0=ocfl_1.1").exists():
        raise FixityError(f"{root} is not an OCFL storage root (run: lantai files migrate)")
    if deep and keyring is None:
        from preservation.keyring import Keyring
        keyring = Keyring.open(home)
    started = time.monotonic()
    report = FixityReport(str(uuid.uuid4()), share, deep)
    checker = _Checker(home, report, keyring if deep else None)
    log = EventLog.for_site(home) if record else None
    pending: list[dict] = []

    def event(outcome: str, object_id: str | None, detail: str, problem: Problem | None = None):
        pending.append(dict(kind="fixity", outcome=outcome, object_id=object_id,
                            path=problem.path if problem else None,
                            digest=problem.digest if problem else None,
                            detail=detail, user=user, run=report.run))

    def flush() -> None:
        if log is not None and pending:
            log.record_many(pending)
        pending.clear()

    todo: list[Path] = []
    for kind, path in _walk_root(root):
        if kind == "object":
            if in_share(path.name, share):
                todo.append(path)
        else:
            p = Problem(None, path.relative_to(home).as_posix(), EXTRA,
                        "a file outside every OCFL object")
            report.problems.append(p)
            event("failure", None, p.line(), p)
    staging = home / "preservation" / "staging"
    staged = [p for p in sorted(_files_under(staging))
              if in_share(hashlib.sha256(p.name.encode()).hexdigest(), share)]
    total = len(todo) + len(staged)
    done = 0
    try:
        # objects side by side: hashing and decrypting release the GIL, so a second thread
        # hashes while the first waits for the disk (and uses the second core)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for oid, problems, (files, size) in pool.map(
                    lambda folder: checker.check_object(folder, deep), todo):
                report.objects += 1
                report.files += files
                report.bytes += size
                report.problems += problems
                if problems:
                    for p in problems:
                        event("failure", p.object_id or oid, p.line(), p)
                else:
                    event("success", oid, f"{files} files, {size} bytes: every digest checks"
                                          + (", every sealed chunk opens" if deep else ""))
                done += 1
                if progress:
                    progress(done, total)
                if len(pending) >= EVENT_BATCH:
                    flush()
        for path in staged:
            problem = checker.check_staged(path, deep)
            if problem is not None:
                report.problems.append(problem)
                event("failure", None, problem.line(), problem)
            done += 1
            if progress:
                progress(done, total)
        flush()
    finally:
        if log is not None:
            log.close()
    report.seconds = round(time.monotonic() - started, 3)
    return report


__all__ = ["CHANGED", "EXTRA", "INVENTORY", "MISPLACED", "MISSING", "SWAPPED", "TRUNCATED",
           "UNOPENED", "FixityError", "FixityReport", "Problem", "check", "in_share",
           "parse_share", "read_digest", "read_sealed"]
