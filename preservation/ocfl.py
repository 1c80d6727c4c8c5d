"""The site's file store as an OCFL 1.1 storage root (``{home}/files``), written by us.

Why OCFL (issue 14, item 1): in fifty years the archive must read its files without Lantai.
An OCFL object is a folder that says what it is (``0=ocfl_object_1.1``), lists every version
of every file with its SHA-256 (``inventory.json``, with a ``.sha256`` sidecar) and keeps old
versions when a file is replaced; any OCFL tool (ocfl-py, ocfl-java, the Fedora 6 tools)
reads it. Objects sit where the registered extension ``0004-hashed-n-tuple-storage-layout``
says: the SHA-256 of the object id, three tuples of three hex digits, then the whole digest.

Why our own writer and not ``ocfl.Object``: we need writes that survive ``kill -9`` and a
power cut at any instant, staged files *moved* (hard-linked, then unlinked) rather than
copied, and nothing but OCFL under the root (ocfl-py builds versions in a temporary folder of
its choosing). The writer is small; ocfl-py's validator checks everything it writes (tests).

Crash safety. A new object is built whole in the work folder (``{home}/tmp/ocfl``, outside the
root, same file system) and renamed into place. A new version of an existing object is built
there too (content, its own inventory and sidecar, all fsynced), a marker naming the object is
written, the version folder is renamed into the object, then the root ``inventory.json`` and
its sidecar are replaced (each atomically), and the marker goes. A crash leaves the object at
the old head (the new version folder absent) or complete at the new one except for the root
inventory, which :meth:`StorageRoot.recover` rolls forward from the version's own inventory
(identical by construction). Readers use the root inventory, so they see one head or the other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from repo.durable import fsync_dir
from repo.errors import Invalid, LantaiError, NotFound

SPEC = "1.1"
ROOT_DECLARATION = f"0=ocfl_{SPEC}"
OBJECT_DECLARATION = f"0=ocfl_object_{SPEC}"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha256"
INVENTORY_TYPE = f"https://ocfl.io/{SPEC}/spec/#inventory"
CONTENT = "content"
LAYOUT = "0004-hashed-n-tuple-storage-layout"
LAYOUT_CONFIG = {"extensionName": LAYOUT, "digestAlgorithm": "sha256", "tupleSize": 3,
                 "numberOfTuples": 3, "shortObjectRoot": False}
LAYOUT_DESCRIPTION = ("Hashed N-tuple Storage Layout: the SHA-256 of the object id, three "
                      "tuples of three hex digits, then the whole digest as the object folder")
CHUNK = 1 << 20


class OcflError(LantaiError):
    """The storage root or an object is not what OCFL (or this writer) expects."""

    exit_code = 5


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes (read in 1 MiB pieces)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    """Write a new file (in a folder being built) and fsync it."""
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def check_logical_path(path: str) -> str:
    """A logical path OCFL accepts: ``/``-separated, no empty, ``.`` or ``..`` segment."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise Invalid(f"{path!r} is not a logical path")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise Invalid(f"{path!r} is not a logical path (empty, '.' or '..' segment)")
    return path


def _version_name(version: int | str) -> str:
    if isinstance(version, int):
        return f"v{version}"
    if not (version.startswith("v") and version[1:].isdigit()):
        raise Invalid(f"{version!r} is not a version (v1, v2, …)")
    return f"v{int(version[1:])}"


