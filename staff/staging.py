"""Uploads on their way in: staged under the site home, sent in parts, resumable.

A scan or a two-hour video goes through a browser and a network that may drop it. The file
is staged in ``{home}/staff/uploads/{id}/`` (never served: no route reads this folder) and
arrives in one or more parts, each appended at the offset the client says it starts at; a
client that lost its connection asks how much arrived (:attr:`Upload.received`) and goes on
from there. Only then is the whole file checked and ingested by the code ``lantai ingest``
runs; the staged copy is removed whatever happened.

Bounds: the size is declared first and may not pass the site's ``staff_upload_max_mb``; a
part may not carry the file past its declared size; the first bytes must be what the file's
name says (:func:`iiif.media.check_upload`, 415 otherwise, and the upload is dropped); one
account may have at most :data:`MAX_OPEN` uploads open; uploads untouched for a day are
removed. An upload belongs to the account that began it: another account's id is not found.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from iiif.media import check_extension, check_upload
from repo.errors import Conflict, Invalid, NotFound, TooLarge

CHUNK = 1 << 20
HEAD = 64  # bytes enough to tell what a file is (iiif.media.sniff)
MAX_OPEN = 200  # open uploads per account (a batch of forty scans, several times over)
STALE_SECONDS = 24 * 3600
MAX_NAME = 160
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
_META = "upload.json"


def clean_name(name: str) -> str:
    """A file name as given by a browser, made safe to be a file name here: its last path
    part, NFC, no control characters; :class:`Invalid` if nothing usable is left."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    if not base or base.startswith(".") or len(base) > MAX_NAME or base == _META:
        raise Invalid(f"{name[:80]!r}: not a usable file name")
    return base


@dataclass
class Upload:
    id: str
    user: str
    record: str  # the path of the record it is for
    name: str
    size: int  # declared
    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / self.name

    @property
    def received(self) -> int:
        try:
            return self.file.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def complete(self) -> bool:
        return self.received == self.size

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "size": self.size,
                "received": self.received}


class Staging:
    """The staged uploads of one site."""

    def __init__(self, home: Path, *, max_bytes: int) -> None:
        self.root = Path(home) / "staff" / "uploads"
        self.max_bytes = max_bytes

    def begin(self, user: str, record: str, name: str, size: int) -> Upload:
        """A new, empty upload of ``size`` bytes named ``name`` for ``record``."""
        name = clean_name(name)
        if size < 1:
            raise Invalid(f"{name}: an empty file")
        if size > self.max_bytes:
            raise TooLarge(f"{name}: {size} bytes, above this site's limit of "
                           f"{self.max_bytes} bytes for an upload; nothing was stored")
        check_extension(name)  # a name that says nothing we accept: refused before a byte
        self.sweep()
        if sum(1 for u in self._all() if u.user == user) >= MAX_OPEN:
            raise Conflict(f"{user} has {MAX_OPEN} unfinished uploads; finish or cancel some")
        upload = Upload(secrets.token_urlsafe(16), user, record, name, size, Path())
        upload.folder = self.root / upload.id
        upload.folder.mkdir(parents=True)
        (upload.folder / _META).write_text(json.dumps(
            {"user": user, "record": record, "name": name, "size": size}), encoding="utf-8")
        upload.file.touch()
        return upload

    def get(self, user: str, upload_id: str) -> Upload:
        """The upload ``upload_id`` of ``user`` (another account's is not found)."""
        if not _ID.match(upload_id or ""):
            raise NotFound("no such upload")
        found = self._read(self.root / upload_id)
        if found is None or found.user != user:
            raise NotFound("no such upload (finished, cancelled or expired)")
        return found

    def append(self, upload: Upload, offset: int, stream: BinaryIO,
               length: int | None) -> int:
        """Write the part that starts at ``offset``; the bytes received in all.

        A part that does not start where the file ends is a :class:`Conflict` (the client
        asks how much arrived and resends from there); two parts at once, too."""
        if length is not None and offset + length > upload.size:
            raise TooLarge(f"{upload.name}: the part ends after the {upload.size} bytes "
                           "declared")
        with self._locked(upload) as fh:
            have = fh.seek(0, os.SEEK_END)
            if offset != have:
                raise Conflict(f"{upload.name}: {have} bytes arrived; send from there")
            while True:
                data = stream.read(CHUNK)
                if not data:
                    break
                if have + len(data) > upload.size:
                    fh.truncate(offset)  # nothing of a part that overflows is kept
                    raise TooLarge(f"{upload.name}: more than the {upload.size} bytes "
                                   "declared")
                fh.write(data)
                have += len(data)
            fh.flush()
        if offset < HEAD and (have >= HEAD or have == upload.size):
            with upload.file.open("rb") as head:
                try:
                    check_upload(upload.name, head.read(HEAD))
                except Invalid:
                    self.remove(upload)
                    raise
        return have

    def remove(self, upload: Upload) -> None:
        shutil.rmtree(upload.folder, ignore_errors=True)

    def sweep(self) -> None:
        """Remove uploads nobody touched for a day (abandoned in a closed browser)."""
        cutoff = time.time() - STALE_SECONDS
        for folder in self._folders():
            with contextlib.suppress(OSError):
                newest = max(p.stat().st_mtime for p in folder.iterdir()) \
                    if any(folder.iterdir()) else folder.stat().st_mtime
                if newest < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _locked(self, upload: Upload) -> Iterator[BinaryIO]:
        try:
            fh = upload.file.open("r+b")
        except FileNotFoundError:
            raise NotFound("no such upload (finished, cancelled or expired)") from None
        with fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Conflict(f"{upload.name}: another part is arriving; wait for it") \
                    from None
            yield fh

    def _folders(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from (p for p in self.root.iterdir() if p.is_dir() and _ID.match(p.name))

    def _all(self) -> Iterator[Upload]:
        for folder in self._folders():
            found = self._read(folder)
            if found is not None:
                yield found

    @staticmethod
    def _read(folder: Path) -> Upload | None:
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            return Upload(folder.name, meta["user"], meta["record"], meta["name"],
                          int(meta["size"]), folder)
        except (OSError, ValueError, KeyError, TypeError):
            return None


__all__ = ["Staging", "Upload", "clean_name"]