def _created(created: datetime | None) -> str:
    when = (created or datetime.now(UTC)).astimezone(UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _user(user: tuple[str, str | None]) -> dict[str, str]:
    name, address = user
    out = {"name": name or "unknown"}
    if address:
        out["address"] = address if ":" in address else f"mailto:{address}"
    return out


def _inventory_bytes(inventory: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The inventory's bytes and its sidecar's (``<sha256> inventory.json``)."""
    data = json.dumps(inventory, indent=1, ensure_ascii=False).encode() + b"\n"
    return data, f"{hashlib.sha256(data).hexdigest()} {INVENTORY}\n".encode()


def _check_no_conflicts(paths: Iterable[str]) -> None:
    """OCFL forbids a logical path that is also a folder of another (``a`` and ``a/b``)."""
    names = set(paths)
    for path in names:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in names:
                raise Invalid(f"logical path {path!r} lies under the file {'/'.join(parts[:i])!r}")


class StorageRoot:
    """An OCFL 1.1 storage root with the 0004 layout; created when the folder is empty."""

    def __init__(self, root: Path | str, *, work: Path | str | None = None,
                 tolerate: Iterable[str] = ()) -> None:
        self.root = Path(root).absolute()  # content paths are compared with the index's
        # names a root may be created beside (the old layout's folders, until migrated)
        self.tolerate = frozenset(tolerate)
        # where versions are built (same file system, outside the root): {home}/tmp/ocfl
        self.work = Path(work) if work is not None else self.root.parent / "tmp" / "ocfl"
        self._open_or_create()

    # ------------------------------------------------------------------ the root
    def _open_or_create(self) -> None:
        root = self.root
        if root.is_dir() and (root / ROOT_DECLARATION).is_file():
            layout = root / "ocfl_layout.json"
            try:
                name = json.loads(layout.read_text()).get("extension")
            except (OSError, ValueError):
                raise OcflError(f"{root}: an OCFL root without a readable ocfl_layout.json") \
                    from None
            if name != LAYOUT:
                raise OcflError(f"{root}: an OCFL root with layout {name!r}, not {LAYOUT}")
            return
        if root.exists() and (not root.is_dir() or any(
                p.name not in self.tolerate for p in root.iterdir())):
            raise OcflError(f"{root}: neither empty nor an OCFL storage root; refusing to use it")
        root.mkdir(parents=True, exist_ok=True)
        # the declaration last: a root is a root only once its layout is written
        ext = root / "extensions" / LAYOUT
        ext.mkdir(parents=True, exist_ok=True)
        _write_file(ext / "config.json", json.dumps(LAYOUT_CONFIG, indent=2).encode() + b"\n")
        fsync_dir(ext)
        fsync_dir(ext.parent)
        _write_file(root / "ocfl_layout.json",
                    json.dumps({"extension": LAYOUT, "description": LAYOUT_DESCRIPTION},
                               indent=2).encode() + b"\n")
        _write_file(root / ROOT_DECLARATION, f"ocfl_{SPEC}\n".encode())
        fsync_dir(root)
        fsync_dir(root.parent)

    @staticmethod
    def is_root(folder: Path | str) -> bool:
        return (Path(folder) / ROOT_DECLARATION).is_file()

    # ------------------------------------------------------------------ objects
    def object_path(self, object_id: str) -> Path:
        """Where the object lives (extension 0004: sha256 → abc/def/ghi/<digest>)."""
        if not isinstance(object_id, str) or not object_id:
            raise Invalid(f"{object_id!r} is not an object id")
        digest = hashlib.sha256(object_id.encode()).hexdigest()
        return self.root / digest[0:3] / digest[3:6] / digest[6:9] / digest

    def has_object(self, object_id: str) -> bool:
        return (self.object_path(object_id) / OBJECT_DECLARATION).is_file()

    def inventory(self, object_id: str) -> dict[str, Any] | None:
        """The object's root inventory (its head), or None when there is no such object."""
        path = self.object_path(object_id) / INVENTORY
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise OcflError(f"{path}: unreadable inventory ({exc})") from None
        if data.get("id") != object_id:
            raise OcflError(f"{path}: the inventory of {data.get('id')!r}, not {object_id!r}")
        return data

    def _inventory(self, object_id: str) -> dict[str, Any]:
        inventory = self.inventory(object_id)
        if inventory is None:
            raise NotFound(f"no OCFL object {object_id}")
        return inventory

    def objects(self) -> Iterator[str]:
        """The id of every object under the root (read from the inventories)."""
        for folder, dirs, files in os.walk(self.root):
            if Path(folder) == self.root:
                dirs[:] = sorted(d for d in dirs if d != "extensions" and d not in self.tolerate)
                continue
            if OBJECT_DECLARATION in files:
                dirs[:] = []
                with contextlib.suppress(OSError, ValueError):
                    yield json.loads((Path(folder) / INVENTORY).read_bytes())["id"]
            dirs.sort()

    def head(self, object_id: str) -> int:
        """The head version's number (0 when there is no such object)."""
        inventory = self.inventory(object_id)
        return 0 if inventory is None else int(inventory["head"][1:])

    def versions(self, object_id: str) -> list[dict[str, Any]]:
        """Each version, oldest first: number, created, message, user, files."""
        inventory = self._inventory(object_id)
        out = []
        for name, version in sorted(inventory["versions"].items(), key=lambda kv: int(kv[0][1:])):
            out.append({"version": int(name[1:]), "created": version.get("created"),
                        "message": version.get("message"), "user": version.get("user"),
                        "files": sum(len(p) for p in version["state"].values())})
        return out

    def logical_state(self, object_id: str, version: int | str | None = None) -> dict[str, str]:
        """Logical path → the hex SHA-256 of its stored bytes, at ``version`` (default head)."""
        inventory = self._inventory(object_id)
        name = inventory["head"] if version is None else _version_name(version)
        try:
            state = inventory["versions"][name]["state"]
        except KeyError:
            raise NotFound(f"{object_id} has no version {name}") from None
        return {path: digest for digest, paths in state.items() for path in paths}

    def content_path(self, object_id: str, logical_path: str,
                     version: int | str | None = None) -> Path:
        """The stored file behind ``logical_path`` at ``version`` (default head)."""
        state = self.logical_state(object_id, version)
        try:
            digest = state[logical_path]
        except KeyError:
            raise NotFound(f"{object_id} has no file {logical_path!r}") from None
        manifest = self._inventory(object_id)["manifest"]
        return self.object_path(object_id) / manifest[digest][0]

    # ------------------------------------------------------------------ writing
    def add_version(self, object_id: str, files: Mapping[str, Path | str], *,
                    remove: Iterable[str] = (), message: str = "Lantai deposit",
                    user: tuple[str, str | None] = ("Lantai", None),
                    created: datetime | None = None, move: bool | Iterable[str] = False,
                    digests: Mapping[str, str] | None = None) -> int:
        """Write the next version: the head's state, minus ``remove``, plus ``files``.

        ``files`` maps logical paths to source files whose bytes are stored as they are
        (content already stored in the object, under any name or version, is not stored
        again). ``move`` (True, or the logical paths to move) hard-links each source into
        place and unlinks it once the version is committed (a copy when a link is
        impossible); a failure leaves the sources where they were. A moved source shares its
        bytes with the stored file until it is unlinked: it must never be rewritten in place
        (the file store's staging only renames). ``digests`` (logical path → hex SHA-256 of
        the source) saves hashing a file the caller has just hashed. Returns the new head's
        number, or the current one when the new state would equal it (nothing is written).
        """
        for path in files:
            check_logical_path(path)
        removed = [check_logical_path(p) for p in remove]
        current = self.inventory(object_id)
        head = 0 if current is None else int(current["head"][1:])
        state = {} if current is None else self.logical_state(object_id)
        for path in removed:
            state.pop(path, None)
        sources = {path: Path(src) for path, src in files.items()}
        moving = set(sources) if move is True else set(move or ())
        for path, src in sources.items():
            given = (digests or {}).get(path)
            state[path] = given if given else sha256_file(src)
        _check_no_conflicts(state)
        if current is not None and state == self.logical_state(object_id):
            return head
        number = head + 1
        version = f"v{number}"
        manifest: dict[str, list[str]] = {k: list(v) for k, v in
                                          (current or {}).get("manifest", {}).items()}
        # digest → (source, content path, moved): the content new in this version
        placed: dict[str, tuple[Path, str, bool]] = {}
        for path, src in sorted(sources.items()):
            digest = state[path]
            if digest not in manifest and digest not in placed:
                placed[digest] = (src, f"{version}/{CONTENT}/{path}", path in moving)
                manifest[digest] = [placed[digest][1]]
        by_digest: dict[str, list[str]] = {}
        for path, digest in sorted(state.items()):
            by_digest.setdefault(digest, []).append(path)
        entry: dict[str, Any] = {"created": _created(created), "state": by_digest,
                                 "message": message or "Lantai deposit", "user": _user(user)}
        inventory: dict[str, Any] = {
            "id": object_id, "type": INVENTORY_TYPE, "digestAlgorithm": "sha256",
            "head": version, "manifest": manifest,
            "versions": {**(current or {}).get("versions", {}), version: entry}}
        inv_bytes, sidecar = _inventory_bytes(inventory)

        self.work.mkdir(parents=True, exist_ok=True)
        build = self.work / f"build-{secrets.token_hex(8)}"
        build.mkdir()
        try:
            top = build / "object" if current is None else build
            top.mkdir(exist_ok=True)
            vdir = top / version
            self._build_version(top, version, placed.values())
            _write_file(vdir / INVENTORY, inv_bytes)
            _write_file(vdir / SIDECAR, sidecar)
            fsync_dir(vdir)
            target = self.object_path(object_id)
            if current is None:
                _write_file(top / OBJECT_DECLARATION, f"ocfl_object_{SPEC}\n".encode())
                _write_file(top / INVENTORY, inv_bytes)
                _write_file(top / SIDECAR, sidecar)
                fsync_dir(top)
            marker = self._mark(target)
            if current is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(top, target)
                for folder in (target.parent, target.parent.parent,
                               target.parent.parent.parent, self.root):
                    fsync_dir(folder)
            else:
                os.rename(vdir, target / version)
                fsync_dir(target)
                self._replace_root_inventory(target, inv_bytes, sidecar)
            marker.unlink()
            fsync_dir(marker.parent)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        for path in moving:
            with contextlib.suppress(FileNotFoundError):
                sources[path].unlink()
        return number

    @staticmethod
    def _build_version(top: Path, version: str,
                       placed: Iterable[tuple[Path, str, bool]]) -> None:
        """The version folder with its new content, every file and folder fsynced."""
        vdir = top / version
        vdir.mkdir()
        folders = {vdir}
        for src, content_path, move in placed:
            dest = top / content_path
            dest.parent.mkdir(parents=True, exist_ok=True)
            folders.update(p for p in dest.parents if p.is_relative_to(vdir))
            linked = False
            if move:
                try:
                    os.link(src, dest)
                    linked = True
                except OSError:
                    linked = False
            if not linked:
                shutil.copyfile(src, dest)
            _fsync_file(dest)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)

    def _replace_root_inventory(self, target: Path, inv_bytes: bytes, sidecar: bytes) -> None:
        """Replace the root inventory, then its sidecar, each by an atomic rename."""
        for name, data in ((INVENTORY, inv_bytes), (SIDECAR, sidecar)):
            tmp = self.work / f"{name}.{secrets.token_hex(6)}.part"
            _write_file(tmp, data)
            os.replace(tmp, target / name)
        fsync_dir(target)

    def _mark(self, target: Path) -> Path:
        """A marker naming the object being changed, for :meth:`recover` after a crash."""
        pending = self.work / "pending"
        pending.mkdir(parents=True, exist_ok=True)
        marker = pending / f"{target.name}.json"
        _write_file(marker, json.dumps({"object": str(target.relative_to(self.root))}).encode())
        fsync_dir(pending)
        return marker

    # ------------------------------------------------------------------ recovery
    def recover(self) -> list[str]:
        """Finish or undo what a crash left: returns the object folders it repaired.

        For each object a marker names: the root inventory is rolled forward to the newest
        version folder present (its own inventory is the one the root should have), and
        folders a new object's rename did not reach are removed when empty. Then the
        half-built versions in the work folder are deleted (their sources were only linked
        or copied, never moved, so nothing is lost).
        """
        repaired: list[str] = []
        pending = self.work / "pending"
        for marker in sorted(pending.glob("*.json")) if pending.is_dir() else []:
            try:
                rel = json.loads(marker.read_bytes())["object"]
            except (OSError, ValueError, KeyError):
                marker.unlink(missing_ok=True)
                continue
            target = self.root / rel
            if self._roll_forward(target):
                repaired.append(rel)
            if not target.exists():  # a new object that never arrived: no empty folders
                for folder in (target.parent, target.parent.parent, target.parent.parent.parent):
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only when empty
            marker.unlink(missing_ok=True)
            fsync_dir(pending)
        if self.work.is_dir():
            for leftover in self.work.glob("build-*"):
                shutil.rmtree(leftover, ignore_errors=True)
            for leftover in self.work.glob("*.part"):
                leftover.unlink(missing_ok=True)
        return repaired

    def _roll_forward(self, target: Path) -> bool:
        if not (target / OBJECT_DECLARATION).is_file():
            return False
        versions = sorted((int(p.name[1:]), p) for p in target.iterdir()
                          if p.is_dir() and p.name[:1] == "v" and p.name[1:].isdigit())
        if not versions:
            return False
        newest = versions[-1][1]
        inv_bytes = (newest / INVENTORY).read_bytes()
        sidecar = (newest / SIDECAR).read_bytes()
        with contextlib.suppress(OSError):
            if ((target / INVENTORY).read_bytes() == inv_bytes
                    and (target / SIDECAR).read_bytes() == sidecar):
                return False
        self.work.mkdir(parents=True, exist_ok=True)
        self._replace_root_inventory(target, inv_bytes, sidecar)
        return True


__all__ = ["LAYOUT", "OcflError", "StorageRoot", "check_logical_path", "sha256_file"]
